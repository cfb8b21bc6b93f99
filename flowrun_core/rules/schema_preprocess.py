"""Prefect's schema preprocessing (spec §5.2), and the plain copies validation starts from.

:func:`preprocess_schema` applies Prefect's null fix, tuple fix and block-definition fix to
a copy of a schema, as ``prefect.utilities.schema_tools.validation.preprocess_schema`` does;
where Prefect's walk would crash (it answers 500) it raises
:class:`~flowrun_core.errors.InvalidParameterSchema` naming the location instead.
:func:`remove_required` is the job-variables variant's key removal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from flowrun_core.errors import CircularSchemaRef, InvalidParameterSchema
from flowrun_core.json_types import JSON, RECURSIVE_LEVELS, TooDeepForRecursion

__all__ = [
    "INVALID_SCHEMA_PREFIX",
    "MAX_SCHEMA_DEPTH",
    "crash_reason",
    "depth_exceeds",
    "json_pointer",
    "plain_copy",
    "plain_schema_copy",
    "preprocess_schema",
    "remove_required",
]

INVALID_SCHEMA_PREFIX: Final = "Invalid schema: "
"""Every :class:`InvalidParameterSchema` message starts with this text."""


def crash_reason(exc: BaseException) -> str:
    """``"TypeName: first line of the message"``: a library's unexpected error, in one line.

    A message that cannot be rendered (jsonschema pretty-prints the instance, which may be
    nested deeper than the stack allows) is named by the exception's type alone.
    """
    try:
        lines = str(exc).strip().splitlines()
    except Exception as failure:  # noqa: BLE001 - any failure to render gets the same answer
        return f"{type(exc).__name__} (its message could not be rendered: {type(failure).__name__})"
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


MAX_SCHEMA_DEPTH: Final = 400
"""Deepest nesting of objects and arrays in a schema that is worked on (the root is level 1).

A deeper schema is answered as Prefect answers one its stack cannot check:
:class:`~flowrun_core.errors.CircularSchemaRef`. Prefect checks a schema whose *subschemas*
nest up to about 117 levels (see :mod:`flowrun_core.rules.stack_depth`), and data nested in a
schema (a ``default``, ``const`` or ``examples`` value) far deeper, until its own deep copy
of the schema runs out of stack (a 500, at some 480 levels); this bound sits below that,
where every walk here still has stack to spare.
"""

_JSONPointerElement = str | int


class _CannotPreprocessError(Exception):
    """Prefect's preprocessing would crash here (it answers 500); the reason is ours."""


def json_pointer(path: Sequence[_JSONPointerElement]) -> str:
    """Return the RFC 6901 JSON Pointer of a path."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _in(container: JSON, key: str, where: tuple[str, ...]) -> bool:
    """Python's ``key in container`` on a JSON value, crashing as Python would."""
    if isinstance(container, dict | list | str):
        return key in container
    msg = f"the value at '{json_pointer(where)}' must be an array"
    raise _CannotPreprocessError(msg)


def _block_reference_schema() -> dict[str, JSON]:
    """The alternative that lets a block parameter be given as ``{"$ref": ...}``."""
    return {
        "type": "object",
        "properties": {
            "$ref": {
                "oneOf": [
                    {"type": "string", "format": "uuid"},
                    {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "minProperties": 1,
                    },
                ]
            }
        },
        "required": ["$ref"],
    }


def _process_properties(
    properties: JSON,
    required: JSON,
    where: tuple[str, ...],
    allow_none_with_default: bool,
) -> None:
    """Apply the null fix and the tuple fix to each property, recursing into ``properties``."""
    if not isinstance(properties, dict):
        msg = f"'properties' at '{json_pointer(where)}' must be an object"
        raise _CannotPreprocessError(msg)
    for key, subschema in properties.items():
        here = (*where, key)
        is_required = _in(required, key, (*where[:-1], "required"))
        if not isinstance(subschema, dict):
            msg = f"the property schema at '{json_pointer(here)}' must be an object"
            raise _CannotPreprocessError(msg)
        # Null fix: an optional, typed, non-null property with no default also accepts null.
        if (
            not is_required
            and "type" in subschema
            and subschema["type"] != "null"
            and ("default" not in subschema or allow_none_with_default)
        ):
            subschema["anyOf"] = [{"type": subschema["type"]}, {"type": "null"}]
            del subschema["type"]
        # Tuple fix: a non-empty list under `items` moves to `prefixItems`.
        items = subschema.get("items")
        if isinstance(items, list) and items and not subschema.get("prefixItems"):
            subschema["prefixItems"] = items
            del subschema["items"]
        if "properties" in subschema:
            _process_properties(
                subschema["properties"],
                subschema.get("required", []),
                (*here, "properties"),
                allow_none_with_default,
            )


def _preprocess_in_place(schema: dict[str, JSON], allow_none_with_default: bool) -> None:
    if "properties" in schema:
        _process_properties(
            schema["properties"],
            schema.get("required", []),
            ("properties",),
            allow_none_with_default,
        )
    if "definitions" not in schema:
        return
    definitions = schema["definitions"]
    if not isinstance(definitions, dict):
        msg = "'definitions' must be an object"
        raise _CannotPreprocessError(msg)
    # Iterate over a snapshot: a block definition may replace an entry under its title.
    for name, definition in list(definitions.items()):
        here = ("definitions", name)
        if not isinstance(definition, dict):
            msg = f"the definition at '{json_pointer(here)}' must be an object"
            raise _CannotPreprocessError(msg)
        if "properties" in definition:
            _process_properties(
                definition["properties"],
                definition.get("required", []),
                (*here, "properties"),
                allow_none_with_default,
            )
        if "block_type_slug" in definition:
            title = definition.get("title")
            if not isinstance(title, str):
                msg = f"the block definition at '{json_pointer(here)}' must have a string 'title'"
                raise _CannotPreprocessError(msg)
            definitions[title] = {"oneOf": [definition, _block_reference_schema()]}


def depth_exceeds(value: object, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays deeper than ``limit`` (iteratively)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def plain_copy(value: object) -> JSON:
    """Deep-copy a JSON tree into plain ``dict``s and ``list``s (any depth)."""
    try:
        return _plain_copy_recursive(value, RECURSIVE_LEVELS)
    except (TooDeepForRecursion, RecursionError):
        return _plain_copy_iterative(value)


def _plain_copy_recursive(value: object, room: int) -> JSON:
    if isinstance(value, Mapping):
        if not room:
            raise TooDeepForRecursion
        return {str(k): _plain_copy_recursive(v, room - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if not room:
            raise TooDeepForRecursion
        return [_plain_copy_recursive(v, room - 1) for v in value]
    return value  # type: ignore[return-value]


def _plain_copy_iterative(value: object) -> JSON:
    def empty(node: object) -> dict[str, JSON] | list[JSON] | None:
        if isinstance(node, Mapping):
            return {}
        if isinstance(node, list | tuple):
            return []
        return None

    root = empty(value)
    if root is None:
        return value  # type: ignore[return-value]
    stack: list[tuple[Any, dict[str, JSON] | list[JSON]]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, Mapping) else enumerate(source)
        for key, child in items:
            copied = empty(child)
            if copied is None:
                copied = child
            else:
                stack.append((child, copied))
            if isinstance(target, dict):
                target[str(key)] = copied
            else:
                target.append(copied)
    return root


def plain_schema_copy(schema: Mapping[str, JSON]) -> dict[str, JSON]:
    """A plain copy of ``schema``; ``CircularSchemaRef`` past :data:`MAX_SCHEMA_DEPTH`."""
    if depth_exceeds(schema, MAX_SCHEMA_DEPTH):
        raise CircularSchemaRef
    copied = plain_copy(schema)
    assert isinstance(copied, dict)  # noqa: S101 - a Mapping copies to a dict
    return copied


def preprocess_schema(
    schema: Mapping[str, JSON], *, allow_none_with_default: bool
) -> dict[str, JSON]:
    """Return Prefect's preprocessed copy of ``schema``; the argument is never modified.

    Walks top-level ``properties`` (recursing into nested ``properties``) and each entry of
    top-level ``definitions``; ``$defs``, ``items``, ``anyOf`` and the like are not walked.

    Args:
        schema: A JSON Schema object.
        allow_none_with_default: Also let properties that have a ``default`` accept ``null``
            (the job-variables setting).

    Returns:
        A new schema made of plain dicts and lists.

    Raises:
        InvalidParameterSchema: Prefect's preprocessing would crash on this schema (it
            answers 500).
        CircularSchemaRef: The schema is nested deeper than :data:`MAX_SCHEMA_DEPTH`.
    """
    copied = plain_schema_copy(schema)
    try:
        _preprocess_in_place(copied, allow_none_with_default)
    except _CannotPreprocessError as exc:
        raise InvalidParameterSchema(f"{INVALID_SCHEMA_PREFIX}{exc}") from None
    return copied


def remove_required(value: JSON) -> JSON:
    """Return a copy of ``value`` without any ``required`` key, at every object level.

    Like Prefect's ``remove_nested_keys(["required"], ...)``, it descends through objects
    only: lists (and what they hold) are kept as they are. A *property* named ``required``
    is removed too.
    """
    if not isinstance(value, dict):
        return value
    return {key: remove_required(item) for key, item in value.items() if key != "required"}
