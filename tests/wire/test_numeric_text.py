"""Strings read as numbers, UUIDs and timestamps exactly as Prefect 3.9.1's validator reads them.

Every expected answer below was recorded from Prefect 3.9.1's own request model (pydantic-core
2.50) for the same string; the laws check that ordinary spellings keep their ordinary value.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.errors import InvalidRequest
from flowrun_core.wire.lax import WireProblem, parse_datetime, parse_float, parse_int, parse_uuid
from flowrun_core.wire.numeric_text import RUST_WHITESPACE, rust_trim
from flowrun_core.wire.request import UnstorableValue, decode_create_request

INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"
INT_SIZE = "Unable to parse input string as an integer, exceeded maximum size"
FLOAT_PARSING = "Input should be a valid number, unable to parse string as a number"

ONES = "1" * 4301

INT_CASES: list[tuple[str, int | tuple[str, str]]] = [
    ("0-1", -1),  # a "-" after leading zeros is kept: pydantic-core's zero skip
    ("+0-1", -1),
    ("-0-1", ("int_parsing", INT_PARSING)),
    ("0__1", 1),
    ("0_-1", -1),
    ("000-5_0", -50),
    ("0+1", ("int_parsing", INT_PARSING)),
    ("0.", ("int_parsing", INT_PARSING)),
    ("0.0", 0),
    ("00", 0),
    ("00.0_0", ("int_parsing", INT_PARSING)),
    ("1_0.0", 10),
    ("1.0_0", ("int_parsing", INT_PARSING)),
    ("1.50", ("int_parsing", INT_PARSING)),
    ("-01", -1),
    ("+01", 1),
    ("_1", ("int_parsing", INT_PARSING)),
    ("1_", ("int_parsing", INT_PARSING)),
    ("\x1c3", ("int_parsing", INT_PARSING)),  # not whitespace to Rust
    ("3\x1f", ("int_parsing", INT_PARSING)),
    ("\u30003\u3000", 3),
    ("\x853", 3),
    (" 0-1", -1),
    ("0x1", ("int_parsing", INT_PARSING)),
    (ONES, ("int_parsing_size", INT_SIZE)),
    ("-" + "1" * 4300, int("-" + "1" * 4300)),
    ("-" + ONES, ("int_parsing_size", INT_SIZE)),
    (" " + ONES, ("int_parsing", INT_PARSING)),  # only the untrimmed first reading is sized
    ("0" * 4300 + "7", 7),
    ("-" + "0" * 5000 + "9", -9),
    ("1_" + "0" * 4300, ("int_parsing", INT_PARSING)),
    (ONES + "x", ("int_parsing_size", INT_SIZE)),
    ("1" * 4300 + "x", ("int_parsing", INT_PARSING)),
    ("1" * 4300 + "_1", ("int_parsing", INT_PARSING)),
    ("0" * 5000, 0),
]

FLOAT_CASES: list[tuple[str, float | None]] = [
    ("1._5", 1.5),  # underscores anywhere inside, once each
    ("1_.5", 1.5),
    ("._5", 0.5),
    ("1e_5", 1e5),
    ("+_1", 1.0),
    ("1e_+5", 1e5),
    ("1_e5", 1e5),
    ("in_f", math.inf),
    (" 1_0", None),  # underscores are removed from the untrimmed text only
    ("1_0 ", None),
    ("\t1_0", None),
    ("\xa01_0", None),
    ("1_0.5 ", None),
    ("\x1c3", None),
    ("3.5\x1d", None),
    ("\u20281.5", 1.5),
    ("1__0", None),
    ("_1", None),
    ("1.", 1.0),
    (".5", 0.5),
    (".", None),
    ("e5", None),
    ("1e", None),
    ("INFINITY", math.inf),
    ("1e400", math.inf),
    ("0_0", 0.0),
]

UUID_CASES: list[tuple[str, str]] = [
    ("\u0661", "invalid length: found 2"),
    ("\u0661g", "invalid character: found `g` at 2"),
    (
        "00000000\u012d0000-0000-0000-000000000000",
        "invalid group length in group 1: expected 4, found 5",
    ),
    (
        "{12345678-1234-1234-1234-1234567890\u0661}",
        "invalid group length in group 4: expected 12, found 12",
    ),
    (
        "{12345678-1234-1234-1234-12345678901\u0661}",
        "invalid group length in group 4: expected 12, found 15",
    ),
    (
        "urn:uuid:b893d7\u0146-e178-f9db-70b4-46a03d72a963",
        "invalid group length in group 4: expected 12, found 12",
    ),
    (
        "0\u01309767073-5349-e7f8-d114-a8285c0b10c1",
        "invalid group length in group 0: expected 8, found 10",
    ),
    ("2bb1deeb33383d60763c2aef5e03e2\u0161a", "invalid length: found 33"),
    (
        "c6\u0146dfa\u01469-cb27-d1a7-1bd0-6618f687828\u00e9",
        "invalid character: found `\u00e9` at 37",
    ),
    ("12345678-1234-1234-1234-12345678901\u20ac", "invalid character: found `\u20ac` at 35"),
]

DATETIME_CASES: list[tuple[str, str | None]] = [
    ("1.9e9", "2030-03-17T17:46:40+00:00"),
    (".5e9", "1985-11-05T00:53:20+00:00"),
    ("5.e8", "1985-11-05T00:53:20+00:00"),
    ("-1.5e9", "1922-06-20T21:20:00+00:00"),
    ("+.5", "1970-01-01T00:00:00.500000+00:00"),
    ("1.5e-3", "1970-01-01T00:00:00.001500+00:00"),
    ("1.95E+9", "2031-10-17T10:40:00+00:00"),
    ("17.", "1970-01-01T00:00:17+00:00"),
    ("1.5e400", None),
    ("1e9", None),  # an exponent without a "." is no timestamp
    ("12000000000095.2", "2350-04-07T21:20:00.095199+00:00"),
    ("-1199082678751.4375", "1932-01-02T17:28:41.248563+00:00"),
    ("-20000000000", "1336-03-23T12:26:40+00:00"),
    ("000000000000000000001", "1970-01-01T00:00:01+00:00"),  # zeros never overflow
    ("0000000000000000000001700000000", "2023-11-14T22:13:20+00:00"),
    ("00000000000000000009223372036854775808", None),  # past 2**63 - 1: overflow
    ("17Z", None),
    (" 17", None),
    ("17:30+01:00", "T17:30:00+00:00"),  # a time alone: today, its offset dropped
    ("17:30+24:00", "T17:30:00+00:00"),
    ("T173015", "T17:30:15+00:00"),
    ("T17:30:15", None),
    ("T1730-05:30", "T17:30:00+00:00"),
    (" 17:30", "T17:30:00+00:00"),
    (" 17:30Z", None),
]


def _problem(call: object) -> tuple[str, str]:
    assert isinstance(call, WireProblem)
    return call.problems[0].type, call.problems[0].msg


def _assert_unparsable(text: str) -> None:
    with pytest.raises(WireProblem) as caught:
        parse_datetime(text)
    assert _problem(caught.value) == (
        "value_error",
        f"Value error, Unable to parse string [{text}]",
    )


@pytest.mark.parametrize(("text", "expected"), INT_CASES, ids=lambda v: repr(v)[:24])
def test_integer_strings_read_as_prefect_reads_them(text: str, expected: object) -> None:
    if isinstance(expected, int):
        assert parse_int(text) == expected
    else:
        with pytest.raises(WireProblem) as caught:
            parse_int(text)
        assert _problem(caught.value) == expected


@pytest.mark.parametrize(("text", "expected"), FLOAT_CASES, ids=repr)
def test_float_strings_read_as_prefect_reads_them(text: str, expected: float | None) -> None:
    if expected is None:
        with pytest.raises(WireProblem) as caught:
            parse_float(text)
        assert _problem(caught.value) == ("float_parsing", FLOAT_PARSING)
    else:
        assert parse_float(text) == expected


def test_nan_strings_read_as_nan() -> None:
    assert math.isnan(parse_float("-nan"))
    assert math.isnan(parse_float(" NaN "))


@pytest.mark.parametrize(("text", "error"), UUID_CASES, ids=repr)
def test_uuid_errors_judge_characters_by_their_low_byte(text: str, error: str) -> None:
    with pytest.raises(WireProblem) as caught:
        parse_uuid(text)
    assert _problem(caught.value) == ("uuid_parsing", f"Input should be a valid UUID, {error}")
    assert caught.value.problems[0].ctx == {"error": error}


@pytest.mark.parametrize(("text", "expected"), DATETIME_CASES, ids=repr)
def test_timestamp_and_time_strings_read_as_prefect_reads_them(
    text: str, expected: str | None
) -> None:
    if expected is None:
        _assert_unparsable(text)
        return
    before = datetime.now(UTC).date()
    moment = parse_datetime(text).isoformat()
    if expected.startswith("T"):  # today's date, as of the call
        assert moment[10:] == expected
        assert moment[:10] in {before.isoformat(), datetime.now(UTC).date().isoformat()}
    else:
        assert moment == expected


ISO_CASES: list[tuple[str, str | None]] = [
    ("20240102 17", "2024-01-02T17:00:00+00:00"),  # a basic date takes a space too
    ("20240102 173015,5Z", "2024-01-02T17:30:15.500000+00:00"),
    ("20240102T17:30+01:00", "2024-01-02T17:30:00+01:00"),  # extended minutes mix in
    ("20240102T17:30:15", None),  # ... extended seconds do not
    ("2024-01-02T1730", None),  # an extended date takes no basic time
    ("2024T17", None),  # a year alone takes no time
    ("2024 17:30Z", None),
    ("2024-01 17:30+01:60", "2024-01-01T17:30:00+02:00"),  # offset minutes carry
    ("2024-W01-2T17Z", "2024-01-02T17:00:00+00:00"),
    ("2024W012 17", "2024-01-02T17:00:00+00:00"),
    ("2024-032T17", "2024-02-01T17:00:00+00:00"),
    ("2024032 17", "2024-02-01T17:00:00+00:00"),
    ("2024-01-02 24:00", None),
    ("2024-01-02T17:30:15.1234567Z", "2024-01-02T17:30:15.123456+00:00"),
    ("2024-01-02T17:30:15.Z", None),
    ("2024-01-02T17+25:00", None),
]


@pytest.mark.parametrize(("text", "expected"), ISO_CASES, ids=repr)
def test_iso_strings_read_as_pendulum_reads_them(text: str, expected: str | None) -> None:
    if expected is None:
        _assert_unparsable(text)
    else:
        assert parse_datetime(text).isoformat() == expected


NOT_A_DATETIME = ("value_error", "value is not a valid datetime")
DURATION = (
    "value_error",
    "Value error, value is not a valid datetime it is a <class 'pendulum.duration.Duration'>",
)
INTERVAL = (
    "value_error",
    "Value error, value is not a valid datetime it is a <class 'pendulum.interval.Interval'>",
)
SAME_TYPE = (
    "value_error",
    "Value error, Both start and end of an Interval must have the same type",
)

WHOLE_DAY_MSG = (
    "Value error, offset must be a timedelta strictly between -timedelta(hours=24) and "
    "timedelta(hours=24)."
)
WHOLE_DAY = ("value_error", WHOLE_DAY_MSG)

PERIOD_CASES: list[tuple[str, tuple[str, str] | None]] = [
    ("PT", DURATION),  # a lone T is a duration
    ("P", None),
    ("P1D2D", DURATION),  # units may repeat ...
    ("P1D1W", DURATION),
    ("P1W1D", None),  # ... but not go back
    ("PT1S1M", None),
    ("PT1.5H2M", None),  # nothing after a fraction
    ("P1,5Y", None),  # no fractional years
    ("P1DT", DURATION),
    ("P4294967296D", DURATION),  # the counter wraps to zero days
    ("P4294967295D", NOT_A_DATETIME),  # too long for a timedelta
    ("2024-01-01/2024-01-02", INTERVAL),
    ("2024-01-01/2024-01-01T10:00+01:00", SAME_TYPE),
    ("2024-01-01T10:00/T12", SAME_TYPE),
    ("2024-01-01/01:00", NOT_A_DATETIME),
    ("T01/T02", NOT_A_DATETIME),
    ("2024-01-01/P1D", NOT_A_DATETIME),
    ("P1D/P1D", NOT_A_DATETIME),
    ("P1D/P", None),
    ("1253120053:01", ("value_error", "Value error, day is out of range for month")),
    ("2024-01-01T10:00:00Z/2024-01-01T10:00:00+24:00", WHOLE_DAY),
    ("2024-01-01T10:00:00+24:00/P1D", WHOLE_DAY),
    ("2024-001/2024-01-01T10:00:00+24:00", SAME_TYPE),
]


@pytest.mark.parametrize(("text", "expected"), PERIOD_CASES, ids=repr)
def test_durations_and_intervals_answer_as_prefect_does(
    text: str, expected: tuple[str, str] | None
) -> None:
    with pytest.raises(WireProblem) as caught:
        parse_datetime(text)
    unparsable = ("value_error", f"Value error, Unable to parse string [{text}]")
    assert _problem(caught.value) == (unparsable if expected is None else expected)


def test_rust_whitespace_is_unicode_white_space_without_the_separators() -> None:
    python_space = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert python_space - set(RUST_WHITESPACE) == set("\x1c\x1d\x1e\x1f")
    assert set(RUST_WHITESPACE) <= python_space
    assert rust_trim("\u3000 7\t\x85") == "7"
    assert rust_trim("\x1c7\x1f") == "\x1c7\x1f"


@given(st.integers(min_value=-(10**4299), max_value=10**4299))
def test_canonical_integer_text_reads_back(number: int) -> None:
    assert parse_int(str(number)) == number
    assert parse_int(f" {number} ") == number


@given(st.floats(allow_nan=False))
def test_python_float_reprs_read_back(number: float) -> None:
    assert parse_float(repr(number)) == number


def test_a_whole_day_offset_passes_validation_and_is_refused_after_it() -> None:
    """Prefect keeps ``+24:00`` through validation and fails later (500): never beside other
    errors, and refused here only once every field has passed (so the rules answer first)."""
    moment = "2024-01-02T17:30:00+24:00"
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": moment}}
    with pytest.raises(InvalidRequest) as caught:
        decode_create_request(json.dumps({"tags": "x", "state": state}).encode())
    assert not isinstance(caught.value, UnstorableValue)
    assert [d.loc for d in caught.value.details] == [("body", "tags")]
    with pytest.raises(UnstorableValue) as refused:
        decode_create_request(json.dumps({"state": state}).encode())
    (detail,) = refused.value.details
    assert detail.loc == ("body", "state", "state_details", "scheduled_time")
    assert (detail.type, detail.msg) == WHOLE_DAY
    assert detail.input == moment
