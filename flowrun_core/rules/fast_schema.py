"""A compiled fast path for parameter-schema enforcement (spec §5, issue 3).

jsonschema's reused Draft 2020-12 validator costs tens of microseconds per call; a validator
compiled by ``fastjsonschema`` costs a few, and jsonschema-rs's (Rust) a fraction of one. The
libraries do not agree on every keyword, so a compiled check is built only for schemas made of
keywords whose meaning is the same in all of them (:func:`fast_path_obstacle` names the first
thing that rules a schema out), and it is used only to *accept*: when it says "valid",
jsonschema would say so too and can be skipped; when it says "invalid" (or fails in any way),
the reference path runs and produces Prefect's message. A wrong "invalid" only costs time; a
wrong "valid" would be a fidelity bug, which ``tests/core/test_fast_schema.py`` hunts for with
generated schemas and hostile instances.

Which library compiles: jsonschema-rs's ``Draft202012Validator`` (formats off), unless the
schema holds a ``pattern`` (Rust's regular expressions are not Python's ``re``) or the Rust
validator will not build it; then fastjsonschema, which runs ``re.search`` as jsonschema does.
jsonschema-rs compares numbers exactly (big integers, integers against floats) and equal
values as jsonschema does (``1 == 1.0``, ``True != 1``, in ``enum``, ``const`` and
``uniqueItems``), but it takes a ``tuple`` for an array and lets ``inf`` pass ``maximum``: both
checks therefore judge only plain JSON with finite floats (see below; checked against
jsonschema-rs 0.61.2, the floor pinned in ``pyproject.toml``).

What the compiled check relies on, keyword by keyword:

* ``type``: booleans are neither integers nor numbers, and an integral float (``1.0``) is an
  integer, in both libraries.
* ``enum`` and ``const``: ``1 == 1.0`` but ``True != 1``, recursively, in both.
* ``uniqueItems``: both treat ``1`` and ``1.0`` as duplicates and ``1`` and ``True`` as
  distinct, recursively.
* ``pattern``: accepted only without ``$`` (fastjsonschema rewrites ``$`` as an end-of-text
  anchor, which a negative look-ahead can turn into a wrong "valid"); both then run
  ``re.search``.
* ``$ref``: only ``#/definitions/<name>`` with no validation keyword beside it (Draft 2020-12
  evaluates siblings of ``$ref``, draft-07 ignores them), no cycle among the definitions
  reached, and names that fastjsonschema turns into distinct function names.
* ``format`` is never checked, as in Prefect's enforcement; ``default`` is never filled in.
* ``const`` is compiled as a one-item ``enum`` (fastjsonschema 2.22 cannot compile ``const``
  without detailed exceptions; both libraries compare the two the same way).

These facts were checked against fastjsonschema 2.22.3 (the floor pinned in
``pyproject.toml``; older releases compare ``enum`` values differently).

The compiled check also refuses (answers "invalid", so the reference path decides) any
instance that is not plain JSON (a ``tuple``, a ``str`` subclass, a non-string key, a NaN or
an infinity...) or that nests deeper than :data:`MAX_INSTANCE_DEPTH`; and schemas whose
subschemas nest, through ``$ref`` too, deeper than :data:`MAX_EFFECTIVE_DEPTH` get no fast
path, so that jsonschema's own recursion limit is never what decides.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NoReturn

import fastjsonschema
import jsonschema_rs

from flowrun_core.json_types import JSON

__all__ = [
    "MAX_EFFECTIVE_DEPTH",
    "MAX_INSTANCE_DEPTH",
    "SUPPORTED_KEYWORDS",
    "UNSUPPORTED_KEYWORDS",
    "compile_fast_check",
    "fast_path_obstacle",
]

MAX_EFFECTIVE_DEPTH: Final = 64
"""Deepest subschema nesting, counting ``$ref`` hops, that still gets a fast path.

jsonschema spends about three stack frames per level; 64 levels stay far below Python's
default recursion limit, so the reference validator never fails for depth where the compiled
check succeeds.
"""

MAX_INSTANCE_DEPTH: Final = 64
"""Deepest nesting of arrays and objects in an instance the fast check will judge."""

_SCHEMA_VALUED: Final = frozenset({"additionalProperties", "items", "not"})
_SCHEMA_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf"})
_BOUNDS: Final = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_COUNTS: Final = frozenset(
    {"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
)
_TYPES: Final = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})

SUPPORTED_KEYWORDS: Final = frozenset(
    {
        *_SCHEMA_VALUED,
        *_SCHEMA_LISTS,
        *_BOUNDS,
        *_COUNTS,
        "$ref",
        "const",
        "enum",
        "format",
        "pattern",
        "properties",
        "required",
        "type",
        "uniqueItems",
    }
)
"""Keywords compiled by fastjsonschema with the meaning Draft 2020-12 gives them."""

UNSUPPORTED_KEYWORDS: Final = frozenset(
    {
        # Validation keywords of Draft 2020-12 that are not compiled identically (or at all).
        "$dynamicRef",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "else",
        "if",
        "maxContains",
        "minContains",
        "multipleOf",
        "patternProperties",
        "prefixItems",
        "propertyNames",
        "then",
        "unevaluatedItems",
        "unevaluatedProperties",
        # Keywords that fastjsonschema acts on and Draft 2020-12 ignores.
        "additionalItems",
        "contentEncoding",
        "contentMediaType",
        "dependencies",
        # Identifiers and dialects: they change how references resolve or which rules apply.
        "$anchor",
        "$defs",
        "$dynamicAnchor",
        "$id",
        "$recursiveAnchor",
        "$recursiveRef",
        "$schema",
        "$vocabulary",
        "definitions",  # anywhere but at the root
    }
)
"""Keywords that give a schema no fast path. Any other unknown key is an annotation that
both libraries ignore (``title``, ``default``, ``position``, ``block_type_slug``...)."""

_DOCUMENT_KEYS: Final = frozenset({"$id", "$schema", "$anchor", "$dynamicAnchor", "$vocabulary"})
"""Keys refused anywhere in the document, data included (fastjsonschema walks it all)."""

_REF: Final = re.compile(r"#/definitions/([A-Za-z0-9_]+)")
_SCALAR_TYPES: Final[frozenset[type]] = frozenset({str, int, float, bool, type(None)})


class _Obstacle(Exception):
    """The schema uses something the fast path does not reproduce exactly."""


def _refuse(reason: str) -> NoReturn:
    raise _Obstacle(reason)


class _NoRemoteHandlers(Mapping[str, Callable[[str], Any]]):
    """A handler table that claims every URI scheme and refuses to fetch anything."""

    def __getitem__(self, scheme: str) -> Callable[[str], Any]:
        return _refuse_fetch

    def __contains__(self, scheme: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _refuse_fetch(uri: str) -> NoReturn:
    msg = f"remote reference {uri!r} is never resolved"
    raise _Obstacle(msg)


_NO_REMOTE: Final = _NoRemoteHandlers()


# --------------------------------------------------------------------------------------------
# Which schemas qualify.
# --------------------------------------------------------------------------------------------


def _is_finite_number(value: object) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _check_data(value: object, depth: int, where: str) -> None:
    """Plain JSON with finite numbers, as ``enum`` and ``const`` values must be."""
    if depth > MAX_EFFECTIVE_DEPTH:
        _refuse(f"the value at {where} nests too deeply")
    kind = type(value)
    if kind is float and not math.isfinite(value):  # type: ignore[arg-type]
        _refuse(f"the value at {where} holds a non-finite number")
    if kind in _SCALAR_TYPES:
        return
    if kind is list:
        for item in value:  # type: ignore[attr-defined]
            _check_data(item, depth + 1, where)
        return
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                _refuse(f"the value at {where} has a non-string key")
            _check_data(item, depth + 1, where)
        return
    _refuse(f"the value at {where} is not plain JSON")


def _scan_document(value: object) -> None:
    """Refuse identifier keys anywhere; the depth is bounded by the caller's schema checks."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = _DOCUMENT_KEYS.intersection(node)
            if found:
                _refuse(f"{min(found)!r} appears in the schema")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


class _Analysis:
    """One walk over a schema: keyword support, references, cycles and effective depth."""

    def __init__(self, root: dict[str, JSON]) -> None:
        definitions = root.get("definitions", {})
        if not isinstance(definitions, dict):
            _refuse("'definitions' is not an object")
        self._definitions: dict[str, JSON] = definitions
        self._heights: dict[str, int] = {}
        self._active: list[str] = []
        self._function_names: dict[str, str] = {}
        self.has_pattern = False
        """Whether a ``pattern`` keyword was met (the compiled Rust check never judges one)."""

    def height_of_root(self, root: dict[str, JSON]) -> int:
        return self._height(root, "#", depth=1, root=True)

    def _definition_height(self, name: str, depth: int) -> int:
        if name in self._active:
            cycle = " -> ".join([*self._active[self._active.index(name) :], name])
            _refuse(f"the references form a cycle ({cycle})")
        found = self._heights.get(name)
        if found is None:
            self._claim_function_name(name)
            self._active.append(name)
            try:
                found = self._height(self._definitions[name], f"#/definitions/{name}", depth)
            finally:
                self._active.pop()
            self._heights[name] = found
        if depth + found > MAX_EFFECTIVE_DEPTH:
            _refuse(f"subschemas nest deeper than {MAX_EFFECTIVE_DEPTH} levels")
        return found

    def _claim_function_name(self, name: str) -> None:
        """Refuse two definitions that fastjsonschema would compile under one function name."""
        function = name.lower().rstrip("_")
        other = self._function_names.setdefault(function, name)
        if other != name:
            _refuse(f"definitions {other!r} and {name!r} would share one compiled function")

    def _height(self, node: JSON, where: str, depth: int, *, root: bool = False) -> int:
        """Return the nesting height of subschema ``node`` (1 for a leaf)."""
        if depth > MAX_EFFECTIVE_DEPTH:
            _refuse(f"subschemas nest deeper than {MAX_EFFECTIVE_DEPTH} levels")
        if isinstance(node, bool):
            return 1
        if not isinstance(node, dict):
            _refuse(f"the subschema at {where} is not an object or a boolean")
        if "$ref" in node:
            return self._ref_height(node, where, depth, root=root)
        height = 0
        for key, value in node.items():
            here = f"{where}/{key}"
            if key == "definitions" and root:
                continue
            if key in UNSUPPORTED_KEYWORDS:
                _refuse(f"{key!r} at {where}")
            if key == "id" and isinstance(value, str):
                _refuse(f"'id' at {where}")
            if key not in SUPPORTED_KEYWORDS:
                continue  # an annotation: ignored by both libraries
            height = max(height, self._keyword_height(key, value, here, depth))
        if "const" in node:
            # fastjsonschema 2.22 cannot compile `const` without detailed exceptions; a
            # one-item `enum` means the same in both libraries (same equality, same order).
            const = node.pop("const")
            branches = node.setdefault("allOf", [])
            assert isinstance(branches, list)  # noqa: S101 - checked above
            branches.append({"enum": [const]})
        return height + 1

    def _ref_height(self, node: dict[str, JSON], where: str, depth: int, *, root: bool) -> int:
        ref = node["$ref"]
        for key, value in node.items():
            sibling = key in SUPPORTED_KEYWORDS or key in UNSUPPORTED_KEYWORDS
            if sibling and key != "$ref" and not (key == "definitions" and root):
                _refuse(f"{key!r} beside '$ref' at {where}")
            if key == "id" and isinstance(value, str):
                _refuse(f"'id' at {where}")
        match = _REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            _refuse(f"the reference {ref!r} at {where} is not '#/definitions/<name>'")
        name = match.group(1)
        if name not in self._definitions:
            _refuse(f"the reference {ref!r} at {where} does not resolve")
        return self._definition_height(name, depth + 1) + 1

    def _keyword_height(self, key: str, value: JSON, where: str, depth: int) -> int:
        """Check one supported keyword's value; return the height of its subschemas."""
        if key in _SCHEMA_VALUED:
            if key == "items" and isinstance(value, list):
                _refuse(f"'items' at {where} is an array")
            return self._height(value, where, depth + 1)
        if key in _SCHEMA_LISTS:
            if not isinstance(value, list) or not value:
                _refuse(f"{key!r} at {where} is not a non-empty array")
            return max(
                self._height(item, f"{where}/{index}", depth + 1)
                for index, item in enumerate(value)
            )
        if key == "properties":
            if not isinstance(value, dict):
                _refuse(f"'properties' at {where} is not an object")
            heights = [self._height(sub, f"{where}/{n}", depth + 1) for n, sub in value.items()]
            return max(heights, default=0)
        self._check_assertion(key, value, where)
        return 0

    def _check_assertion(self, key: str, value: JSON, where: str) -> None:
        if key in _BOUNDS:
            if not _is_finite_number(value):
                _refuse(f"{key!r} at {where} is not a finite number")
        elif key in _COUNTS:
            integral = type(value) is int or (type(value) is float and value.is_integer())
            if not integral or value < 0:  # type: ignore[operator]
                _refuse(f"{key!r} at {where} is not a non-negative integer")
        elif key == "type":
            names = value if isinstance(value, list) else [value]
            if not names or any(not isinstance(n, str) or n not in _TYPES for n in names):
                _refuse(f"'type' at {where} is not made of known type names")
            if len(set(names)) != len(names):
                _refuse(f"'type' at {where} repeats a name")
        elif key in {"enum", "const"}:
            if key == "enum" and not isinstance(value, list):
                _refuse(f"'enum' at {where} is not an array")
            _check_data(value, 0, where)
        elif key == "required":
            if not isinstance(value, list) or any(not isinstance(n, str) for n in value):
                _refuse(f"'required' at {where} is not an array of strings")
            if len(set(value)) != len(value):
                _refuse(f"'required' at {where} repeats a name")
        elif key == "uniqueItems":
            if not isinstance(value, bool):
                _refuse(f"'uniqueItems' at {where} is not a boolean")
        elif key == "pattern":
            _check_pattern(value, where)
            self.has_pattern = True
        elif key == "format" and not isinstance(value, str):
            _refuse(f"'format' at {where} is not a string")


def _check_pattern(value: JSON, where: str) -> None:
    if not isinstance(value, str):
        _refuse(f"'pattern' at {where} is not a string")
    if "$" in value:
        _refuse(f"'pattern' at {where} uses '$', which fastjsonschema rewrites")
    try:
        re.compile(value)
    except re.error:
        _refuse(f"'pattern' at {where} is not a Python regular expression")


def fast_path_obstacle(schema: Mapping[str, JSON]) -> str | None:
    """Say why ``schema`` gets no compiled fast path, or ``None`` when it qualifies.

    Args:
        schema: A schema as the reference validator will use it (already preprocessed).

    Returns:
        A short English reason naming the keyword and its location, or ``None``.
    """
    try:
        _compilable_copy(schema)
    except _Obstacle as exc:
        return str(exc)
    return None


def _compilable_copy(schema: Mapping[str, JSON]) -> tuple[dict[str, JSON], bool]:
    """Check ``schema``; return the copy to compile and whether it holds a ``pattern``.

    The copy has each ``const`` rewritten as a one-item ``enum``.

    Raises:
        _Obstacle: The schema gets no fast path.
    """
    try:
        copied = copy.deepcopy(dict(schema))
        _scan_document(copied)
        analysis = _Analysis(copied)
        analysis.height_of_root(copied)
    except RecursionError:
        _refuse("the schema nests too deeply")
    return copied, analysis.has_pattern


# --------------------------------------------------------------------------------------------
# The compiled check.
# --------------------------------------------------------------------------------------------


_NON_FLOAT_SCALARS: Final[frozenset[type]] = frozenset({str, int, bool, type(None)})


def _is_plain_json(value: object, budget: int) -> bool:
    """Whether ``value`` is exact JSON types, floats finite, at most ``budget`` levels deep."""
    kind = type(value)
    if kind is dict:
        if budget == 0:
            return False
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                return False
            if type(item) not in _NON_FLOAT_SCALARS and not _is_plain_json(item, budget - 1):
                return False
        return True
    if kind is list:
        if budget == 0:
            return False
        for item in value:  # type: ignore[attr-defined]
            if type(item) not in _NON_FLOAT_SCALARS and not _is_plain_json(item, budget - 1):
                return False
        return True
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    return kind in _NON_FLOAT_SCALARS


def _guarded(accepts: Callable[[JSON], bool]) -> Callable[[JSON], bool]:
    """The fast check around a compiled validator's ``accepts``.

    ``True`` only when the instance is plain JSON (:func:`_is_plain_json`) and ``accepts``
    returns ``True``. Any failure of the validator, a Rust panic included, means "ask the
    reference".
    """

    def check(instance: JSON) -> bool:
        if not _is_plain_json(instance, MAX_INSTANCE_DEPTH):
            return False
        try:
            return accepts(instance) is True
        except Exception:  # noqa: BLE001 - a rejection, or anything else: let jsonschema decide
            return False
        except BaseException as exc:
            if not _is_panic(exc):
                raise
            return False

    return check


def _compile_rust_check(prepared: dict[str, JSON]) -> Callable[[JSON], bool] | None:
    """The check by jsonschema-rs's Draft 2020-12 validator, or ``None`` if it will not build.

    Only for schemas without ``pattern`` (Rust's regular expressions are not Python's).
    """
    try:
        validator = jsonschema_rs.Draft202012Validator(prepared, validate_formats=False)
    except Exception:  # noqa: BLE001 - a schema it will not build just takes fastjsonschema
        return None
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        return None
    return _guarded(validator.is_valid)


def _is_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a Rust panic surfacing as pyo3's ``PanicException``.

    That class derives from ``BaseException`` (like ``KeyboardInterrupt``, which must go
    on), and pyo3 does not export it under a stable name, so it is told by its name.
    """
    return type(exc).__name__ == "PanicException"


def compile_fast_check(schema: Mapping[str, JSON]) -> Callable[[JSON], bool] | None:
    """Compile a validity check that agrees with Draft 2020-12 wherever it answers ``True``.

    Compilation costs a couple of milliseconds: do it once per cached schema.

    Args:
        schema: The schema exactly as the reference validator uses it (after Prefect's
            preprocessing, ``required`` removal and ``check_schema``). It is not modified.

    Returns:
        ``None`` when :func:`fast_path_obstacle` finds a reason, or when fastjsonschema cannot
        compile the schema. Otherwise a function that answers ``True`` only for instances that
        jsonschema's Draft 2020-12 validator (no format checker) also accepts; ``False`` means
        "ask the reference validator", never "invalid" for sure. It never raises.
    """
    try:
        prepared, has_pattern = _compilable_copy(schema)
    except _Obstacle:
        return None
    if not has_pattern:
        rust = _compile_rust_check(prepared)
        if rust is not None:
            return rust
    try:
        validate = fastjsonschema.compile(
            prepared,  # a copy: the reference resolver rewrites `$ref` in place
            handlers=_NO_REMOTE,
            use_default=False,
            use_formats=False,
            detailed_exceptions=False,
        )
    except Exception:  # noqa: BLE001 - any failure to compile just means "no fast path"
        return None

    def accepts(instance: JSON) -> bool:
        validate(instance)  # raises on a rejection
        return True

    return _guarded(accepts)
