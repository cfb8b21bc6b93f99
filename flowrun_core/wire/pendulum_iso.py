"""ISO 8601 date-times as pendulum 3's compiled parser reads them (Prefect 3.9.1's fallback).

Prefect's ``DateTime`` type hands pendulum the strings pydantic's own parser refuses, and
pendulum 3 reads them with a hand-written scanner, not a regular expression, whose accidents
decide what a request may say. Read left to right:

* A leading ``T`` starts a time alone. Otherwise two digits and a ``:`` start a time alone in
  the extended form (``17:30``). Otherwise four digits are a year, then:
  ``-MM``, ``-MM-DD``, ``-DDD`` (ordinal), ``-Www`` or ``-Www-D`` (extended); or ``Www``,
  ``WwwD``, ``MMDD`` or ``DDD`` (basic). A date may end there, or go on with ``T`` or a
  space and a time.
* A time is ``hh``, then ``:mm`` or ``mm``, then (after ``:mm``) ``:ss`` or (after ``mm``)
  ``ss``, then after the seconds ``.`` or ``,`` and at least one digit (six kept). An
  extended date takes no basic minutes, and a basic date or a ``T`` alone takes no extended
  seconds ("Cannot combine" in pendulum's words): ``T12:00:00`` fails, ``T120000`` parses.
* Then ``Z``, or a sign, two digits, an optional ``:`` and (unless the text ends) two more:
  minutes past 59 carry into the hours, and an offset past +24:00 is refused.
* An hour of 24 is read, and then refused with any other out-of-range field.

A time alone is today's, at that wall-clock time in UTC: its offset is read (so it must be
well formed) but not applied. An offset of a day or more (``+24:00``, ``-25:00``) reads, but
Python cannot hold it: :class:`WholeDayOffset` says so. Everything here was recorded against
3.9.1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final

import attrs

__all__ = ["DIGITS", "IsoUnparsable", "WholeDayOffset", "parse_pendulum_iso", "scan_pendulum_iso"]

DIGITS: Final = frozenset("0123456789")
"""The ASCII digits: the only ones pendulum's scanners read."""
_MAX_OFFSET_MINUTES: Final = 24 * 60


class IsoUnparsable(ValueError):
    """The text is not an ISO 8601 date-time pendulum reads (it may try other grammars)."""


class WholeDayOffset(Exception):
    """The text reads, but its offset is a day or more, which Python's ``timezone`` refuses.

    pendulum keeps such an offset and Prefect fails only when it later uses it, so the
    caller decides what to do: ``wall`` is the moment with the offset dropped (UTC). Only
    a date with a time carries an offset, so the text is always a ``"datetime"``.
    """

    def __init__(self, wall: datetime) -> None:
        super().__init__("offset of a day or more")
        self.wall = wall


@attrs.define
class _Cursor:
    text: str
    pos: int = 0

    @property
    def current(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip(self) -> None:
        self.pos += 1

    def digits(self, count: int) -> int:
        chunk = self.text[self.pos : self.pos + count]
        if len(chunk) < count or not DIGITS.issuperset(chunk):
            raise IsoUnparsable
        self.pos += count
        return int(chunk)

    def at_time_or_end(self) -> bool:
        return self.at_end() or self.current in {" ", "T"}


@attrs.define
class _Clock:
    hour: int = 0
    minute: int = 0
    second: int = 0
    micro: int = 0
    offset: int | None = None  # minutes east of UTC; None when the text gives none
    has_time: bool = False


def _fraction(cursor: _Cursor) -> int:
    """Microseconds from at least one digit (extra digits past the sixth are dropped)."""
    kept = ""
    while cursor.current and cursor.current in DIGITS:
        if len(kept) < 6:  # noqa: PLR2004
            kept += cursor.current
        cursor.skip()
    if not kept:
        raise IsoUnparsable
    return int(kept.ljust(6, "0"))


def _offset(cursor: _Cursor) -> int | None:
    if cursor.current == "Z":
        cursor.skip()
        return 0
    if cursor.current not in {"+", "-"} or cursor.at_end():
        return None
    sign = 1 if cursor.current == "+" else -1
    cursor.skip()
    hours = cursor.digits(2)
    if cursor.current == ":":
        cursor.skip()
    minutes = 0 if cursor.at_end() else cursor.digits(2)
    total = sign * (hours * 60 + minutes)
    if total > _MAX_OFFSET_MINUTES:
        raise IsoUnparsable
    return total


def _not_zone(cursor: _Cursor) -> bool:
    return not cursor.at_end() and cursor.current not in {"Z", "+", "-"}


def _time(cursor: _Cursor, clock: _Clock, *, extended_date: bool, hour_read: bool) -> None:
    clock.has_time = True
    if not hour_read:
        if cursor.current not in {"T", " "} or cursor.at_end():
            raise IsoUnparsable
        cursor.skip()
        clock.hour = cursor.digits(2)
    if _not_zone(cursor):
        if cursor.current == ":":
            cursor.skip()
            clock.minute = cursor.digits(2)
            if _not_zone(cursor):
                if cursor.current != ":":
                    raise IsoUnparsable
                cursor.skip()
                clock.second = cursor.digits(2)
                if cursor.current in {".", ","} and not cursor.at_end():
                    cursor.skip()
                    clock.micro = _fraction(cursor)
                if not extended_date:
                    raise IsoUnparsable  # a basic date (or a bare "T") with extended seconds
        else:
            clock.minute = cursor.digits(2)
            if _not_zone(cursor):
                clock.second = cursor.digits(2)
                if cursor.current in {".", ","} and not cursor.at_end():
                    cursor.skip()
                    clock.micro = _fraction(cursor)
            if extended_date:
                raise IsoUnparsable  # an extended date with a basic time
    clock.offset = _offset(cursor)


def _week_date(year: int, week: int, weekday: int) -> date:
    try:
        long_year = date(year, 12, 28).isocalendar()[1] == 53  # noqa: PLR2004
        if week > 53 or (week > 52 and not long_year) or weekday > 7:  # noqa: PLR2004
            raise IsoUnparsable
        jan4 = date(year, 1, 4)
        monday = jan4 - timedelta(days=jan4.isoweekday() - 1)
        return monday + timedelta(weeks=week - 1, days=weekday - 1)
    except (ValueError, OverflowError) as exc:  # year 0, or a week before year 1
        raise IsoUnparsable from exc


def _ordinal_date(year: int, ordinal: int) -> date:
    days = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
    if not 1 <= ordinal <= days:
        raise IsoUnparsable
    try:
        return date(year, 1, 1) + timedelta(days=ordinal - 1)
    except ValueError as exc:  # year 0
        raise IsoUnparsable from exc


def _week(cursor: _Cursor, year: int, *, extended: bool) -> date:
    cursor.skip()  # the "W"
    week = cursor.digits(2)
    weekday = 1
    if not cursor.at_time_or_end():
        if extended:
            if cursor.current != "-":
                raise IsoUnparsable
            cursor.skip()
        weekday = cursor.digits(1)
    return _week_date(year, week, weekday)


def _date(cursor: _Cursor, year: int) -> tuple[date, bool]:
    """The date after its year, and whether it was written in the extended form."""
    if cursor.current == "-":
        cursor.skip()
        if cursor.current == "W":
            return _week(cursor, year, extended=True), True
        month = cursor.digits(2)
        if cursor.at_time_or_end():
            return _calendar(year, month, 1), True
        if cursor.current == "-":
            cursor.skip()
            return _calendar(year, month, cursor.digits(2)), True
        return _ordinal_date(year, month * 10 + cursor.digits(1)), True
    if cursor.current == "W":
        return _week(cursor, year, extended=False), False
    month = cursor.digits(2)
    tens = cursor.digits(1)
    if cursor.at_time_or_end():
        return _ordinal_date(year, month * 10 + tens), False
    return _calendar(year, month, tens * 10 + cursor.digits(1)), False


def _calendar(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise IsoUnparsable from exc


def parse_pendulum_iso(text: str, *, today: date) -> datetime:
    """``text`` as pendulum's ISO 8601 scanner reads it, or :class:`IsoUnparsable`."""
    return scan_pendulum_iso(text, today=today)[0]


def scan_pendulum_iso(text: str, *, today: date) -> tuple[datetime, str]:
    """``text`` read, and what pendulum makes of it: ``"date"``, ``"time"`` or ``"datetime"``."""
    cursor = _Cursor(text)
    clock = _Clock()
    day: date | None = None
    if cursor.current == "T":
        _time(cursor, clock, extended_date=False, hour_read=False)
    else:
        head = cursor.digits(2)
        if cursor.current == ":":
            clock.hour = head
            _time(cursor, clock, extended_date=True, hour_read=True)
        else:
            day, extended = _date(cursor, head * 100 + cursor.digits(2))
            if not cursor.at_end():
                _time(cursor, clock, extended_date=extended, hour_read=False)
    if not cursor.at_end():
        raise IsoUnparsable
    kind = "time" if day is None else ("datetime" if clock.has_time else "date")
    return _moment(day, clock, today), kind


def _moment(day: date | None, clock: _Clock, today: date) -> datetime:
    zone: timezone = UTC
    whole_day = False
    if day is None:
        day = today  # a time alone: its offset is not applied
    elif clock.offset:
        try:
            zone = timezone(timedelta(minutes=clock.offset))
        except ValueError:  # a day or more: Prefect fails when it uses it
            whole_day = True
    try:  # hour 24 included: the scanner reads "24:00", the datetime refuses it
        clock_time = time(clock.hour, clock.minute, clock.second, clock.micro)
    except ValueError as exc:
        raise IsoUnparsable from exc
    moment = datetime.combine(day, clock_time, tzinfo=zone)
    if whole_day:
        raise WholeDayOffset(moment)
    return moment
