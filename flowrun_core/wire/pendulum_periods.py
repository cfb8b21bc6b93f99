"""Durations and intervals: the strings pendulum parses that are not date-times.

Prefect's ``DateTime`` type refuses them with messages of their own, so which strings pendulum
takes for a duration or an interval decides the message (recorded on 3.9.1):

* A duration is ``P``, then any run of ``<number><unit>`` items, ``T`` once before the time
  units. A number is ASCII digits with an optional ``.`` or ``,`` fraction (its digits may be
  none); after a fraction nothing may follow, and years and months take none. Units may repeat
  but not go back: no years after months or days, no months after days, no weeks after years
  or months, no days after weeks; after ``T``, no hours after minutes or seconds, no minutes
  after seconds. Nothing at all after ``P`` is no duration, a lone ``T`` is one (``PT``).
* An interval is two parts around one ``/``. Two dates, two date-times, or a date-time and a
  duration (either way round) make an interval; a date with a date-time, or a date-time with
  a time, do not have "the same type"; any other pair (a duration with a date, a time or
  another duration, a time alone with a date or another time, an end past year 9999) fails
  inside pendulum, which Prefect reports as "value is not a valid datetime". An end whose
  offset is a day or more makes two date-times (or a date-time and a duration) fail with
  Python's own words for such an offset.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from flowrun_core.wire.pendulum_iso import DIGITS, IsoUnparsable, WholeDayOffset, scan_pendulum_iso

__all__ = [
    "INTERVAL",
    "MIXED_TYPES",
    "NOT_A_DATETIME",
    "WHOLE_DAY_OFFSET",
    "duration_span",
    "interval_kind",
    "read_duration",
]

INTERVAL: Final = "interval"
MIXED_TYPES: Final = "mixed"
NOT_A_DATETIME: Final = "not a datetime"
WHOLE_DAY_OFFSET: Final = "whole-day offset"

_COUNTER: Final = 2**32
_DATE_UNITS: Final = "YMWD"
_TIME_UNITS: Final = "HMS"
_DATE_BLOCKERS: Final = {"Y": "MD", "M": "D", "W": "YM", "D": "W"}
"""Units that may not already hold a value when this one comes (outside the time part)."""
_TIME_BLOCKERS: Final = {"H": "MS", "M": "S", "S": ""}


def _number(text: str, pos: int) -> tuple[int, bool, int] | None:
    """A duration number at ``pos``: its value, whether it has a fraction, and the next pos."""
    start = pos
    while pos < len(text) and text[pos] in DIGITS:
        pos += 1
    if pos == start:
        return None
    value = int(text[start:pos])
    fraction = pos < len(text) and text[pos] in {".", ","}
    if fraction:
        pos += 1
        while pos < len(text) and text[pos] in DIGITS:
            pos += 1
    return value, fraction, pos


def read_duration(text: str) -> dict[str, int] | None:
    """The units of ``text`` read as pendulum's ISO 8601 duration, or ``None`` when it is none.

    Keys are ``Y M W D`` and ``h m s``; each count wraps at 2**32 as pendulum's 32-bit
    counters do (``P4294967296D`` is zero days).
    """
    if not text.startswith("P"):
        return None
    held: dict[str, int] = {}
    pos, in_time, after_fraction = 1, False, False
    while True:
        if pos < len(text) and text[pos] == "T":
            if in_time:
                return None
            in_time = True
        else:
            read = _number(text, pos)
            if read is None or after_fraction:
                return None
            value, fraction, pos = read
            after_fraction = fraction
            unit = text[pos] if pos < len(text) else ""
            if not _accepts(unit, held, in_time=in_time, fraction=fraction):
                return None
            key = unit.lower() if in_time else unit
            adds = unit in ("HM" if in_time else "D")  # the others replace what was there
            held[key] = ((held.get(key, 0) if adds else 0) + value) % _COUNTER
        pos += 1
        if pos >= len(text):
            return held


def duration_span(units: dict[str, int]) -> timedelta | None:
    """The duration as a ``timedelta``, or ``None`` when it is too long for one.

    A year counts 365 days and a month 30, as pendulum adds them; a duration too long for a
    ``timedelta`` makes pendulum fail.
    """
    try:
        return timedelta(
            days=units.get("D", 0) + units.get("Y", 0) * 365 + units.get("M", 0) * 30,
            weeks=units.get("W", 0),
            hours=units.get("h", 0),
            minutes=units.get("m", 0),
            seconds=units.get("s", 0),
        )
    except OverflowError:
        return None


def _accepts(unit: str, held: dict[str, int], *, in_time: bool, fraction: bool) -> bool:
    if in_time:
        if not unit or unit not in _TIME_UNITS:
            return False
        return not any(held.get(blocker.lower()) for blocker in _TIME_BLOCKERS[unit])
    if not unit or unit not in _DATE_UNITS or (fraction and unit in "YM"):
        return False
    return not any(held.get(blocker) for blocker in _DATE_BLOCKERS[unit])


def interval_kind(text: str, *, today: date) -> str | None:
    """What pendulum makes of ``text`` as an interval, or ``None`` when it is none."""
    parts = text.split("/")
    if len(parts) != 2 or not all(parts):  # noqa: PLR2004
        return None
    kinds: list[str] = []
    whole_day = False
    moments: list[datetime] = []
    spans: list[timedelta | None] = []
    for part in parts:
        if part.startswith("P"):
            units = read_duration(part)
            if units is None:
                return None
            kinds.append("duration")
            spans.append(duration_span(units))
            continue
        try:
            moment, kind = scan_pendulum_iso(part, today=today)
        except IsoUnparsable:
            return None
        except WholeDayOffset as whole:
            moment, kind = whole.wall, "datetime"
            whole_day = True
        kinds.append(kind)
        moments.append(moment)
    pair = set(kinds)
    if pair in ({"date", "datetime"}, {"datetime", "time"}):
        return MIXED_TYPES
    if whole_day and pair in ({"datetime"}, {"datetime", "duration"}):
        return WHOLE_DAY_OFFSET  # comparing or adding the ends asks for the offset
    if pair == {"datetime", "duration"}:
        return _moment_and_span(moments[0], spans[0], forward=kinds[0] == "datetime")
    if pair in ({"date"}, {"datetime"}):
        return INTERVAL
    return NOT_A_DATETIME


def _moment_and_span(moment: datetime, span: timedelta | None, *, forward: bool) -> str:
    """A date-time with a duration is an interval when the other end is a date-time too."""
    if span is None:
        return NOT_A_DATETIME
    try:
        _ = moment + span if forward else moment - span  # only its overflow matters
    except OverflowError:
        return NOT_A_DATETIME
    return INTERVAL
