"""The timeout range every adapter option accepts (``flowrun_adapters._timeouts``)."""

from __future__ import annotations

import math
import sqlite3

import pytest
from flowrun_adapters._timeouts import MAX_TIMEOUT, checked_timeout
from hypothesis import given
from hypothesis import strategies as st


def test_max_timeout_is_the_longest_int_of_milliseconds() -> None:
    assert round(MAX_TIMEOUT * 1000) == 2**31 - 1


@given(st.floats(min_value=0, max_value=MAX_TIMEOUT) | st.integers(0, int(MAX_TIMEOUT)))
def test_every_value_in_range_is_kept(value: float) -> None:
    assert checked_timeout("t", value, zero=True) == value
    if value > 0:
        assert checked_timeout("t", value) == value
    else:
        with pytest.raises(ValueError, match=r"t must be > 0 and at most 2,147,483\.647"):
            checked_timeout("t", value)


@given(
    st.floats(min_value=MAX_TIMEOUT, exclude_min=True)
    | st.floats(max_value=0, exclude_max=True)
    | st.just(math.nan)
    | st.integers(min_value=int(MAX_TIMEOUT) + 1)
    | st.integers(max_value=-1)
)
def test_every_value_out_of_range_is_refused_with_the_range(value: float) -> None:
    with pytest.raises(ValueError) as caught:
        checked_timeout("busy_timeout", value, zero=True)
    message = str(caught.value)
    assert message.startswith("busy_timeout must be >= 0 and at most 2,147,483.647 seconds")
    assert message.endswith(f"not {value!r}")


@pytest.mark.parametrize("value", ["5", None, True, [1]])
def test_a_non_number_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="busy_timeout must be a number of seconds"):
        checked_timeout("busy_timeout", value)  # type: ignore[arg-type]


def test_sqlite3_keeps_the_max_and_drops_anything_longer_to_no_wait() -> None:
    """Why the bound: past it, Python's sqlite3 silently waits not at all."""
    conn = sqlite3.connect(":memory:", timeout=MAX_TIMEOUT)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (2**31 - 1,)
    conn.close()
    longer = sqlite3.connect(":memory:", timeout=MAX_TIMEOUT + 1)
    assert longer.execute("PRAGMA busy_timeout").fetchone() == (0,)
    longer.close()
