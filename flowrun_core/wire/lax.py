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

__all__ = [
    "Problem",
    "WireProblem",
    "fail",
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


_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")
_MAX_INT_DIGITS: Final = 4300
_INT_SIZE_MSG: Final = "Unable to parse input string as an integer, exceeded maximum size"


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
        text = value.strip()
        if _INT_TEXT.fullmatch(text) is None:
            fail(
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                value,
            )
        whole = text.split(".", 1)[0].replace("_", "")
        if len(whole.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            fail("int_parsing_size", _INT_SIZE_MSG, value)
        return int(whole)
    fail("int_type", "Input should be a valid integer", value)


_DIGITS: Final = r"[0-9]+(?:_[0-9]+)*"
_FLOAT_TEXT: Final = re.compile(
    rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
)
_FLOAT_WORDS: Final = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


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
        text = value.strip()
        if _FLOAT_WORDS.fullmatch(text) or _FLOAT_TEXT.fullmatch(text):
            return float(text.replace("_", ""))
        fail(
            "float_parsing",
            "Input should be a valid number, unable to parse string as a number",
            value,
        )
    fail("float_type", "Input should be a valid number", value)


# -- UUID ------------------------------------------------------------------------------

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_GROUP_STARTS: Final = (0, 9, 14, 19, 24)
_GROUP_LENGTHS: Final = (8, 4, 4, 4, 12)
_URN: Final = "urn:uuid:"


def _uuid_error(candidate: str, offset: int, simple: bool, total: int) -> str:
    """Explain why ``candidate`` is not a UUID, in the words pydantic uses."""
    hyphens: list[int] = []
    for index, char in enumerate(candidate):
        if char == "-":
            hyphens.append(index)
        elif char not in _HEX:
            return f"invalid character: found `{char}` at {index + offset}"
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
    if total == 36:  # noqa: PLR2004
        return _uuid_error(text, 0, simple=False, total=total)
    if total == 38 and braced:  # noqa: PLR2004
        return _uuid_error(text[1:-1], 0, simple=False, total=total)
    if total == 45 and text.startswith(_URN):  # noqa: PLR2004
        return _uuid_error(text[len(_URN) :], 0, simple=False, total=total)
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
    if not math.isfinite(stamp):
        return None
    if abs(stamp) > _MS_THRESHOLD:
        stamp /= 1000
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


_NUMERIC_TEXT: Final = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_RFC3339: Final = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[Tt_ ](?P<H>[0-9]{2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2})?)?)?"
)


def _offset(
    sign: str | None, hours: str | None, minutes: str | None, *, carry: bool = False
) -> timezone | None:
    """A fixed offset, or ``None`` when it is not strictly within a day.

    Minutes over 59 are refused, unless ``carry``: pendulum carries them into the hours
    (``+00:60`` is ``+01:00``, ``-01:99`` is ``-02:39``; recorded on 3.9.1).
    """
    if sign is None or hours is None:
        return UTC
    minute = int(minutes or "0")
    if minute > 59 and not carry:  # noqa: PLR2004
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
    if _NUMERIC_TEXT.fullmatch(value):
        if "." in value:
            return _from_timestamp(float(value))
        return _from_int_timestamp(int(value))
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


_DURATION_PART: Final = r"[0-9]+(?:[.,][0-9]+)?"
_DURATION: Final = re.compile(
    rf"P(?:(?P<w>{_DURATION_PART}W)|(?P<ymd>(?:{_DURATION_PART}Y)?(?:{_DURATION_PART}M)?"
    rf"(?:{_DURATION_PART}D)?)(?P<hms>T(?:{_DURATION_PART}H)?(?:{_DURATION_PART}M)?"
    rf"(?:{_DURATION_PART}S)?)?)"
)
_ISO_TZ: Final = r"(?:(?P<z>Z)|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2})?)?"
_ISO_FRACTION: Final = r"(?:[.,](?P<f>[0-9]{1,9}))?"
_ISO_EXTENDED: Final = re.compile(
    r"(?:(?P<y>[0-9]{4})(?:-(?P<m>[0-9]{2})(?:-(?P<d>[0-9]{2}))?|-(?P<o>[0-9]{3})"
    r"|-W(?P<w>[0-9]{2})(?:-(?P<wd>[0-9]))?)?)?"
    r"(?:(?P<sep>[T ])?(?P<H>[0-9]{2})(?::(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})"
    rf"{_ISO_FRACTION})?)?{_ISO_TZ})?"
)
_ISO_BASIC: Final = re.compile(
    r"(?:(?P<y>[0-9]{4})(?:(?P<m>[0-9]{2})(?P<d>[0-9]{2})|W(?P<w>[0-9]{2})(?P<wd>[0-9])?))?"
    r"(?:(?P<sep>T)(?P<H>[0-9]{2})(?:(?P<M>[0-9]{2})(?:(?P<S>[0-9]{2})"
    rf"{_ISO_FRACTION})?)?{_ISO_TZ})?"
)
_COMMON: Final = re.compile(
    r"(?:(?P<y>[0-9]{4})(?:[/:]?(?P<m>[0-9]{2})[/:]?(?P<d>[0-9]{2}))?)?"
    r"(?:(?P<time> ?(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2})?(?::(?P<S>[0-9]{1,2}))?"
    r"(?:[.|,](?P<f>[0-9]{1,9}))?))?"
)


def _iso_week_date(year: int, week: int, weekday: int) -> date:
    jan4 = date(year, 1, 4)
    weeks_in_year = 53 if date(year, 12, 28).isocalendar()[1] == 53 else 52  # noqa: PLR2004
    if week > weeks_in_year or weekday > 7:  # noqa: PLR2004
        raise _Unparsable
    monday = jan4 - timedelta(days=jan4.isoweekday() - 1)
    return monday + timedelta(weeks=week - 1, days=weekday - 1)


def _iso_date(match: re.Match[str]) -> date | None:
    if match["y"] is None:
        return None
    year = int(match["y"])
    if match["w"] is not None:
        return _iso_week_date(year, int(match["w"]), int(match["wd"] or 1))
    if match.groupdict().get("o") is not None:
        ordinal = int(match["o"])
        first = date(year, 1, 1)
        days_in_year = (date(year + 1, 1, 1) - first).days if year < 9999 else 365  # noqa: PLR2004
        if not 1 <= ordinal <= days_in_year:
            raise _Unparsable
        return first + timedelta(days=ordinal - 1)
    return date(year, int(match["m"] or 1), int(match["d"] or 1))


def _pendulum_iso(text: str) -> datetime:
    match = _ISO_EXTENDED.fullmatch(text) or _ISO_BASIC.fullmatch(text)
    if match is None or not text:
        raise _Unparsable
    try:
        day = _iso_date(match)
    except ValueError as exc:
        raise _Unparsable from exc
    if match["H"] is None:
        if day is None:
            raise _Unparsable
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if day is not None and match["sep"] is None:
        raise _Unparsable
    if day is None and match["sep"] == "T" and match["S"] is not None:
        # Recorded on 3.9.1: "T12", "T12:00" and "T1200" parse (today at that time), but a
        # time with seconds after a bare "T" ("T12:00:00", "T12:00:00Z") does not.
        raise _Unparsable
    tz = UTC if match["z"] else _offset(match["sign"], match["oh"], match["om"], carry=True)
    if tz is None:
        raise _Unparsable
    if day is None:
        day = datetime.now(UTC).date()
    try:
        clock = time(int(match["H"]), int(match["M"] or 0), int(match["S"] or 0))
    except ValueError as exc:
        raise _Unparsable from exc
    return datetime.combine(day, clock.replace(microsecond=_micros(match["f"])), tzinfo=tz)


def _pendulum_common(text: str) -> datetime:
    match = _COMMON.fullmatch(text)
    if match is None or not (match["y"] or match["time"]):
        raise _Unparsable
    if match["time"] is None:
        return datetime(int(match["y"]), int(match["m"] or 1), int(match["d"] or 1), tzinfo=UTC)
    if match["M"] is None:
        raise TypeError(_NOT_A_DATETIME)
    clock = time(int(match["H"]), int(match["M"]), int(match["S"] or 0), _micros(match["f"]))
    if match["y"] is None:
        return datetime.combine(datetime.now(UTC).date(), clock, tzinfo=UTC)
    day = date(int(match["y"]), int(match["m"] or 1), int(match["d"] or 1))
    return datetime.combine(day, clock, tzinfo=UTC)


def _is_interval(text: str) -> bool:
    parts = text.split("/")
    if len(parts) != 2 or not all(parts):  # noqa: PLR2004
        return False
    first, last = parts
    try:
        if first.startswith("P"):
            return _DURATION.fullmatch(first) is not None and bool(_pendulum_iso(last))
        if last.startswith("P"):
            return bool(_pendulum_iso(first)) and _DURATION.fullmatch(last) is not None
        return bool(_pendulum_iso(first)) and bool(_pendulum_iso(last))
    except _Unparsable:
        return False


def _pendulum_parse(text: str) -> datetime:
    """Pendulum's strict ``parse``: ISO 8601 forms, intervals, then its "common" forms."""
    if text == "now":
        return datetime.now(UTC)
    if _DURATION.fullmatch(text) and text not in {"P", "PT"}:
        value_error(
            "value is not a valid datetime it is a <class 'pendulum.duration.Duration'>", text
        )
    try:
        return _pendulum_iso(text)
    except _Unparsable:
        pass
    if _is_interval(text):
        value_error(
            "value is not a valid datetime it is a <class 'pendulum.interval.Interval'>", text
        )
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
