"""Hydrate ``__prefect_kind`` placeholders in merged flow-run parameters (spec §6.2).

:func:`hydrate_parameters` walks a JSON tree and replaces every placeholder (a dict with a
``__prefect_kind`` key) the way Prefect 3.9.1's ``hydrate`` does with ``raise_on_error``,
``render_jinja`` and ``render_workspace_variables`` all on. Failures raise
:class:`~flowrun_core.errors.HydrationFailed` with Prefect's message, without the
``"Error hydrating flow run parameters: "`` prefix that the wire layer adds.

Where Prefect crashes with a 500, this module raises ``HydrationFailed`` with a message of
its own instead:

* the whole parameters dict is a placeholder whose result is not an object:
  ``Hydrated parameters must be a JSON object, got array.``;
* a jinja ``template`` that is null, a boolean or a number (after hydration):
  ``Invalid jinja: the template must be a string, got integer.``;
* a ``__prefect_kind`` that is an array or an object:
  ``Invalid __prefect_kind: expected a string or null, got array.``;
* a ``variable_name`` that is an array or an object (after hydration):
  ``Invalid variable_name: expected a string, got object.``;
* a JSON string that Python's decoder rejects with something other than a syntax error:
  ``Invalid JSON: {Python's message}`` (integers longer than 4300 digits), or
  ``Invalid JSON: the document is nested too deeply.``;
* jinja templates nested too deeply to parse: ``Invalid jinja: the template is nested too
  deeply.``

The walk is iterative, so deeply nested parameters never raise ``RecursionError``.

Jinja templates render in the bounded sandbox of :mod:`flowrun_core.rules.jinja_sandbox`
(whose limits are re-exported here).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Final, Protocol, TypeAlias, cast

from flowrun_core.errors import ErrorDetail, HydrationFailed
from flowrun_core.json_types import JSON, SCALAR_TYPES
from flowrun_core.rules.jinja_sandbox import (
    MAX_CALL_DEPTH,
    MAX_INT_BITS,
    MAX_LOOP_COUNT,
    MAX_NESTED_LOOP_DEPTH,
    MAX_OUTPUT_SIZE,
    MAX_TEMPLATE_RANGE,
    MAX_VALUE_SIZE,
    MAX_WORK,
    parse_template,
    render_template,
)

__all__ = [
    "MAX_CALL_DEPTH",
    "MAX_INT_BITS",
    "MAX_JSON_DEPTH",
    "MAX_LOOP_COUNT",
    "MAX_NESTED_LOOP_DEPTH",
    "MAX_OUTPUT_SIZE",
    "MAX_TEMPLATE_RANGE",
    "MAX_VALUE_SIZE",
    "MAX_WORK",
    "UnstorableHydration",
    "copy_without_placeholders",
    "first_unencodable_string",
    "hydrate_parameters",
    "hydrate_placeholders",
    "hydrate_root",
    "json_depth_exceeds",
    "nested_too_deep",
    "require_object",
]

MAX_JSON_DEPTH: Final = 256
"""Deepest nesting in ``parameters``, ``context`` or ``job_variables``, scalars counted.

The value itself is level 1, and each object or array puts its members one level deeper:
``{"a": 1}`` and ``{"a": []}`` are 2 levels deep, ``{"a": [1]}`` is 3 (see
:func:`json_depth_exceeds`). Prefect 3.9.1 stores deeper values and then fails to serialize
its response (500). This library refuses them instead: the request decoder answers 422, a
``json`` placeholder whose document is deeper fails with ``Invalid JSON: the document is
nested too deeply.``, and parameters that hydration makes deeper fail with
``The hydrated parameters are nested too deeply.``
"""

_KIND: Final = "__prefect_kind"
_HANDLED_KINDS: Final = frozenset({"none", "json", "jinja", "workspace_variable"})


class _Marker(enum.Enum):
    REMOVE = enum.auto()
    """Prefect's ``RemoveValue``: the item is dropped from its dict or list."""
    PUSHED = enum.auto()
    """Internal: a frame was pushed, its result is not known yet."""


_Value: TypeAlias = "JSON | _Marker"


# --------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------


def hydrate_parameters(
    parameters: Mapping[str, JSON], variables: Mapping[str, JSON]
) -> dict[str, JSON]:
    """:func:`hydrate_root`, refusing a result that is not an object.

    Raises:
        HydrationFailed: As :func:`hydrate_root`, or the result is not an object (see
            :func:`require_object`).
    """
    return require_object(hydrate_root(parameters, variables))


def require_object(hydrated: JSON) -> dict[str, JSON]:
    """``hydrated`` when it is an object; else Prefect's hydration error (400 here).

    Only a placeholder at the top level of the parameters can hydrate to something else.
    Prefect carries such a value through schema enforcement, job variables and the queue
    override, and fails (500) only when it builds the run, where the service calls this.
    """
    if not isinstance(hydrated, dict):
        raise HydrationFailed(
            f"Hydrated parameters must be a JSON object, got {_json_type(hydrated)}."
        )
    return hydrated


def hydrate_root(parameters: Mapping[str, JSON], variables: Mapping[str, JSON]) -> JSON:
    """Resolve every ``__prefect_kind`` placeholder in ``parameters`` (spec §6.2).

    Args:
        parameters: The merged parameters. Never mutated; the result shares no dict or
            list with it.
        variables: Workspace variable name → stored value. Only ``name in variables`` and
            ``variables[name]`` are used, so a lazy mapping that reads storage works.

    Returns:
        A new value with every placeholder resolved: a dict, unless ``parameters`` is
        itself a placeholder, whose result may be any JSON value (``{}`` when removed).

    Raises:
        HydrationFailed: The first error met, depth-first in key and list order; or, once
            every placeholder is resolved, parameters that hydration took past
            :data:`MAX_JSON_DEPTH` levels.
    """
    plain = copy_without_placeholders(parameters)
    if plain is not None:
        return plain
    return hydrate_placeholders(parameters, variables)


def hydrate_placeholders(parameters: Mapping[str, JSON], variables: Mapping[str, JSON]) -> JSON:
    """:func:`hydrate_root` by the full walk, skipping its placeholder-free fast copy.

    For a caller that has already tried :func:`copy_without_placeholders` and got ``None``;
    the same arguments, result and errors as :func:`hydrate_root`.
    """
    root = dict(parameters)
    unstorable: list[str] = []
    token = _UNSTORABLE.set(unstorable)
    try:
        result = _walk(root, variables)
    finally:
        _UNSTORABLE.reset(token)
    if isinstance(result, _Marker):  # the root placeholder removed itself (RemoveValue)
        return {}
    # A placeholder's value lands below its own level, so hydration can take parameters past
    # the limit (parameters already past it are the request decoder's to refuse).
    if json_depth_exceeds(result, MAX_JSON_DEPTH) and not json_depth_exceeds(root, MAX_JSON_DEPTH):
        unstorable.append(_TOO_DEEP_RESULT)
    if unstorable:
        raise UnstorableHydration(unstorable[0], result)
    return result


def copy_without_placeholders(parameters: Mapping[str, JSON]) -> dict[str, JSON] | None:
    """What :func:`hydrate_root` returns for parameters that hold no placeholder: a copy.

    ``None`` when a placeholder (or nesting too deep for the fast copy) needs the full walk.
    No workspace variable is read, so a caller can tell before it prepares them.
    """
    if _KIND in parameters:
        return None
    try:
        return {
            key: child if type(child) in SCALAR_TYPES else _copy_plain(child, 2)
            for key, child in parameters.items()
        }
    except _NeedsWalk:
        return None


class UnstorableHydration(HydrationFailed):
    """Hydration succeeded, but its result holds a value Prefect cannot store or answer.

    That is a ``json`` document nested deeper than :data:`MAX_JSON_DEPTH` (or taking the
    parameters past it, as a workspace variable's value can), or a lone surrogate made by a
    ``json`` or ``jinja`` placeholder. Prefect hydrates such values, runs its other rules on
    them, and fails only once it writes a new run (500). So the walk goes on (a later
    placeholder's own error still wins), and the service raises this after the rules Prefect
    runs first, with the hydrated ``value`` meanwhile. The message is the first problem the walk
    records.
    """

    def __init__(self, message: str, value: JSON) -> None:
        super().__init__(message)
        self.value = value


_UNSTORABLE: ContextVar[list[str] | None] = ContextVar("flowrun_core_unstorable", default=None)
"""The problems :func:`_unstorable` defers, while :func:`hydrate_root` walks."""


def _unstorable(message: str) -> None:
    """Record a value Prefect hydrates but cannot store (see :class:`UnstorableHydration`)."""
    found = _UNSTORABLE.get()
    if found is None:
        raise HydrationFailed(message)
    found.append(message)


_PLAIN_DEPTH: Final = 48
"""Deepest tree :func:`_copy_plain` copies by recursion; deeper ones take the iterative walk."""


class _NeedsWalk(Exception):
    """Raised by :func:`_copy_plain` for a tree it leaves to :func:`_walk`."""


def _copy_plain(value: JSON, depth: int) -> JSON:
    """A fresh copy of a tree without placeholders: what :func:`_walk` returns for it.

    Most parameters hold no placeholder, and copying them by recursion costs a fraction of
    the general walk. A placeholder anywhere, or nesting deeper than :data:`_PLAIN_DEPTH`,
    raises :class:`_NeedsWalk` and the caller walks the whole tree instead.
    """
    if isinstance(value, dict):
        if _KIND in value or depth > _PLAIN_DEPTH:
            raise _NeedsWalk
        depth += 1
        return {
            key: child if type(child) in SCALAR_TYPES else _copy_plain(child, depth)
            for key, child in value.items()
        }
    if isinstance(value, list):
        if depth > _PLAIN_DEPTH:
            raise _NeedsWalk
        depth += 1
        return [
            child if type(child) in SCALAR_TYPES else _copy_plain(child, depth) for child in value
        ]
    return value


def nested_too_deep(loc: tuple[str | int, ...]) -> ErrorDetail:
    """The 422 item for a free-form JSON value at ``loc`` deeper than :data:`MAX_JSON_DEPTH`."""
    return ErrorDetail(
        type="value_error",
        loc=loc,
        msg=f"Value error, nested more than {MAX_JSON_DEPTH} levels deep",
        input=None,
        ctx={"error": {}},
    )


def json_depth_exceeds(value: object, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels deep, scalars counted (iteratively).

    ``value`` itself is level 1 and each object or array puts its members one level deeper:
    ``1``, ``[]`` and ``{}`` are 1 level deep, ``[1]`` and ``[[]]`` are 2. That is the depth
    Prefect's response serializer limits (at 256 levels under ``parameters``).
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        stack.extend((child, depth) for child in children)
    return False


class _Frame(Protocol):
    def next_child(self) -> tuple[bool, JSON]: ...
    def accept(self, value: _Value) -> None: ...
    def finish(self, variables: Mapping[str, JSON]) -> _Value: ...


class _DictFrame:
    __slots__ = ("_items", "_key", "_out")

    def __init__(self, source: dict[str, JSON]) -> None:
        self._items = iter(source.items())
        self._key = ""
        self._out: dict[str, JSON] = {}

    def next_child(self) -> tuple[bool, JSON]:
        for key, value in self._items:
            self._key = key
            return True, value
        return False, None

    def accept(self, value: _Value) -> None:
        if not isinstance(value, _Marker):
            self._out[self._key] = value

    def finish(self, variables: Mapping[str, JSON]) -> _Value:  # noqa: ARG002
        return self._out


class _ListFrame:
    __slots__ = ("_items", "_out")

    def __init__(self, source: list[JSON]) -> None:
        self._items = iter(source)
        self._out: list[JSON] = []

    def next_child(self) -> tuple[bool, JSON]:
        for value in self._items:
            return True, value
        return False, None

    def accept(self, value: _Value) -> None:
        if not isinstance(value, _Marker):
            self._out.append(value)

    def finish(self, variables: Mapping[str, JSON]) -> _Value:  # noqa: ARG002
        return self._out


class _PlaceholderFrame:
    """A placeholder whose operand must be hydrated before its handler finishes."""

    __slots__ = ("_child", "_kind", "_pending", "_result")

    def __init__(self, kind: str, child: JSON) -> None:
        self._kind = kind
        self._child = child
        self._pending = True
        self._result: _Value = None

    def next_child(self) -> tuple[bool, JSON]:
        if self._pending:
            self._pending = False
            return True, self._child
        return False, None

    def accept(self, value: _Value) -> None:
        self._result = value

    def finish(self, variables: Mapping[str, JSON]) -> _Value:
        value = self._result
        if self._kind == "none" or isinstance(value, _Marker):
            return value
        if self._kind == "json":
            return _load_json(value) if isinstance(value, str) else value
        if self._kind == "jinja":
            return _hydrate_jinja(value, hydrated=True)
        return _lookup_variable(value, variables)


def _walk(root: JSON, variables: Mapping[str, JSON]) -> _Value:
    """Hydrate ``root`` depth-first with an explicit stack (no recursion)."""
    stack: list[_Frame] = []
    value = _enter(root, stack, variables)
    while stack:
        frame = stack[-1]
        if value is not _Marker.PUSHED:
            frame.accept(value)
        has_child, child = frame.next_child()
        if has_child:
            value = _enter(child, stack, variables)
        else:
            stack.pop()
            value = frame.finish(variables)
    return value


def _enter(node: JSON, stack: list[_Frame], variables: Mapping[str, JSON]) -> _Value:
    """Start hydrating ``node``: return its result, or push a frame and return PUSHED."""
    if isinstance(node, dict):
        if _KIND in node:
            return _enter_placeholder(node, stack, variables)
        stack.append(_DictFrame(node))
        return _Marker.PUSHED
    if isinstance(node, list):
        stack.append(_ListFrame(node))
        return _Marker.PUSHED
    return node


def _enter_placeholder(
    node: dict[str, JSON], stack: list[_Frame], variables: Mapping[str, JSON]
) -> _Value:
    kind = node[_KIND]
    if isinstance(kind, (dict, list)):
        # Prefect looks the kind up in a dict and crashes (500) on unhashable values.
        raise HydrationFailed(
            f"Invalid {_KIND}: expected a string or null, got {_json_type(kind)}."
        )
    if not isinstance(kind, str) or kind not in _HANDLED_KINDS:
        # Unknown kinds (null included) return `value` as given, not hydrated.
        return _copy(node.get("value"))
    operand_key = {"jinja": "template", "workspace_variable": "variable_name"}.get(kind, "value")
    if operand_key not in node:
        if kind in {"json", "workspace_variable"}:
            return _Marker.REMOVE
        raise HydrationFailed(f"Missing '{operand_key}' key in __prefect object")
    operand = node[operand_key]
    if kind == "none" or isinstance(operand, dict):
        stack.append(_PlaceholderFrame(kind, operand))
        return _Marker.PUSHED
    if kind == "json":
        return _load_json(operand) if isinstance(operand, str) else _copy(operand)
    if kind == "jinja":
        return _hydrate_jinja(operand, hydrated=False)
    return _lookup_variable(operand, variables)


def _load_json(text: str) -> JSON:
    try:
        loaded = cast("JSON", json.loads(text))
    except json.JSONDecodeError as exc:
        raise HydrationFailed(f"Invalid JSON: {exc}") from None
    except RecursionError:
        raise HydrationFailed(_TOO_DEEP) from None
    except ValueError as exc:  # e.g. an integer beyond Python's 4300-digit limit
        raise HydrationFailed(f"Invalid JSON: {exc}") from None
    if isinstance(loaded, dict | list) and json_depth_exceeds(loaded, MAX_JSON_DEPTH):
        _unstorable(_TOO_DEEP)
    # The text itself passed the request decoder; only \u escapes can make a lone surrogate.
    elif "\\u" in text and first_unencodable_string(loaded) is not None:
        _unstorable(_SURROGATE_MESSAGE.format(what="JSON"))
    return loaded


_TOO_DEEP: Final = "Invalid JSON: the document is nested too deeply."
_TOO_DEEP_RESULT: Final = "The hydrated parameters are nested too deeply."
_SURROGATE_MESSAGE: Final = (
    "Invalid {what}: the result holds a lone surrogate, which is not valid Unicode and "
    "cannot be stored."
)


def first_unencodable_string(value: object) -> tuple[str | int, ...] | None:
    r"""The path to the first string (object key or value) UTF-8 cannot encode, or ``None``.

    Such strings hold lone surrogates (a ``\uD800`` escape is valid JSON). Prefect fails with a
    500 when it stores one; this library refuses them up front. Iterative, so any depth works.
    """
    stack: list[tuple[object, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if not _encodable(node):
                return path
        elif isinstance(node, dict):
            for key, item in reversed(node.items()):
                if isinstance(key, str) and not _encodable(key):
                    return (*path, key)
                stack.append((item, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, index)) for index, item in reversed(list(enumerate(node))))
    return None


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _lookup_variable(name: JSON, variables: Mapping[str, JSON]) -> JSON:
    if isinstance(name, (dict, list)):
        # Prefect tests `name in variables` and crashes (500) on unhashable values.
        raise HydrationFailed(f"Invalid variable_name: expected a string, got {_json_type(name)}.")
    if isinstance(name, str) and name in variables:
        return _copy(variables[name])
    raise HydrationFailed(f"Variable '{name}' not found in workspace.")


def _copy(value: JSON) -> JSON:
    """Deep-copy a JSON tree iteratively (no recursion limit)."""
    if not isinstance(value, (dict, list)):
        return value
    root: dict[str, JSON] | list[JSON] = {} if isinstance(value, dict) else []
    stack: list[tuple[dict[str, JSON] | list[JSON], dict[str, JSON] | list[JSON]]]
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        pairs: Iterable[tuple[str | None, JSON]] = (
            source.items() if isinstance(source, dict) else ((None, v) for v in source)
        )
        for key, item in pairs:
            child: JSON = item
            if isinstance(item, dict):
                child = {}
                stack.append((item, child))
            elif isinstance(item, list):
                child = []
                stack.append((item, child))
            if isinstance(target, dict):
                target[cast("str", key)] = child
            else:
                target.append(child)
    return root


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------------------
# The jinja handler
# --------------------------------------------------------------------------------------


def _hydrate_jinja(template: JSON, *, hydrated: bool) -> JSON:
    """Validate and render one jinja placeholder's template, as Prefect does.

    Args:
        template: The template (already hydrated when it was a dict).
        hydrated: Whether ``template`` is a fresh hydration result (else it is input).
    """
    try:
        return _hydrate_jinja_unguarded(template, hydrated=hydrated)
    except RecursionError:
        raise HydrationFailed("Invalid jinja: the template is nested too deeply.") from None


def _hydrate_jinja_unguarded(template: JSON, *, hydrated: bool) -> JSON:
    # Jinja turns any source into `str(source)` before lexing, so Prefect validates the
    # Python repr of a list or dict template.
    ast = parse_template(str(template))
    if isinstance(template, str):
        if "{{" not in template and "{%" not in template:
            return template
        rendered = render_template(ast)
        if not _encodable(rendered):
            _unstorable(_SURROGATE_MESSAGE.format(what="jinja"))
        return rendered
    if isinstance(template, (list, dict)):
        # Prefect's `"{{" in template` tests list items or dict keys; when it is false the
        # template comes back untouched, and when it is true jinja refuses to compile it.
        if "{{" not in template and "{%" not in template:
            return template if hydrated else _copy(template)
        error = TypeError("Can't compile non template nodes")
        raise HydrationFailed(
            f"Invalid jinja: Failed to render template due to the following error: {error!r}"
        )
    raise HydrationFailed(
        f"Invalid jinja: the template must be a string, got {_json_type(template)}."
    )
