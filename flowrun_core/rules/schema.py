"""Parameter-schema enforcement: Prefect 3.9.1's ``validate()`` as a pure, cached rule (spec §5).

The behaviour reproduced is that of
``prefect.utilities.schema_tools.validation.validate(parameters, schema, raise_on_error=True,
preprocess=True, ignore_required=False, allow_none_with_default=False)``:

* the schema is preprocessed (null fix, tuple fix, block definitions; ``$defs`` is not walked);
* the preprocessed schema is checked against the Draft 2020-12 meta-schema, whatever its
  ``$schema`` says;
* the instance is validated with Draft 2020-12 keywords, **without** a format checker, and
  ``$ref`` is resolved against an empty, non-fetching ``referencing.Registry``;
* a failure is reported as jsonschema's single ``best_match`` error, formatted as in §5.4.

Error texts always come from the real ``jsonschema`` (pinned to 4.26) so they match Prefect
byte for byte. The work that Prefect repeats on every call (deep copy, preprocessing,
``check_schema``, building the validator) is done once per distinct schema and kept in a
bounded LRU cache keyed by the schema's compact JSON dump (key order included, because it
decides which error jsonschema produces first).

Deviations from Prefect, all where Prefect answers 500 or has no stable answer:

* A schema that preprocessing cannot walk or that fails ``check_schema`` raises
  :class:`~flowrun_core.errors.InvalidParameterSchema` whose message starts with
  ``"Invalid schema: "``: jsonschema's own message when ``check_schema`` fails, or a sentence
  naming the offending location when preprocessing would crash (Prefect: 500).
* jsonschema, ``referencing`` or ``re`` raising an ordinary exception while the schema is
  checked or applied (``multipleOf`` arithmetic on an infinite, NaN or huge number, a base
  URI that does not parse, a malformed subschema that only a ``$ref`` reaches, a ``pattern``
  repeat count over ``re``'s limit) raises
  :class:`~flowrun_core.errors.InvalidParameterSchema` naming that exception (Prefect: 500).
* A schema whose compact JSON is longer than :data:`MAX_SCHEMA_SIZE` characters is rejected
  the same way. A schema nested deeper than :data:`MAX_SCHEMA_DEPTH` containers gets
  Prefect's own answer to a schema its stack cannot check,
  :class:`~flowrun_core.errors.CircularSchemaRef`; the meta-schema check runs at Prefect's
  stack depth (:mod:`flowrun_core.rules.stack_depth`), so a schema whose subschemas nest
  too deeply for Prefect is "circular" here at the same depth.
* A ``$ref`` loop that does not consume the instance is detected once it has come back to
  the same place several times (:data:`_MAX_REENTRIES`), so
  :class:`~flowrun_core.errors.CircularSchemaRef` is raised long before the interpreter
  stack runs out; a loop re-entered under ``not`` or ``if`` that ends at an earlier error
  ends here too. A real ``RecursionError`` (a very deep instance under a self-recursive
  schema) still maps to ``CircularSchemaRef``, as in Prefect, at about the same depth: the
  guard is a generator as jsonschema's own ``$ref`` is. When the stack runs out inside
  ``rpds`` (a pyo3 ``PanicException``), the answer is the same.
* Prefect's ``_placeholders`` keyword is not added: it only fires for hydration-error
  placeholders, which never reach validation in this endpoint.
* ``additionalProperties`` visits extra properties in instance order, where jsonschema's
  order depends on the process's hash seed (see :func:`_ordered_additional_properties`).

As in Prefect, only the root's ``$schema`` is ignored: jsonschema switches dialect when it
descends into a subschema that has its own ``$schema``.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from calendar import monthrange
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Any, Final

import attrs
import referencing.exceptions
from jsonschema import Draft202012Validator, FormatChecker, SchemaError, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import create
from referencing import Registry

from flowrun_core.errors import (
    CircularSchemaRef,
    InvalidParameterSchema,
    ParameterValidationFailed,
    SchemaViolation,
)
from flowrun_core.json_types import JSON, copy_json_object, same_json
from flowrun_core.rules.fast_schema import compile_fast_check
from flowrun_core.rules.schema_preprocess import (
    INVALID_SCHEMA_PREFIX,
    MAX_SCHEMA_DEPTH,
    crash_reason,
    depth_exceeds,
    json_pointer,
    plain_copy,
    plain_schema_copy,
    preprocess_schema,
    remove_required,
)
from flowrun_core.rules.stack_depth import (
    PREFECT_CHECK_SCHEMA_DEPTH,
    PREFECT_VALIDATE_DEPTH,
    call_as_if_at_depth,
    call_at_depth,
)

__all__ = [
    "INVALID_SCHEMA_PREFIX",
    "MAX_SCHEMA_DEPTH",
    "MAX_SCHEMA_SIZE",
    "UncheckableFormat",
    "find_violations",
    "preprocess_schema",
    "remove_required",
    "schema_problem",
    "validate_instance",
    "validate_parameters",
    "validation_report",
]

MAX_SCHEMA_SIZE: Final = 1_000_000
"""Longest accepted schema, in characters of compact JSON. Prefect sets no bound, and checks
every schema again on every call: a schema of 6,000 described properties (1.5 MB) costs it
seconds per create; here it is refused (422)."""

_CACHE_SIZE: Final = 256

_JSONPointerElement = str | int


# --------------------------------------------------------------------------------------------
# The validator class: Draft 2020-12 with a cycle-detecting ``$ref``.
# --------------------------------------------------------------------------------------------


class _RefCycleError(Exception):
    """A ``$ref`` kept being re-entered for the same instance: validation would never end."""


_ACTIVE_REFS: ContextVar[dict[tuple[int, int], int] | None] = ContextVar(
    "flowrun_core_active_refs", default=None
)
_DRAFT_REF = Draft202012Validator.VALIDATORS["$ref"]
_MAX_REENTRIES: Final = 8
"""Re-entries of one ``$ref`` for one instance on the active chain that prove a loop.

One re-entry is not enough: ``not``, ``if`` and ``contains`` evaluate their subschema only
up to its first error, so a cycle re-entered under them ends at that error when one comes
first (recorded on 3.9.1). But evaluation is deterministic, and a subschema is consumed
either up to its first error or completely: once the same ``$ref`` is re-entered for the
same instance twice in the same way, it will be again, for ever. Eight re-entries are far
past that, and far short of the stack's end (where a Rust extension may be the one to meet
the ``RecursionError``)."""


def _guarded_ref(
    validator: Any, ref: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """Draft 2020-12 ``$ref``, raising :class:`_RefCycleError` on a non-consuming loop.

    The key is the identity of the subschema holding the ``$ref`` and of the instance. While
    the instance is not consumed it stays the same object; once it is consumed, a child of a
    JSON tree is never its parent, so a key repeated on the active chain means the
    evaluation came back to where it was (see :data:`_MAX_REENTRIES`). A generator, as
    jsonschema's own ``$ref`` is, so the stack runs out at the same depth as in Prefect.
    """
    active = _ACTIVE_REFS.get()
    if active is None:
        yield from _follow(validator, ref, instance, schema)
        return
    key = (id(schema), id(instance))
    entries = active.get(key, 0)
    if entries > _MAX_REENTRIES:
        raise _RefCycleError
    active[key] = entries + 1
    try:
        yield from _follow(validator, ref, instance, schema)
    finally:
        if entries:
            active[key] = entries
        else:
            del active[key]


def _follow(validator: Any, ref: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
    """What jsonschema's own ``$ref`` keyword yields from, without its generator frame.

    Calling its ``_validate_reference`` directly (jsonschema is pinned to 4.26) keeps one
    generator per ``$ref``, as in Prefect, so a deep instance under a self-recursive schema
    runs out of stack at the same nesting as there, not a tenth sooner.
    """
    follow = getattr(validator, "_validate_reference", None)
    if follow is None:  # pragma: no cover - a jsonschema without it
        return _DRAFT_REF(validator, ref, instance, schema)
    return follow(ref=ref, instance=instance)


_DRAFT_ADDITIONAL_PROPERTIES = Draft202012Validator.VALIDATORS["additionalProperties"]


def _ordered_additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """Draft 2020-12 ``additionalProperties``, visiting extra properties in instance order.

    jsonschema 4.26 iterates a ``set`` of property names here, so the order in which it
    produces errors depends on the string hash seed of the process. Instance order is the
    order Prefect gets when the set happens to keep insertion order; it makes our answers the
    same in every process. ``best_match`` is unaffected (extra properties have distinct paths)
    and texts are unchanged; only ties in the complete report and which of a cycle or an
    unresolvable ``$ref`` is met first could differ from a given Prefect process.

    Like every keyword here, it applies until a subschema carries its own ``$schema``:
    jsonschema then switches to the validator class registered for that dialect.
    """
    if not (validator.is_type(instance, "object") and validator.is_type(additional, "object")):
        yield from _DRAFT_ADDITIONAL_PROPERTIES(validator, additional, instance, schema)
        return
    properties = schema.get("properties", {})
    patterns = "|".join(schema.get("patternProperties", {}))
    for name in instance:
        if name in properties or (patterns and re.search(patterns, name)):
            continue
        yield from validator.descend(instance[name], additional, path=name)


def _draft_2020_12(**overrides: Any) -> Any:
    return create(
        meta_schema=Draft202012Validator.META_SCHEMA,
        validators={**Draft202012Validator.VALIDATORS, **overrides},
        type_checker=Draft202012Validator.TYPE_CHECKER,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
        id_of=Draft202012Validator.ID_OF,  # type: ignore[arg-type]
    )


_Validator = _draft_2020_12(
    **{"$ref": _guarded_ref, "additionalProperties": _ordered_additional_properties}
)
"""Validates instances: Draft 2020-12 with a cycle guard and a stable property order."""


# --------------------------------------------------------------------------------------------
# The format checker Prefect's server uses when it validates job-variable defaults.
# --------------------------------------------------------------------------------------------

_PREFECT_FORMATS: Final = frozenset(
    {
        "date",
        "date-time",
        "email",
        "idn-email",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "json-pointer",
        "regex",
        "relative-json-pointer",
        "time",
        "uuid",
    }
)
"""Formats checked by jsonschema 4.26 in Prefect 3.9.1's environment (rfc3339-validator,
jsonpointer and idna installed; this project depends on ``idna`` for ``idn-hostname``)."""

_RFC3339 = re.compile(
    r"^(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$",
    re.ASCII,
)


def _is_date_time(instance: object) -> bool:
    """RFC 3339 ``date-time``, as ``rfc3339-validator`` 0.1.4 judges an upper-cased string."""
    if not isinstance(instance, str):
        return True
    match = _RFC3339.match(instance.upper())
    if match is None:
        return False
    year, month, day = (int(group) for group in match.groups())
    return year != 0 and 1 <= day <= monthrange(year, month)[1]


def _is_time(instance: object) -> bool:
    """RFC 3339 ``full-time``: a ``date-time`` on 1970-01-01."""
    if not isinstance(instance, str):
        return True
    return _is_date_time("1970-01-01T" + instance)


def _is_pointer_text(text: str) -> bool:
    """RFC 6901: empty, or starting with ``/``; every ``~`` followed by ``0`` or ``1``."""
    if text and not text.startswith("/"):
        return False
    return all(part[:1] in {"0", "1"} for part in text.split("~")[1:])


def _is_json_pointer(instance: object) -> bool:
    """The ``json-pointer`` format."""
    return not isinstance(instance, str) or _is_pointer_text(instance)


class UncheckableFormat(ValueError):
    """A value the format checker of Prefect's environment crashes on (Prefect: 500)."""


def _is_relative_json_pointer(instance: object) -> bool:
    """The ``relative-json-pointer`` format as jsonschema 4.26 checks it.

    A run of digits, then ``#`` or a JSON Pointer. Like jsonschema, any digit that follows a
    ``0`` digit is rejected (so ``"100"`` is refused too). A digit that is not a decimal digit
    (``"²"``) followed by another digit makes jsonschema's ``int()`` fail, uncaught (Prefect
    answers 500); here that raises :class:`UncheckableFormat`.
    """
    if not isinstance(instance, str):
        return True
    digits = 0
    for index, char in enumerate(instance):
        if not char.isdigit():
            break
        if index > 0:
            previous = unicodedata.decimal(instance[index - 1], None)
            if previous is None:
                msg = f"{instance!r} cannot be checked as a relative-json-pointer"
                raise UncheckableFormat(msg)
            if previous == 0:
                return False
        digits += 1
    if digits == 0:
        return False
    rest = instance[digits:]
    return rest == "#" or _is_pointer_text(rest)


def _prefect_format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, entry in Draft202012Validator.FORMAT_CHECKER.checkers.items():
        if name in _PREFECT_FORMATS:
            checker.checkers[name] = entry
    own = {
        "date-time": _is_date_time,
        "time": _is_time,
        "json-pointer": _is_json_pointer,
        "relative-json-pointer": _is_relative_json_pointer,
    }
    for name, check in own.items():
        checker.checkers.setdefault(name, (check, ()))
    return checker


_DEFAULTS_FORMAT_CHECKER: Final = _prefect_format_checker()


# --------------------------------------------------------------------------------------------
# Compiled schemas and their cache.
# --------------------------------------------------------------------------------------------


@attrs.frozen
class _Compiled:
    """A schema ready to validate with, or the reason it cannot be used."""

    validator: Any = None
    problem: str | None = None
    fast_check: Callable[[JSON], bool] | None = None
    """Accepts only what ``validator`` accepts (see :mod:`flowrun_core.rules.fast_schema`)."""


class _LRU:
    """A small thread-safe LRU mapping from cache keys to compiled schemas."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[tuple[object, ...], _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> _Compiled | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], value: _Compiled) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def discard(self, key: tuple[object, ...]) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_CACHE: Final = _LRU(_CACHE_SIZE)


def _encode_mapping(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    msg = f"{type(value).__name__} is not a JSON value"
    raise TypeError(msg)


def _cache_key(schema: object, mode: tuple[object, ...]) -> tuple[object, ...]:
    """Return the cache key: the mode plus the compact, order-preserving JSON of ``schema``."""
    try:
        dumped = json.dumps(
            schema, separators=(",", ":"), ensure_ascii=False, default=_encode_mapping
        )
    except RecursionError:
        raise CircularSchemaRef from None
    except (TypeError, ValueError) as exc:
        msg = f"{INVALID_SCHEMA_PREFIX}not a JSON document ({exc})"
        raise InvalidParameterSchema(msg) from None
    if len(dumped) > MAX_SCHEMA_SIZE:
        msg = f"{INVALID_SCHEMA_PREFIX}larger than {MAX_SCHEMA_SIZE} characters of JSON"
        raise InvalidParameterSchema(msg)
    return (*mode, dumped)


def _build(
    schema: Mapping[str, JSON],
    *,
    preprocess: bool,
    allow_none_with_default: bool,
    ignore_required: bool,
    check: bool,
    formats: bool,
) -> _Compiled:
    try:
        if preprocess:
            prepared: JSON = preprocess_schema(
                schema, allow_none_with_default=allow_none_with_default
            )
        else:
            prepared = plain_schema_copy(schema)
    except InvalidParameterSchema as exc:
        return _Compiled(problem=exc.message)
    if ignore_required:
        prepared = remove_required(prepared)
    if check:
        problem = _check_schema(prepared)
        if problem is not None:
            return _Compiled(problem=f"{INVALID_SCHEMA_PREFIX}{problem}")
    if not isinstance(prepared, dict):  # pragma: no cover - a Mapping copies to a dict
        return _Compiled(problem=f"{INVALID_SCHEMA_PREFIX}the schema must be an object")
    format_checker = _DEFAULTS_FORMAT_CHECKER if formats else None
    validator = _Validator(prepared, format_checker=format_checker, registry=Registry())
    # The compiled fast path only ever accepts; it is used where jsonschema's first answer
    # is a plain is_valid (never with a format checker, which it does not reproduce).
    fast_check = compile_fast_check(prepared) if check and not formats else None
    return _Compiled(validator=validator, fast_check=fast_check)


def _check_schema(schema: JSON) -> str | None:
    """Draft 2020-12 ``check_schema``: the message of the first error, or ``None``.

    Like Prefect's, this is the first error the meta-schema produces, not the ``best_match``.
    When a schema has several errors under ``properties``, which one comes first depends on
    the string hash seed of the process (jsonschema iterates a ``set`` there), in Prefect too.

    Raises:
        CircularSchemaRef: The meta-schema check ran out of stack (Prefect's answer too).
    """
    try:
        # At Prefect's own stack depth: how deep a schema can be checked depends on it.
        call_at_depth(
            PREFECT_CHECK_SCHEMA_DEPTH,
            partial(Draft202012Validator.check_schema, schema),  # type: ignore[arg-type]
        )
    except SchemaError as exc:
        return exc.message
    except RecursionError:
        raise CircularSchemaRef from None
    except Exception as exc:  # noqa: BLE001 - e.g. re.compile's OverflowError (Prefect: 500)
        return f"the meta-schema check failed ({crash_reason(exc)})"
    return None


def _compiled(
    schema: Mapping[str, JSON],
    *,
    preprocess: bool,
    allow_none_with_default: bool,
    ignore_required: bool,
    check: bool,
    formats: bool,
) -> tuple[tuple[object, ...], _Compiled]:
    mode = ("v", preprocess, allow_none_with_default, ignore_required, check, formats)
    key = _cache_key(schema, mode)
    found = _CACHE.get(key)
    if found is None:
        try:
            found = _build(
                schema,
                preprocess=preprocess,
                allow_none_with_default=allow_none_with_default,
                ignore_required=ignore_required,
                check=check,
                formats=formats,
            )
        except RecursionError:
            # A schema nested below MAX_SCHEMA_DEPTH, under a caller whose stack is deep.
            raise CircularSchemaRef from None
        _CACHE.put(key, found)
    if found.problem is not None:
        raise InvalidParameterSchema(found.problem)
    return key, found


def schema_problem(schema: JSON) -> str | None:
    """Check ``schema`` against the Draft 2020-12 meta-schema, without preprocessing.

    Args:
        schema: Any JSON value (``true`` and ``false`` are valid schemas).

    Returns:
        ``None`` when the schema is valid, otherwise jsonschema's message for the error
        ``check_schema`` raises (Prefect shows it after ``"Invalid schema: "``), or our own
        sentence when the schema is too deep, too large or not JSON.

    Raises:
        CircularSchemaRef: The meta-schema check exhausted the stack.
    """
    try:
        key = _cache_key(schema, ("check",))
    except InvalidParameterSchema as exc:
        return exc.message.removeprefix(INVALID_SCHEMA_PREFIX)
    found = _CACHE.get(key)
    if found is None:
        if depth_exceeds(schema, MAX_SCHEMA_DEPTH):
            raise CircularSchemaRef
        found = _Compiled(problem=_check_schema(plain_copy(schema)))
        _CACHE.put(key, found)
    return found.problem


# --------------------------------------------------------------------------------------------
# Running a validator.
# --------------------------------------------------------------------------------------------


def _instance(value: Mapping[str, JSON] | JSON) -> JSON:
    """``value`` as jsonschema sees it: a mapping as a ``dict``, any other value as it is."""
    if type(value) is not dict and isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    return value


def _run(
    key: tuple[object, ...], validator: Any, instance: object, *, depth: int | None = None
) -> list[Any]:
    """Validate; return every error (``[]`` when valid), in jsonschema's production order.

    With ``depth``, the errors are collected as from a frame at that stack depth (see
    :func:`~flowrun_core.rules.stack_depth.call_as_if_at_depth`), so an instance deep enough
    to exhaust the stack does so at the same depth as in Prefect, whoever the caller is;
    without it, on the caller's stack.

    Raises:
        CircularSchemaRef: A ``$ref`` cycle was followed, or the stack ran out.
        referencing.exceptions.Unresolvable: Validation reached a ``$ref`` it cannot resolve.
        UncheckableFormat: A format checker of Prefect's environment would crash.
        InvalidParameterSchema: jsonschema (or ``re``, or ``referencing``) raised an
            ordinary exception while applying the schema, where Prefect answers 500: float
            arithmetic of ``multipleOf`` on a number it cannot convert, a base URI that
            does not parse, a malformed subschema that only a ``$ref`` reaches.
    """
    collect = partial(_collect_errors, validator, instance)
    try:
        return collect() if depth is None else call_as_if_at_depth(depth, collect)
    except _RefCycleError:
        raise CircularSchemaRef from None
    except RecursionError:
        _CACHE.discard(key)
        raise CircularSchemaRef from None
    except (referencing.exceptions.Unresolvable, UncheckableFormat):
        raise
    except Exception as exc:  # noqa: BLE001 - any other crash of the validator (Prefect: 500)
        msg = f"{INVALID_SCHEMA_PREFIX}the parameters cannot be checked against it"
        raise InvalidParameterSchema(f"{msg} ({crash_reason(exc)})") from None
    except BaseException as exc:
        if not _is_recursion_panic(exc):
            raise
        _CACHE.discard(key)
        raise CircularSchemaRef from None


def _is_recursion_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is the stack running out inside a Rust extension.

    ``referencing`` compares resources with ``rpds``; when the interpreter's stack runs out
    inside that comparison, the ``RecursionError`` reaches Rust and comes back as a pyo3
    ``PanicException`` (a ``BaseException``). It is the same exhausted stack as a plain
    ``RecursionError``, met a frame later, so it gets the same "circular" answer.
    """
    return type(exc).__name__ == "PanicException" and "RecursionError" in str(exc)


def _collect_errors(validator: Any, instance: object) -> list[Any]:
    # Consumes the errors one frame above the validator's, as jsonschema's best_match does
    # inside Prefect's jsonschema.validate; may run on another thread, so the cycle guard's
    # context is set here.
    token = _ACTIVE_REFS.set({})
    try:
        return list(validator.iter_errors(instance))
    finally:
        _ACTIVE_REFS.reset(token)


def _failure_message(error: ValidationError) -> str:
    """Format one jsonschema error as Prefect does (§5.4)."""
    path = error.json_path
    if path == "$":
        head = "Validation failed."
    else:
        head = f"Validation failed for field {path.replace('$.', '')!r}."
    return f"{head} Failure reason: {error.message}"


def _unresolvable_message(exc: referencing.exceptions.Unresolvable) -> str:
    return f"Validation failed. Failure reason: {exc}"


def _unresolvable_report(exc: referencing.exceptions.Unresolvable) -> tuple[SchemaViolation, ...]:
    return (SchemaViolation(instance_path="", schema_path="", keyword="$ref", message=str(exc)),)


def _sort_key(path: Sequence[_JSONPointerElement]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


def _report(errors: list[Any]) -> tuple[SchemaViolation, ...]:
    """Every error as a :class:`SchemaViolation`, sorted by instance path then schema path."""
    ordered = sorted(
        errors,
        key=lambda e: (_sort_key(e.absolute_path), _sort_key(e.absolute_schema_path)),
    )
    return tuple(
        SchemaViolation(
            instance_path=json_pointer(error.absolute_path),
            schema_path=json_pointer(error.absolute_schema_path),
            keyword=error.validator if isinstance(error.validator, str) else "false",
            message=error.message,
        )
        for error in ordered
    )


def validate_instance(
    instance: Mapping[str, JSON] | JSON,
    schema: Mapping[str, JSON],
    *,
    allow_none_with_default: bool = False,
    ignore_required: bool = False,
) -> None:
    """Prefect's ``validate(..., raise_on_error=True, preprocess=True)`` for any instance.

    Args:
        instance: The object to validate (never modified).
        schema: The JSON Schema (never modified).
        allow_none_with_default: Prefect's flag of the same name (§5.3 null fix).
        ignore_required: Remove every ``required`` key from the preprocessed schema first.

    Raises:
        ParameterValidationFailed: The instance is invalid. The message is Prefect's text
            (without the ``"Error creating flow run: "`` prefix); ``violations`` holds the
            complete report.
        CircularSchemaRef: Validation followed a ``$ref`` cycle that never consumes the
            instance (or ran out of stack).
        InvalidParameterSchema: The schema cannot be preprocessed, fails ``check_schema``, or
            exceeds the depth or size budget (Prefect: 500).
    """
    key, compiled = _enforcing(
        schema, allow_none_with_default=allow_none_with_default, ignore_required=ignore_required
    )
    _enforce(instance, key, compiled)


def _enforcing(
    schema: Mapping[str, JSON],
    *,
    allow_none_with_default: bool = False,
    ignore_required: bool = False,
) -> tuple[tuple[object, ...], _Compiled]:
    """The cached validator Prefect's raising ``validate()`` uses for ``schema``."""
    return _compiled(
        schema,
        preprocess=True,
        allow_none_with_default=allow_none_with_default,
        ignore_required=ignore_required,
        check=True,
        formats=False,
    )


def _enforce(
    instance: Mapping[str, JSON] | JSON, key: tuple[object, ...], compiled: _Compiled
) -> None:
    """Raise Prefect's error when ``instance`` fails ``compiled`` (see validate_instance)."""
    value = _instance(instance)
    if compiled.fast_check is not None and compiled.fast_check(value):
        return
    try:
        errors = _run(key, compiled.validator, value, depth=PREFECT_VALIDATE_DEPTH)
    except referencing.exceptions.Unresolvable as exc:
        raise ParameterValidationFailed(
            _unresolvable_message(exc), _unresolvable_report(exc)
        ) from None
    if not errors:
        return
    best = best_match(errors)
    raise ParameterValidationFailed(_failure_message(best), _report(errors))


_ACCEPTED: dict[
    Hashable, tuple[Mapping[str, JSON], Callable[[JSON], bool] | None, Mapping[str, JSON]]
] = {}
"""``schema_id`` -> (a copy of the schema, its compiled accept check, the schema object it was
made from): skips the cache key."""
_ACCEPTED_LIMIT = 512


def validate_parameters(
    parameters: Mapping[str, JSON] | JSON,
    schema: Mapping[str, JSON],
    *,
    schema_id: Hashable | None = None,
) -> None:
    """Enforce a deployment's parameter schema on the merged, hydrated parameters (§5).

    Args:
        parameters: The merged, hydrated parameters (never modified); any JSON value, as
            hydration of a top-level placeholder can give one.
        schema: The deployment's ``parameter_openapi_schema`` (never modified).
        schema_id: An optional stable name for ``schema`` (the service passes the
            deployment id). Valid parameters then skip serialising the schema to find its
            cached validator; the remembered schema is compared with ``schema`` first, so
            a changed schema is never validated against a stale one.

    Raises:
        ParameterValidationFailed: See :func:`validate_instance`.
        CircularSchemaRef: See :func:`validate_instance`.
        InvalidParameterSchema: See :func:`validate_instance`.
    """
    if schema_id is not None:
        remembered = _ACCEPTED.get(schema_id)
        if remembered is not None and _same_schema(remembered[0], remembered[2], schema):
            check = remembered[1]
            if check is None or not check(_instance(parameters)):
                validate_instance(parameters, schema)
            return
    key, compiled = _enforcing(schema)
    _enforce(parameters, key, compiled)
    if schema_id is None:
        return
    if len(_ACCEPTED) >= _ACCEPTED_LIMIT:
        _ACCEPTED.clear()
    _ACCEPTED[schema_id] = (copy_json_object(dict(schema)), compiled.fast_check, schema)


def _same_schema(copy: Mapping[str, JSON], source: Mapping[str, JSON], schema: object) -> bool:
    """Whether ``schema`` is still the one remembered (as ``copy``, made from ``source``).

    The object lent again unchanged (a shared deployment read) is checked with ``==``;
    any other object must match with its scalar types too, since ``==`` takes ``1``,
    ``1.0`` and ``True`` for one another and a schema's ``const`` or ``enum`` does not.
    """
    if source is schema:
        return copy == schema
    return same_json(copy, schema)


def validation_report(
    parameters: Mapping[str, JSON], schema: Mapping[str, JSON]
) -> tuple[SchemaViolation, ...]:
    """Every violation of ``schema`` by ``parameters`` at once; ``()`` when they are valid.

    The schema is prepared exactly as for :func:`validate_parameters`. Violations are
    jsonschema's top-level errors (an ``anyOf`` failure is one violation), sorted by instance
    path, then schema path (array indices numerically), ties kept in production order.
    ``schema_path`` follows jsonschema's convention: keywords and indices, with ``$ref`` hops
    left out. A ``$ref`` that cannot be resolved is reported as one ``$ref`` violation at the
    root whose message is the resolver's error.

    Raises:
        CircularSchemaRef: See :func:`validate_instance`.
        InvalidParameterSchema: See :func:`validate_instance`.
    """
    key, compiled = _enforcing(schema)
    value = _instance(parameters)
    if compiled.fast_check is not None and compiled.fast_check(value):
        return ()
    try:
        errors = _run(key, compiled.validator, value, depth=PREFECT_VALIDATE_DEPTH)
    except referencing.exceptions.Unresolvable as exc:
        return _unresolvable_report(exc)
    return _report(errors)


def find_violations(
    instance: Mapping[str, JSON],
    schema: Mapping[str, JSON],
    *,
    ignore_required: bool,
    check_formats: bool,
) -> tuple[SchemaViolation, ...]:
    """Prefect's non-raising ``validate(..., raise_on_error=False, preprocess=False)``.

    No preprocessing and no ``check_schema``; every error is collected (validation is never
    cut short), so a cycle or an unresolvable ``$ref`` anywhere is reached as in Prefect.

    Args:
        instance: The object to validate (never modified).
        schema: The JSON Schema, used as it is (never modified).
        ignore_required: Remove every ``required`` key first.
        check_formats: Check ``format`` with the checkers of Prefect's environment.

    Returns:
        The violations as :func:`validation_report` sorts them; ``()`` when valid.

    Raises:
        ParameterValidationFailed: A ``$ref`` could not be resolved (Prefect raises its
            ``ValidationError`` with ``"Validation failed. Failure reason: {exc}"``).
        CircularSchemaRef: A ``$ref`` cycle was followed, or the stack ran out.
        InvalidParameterSchema: The schema exceeds the depth or size budget.
    """
    key, compiled = _compiled(
        schema,
        preprocess=False,
        allow_none_with_default=False,
        ignore_required=ignore_required,
        check=False,
        formats=check_formats,
    )
    try:
        errors = _run(key, compiled.validator, _instance(instance))
    except referencing.exceptions.Unresolvable as exc:
        raise ParameterValidationFailed(
            _unresolvable_message(exc), _unresolvable_report(exc)
        ) from None
    return _report(errors)
