"""What Prefect's creation routes refuse, for the entities a run is created from.

:class:`~flowrun_core.seeding.Seeder` runs these checks before it writes, so an entity that
Prefect 3.9.1 would refuse to create (``POST /flows/``, ``/work_pools/``,
``/work_pools/{name}/queues``, ``/variables/``, ``/block_documents/``, ``/deployments/``)
is refused here too, with :class:`~flowrun_core.errors.InvalidEntity` or
:class:`~flowrun_core.errors.ReservedName`. Where Prefect answers 500 (a deployment name with
a character its names forbid, a job configuration that is not an object), the entity is
refused all the same. Uniqueness and existence are the seeder's to check: they need the
store.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import jsonschema
import referencing.exceptions
from jsonschema import Draft202012Validator
from referencing import Registry

from flowrun_core.errors import InvalidEntity, ReservedName
from flowrun_core.json_types import JSON
from flowrun_core.rules.schema_preprocess import crash_reason
from flowrun_core.rules.stack_depth import collector_paused

__all__ = [
    "NAME_PATTERN",
    "VARIABLE_NAME_MAX_LENGTH",
    "VARIABLE_VALUE_MAX_LENGTH",
    "check_base_job_template",
    "check_block_document_name",
    "check_deployment_name",
    "check_enforced_parameters",
    "check_labels",
    "check_name",
    "check_object",
    "check_tags",
    "check_text",
    "check_variable",
    "check_work_pool",
]

NAME_PATTERN: Final = "^[^/%&><]+$"
"""The pattern Prefect's flow, work pool and work queue names must match."""

_NAME: Final = re.compile(r"[^/%&><]+")
"""``NAME_PATTERN`` as pydantic applies it (its ``$`` is the end of the text)."""

_VARIABLE_NAME: Final = re.compile(r"^[a-z0-9-_]*$")
"""Applied with ``re.match`` as Prefect does, so ``$`` also matches before a final newline."""

_BLOCK_DOCUMENT_NAME: Final = re.compile(r"^[a-z0-9-]*$")

VARIABLE_NAME_MAX_LENGTH: Final = 255
VARIABLE_VALUE_MAX_LENGTH: Final = 5000
"""The longest compact JSON text of a variable's value, in UTF-8 bytes."""

_PLACEHOLDER: Final = re.compile(r"{{\s*([\w\.\-\[\]$]+)\s*}}")
"""A job-configuration placeholder (``{{ name }}``) and the variable it names."""

_INT64: Final = range(-(2**63), 2**64)
"""The integers Prefect's JSON encoder for variable values can write."""

_VARIABLE_VALUE_MAX_DEPTH: Final = 254
"""The most containers Prefect's JSON encoder for variable values can nest."""


def check_name(entity: str, name: str) -> None:
    """Refuse a flow or work queue name that Prefect's ``Name`` type refuses.

    Raises:
        InvalidEntity: ``name`` is empty or holds one of ``/ % & > <``.
    """
    if _NAME.fullmatch(name) is None:
        msg = f"{entity} name {name!r}: String should match pattern '{NAME_PATTERN}'"
        raise InvalidEntity(msg, entity=entity)


def check_deployment_name(name: str) -> None:
    """Refuse a deployment name holding one of ``/ % & > <`` (Prefect: 500).

    An empty deployment name is accepted, as Prefect accepts it.

    Raises:
        InvalidEntity: the name holds a forbidden character.
    """
    if name and _NAME.fullmatch(name) is None:
        msg = f"deployment name {name!r} must not contain any of / % & > <"
        raise InvalidEntity(msg, entity="deployment")


def check_work_pool(name: str, base_job_template: Mapping[str, JSON]) -> None:
    """Refuse a work pool as Prefect's ``POST /work_pools/`` does, in its order.

    Raises:
        InvalidEntity: the name is empty once quotes and spaces are stripped, or breaks
            :data:`NAME_PATTERN`; or the template breaks :func:`check_base_job_template`.
        ReservedName: the name starts with ``prefect`` in any case.
    """
    if not name.strip("' \""):
        raise InvalidEntity(
            f"work pool name {name!r}: name cannot be an empty string", entity="work pool"
        )
    check_name("work pool", name)
    check_base_job_template(base_job_template)
    if name.lower().startswith("prefect"):
        raise ReservedName(
            "Work pools starting with 'Prefect' are reserved for internal use.",
            entity="work pool",
        )


def check_base_job_template(template: Mapping[str, JSON]) -> None:
    """Refuse a ``base_job_template`` that Prefect's ``WorkPoolCreate`` refuses.

    An empty template is accepted. Otherwise both ``job_configuration`` and ``variables``
    must be non-empty objects, and every ``{{ placeholder }}`` in the job configuration
    must be a property of the variables schema. (The defaults are checked against the
    schema by :func:`~flowrun_core.rules.job_variables.validate_job_variables`.)

    Raises:
        InvalidEntity: the template breaks one of these rules.
    """
    if not template:
        return
    job_configuration = template.get("job_configuration")
    variables = template.get("variables")
    if not (job_configuration and variables):
        msg = (
            "The `base_job_template` must contain both a `job_configuration` key and a "
            "`variables` key."
        )
        raise InvalidEntity(msg, entity="work pool")
    if not isinstance(job_configuration, dict) or not isinstance(variables, dict):
        msg = "The `job_configuration` and `variables` of a `base_job_template` must be objects."
        raise InvalidEntity(msg, entity="work pool")
    properties = variables.get("properties", {})
    if not isinstance(properties, dict):
        msg = "The `properties` of a `base_job_template`'s `variables` must be an object."
        raise InvalidEntity(msg, entity="work pool")
    used: set[str] = set()
    for value in job_configuration.values():
        # Prefect searches each value's JSON text, non-ASCII escaped.
        used.update(_PLACEHOLDER.findall(json.dumps(value)))
    missing = sorted(used - set(properties))
    if missing:
        msg = (
            "The variables specified in the job configuration template must be present as "
            "properties in the variables schema. Your job configuration uses the following "
            f"undeclared variable(s): {', '.join(missing)}."
        )
        raise InvalidEntity(msg, entity="work pool")


def check_variable(name: str, value: JSON) -> None:
    """Refuse a workspace variable that Prefect's ``VariableCreate`` refuses.

    Raises:
        InvalidEntity: the name is longer than 255 characters or holds anything but
            lowercase letters, digits, ``-`` and ``_``; or the value is not JSON Prefect
            can write (an integer outside ``[-2**63, 2**64)``, a lone surrogate, more than
            254 nested containers) or is longer than 5000 bytes as compact JSON.
    """
    if len(name) > VARIABLE_NAME_MAX_LENGTH:
        msg = f"Variable name must have at most {VARIABLE_NAME_MAX_LENGTH} characters."
        raise InvalidEntity(msg, entity="variable")
    if _VARIABLE_NAME.match(name) is None:
        msg = (
            "Variable name must only contain lowercase letters, numbers, and dashes or underscores."
        )
        raise InvalidEntity(msg, entity="variable")
    if value is None:
        return
    try:
        text = _compact_json(value)
        size = len(text.encode("utf-8"))
    except (ValueError, UnicodeEncodeError):
        msg = "Variable value must be serializable to JSON"
        raise InvalidEntity(msg, entity="variable") from None
    if size > VARIABLE_VALUE_MAX_LENGTH:
        msg = f"Variable value must be less than {VARIABLE_VALUE_MAX_LENGTH} characters"
        raise InvalidEntity(msg, entity="variable")


def _compact_json(value: JSON) -> str:
    """``value`` as compact JSON text, non-finite numbers as ``null`` (as Prefect writes it).

    Raises:
        ValueError: an integer outside the range Prefect's encoder can write, or containers
            nested more than 254 deep.
    """

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, bool) or item is None or isinstance(item, str):
            return item
        if isinstance(item, int):
            if item not in _INT64:
                raise ValueError("integer out of range")
            return item
        if isinstance(item, float):
            return item if math.isfinite(item) else None
        if depth == _VARIABLE_VALUE_MAX_DEPTH:
            raise ValueError("nested too deeply")
        if isinstance(item, dict):
            return {key: walk(inner, depth + 1) for key, inner in item.items()}
        return [walk(inner, depth + 1) for inner in item]

    return json.dumps(walk(value, 0), separators=(",", ":"), ensure_ascii=False)


def check_block_document_name(name: str) -> None:
    """Refuse a block document name that Prefect's ``BlockDocumentCreate`` refuses.

    An empty name is accepted here (an anonymous document).

    Raises:
        InvalidEntity: the name holds anything but lowercase letters, digits and ``-``.
    """
    if name and (_NAME.fullmatch(name) is None or _BLOCK_DOCUMENT_NAME.match(name) is None):
        msg = "Block document name must only contain lowercase letters, numbers, and dashes."
        raise InvalidEntity(msg, entity="block document")


def _without_required(schema: JSON) -> JSON:
    """``schema`` with every ``required`` key of every nested object removed.

    Lists are not entered, as in Prefect (a ``required`` inside ``allOf`` stays), and a
    property that is itself named ``required`` goes too.
    """
    if not isinstance(schema, dict):
        return schema
    return {key: _without_required(value) for key, value in schema.items() if key != "required"}


def check_enforced_parameters(
    parameters: Mapping[str, JSON], schema: Mapping[str, JSON] | None
) -> None:
    """Refuse default parameters and a schema as ``POST /deployments/`` does under enforcement.

    Prefect runs this only when the request itself sets ``enforce_parameter_schema`` to a
    true value: the parameters must pass the schema with every ``required`` removed, and
    the schema must be valid Draft 2020-12. Without a schema nothing is checked.

    Raises:
        InvalidEntity: the parameters fail the schema, the schema is invalid, or checking
            them crashes jsonschema or ``re`` (Prefect: 500).
    """
    if schema is None:
        return
    try:
        with collector_paused():  # a deep or self-referencing schema recurses to the limit
            stripped: dict[str, Any] = {
                key: _without_required(value) for key, value in schema.items() if key != "required"
            }
            jsonschema.validate(parameters, stripped, registry=Registry())
    except jsonschema.ValidationError as exc:
        where = "" if exc.json_path == "$" else f" for field {exc.json_path.replace('$.', '')!r}"
        msg = f"Validation failed{where}. Failure reason: {exc.message}"
        raise InvalidEntity(msg, entity="deployment") from None
    except jsonschema.SchemaError as exc:
        raise InvalidEntity(_schema_message(exc), entity="deployment") from None
    except referencing.exceptions.Unresolvable as exc:
        msg = f"Validation failed. Failure reason: {exc}"
        raise InvalidEntity(msg, entity="deployment") from None
    except RecursionError:  # Prefect: 500
        msg = "Unable to validate the parameters: the schema's references never end."
        raise InvalidEntity(msg, entity="deployment") from None
    except Exception as exc:  # noqa: BLE001 - any other crash of jsonschema (Prefect: 500)
        msg = f"Unable to validate the parameters ({crash_reason(exc)})."
        raise InvalidEntity(msg, entity="deployment") from None
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidEntity(_schema_message(exc), entity="deployment") from None
    except Exception as exc:  # noqa: BLE001 - e.g. re.compile's OverflowError (Prefect: 500)
        msg = f"The provided schema cannot be checked ({crash_reason(exc)})."
        raise InvalidEntity(msg, entity="deployment") from None


def _schema_message(exc: jsonschema.SchemaError) -> str:
    return f"The provided schema is not a valid json schema. Schema error: {exc.message}"


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def check_tags(entity: str, tags: Iterable[object]) -> tuple[str, ...]:
    """The tags as a tuple, each a string as Prefect's ``list[str]`` requires.

    Raises:
        InvalidEntity: the tags are one string (not a list of them), or a tag is not a
            string.
    """
    if isinstance(tags, str):
        raise InvalidEntity(f"{entity} tags must be a list of strings, not str", entity=entity)
    kept = tuple(tags)
    for tag in kept:
        if not isinstance(tag, str):
            raise InvalidEntity(f"{entity} tags must be strings, not {_kind(tag)}", entity=entity)
    return kept  # type: ignore[return-value]  # every item was checked


def check_labels(entity: str, labels: Mapping[Any, object] | None) -> None:
    """Refuse labels whose keys are not strings or whose values are not scalars.

    Prefect's ``KeyValueLabels`` takes a string, a number or a boolean as a value (not
    ``null``, a list or an object).

    Raises:
        InvalidEntity: a key or a value of another type.
    """
    for key, value in (labels or {}).items():
        if not isinstance(key, str):
            raise InvalidEntity(f"{entity} label keys must be strings", entity=entity)
        if not isinstance(value, bool | int | float | str):
            msg = f"{entity} label {key!r} must be a string, number or boolean, not {_kind(value)}"
            raise InvalidEntity(msg, entity=entity)


def check_object(entity: str, field: str, value: object) -> None:
    """Refuse a value that must be a JSON object (or absent) and is something else.

    Raises:
        InvalidEntity: ``value`` is neither ``None`` nor a mapping.
    """
    if value is not None and not isinstance(value, Mapping):
        raise InvalidEntity(
            f"{entity} {field} must be an object, not {_kind(value)}", entity=entity
        )


def check_text(entity: str, field: str, value: object) -> None:
    """Refuse a value that must be a string (or absent) and is something else.

    Raises:
        InvalidEntity: ``value`` is neither ``None`` nor a string.
    """
    if value is not None and not isinstance(value, str):
        raise InvalidEntity(f"{entity} {field} must be a string, not {_kind(value)}", entity=entity)
