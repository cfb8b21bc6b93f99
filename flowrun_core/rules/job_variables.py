"""Job variables against the work pool's ``base_job_template`` (spec §8.2).

Reproduces Prefect 3.9.1's ``validate_job_variables_for_deployment_flow_run`` once the caller
knows that the deployment has a work queue in a work pool:

1. the ``variables`` schema must pass Draft 2020-12 ``check_schema`` (no preprocessing);
2. every property ``default`` is collected; a ``{"$ref": {"block_document_id": ...}}``
   default becomes the block document's data; each default is checked on its own (no
   preprocessing, ``required`` removed, ``format`` checked) and dropped when invalid;
3. ``valid defaults ⊕ deployment job variables ⊕ request job variables`` (shallow updates);
4. the result is validated like parameters (§5.3) with ``allow_none_with_default=True``, and
   with every ``required`` removed when some default was dropped.

Where Prefect answers 500 this module raises a 4xx-class error instead: a variables schema
that is ``true`` or has a boolean property schema, or one that preprocessing cannot walk, gives
:class:`~flowrun_core.errors.InvalidJobVariablesSchema`; a block reference whose ``$ref`` is
not an object or whose id is not a string gives :class:`~flowrun_core.errors.BlockNotFound`;
a circular reference gives :class:`~flowrun_core.errors.CircularSchemaRef`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from uuid import UUID

from flowrun_core.errors import (
    BlockNotFound,
    InvalidJobVariablesSchema,
    InvalidParameterSchema,
    JobVariablesInvalid,
    ParameterValidationFailed,
)
from flowrun_core.json_types import JSON, copy_json
from flowrun_core.rules.schema import (
    INVALID_SCHEMA_PREFIX,
    UncheckableFormat,
    find_violations,
    schema_problem,
    validate_instance,
)
from flowrun_core.rules.schema_preprocess import plain_copy

__all__ = ["validate_job_variables"]

BlockResolver = Callable[[UUID], Mapping[str, JSON] | None]
"""Return a block document's ``data`` by id, or ``None`` when there is no such document."""


def _resolve_block_default(
    default: Mapping[str, JSON], resolve_block: BlockResolver
) -> JSON | None:
    """Resolve a ``{"$ref": {"block_document_id": ...}}`` default.

    Returns:
        The block document's data, or ``None`` when the reference names no id (the default
        is then skipped, as in Prefect).

    Raises:
        BlockNotFound: The id is not a UUID string, or no document has it. (Prefect answers
            500 when ``$ref`` is not an object or the id is not a string; we answer 404.)
    """
    reference = default["$ref"]
    if not isinstance(reference, dict):
        raise BlockNotFound
    raw_id = reference.get("block_document_id")
    if raw_id is None:
        return None
    if not isinstance(raw_id, str):
        raise BlockNotFound
    try:
        document_id = UUID(raw_id)
    except ValueError:
        raise BlockNotFound from None
    data = resolve_block(document_id)
    if data is None:
        raise BlockNotFound
    return plain_copy(data)


def _valid_defaults(
    variables: Mapping[str, JSON], resolve_block: BlockResolver, *, keep_invalid: bool = False
) -> tuple[dict[str, JSON], bool]:
    """Step 2: the defaults that pass the schema on their own, and whether any was dropped.

    With ``keep_invalid`` every default is kept unchecked (Prefect's check of a new pool's
    defaults, which then validates them all together).
    """
    properties = variables.get("properties", {})
    defaults: dict[str, JSON] = {}
    dropped = False
    if not properties:
        return defaults, dropped
    if not isinstance(properties, dict):  # pragma: no cover - check_schema rejects it
        raise InvalidJobVariablesSchema("'properties' must be an object")
    for name, attributes in properties.items():
        if not isinstance(attributes, dict):
            msg = f"the schema of job variable {name!r} must be an object"
            raise InvalidJobVariablesSchema(msg)
        if "default" not in attributes:
            continue
        default = attributes["default"]
        if isinstance(default, dict) and "$ref" in default:
            value = _resolve_block_default(default, resolve_block)
            if value is None:
                continue
        else:
            value = copy_json(default)
        if keep_invalid:
            defaults[name] = value
            continue
        try:
            violations = find_violations(
                {name: value}, variables, ignore_required=True, check_formats=True
            )
        except ParameterValidationFailed as exc:
            raise JobVariablesInvalid(exc.message) from None
        except InvalidParameterSchema as exc:
            raise InvalidJobVariablesSchema(
                exc.message.removeprefix(INVALID_SCHEMA_PREFIX)
            ) from None
        except UncheckableFormat as exc:  # Prefect: 500
            msg = f"the default of job variable {name!r}: {exc}"
            raise InvalidJobVariablesSchema(msg) from None
        if violations:
            dropped = True
        else:
            defaults[name] = value
    return defaults, dropped


def validate_job_variables(
    *,
    base_job_template: Mapping[str, JSON],
    deployment_job_variables: Mapping[str, JSON] | None,
    request_job_variables: Mapping[str, JSON] | None,
    resolve_block: BlockResolver,
    ignore_required: bool = False,
    keep_invalid_defaults: bool = False,
) -> None:
    """Validate the merged job variables of a new flow run against the pool's template.

    The caller decides that the deployment has a work pool; this function skips the check
    when the template is empty or has no (truthy) ``variables``. It runs even when nobody
    supplied job variables, so required pool variables without a default must be given.
    Nothing passed in is modified.

    Args:
        base_job_template: The work pool's ``base_job_template``.
        deployment_job_variables: The deployment's ``job_variables``.
        request_job_variables: The request's ``job_variables``.
        resolve_block: Looks up a block document's data for ``$ref`` defaults.
        ignore_required: Drop every ``required`` (Prefect's checks when a deployment or a
            pool is created, where later layers may still supply the value).
        keep_invalid_defaults: Keep every default rather than dropping those that fail on
            their own (Prefect's check of a new pool's defaults).

    Raises:
        InvalidJobVariablesSchema: The ``variables`` schema fails ``check_schema`` (the
            message is jsonschema's, which Prefect shows after ``"Invalid schema: "``), or
            Prefect would crash on it.
        BlockNotFound: A ``$ref`` default names a malformed or missing block document.
        JobVariablesInvalid: The merged variables fail the schema; the message is Prefect's
            (without the ``"Error creating flow run: "`` prefix).
        CircularSchemaRef: Validation followed a ``$ref`` cycle (Prefect: 500).
    """
    if not base_job_template:
        return
    variables = base_job_template.get("variables")
    if not variables:
        return
    problem = schema_problem(variables)
    if problem is not None:
        raise InvalidJobVariablesSchema(problem)
    if not isinstance(variables, dict):
        # `true` is a valid schema, but Prefect then crashes reading its properties.
        raise InvalidJobVariablesSchema("the variables schema must be an object")

    defaults, dropped = _valid_defaults(
        variables, resolve_block, keep_invalid=keep_invalid_defaults
    )
    merged: dict[str, JSON] = dict(defaults)
    for layer in (deployment_job_variables, request_job_variables):
        if layer:
            merged.update(layer)

    try:
        validate_instance(
            merged,
            variables,
            allow_none_with_default=True,
            ignore_required=ignore_required or dropped,
        )
    except ParameterValidationFailed as exc:
        raise JobVariablesInvalid(exc.message) from None
    except InvalidParameterSchema as exc:
        raise InvalidJobVariablesSchema(exc.message.removeprefix(INVALID_SCHEMA_PREFIX)) from None
