"""Pydantic v2's lax-mode scalar parsing, with its error texts: what Prefect accepts on the wire.

Each ``parse_*`` function accepts exactly the inputs pydantic's lax mode accepts for that type
in Prefect 3.9.1's request models (``str`` is strict), converts them as pydantic does, and
otherwise raises :class:`WireProblem` holding pydantic's ``type``, ``msg`` and ``ctx``.
``datetime`` also takes the strings Prefect's own validator hands to pendulum.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final, NoReturn
from uuid import UUID

import attrs

from flowrun_core.json_types import JSON
from flowrun_core.rules.booleans import NotABoolean, lax_bool
from flowrun_core.wire.numeric_text import NumberTextError, float_from_text, int_from_text
from flowrun_core.wire.pendulum_iso import IsoUnparsable, WholeDayOffset, parse_pendulum_iso
from flowrun_core.wire.pendulum_periods import (
    INTERVAL,
    MIXED_TYPES,
    WHOLE_DAY_OFFSET,
    duration_span,
    interval_kind,
    read_duration,
)
from flowrun_core.wire.pendulum_periods import (
    NOT_A_DATETIME as NOT_AN_INTERVAL_VALUE,
)

__all__ = [
    "Problem",
    "WireProblem",
    "fail",
    "fails_after_validation",
    "parse_bool",
    "parse_datetime",
    "parse_float",
    "parse_int",
    "parse_str",
    "parse_uuid",
    "problem",
    "value_error",
    "value_error_ctx",
]


@attrs.frozen
class Problem:
    """One validation problem, located relative to the value a hook was given."""

    type: str
    msg: str
    input: object
    ctx: dict[str, JSON] | None = None
    loc: tuple[str | int, ...] = ()


class WireProblem(ValueError):
    """Raised by a structure hook: one or more problems with the value it was given."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].msg if problems else "invalid value")
        self.problems = problems


def problem(type_: str, msg: str, value: object, ctx: dict[str, JSON] | None = None) -> WireProblem:
    """One pydantic error (``type``, ``msg``, ``ctx``) about ``value``, ready to raise."""
    return WireProblem([Problem(type_, msg, value, ctx)])


def fail(type_: str, msg: str, value: object, ctx: dict[str, JSON] | None = None) -> NoReturn:
    """Raise :func:`problem`'s error."""
    raise problem(type_, msg, value, ctx)


def value_error(message: str, value: object) -> NoReturn:
    """Raise pydantic's ``value_error`` (a validator's ``ValueError``) with ``message``."""
    fail("value_error", f"Value error, {message}", value, value_error_ctx())


def value_error_ctx() -> dict[str, JSON]:
    """A fresh copy of the ``ctx`` pydantic gives every ``value_error``."""
    return {"error": {}}


# --------------------------------------------------------------------------------------
# Primitives (pydantic v2 lax mode)
# --------------------------------------------------------------------------------------


def parse_str(value: object) -> str:
    """A string; pydantic never turns numbers or booleans into strings."""
    if type(value) is str:
        return value
    fail("string_type", "Input should be a valid string", value)


_BOOL_MESSAGES: Final = {
    "bool_parsing": "Input should be a valid boolean, unable to interpret input",
    "bool_type": "Input should be a valid boolean",
}


def parse_bool(value: object) -> bool:
    """A lax boolean: ``0``/``1``, and the words pydantic knows, in any ASCII case."""
    try:
        return lax_bool(value)
    except NotABoolean as exc:
        fail(exc.kind, _BOOL_MESSAGES[exc.kind], value)


_INT_SIZE_MSG: Final = "Unable to parse input string as an integer, exceeded maximum size"
_NUMBER_MESSAGES: Final = {
    "int_parsing": "Input should be a valid integer, unable to parse string as an integer",
    "int_parsing_size": _INT_SIZE_MSG,
    "float_parsing": "Input should be a valid number, unable to parse string as a number",
}


def parse_int(value: object) -> int:
    """A lax integer: integral floats, booleans and numeric strings are accepted."""
    if type(value) is bool:
        return int(value)
    if type(value) is int:
        return value
    if type(value) is float:
        if not math.isfinite(value):
            fail("finite_number", "Input should be a finite number", value)
        if not value.is_integer():
            fail(
                "int_from_float",
                "Input should be a valid integer, got a number with a fractional part",
                value,
            )
        if not -(2.0**63) < value < 2.0**63:
            fail("int_parsing_size", _INT_SIZE_MSG, value)
        return int(value)
    if type(value) is str:
        try:
            return int_from_text(value)
        except NumberTextError as exc:
            fail(exc.kind, _NUMBER_MESSAGES[exc.kind], value)
    fail("int_type", "Input should be a valid integer", value)


def parse_float(value: object) -> float:
    """A lax float: integers, booleans and numeric strings (``"inf"``, ``"1_0"``) too."""
    if type(value) is float:
        return value
    if type(value) is bool or type(value) is int:
        try:
            return float(value)
        except OverflowError:
            pass
    elif type(value) is str:
        try:
            return float_from_text(value)
        except NumberTextError as exc:
            fail(exc.kind, _NUMBER_MESSAGES[exc.kind], value)
    fail("float_type", "Input should be a valid number", value)


# -- UUID ------------------------------------------------------------------------------

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_GROUP_STARTS: Final = (0, 9, 14, 19, 24)
_GROUP_LENGTHS: Final = (8, 4, 4, 4, 12)
_URN: Final = "urn:uuid:"
_HYPHENATED: Final = 36


def _uuid_error(candidate: str, offset: int, simple: bool, total: int) -> str:
    """Explain why ``candidate`` is not a UUID, in the words pydantic uses.

    Positions and lengths count UTF-8 bytes, and a character is judged by its low byte, as
    the Rust ``uuid`` crate under pydantic does: ``"\u0661"`` (low byte ``a``) passes as a
    hex digit and ``"\u012d"`` (low byte ``-``) as a hyphen (recorded on 3.9.1).
    """
    hyphens: list[int] = []
    index = 0
    for char in candidate:
        low = chr(ord(char) & 0xFF)
        if low == "-":
            hyphens.append(index)
        elif low not in _HEX:
            return f"invalid character: found `{char}` at {index + offset}"
        index += len(char.encode("utf-8", "surrogatepass"))
    if not hyphens and simple:
        return f"invalid length: found {total}"
    if len(hyphens) != len(_GROUP_STARTS) - 1:
        return f"invalid group count: expected 5, found {len(hyphens) + 1}"
    for group, bound in enumerate(hyphens):
        if bound != _GROUP_STARTS[group + 1] - 1:
            found = bound - _GROUP_STARTS[group]
            return (
                f"invalid group length in group {group}: "
                f"expected {_GROUP_LENGTHS[group]}, found {found}"
            )
    return f"invalid group length in group 4: expected 12, found {total - _GROUP_STARTS[4]}"


def _uuid_problem(text: str) -> str:
    total = len(text.encode("utf-8", "surrogatepass"))
    braced = len(text) >= 2 and text[0] == "{" and text[-1] == "}"  # noqa: PLR2004
    # At a UUID's exact length, the hyphenated form inside is measured alone: 36 bytes.
    if total == _HYPHENATED:
        return _uuid_error(text, 0, simple=False, total=_HYPHENATED)
    if total == _HYPHENATED + 2 and braced:
        return _uuid_error(text[1:-1], 0, simple=False, total=_HYPHENATED)
    if total == _HYPHENATED + len(_URN) and text.startswith(_URN):
        return _uuid_error(text[len(_URN) :], 0, simple=False, total=_HYPHENATED)
    if total > 45:  # noqa: PLR2004
        return f"invalid length: found {total}"
    if braced:
        return _uuid_error(text[1:-1], 1, simple=False, total=total)
    if text.startswith(_URN):
        return _uuid_error(text[len(_URN) :], len(_URN), simple=False, total=total)
    return _uuid_error(text, 0, simple=True, total=total)


_UUID_SHAPES: Final = (
    re.compile(r"[0-9a-fA-F]{32}"),
    re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    re.compile(r"\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}"),
    re.compile(
        r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    ),
)


def parse_uuid(value: object) -> UUID:
    """A UUID from a string in any spelling pydantic accepts (simple, braced, URN)."""
    if type(value) is not str:
        fail("uuid_type", "UUID input should be a string, bytes or UUID object", value)
    if any(shape.fullmatch(value) for shape in _UUID_SHAPES):
        return UUID(value)
    error = _uuid_problem(value)
    fail("uuid_parsing", f"Input should be a valid UUID, {error}", value, {"error": error})


# -- datetime (pydantic's datetime first, then pendulum's parser, as Prefect's type does) --

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS_THRESHOLD: Final = 20_000_000_000
_NOT_A_DATETIME: Final = "value is not a valid datetime"


class _Unparsable(ValueError):
    """pendulum's ``ParserError``: the text matches none of its grammars."""


def _from_timestamp(stamp: float) -> datetime | None:
    """A float timestamp (seconds, or milliseconds past 2e10) as speedate reads it.

    A millisecond stamp keeps its whole seconds exact: the microseconds are what is left
    after them, rounded half away from zero (``12000000000095.2`` is ``…00.095199``, the
    float being a little under ``.2``).
    """
    if not math.isfinite(stamp):
        return None
    if abs(stamp) > _MS_THRESHOLD:
        seconds = math.floor(stamp / 1000)
        micros = math.floor((stamp - seconds * 1000) * 1000 + 0.5)
    else:
        seconds = math.floor(stamp)
        micros = math.floor((stamp - seconds) * 1_000_000 + 0.5)
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        return None


def _from_int_timestamp(stamp: int) -> datetime | None:
    micros = stamp * 1000 if abs(stamp) > _MS_THRESHOLD else stamp * 1_000_000
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return None


_INT_STAMP: Final = re.compile(r"[+-]?[0-9]+")
_I64_DIGITS_MAX: Final = 19
"""Digits of the largest 64-bit integer: past them (leading zeros aside) speedate overflows."""
_FLOAT_STAMP: Final = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A number with a ``.`` in speedate's float grammar (``1.9e9``, ``.5``, ``5.``): a timestamp."""
_RFC3339: Final = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt_ ](?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2})?)?)?"
)


def _offset(sign: str | None, hours: str | None, minutes: str | None) -> timezone | None:
    """An RFC 3339 offset, or ``None`` when it is not strictly within a day.

    Minutes over 59 are refused here (pydantic); pendulum's parser carries them into the
    hours instead (:mod:`flowrun_core.wire.pendulum_iso`).
    """
    if sign is None or hours is None:
        return UTC
    minute = int(minutes or "0")
    if minute > 59:  # noqa: PLR2004
        return None
    delta = timedelta(hours=int(hours), minutes=minute)
    if delta >= timedelta(hours=24):
        return None
    if not delta:
        return UTC
    return timezone(-delta if sign == "-" else delta)


def _micros(fraction: str | None) -> int:
    return int(fraction[:6].ljust(6, "0")) if fraction else 0


def _pydantic_datetime(value: object) -> datetime | None:
    """Pydantic's own lax datetime parsing (RFC 3339 and Unix timestamps), or ``None``."""
    if type(value) is int:
        return _from_int_timestamp(value)
    if type(value) is float:
        return _from_timestamp(value)
    if type(value) is not str:
        return None
    if _INT_STAMP.fullmatch(value):
        if len(value.lstrip("+-").lstrip("0")) > _I64_DIGITS_MAX:
            return None  # its value overflows; leading zeros alone never do
        stamp = int(value)
        return _from_int_timestamp(stamp) if -(2**63) <= stamp < 2**63 else None
    if _FLOAT_STAMP.fullmatch(value):
        return _from_timestamp(float(value))
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    tz = UTC if match["z"] else _offset(match["sign"], match["oh"], match["om"])
    if tz is None:
        return None
    try:
        return datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
            _micros(match["f"]),
            tzinfo=tz,
        )
    except ValueError:
        return None


_COMMON: Final = re.compile(
    r"(?:(?P<y>[0-9]{4})(?:[/:]?(?P<m>[0-9]{2})[/:]?(?P<d>[0-9]{2}))?)?"
    r"(?:(?P<time> ?(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2})?(?::(?P<S>[0-9]{1,2}))?"
    r"(?:[.|,](?P<f>[0-9]{1,9}))?))?"
)


def _today() -> date:
    """Today in UTC: the day a time without a date is read on, as pendulum reads it.

    A module function, looked up on each call, so that a replay of answers recorded at
    another hour can pin the day (``tests/compat/replay.py``).
    """
    return datetime.now(UTC).date()


def _pendulum_iso(text: str) -> datetime:
    try:
        return parse_pendulum_iso(text, today=_today())
    except IsoUnparsable as exc:
        raise _Unparsable from exc
    except WholeDayOffset as whole:
        # Valid to Prefect's validation, which keeps the offset; the request is refused
        # once every field has passed (see :func:`fails_after_validation`).
        return whole.wall


_WHOLE_DAY_OFFSET_MSG: Final = (
    "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)."
)


def fails_after_validation(value: object) -> str | None:
    """Why Prefect fails on a date-time it validated, as a ``value_error`` message, or ``None``.

    An offset of a day or more (``2024-01-02T17:30+24:00``) passes pendulum and Prefect's
    validation, then fails the first time Prefect asks for it (a 500). Only strings that
    reach pendulum's ISO scanner can carry one.
    """
    if type(value) is not str or _pydantic_datetime(value) is not None:
        return None
    if read_duration(value) is not None:
        return None
    try:
        parse_pendulum_iso(value, today=_today())
    except WholeDayOffset:
        return f"Value error, {_WHOLE_DAY_OFFSET_MSG}"
    except IsoUnparsable:
        pass
    return None


def _pendulum_common(text: str) -> datetime:
    match = _COMMON.fullmatch(text)
    if match is None or not (match["y"] or match["time"]):
        raise _Unparsable
    if match["time"] is None:
        return datetime(int(match["y"]), int(match["m"] or 1), int(match["d"] or 1), tzinfo=UTC)
    if match["M"] is None:
        raise TypeError(_NOT_A_DATETIME)
    fields = (int(match["H"]), int(match["M"]), int(match["S"] or 0), _micros(match["f"]))
    if match["y"] is None:
        return datetime.combine(_today(), time(*fields), tzinfo=UTC)
    # One constructor, as pendulum builds it: the date's fields are checked before the time's
    # ("2024-13-01 25:00" is refused for its month).
    year, month, day = int(match["y"]), int(match["m"] or 1), int(match["d"] or 1)
    return datetime(year, month, day, *fields, tzinfo=UTC)


def _pendulum_parse(text: str) -> datetime:
    """Pendulum's strict ``parse``: ISO 8601 forms, intervals, then its "common" forms."""
    if text == "now":
        return datetime.now(UTC)
    duration = read_duration(text)
    if duration is not None:
        if duration_span(duration) is None:
            raise TypeError(_NOT_A_DATETIME)
        value_error(
            "value is not a valid datetime it is a <class 'pendulum.duration.Duration'>", text
        )
    try:
        return _pendulum_iso(text)
    except _Unparsable:
        pass
    interval = interval_kind(text, today=_today())
    if interval == INTERVAL:
        value_error(
            "value is not a valid datetime it is a <class 'pendulum.interval.Interval'>", text
        )
    if interval == MIXED_TYPES:
        value_error("Both start and end of an Interval must have the same type", text)
    if interval == WHOLE_DAY_OFFSET:
        value_error(_WHOLE_DAY_OFFSET_MSG, text)
    if interval == NOT_AN_INTERVAL_VALUE:
        raise TypeError(_NOT_A_DATETIME)
    try:
        return _pendulum_common(text)
    except _Unparsable:
        pass
    raise _Unparsable


def parse_datetime(value: object) -> datetime:
    """A datetime as Prefect's pendulum-based ``DateTime`` type accepts it.

    pydantic's own parsing comes first (RFC 3339, date only, Unix seconds or milliseconds);
    then pendulum's parser, whose failures give ``Unable to parse string [...]``. A value
    without an offset is UTC; a non-UTC offset is kept.
    """
    parsed = _pydantic_datetime(value)
    if parsed is not None:
        return parsed
    if type(value) is not str:
        fail("value_error", _NOT_A_DATETIME, value)
    try:
        return _pendulum_parse(value)
    except _Unparsable:
        value_error(f"Unable to parse string [{value}]", value)
    except TypeError:
        fail("value_error", _NOT_A_DATETIME, value)
    except WireProblem:
        raise
    except ValueError as exc:  # a calendar error from the "common" forms
        value_error(str(exc), value)
