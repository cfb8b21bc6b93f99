"""The wire converter: Prefect 3.9.1's request acceptance rules, on cattrs.

Prefect validates the request body with pydantic v2 in lax mode. This module reproduces that
mode's acceptance and its error texts with cattrs structure hooks:

* one hook per primitive (``str`` strict; ``bool``, ``int``, ``float``, ``UUID`` and
  ``datetime`` lax, as pydantic is), each raising :class:`WireProblem` with pydantic's
  ``type``, ``msg`` and ``ctx``;
* one generated hook per model class, with unknown keys forbidden for Prefect's
  ``ActionBaseModel`` classes (the request and its ``state``) and ignored for
  ``state_details`` and ``empirical_policy``;
* field overrides where Prefect has a field-specific validator (the run name, the size
  limit on ``parameters``, ``job_variables`` keeping ``null``, ``state.data``).

:func:`error_details` is the error walker: it turns the exception groups cattrs raises into
:class:`~flowrun_core.errors.ErrorDetail` items, in pydantic's order (fields in declaration
order, then unknown keys in input order).
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Final, Literal, NoReturn, TypeVar, get_args, get_origin
from uuid import UUID

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, override

from flowrun_core.errors import ErrorDetail
from flowrun_core.json_types import JSON
from flowrun_core.models import (
    DeploymentFlowRunCreate,
    FlowRunPolicy,
    StateCreate,
    StateDetails,
    StateType,
)

__all__ = [
    "MAX_PARAMETER_SIZE",
    "Problem",
    "WireProblem",
    "error_details",
    "make_wire_converter",
    "parse_bool",
    "parse_datetime",
    "parse_float",
    "parse_int",
    "parse_str",
    "parse_uuid",
]

T = TypeVar("T")

MAX_PARAMETER_SIZE: Final = 524_288
"""Prefect's ``server.api.max_parameter_size`` default, in bytes."""

_MODEL_TYPE_MSG: Final = "Input should be a valid dictionary or object to extract fields from"
_VALUE_ERROR_CTX: Final[dict[str, JSON]] = {"error": {}}


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


def _fail(type_: str, msg: str, value: object, ctx: dict[str, JSON] | None = None) -> NoReturn:
    raise WireProblem([Problem(type_, msg, value, ctx)])


def _value_error(message: str, value: object) -> NoReturn:
    _fail("value_error", f"Value error, {message}", value, dict(_VALUE_ERROR_CTX))


# --------------------------------------------------------------------------------------
# Primitives (pydantic v2 lax mode)
# --------------------------------------------------------------------------------------


def parse_str(value: object) -> str:
    """A string; pydantic never turns numbers or booleans into strings."""
    if type(value) is str:
        return value
    _fail("string_type", "Input should be a valid string", value)


_TRUE_WORDS: Final = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS: Final = frozenset({"0", "off", "f", "false", "n", "no"})
_I64_MIN: Final = -(2**63)
_I64_MAX: Final = 2**63 - 1
_BOOL_PARSING: Final = "Input should be a valid boolean, unable to interpret input"


def parse_bool(value: object) -> bool:
    """A lax boolean: ``0``/``1``, and the words pydantic knows, in any ASCII case."""
    if value is True or value is False:
        return value
    if type(value) is int:
        if value in {0, 1}:
            return value == 1
        if _I64_MIN <= value <= _I64_MAX:
            _fail("bool_parsing", _BOOL_PARSING, value)
    elif type(value) is float:
        if value in {0.0, 1.0}:
            return value == 1.0
        if math.isfinite(value) and value.is_integer() and -(2.0**63) < value < 2.0**63:
            _fail("bool_parsing", _BOOL_PARSING, value)
    elif type(value) is str:
        word = value.lower() if value.isascii() else value
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        _fail("bool_parsing", _BOOL_PARSING, value)
    _fail("bool_type", "Input should be a valid boolean", value)


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
            _fail("finite_number", "Input should be a finite number", value)
        if not value.is_integer():
            _fail(
                "int_from_float",
                "Input should be a valid integer, got a number with a fractional part",
                value,
            )
        if not -(2.0**63) < value < 2.0**63:
            _fail("int_parsing_size", _INT_SIZE_MSG, value)
        return int(value)
    if type(value) is str:
        text = value.strip()
        if _INT_TEXT.fullmatch(text) is None:
            _fail(
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                value,
            )
        whole = text.split(".", 1)[0].replace("_", "")
        if len(whole.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            _fail("int_parsing_size", _INT_SIZE_MSG, value)
        return int(whole)
    _fail("int_type", "Input should be a valid integer", value)


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
        _fail(
            "float_parsing",
            "Input should be a valid number, unable to parse string as a number",
            value,
        )
    _fail("float_type", "Input should be a valid number", value)


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
        _fail("uuid_type", "UUID input should be a string, bytes or UUID object", value)
    if any(shape.fullmatch(value) for shape in _UUID_SHAPES):
        return UUID(value)
    error = _uuid_problem(value)
    _fail("uuid_parsing", f"Input should be a valid UUID, {error}", value, {"error": error})


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


def _offset(sign: str | None, hours: str | None, minutes: str | None) -> timezone | None:
    """A fixed offset, or ``None`` when it is not strictly within a day."""
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
    r"(?P<y>[0-9]{4})(?:(?P<m>[0-9]{2})(?P<d>[0-9]{2})|W(?P<w>[0-9]{2})(?P<wd>[0-9])?)"
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
    tz = UTC if match["z"] else _offset(match["sign"], match["oh"], match["om"])
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
        _value_error(
            "value is not a valid datetime it is a <class 'pendulum.duration.Duration'>", text
        )
    try:
        return _pendulum_iso(text)
    except _Unparsable:
        pass
    if _is_interval(text):
        _value_error(
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
        _fail("value_error", _NOT_A_DATETIME, value)
    try:
        return _pendulum_parse(value)
    except _Unparsable:
        _value_error(f"Unable to parse string [{value}]", value)
    except TypeError:
        _fail("value_error", _NOT_A_DATETIME, value)
    except WireProblem:
        raise
    except ValueError as exc:  # a calendar error from the "common" forms
        _value_error(str(exc), value)


# --------------------------------------------------------------------------------------
# Containers and field rules
# --------------------------------------------------------------------------------------


def _json_object(value: object) -> dict[str, JSON]:
    if type(value) is dict:
        return value
    _fail("dict_type", "Input should be a valid dictionary", value)


def _str_items(value: list[object]) -> list[str]:
    problems = [
        Problem("string_type", "Input should be a valid string", item, None, (index,))
        for index, item in enumerate(value)
        if type(item) is not str
    ]
    if problems:
        raise WireProblem(problems)
    return [item for item in value if type(item) is str]


def _str_tuple(value: object, _: object = None) -> tuple[str, ...]:
    if type(value) is not list:
        _fail("list_type", "Input should be a valid list", value)
    return tuple(_str_items(value))


def _str_frozenset(value: object, _: object = None) -> frozenset[str]:
    if type(value) is not list:
        _fail("set_type", "Input should be a valid set", value)
    return frozenset(_str_items(value))


def _str_dict(value: object, _: object = None) -> dict[str, str]:
    mapping = _json_object(value)
    problems = [
        Problem("string_type", "Input should be a valid string", item, None, (key,))
        for key, item in mapping.items()
        if type(item) is not str
    ]
    if problems:
        raise WireProblem(problems)
    return {key: item for key, item in mapping.items() if type(item) is str}


_LABEL_ERRORS: Final = (
    ("bool", "bool_type", "Input should be a valid boolean"),
    ("int", "int_type", "Input should be a valid integer"),
    ("float", "float_type", "Input should be a valid number"),
    ("str", "string_type", "Input should be a valid string"),
)


def _labels(value: object, _: object = None) -> dict[str, bool | int | float | str]:
    """``StrictBool | StrictInt | StrictFloat | str`` values: four errors per bad key."""
    mapping = _json_object(value)
    problems: list[Problem] = []
    labels: dict[str, bool | int | float | str] = {}
    for key, item in mapping.items():
        if type(item) in {bool, int, float, str}:
            labels[key] = item  # type: ignore[assignment]
        else:
            problems.extend(
                Problem(kind, msg, item, None, (key, branch)) for branch, kind, msg in _LABEL_ERRORS
            )
    if problems:
        raise WireProblem(problems)
    return labels


_STATE_TYPES: Final = tuple(state_type.value for state_type in StateType)
_STATE_TYPE_EXPECTED: Final = (
    ", ".join(f"'{name}'" for name in _STATE_TYPES[:-1]) + f" or '{_STATE_TYPES[-1]}'"
)


def _state_type(value: object, _: object = None) -> StateType:
    if type(value) is str and value in _STATE_TYPES:
        return StateType(value)
    _fail(
        "enum",
        f"Input should be {_STATE_TYPE_EXPECTED}",
        value,
        {"expected": _STATE_TYPE_EXPECTED},
    )


def _literal_hook(choices: tuple[str, ...]) -> Callable[[object, object], str]:
    expected = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
    if len(choices) == 1:
        expected = f"'{choices[0]}'"

    def structure(value: object, _: object = None) -> str:
        if type(value) is str and value in choices:
            return value
        _fail("literal_error", f"Input should be {expected}", value, {"expected": expected})

    return structure


def _run_name(value: object, _: object = None) -> str | None:
    """Prefect replaces any falsy name with a generated slug (``None`` here)."""
    if not value:
        return None
    return parse_str(value)


def _parameters(value: object, _: object = None) -> dict[str, JSON]:
    parameters = _json_object(value)
    if parameters:
        size = len(json.dumps(parameters, separators=(",", ":")).encode())
        if size > MAX_PARAMETER_SIZE:
            _value_error(
                f"Flow run parameters must be less than {MAX_PARAMETER_SIZE:,} bytes when "
                f"serialized (got {size:,} bytes).",
                parameters,
            )
    return parameters


def _optional_json_object(value: object, _: object = None) -> dict[str, JSON] | None:
    return None if value is None else _json_object(value)


def _json_object_hook(value: object, _: object = None) -> dict[str, JSON]:
    return _json_object(value)


def _state_data(value: object, _: object = None) -> None:
    """Only ``null`` or an unpersisted-result marker; Prefect crashes (500) on anything else."""
    if value is None or (type(value) is dict and value.get("type") == "unpersisted"):
        return
    _value_error(
        'state data cannot be set when creating a flow run; send null or {"type": "unpersisted"}',
        value,
    )


def _backfill_policy(values: dict[str, Any]) -> None:
    """Prefect copies the deprecated retry fields into the new ones, in place."""
    if not values.get("retries") and values.get("max_retries", 0) != 0:
        values["retries"] = values["max_retries"]
    if not values.get("retry_delay") and values.get("retry_delay_seconds", 0) != 0:
        values["retry_delay"] = values["retry_delay_seconds"]


# --------------------------------------------------------------------------------------
# The converter
# --------------------------------------------------------------------------------------


def _simple(parse: Callable[[object], T]) -> Callable[[object, object], T]:
    return lambda value, _: parse(value)


def _same_type(expected: object) -> Callable[[object], bool]:
    return lambda tp: bool(tp == expected)


def _is_literal(tp: object) -> bool:
    return get_origin(tp) is Literal


def _model_hook(
    converter: cattrs.Converter,
    cl: type[T],
    *,
    forbid_extra: bool,
    before: Callable[[dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> Callable[[object, object], T]:
    generated = make_dict_structure_fn(
        cl,
        converter,
        _cattrs_forbid_extra_keys=forbid_extra,
        _cattrs_detailed_validation=True,
        **overrides,
    )

    def structure(value: object, _: object = None) -> T:
        if type(value) is not dict:
            _fail("model_attributes_type", _MODEL_TYPE_MSG, value)
        if before is not None:
            before(value)
        return generated(value, cl)

    return structure


def make_wire_converter() -> cattrs.Converter:
    """The strict converter for request bodies: one per boundary, built once per process."""
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    converter.register_structure_hook(str, _simple(parse_str))
    converter.register_structure_hook(bool, _simple(parse_bool))
    converter.register_structure_hook(int, _simple(parse_int))
    converter.register_structure_hook(float, _simple(parse_float))
    converter.register_structure_hook(UUID, _simple(parse_uuid))
    converter.register_structure_hook(datetime, _simple(parse_datetime))
    converter.register_structure_hook(StateType, _state_type)
    generics: tuple[tuple[object, Callable[[object, object], object]], ...] = (
        (tuple[str, ...], _str_tuple),
        (frozenset[str], _str_frozenset),
        (dict[str, str], _str_dict),
    )
    for generic, hook in generics:
        converter.register_structure_hook_func(_same_type(generic), hook)
    converter.register_structure_hook_func(
        _is_literal, lambda value, tp: _literal_hook(get_args(tp))(value, tp)
    )
    converter.register_structure_hook(
        StateDetails, _model_hook(converter, StateDetails, forbid_extra=False)
    )
    converter.register_structure_hook(
        FlowRunPolicy,
        _model_hook(converter, FlowRunPolicy, forbid_extra=False, before=_backfill_policy),
    )
    converter.register_structure_hook(
        StateCreate,
        _model_hook(
            converter, StateCreate, forbid_extra=True, data=override(struct_hook=_state_data)
        ),
    )
    converter.register_structure_hook(
        DeploymentFlowRunCreate,
        _model_hook(
            converter,
            DeploymentFlowRunCreate,
            forbid_extra=True,
            name=override(struct_hook=_run_name),
            parameters=override(struct_hook=_parameters),
            context=override(struct_hook=_json_object_hook),
            labels=override(struct_hook=lambda value, _: None if value is None else _labels(value)),
            job_variables=override(struct_hook=_optional_json_object),
        ),
    )
    return converter


# --------------------------------------------------------------------------------------
# The error walker
# --------------------------------------------------------------------------------------


def _json_input(value: object) -> JSON:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if isinstance(value, enum.Enum):
        return _json_input(value.value)
    return str(value)


def _problem_detail(problem: Problem, loc: tuple[str | int, ...]) -> ErrorDetail:
    return ErrorDetail(
        type=problem.type,
        loc=loc + problem.loc,
        msg=problem.msg,
        input=_json_input(problem.input),
        ctx=problem.ctx,
    )


def error_details(
    exc: BaseException, loc: tuple[str | int, ...], value: object
) -> list[ErrorDetail]:
    """Every problem inside ``exc`` (raised structuring ``value`` at ``loc``), in pydantic's order.

    Attribute errors come in the class's declaration order, then one ``extra_forbidden``
    per unknown key in input order, as pydantic reports them.
    """
    if isinstance(exc, WireProblem):
        return [_problem_detail(problem, loc) for problem in exc.problems]
    if isinstance(exc, ClassValidationError):
        mapping: Mapping[str, Any] = value if isinstance(value, dict) else {}
        with_notes, others = exc.group_exceptions()
        by_name = {note.name: sub for sub, note in with_notes}
        details: list[ErrorDetail] = []
        for field in attrs.fields(exc.cl):
            sub = by_name.get(field.name)
            if sub is None:
                continue
            if isinstance(sub, KeyError) and field.name not in mapping:
                details.append(
                    ErrorDetail(
                        type="missing",
                        loc=(*loc, field.name),
                        msg="Field required",
                        input=_json_input(dict(mapping)),
                    )
                )
            else:
                details.extend(error_details(sub, (*loc, field.name), mapping.get(field.name)))
        for other in others:
            if isinstance(other, ForbiddenExtraKeysError):
                extra = other.extra_fields
                details.extend(
                    ErrorDetail(
                        type="extra_forbidden",
                        loc=(*loc, key),
                        msg="Extra inputs are not permitted",
                        input=_json_input(item),
                    )
                    for key, item in mapping.items()
                    if key in extra
                )
            else:
                details.extend(error_details(other, loc, value))
        return details
    if isinstance(exc, BaseExceptionGroup):
        return [d for sub in exc.exceptions for d in error_details(sub, loc, value)]
    return [
        ErrorDetail(
            type="value_error",
            loc=loc,
            msg=f"Value error, {exc}",
            input=_json_input(value),
            ctx=dict(_VALUE_ERROR_CTX),
        )
    ]
