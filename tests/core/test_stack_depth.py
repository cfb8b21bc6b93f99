"""call_at_depth: a call on a fresh thread, at an exact stack depth, whatever the caller's;
call_as_if_at_depth: the same answer, on the caller's thread unless the stack runs out."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from flowrun_core.rules.stack_depth import call_as_if_at_depth, call_at_depth, frames_below


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


def _recurse(levels: int) -> int:
    return 0 if levels <= 0 else 1 + _recurse(levels - 1)


def test_a_shallower_caller_descends_to_the_depth_on_its_own_thread() -> None:
    def where() -> tuple[int, threading.Thread]:
        return frames_below(), threading.current_thread()

    depth = frames_below() + 60
    # where() is called from a frame at the depth: its own frame is one deeper.
    assert call_as_if_at_depth(depth, where) == (depth + 1, threading.current_thread())


def test_a_deeper_caller_calls_in_place_when_the_stack_suffices() -> None:
    def where() -> tuple[int, threading.Thread]:
        return frames_below(), threading.current_thread()

    here, thread = _deep(100, lambda: call_as_if_at_depth(10, where))
    assert here > 100
    assert thread is threading.current_thread()


def test_a_deeper_caller_gets_the_answer_of_the_depth_when_its_own_stack_runs_out() -> None:
    # Enough recursion to exhaust a stack 300 frames deep, not one 35 deep.
    levels = sys.getrecursionlimit() - 150
    assert call_at_depth(35, lambda: _recurse(levels)) == levels
    with pytest.raises(RecursionError):
        _deep(300, lambda: _recurse(levels))
    assert _deep(300, lambda: call_as_if_at_depth(35, lambda: _recurse(levels))) == levels


@pytest.mark.parametrize("caller_frames", [0, 300])
def test_what_runs_out_of_stack_at_the_depth_raises_recursion_error(caller_frames: int) -> None:
    levels = sys.getrecursionlimit()
    with pytest.raises(RecursionError):
        _deep(caller_frames, lambda: call_as_if_at_depth(35, lambda: _recurse(levels)))
    assert gc.isenabled()
