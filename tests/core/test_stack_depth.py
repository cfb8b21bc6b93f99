"""call_at_depth: a call on a fresh thread, at an exact stack depth, whatever the caller's."""

from __future__ import annotations

import gc

import pytest

from flowrun_core.rules.stack_depth import call_at_depth, frames_below


def _deep(frames: int, call):  # type: ignore[no-untyped-def]
    return call() if frames <= 0 else _deep(frames - 1, call)


@pytest.mark.parametrize("caller_frames", [0, 50, 400])
@pytest.mark.parametrize("depth", [10, 35, 200])
def test_the_call_is_made_from_the_depth_asked(caller_frames: int, depth: int) -> None:
    assert _deep(caller_frames, lambda: call_at_depth(depth, frames_below)) == depth


def test_values_and_exceptions_come_back() -> None:
    assert call_at_depth(35, lambda: "value") == "value"

    def fail() -> None:
        raise KeyError("inner")

    with pytest.raises(KeyError, match="inner"):
        call_at_depth(35, fail)


def test_the_collector_is_paused_during_the_call_and_restored_after() -> None:
    assert gc.isenabled()
    assert call_at_depth(40, gc.isenabled) is False
    assert gc.isenabled()
    gc.disable()
    try:
        assert call_at_depth(40, gc.isenabled) is False
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()


def test_overlapping_calls_keep_the_collector_paused_until_the_last_ends() -> None:
    inner: list[bool] = []

    def nested() -> bool:
        inner.append(call_at_depth(40, gc.isenabled))
        return gc.isenabled()

    assert call_at_depth(40, nested) is False
    assert inner == [False]
    assert gc.isenabled()
