"""The range every adapter timeout option accepts, checked where the adapter is made.

SQLite keeps its busy timeout, and PostgreSQL its ``statement_timeout``, as a C ``int`` of
milliseconds. A longer value does not wait longer: Python's ``sqlite3`` turns it into no
wait at all, and PostgreSQL refuses it on every new connection. So each timeout is
refused at construction, with its range, when it is not a finite number of seconds in
range; the pool and connect timeouts take the same bound, for one rule across options.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_TIMEOUT", "checked_timeout"]

MAX_TIMEOUT: Final = 2_147_483.647
"""Longest timeout, in seconds (about 24.8 days): ``2**31 - 1`` milliseconds."""


def checked_timeout(name: str, value: float, *, zero: bool = False) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` and the accepted range.

    ``zero`` admits 0 (never wait). Infinity, NaN and anything past :data:`MAX_TIMEOUT`
    are refused; so is a non-number (``TypeError``).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    low_ok = value >= 0 if zero else value > 0
    if not (low_ok and value <= MAX_TIMEOUT):  # NaN fails both comparisons
        low = ">= 0" if zero else "> 0"
        raise ValueError(
            f"{name} must be {low} and at most {MAX_TIMEOUT:,} seconds (about 24.8 days, "
            f"the longest the database keeps), not {value!r}"
        )
    return float(value)
