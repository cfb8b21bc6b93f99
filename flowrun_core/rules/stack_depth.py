"""Run a recursive check at the stack depth Prefect 3.9.1 runs it at.

jsonschema recurses once per level of a schema, so how deep a schema Prefect can check before
Python's recursion limit stops it (and it answers "circular references") depends on how many
frames lie under the check. A check run on our caller's stack would give out at a depth that
depends on the caller (a test runner, a web framework). :func:`call_at_depth` runs it on a
fresh thread, under exactly as many frames as Prefect's endpoint has, so the threshold is
Prefect's wherever this library is called from. It costs a thread start (some 100 µs), so it
is used as it is only where the result is cached: the meta-schema check of a new schema.
Validation runs on every create that needs it, so it uses :func:`call_as_if_at_depth`, which
gives the same answer and starts a thread only for an instance deep enough to exhaust the
caller's stack.

While such a call runs, Python's cyclic garbage collector is paused. A collection triggered
at the bottom of a stack already at the recursion limit would run the finalizers of
unrelated garbage (objects left by other code, on any thread) there, and any finalizer that
calls a function would fail and be reported to ``sys.unraisablehook``. The pause ends with
the last such call; a collector that was already off stays off.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import FrameType
from typing import Final, TypeVar

__all__ = [
    "PREFECT_CHECK_SCHEMA_DEPTH",
    "PREFECT_VALIDATE_DEPTH",
    "call_as_if_at_depth",
    "call_at_depth",
    "collector_paused",
    "frames_below",
]

_T = TypeVar("_T")

PREFECT_CHECK_SCHEMA_DEPTH: Final = 34
"""The stack depth of the frame that calls jsonschema's ``check_schema`` in Prefect's endpoint
(``jsonschema.validate``'s, measured on Prefect 3.9.1's API app in process, as the compat
oracle runs it). With the
default recursion limit, a property schema of 117 nested ``not`` passes there and 118 is
reported circular; the recorded scenarios ``schema_b9_deep_not_chain_*`` pin that."""


PREFECT_VALIDATE_DEPTH: Final = 33
"""The stack depth from which parameter enforcement collects jsonschema's errors, calibrated so
that an instance nested under a self-recursive schema runs out of stack at the level it does
in Prefect 3.9.1 (which consumes them in ``best_match``, inside ``jsonschema.validate``). The
recorded scenarios ``schema_b16_recursive_instance_*`` pin it: ten schema shapes, each one
level below and above Prefect's threshold (119 to 239 levels); 32 and 33 both reproduce them."""


def frames_below() -> int:
    """How many frames lie under the caller's frame, the caller's own included."""
    frame: FrameType | None = sys._getframe(1)  # noqa: SLF001 - reads the depth cheaply
    count = 0
    while frame is not None:
        count += 1
        frame = frame.f_back
    return count


def _descend(levels: int, call: Callable[[], _T]) -> _T:
    if levels > 0:
        return _descend(levels - 1, call)
    return call()


class _CollectorPause:
    """Pauses the cyclic garbage collector while at least one deep call runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._was_enabled:
                gc.enable()


_PAUSE: Final = _CollectorPause()


def collector_paused() -> AbstractContextManager[None]:
    """A context that pauses the cyclic garbage collector (see the module's text).

    For a recursion that may run into the recursion limit on purpose (as Prefect's does),
    where a collection at the bottom would run unrelated finalizers without stack. Nests,
    and is shared across threads: the collector resumes when the last such context exits.
    """
    return _PAUSE


def call_at_depth(depth: int, call: Callable[[], _T]) -> _T:
    """``call()``, called on a new thread from a frame at stack depth ``depth``.

    Returns what ``call`` returns and raises what it raises (``RecursionError`` included).
    The cyclic garbage collector is paused meanwhile (see the module's text).
    """
    outcome: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            # frames_below() counts run's own frame; each _descend level adds one, and the
            # last one, at ``depth``, calls ``call``.
            outcome.append((True, _descend(depth - frames_below() - 1, call)))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="flowrun-schema-check")
    with _PAUSE:
        thread.start()
        thread.join()
    ok, value = outcome[0]
    if not ok:
        assert isinstance(value, BaseException)  # noqa: S101 - recorded just above
        raise value
    return value  # type: ignore[return-value]


def call_as_if_at_depth(depth: int, call: Callable[[], _T]) -> _T:
    """What ``call()`` called from a frame at stack depth ``depth`` gives, cheaply.

    A caller above ``depth`` descends to it on its own thread (a few calls). A caller at or
    below it calls ``call`` where it is: what returns there returns at ``depth`` too, which
    leaves more stack; only a call that runs out of stack there is run again by
    :func:`call_at_depth`, for the answer at ``depth`` itself. So ``call`` must be safe to
    repeat. The cyclic garbage collector is paused meanwhile (see the module's text).
    """
    here = frames_below()
    with _PAUSE:
        if here < depth:
            return _descend(depth - here - 1, call)
        try:
            return call()
        except RecursionError:
            pass
    return call_at_depth(depth, call)
