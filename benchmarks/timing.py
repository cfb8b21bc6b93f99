"""Interleaved timing: every variant runs once per round, rounds repeat, medians are kept.

A :class:`Variant` is one thing to time: ``op`` is called once per operation and timed on
its own with :func:`time.perf_counter_ns`; ``check`` (outside the timed region) asserts
the outcome (201 versus 200, created versus replayed). ``begin``/``end`` wrap a round and
are timed too (the "all in one transaction" floor commits there). A :class:`Remote`
variant runs somewhere else (Prefect's subprocess) and hands back its own per-call times.

Per variant the result is: operations per second (the median over rounds of
``n / round time``), p50 and p99 latency over every timed call, and the per-round figures.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.progress import Progress

_perf = time.perf_counter_ns


@dataclass
class Variant:
    """One figure to measure: a named operation and how to check its outcome."""

    name: str
    op: Callable[[], Any]
    check: Callable[[Any], None] | None = None
    begin: Callable[[], Any] | None = None
    end: Callable[[], Any] | None = None
    ops: int | None = None  # per round; the runner's default when None
    warmup: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class Remote:
    """A variant timed elsewhere: ``run(n, warmup)`` returns ``n`` per-call times in ns."""

    name: str
    run: Callable[[int, bool], list[int]]
    ops: int
    warmup: int
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """What one variant measured."""

    name: str
    ops_per_s: float
    us_per_op: float
    p50_us: float
    p99_us: float
    rounds_ops_per_s: list[float]
    calls: int
    tags: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "ops_per_s": self.ops_per_s,
            "us_per_op": self.us_per_op,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "rounds_ops_per_s": self.rounds_ops_per_s,
            "calls": self.calls,
            **self.tags,
        }


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of sorted values."""
    if not sorted_ns:
        return 0.0
    rank = max(1, min(len(sorted_ns), round(q * len(sorted_ns) + 0.5)))
    return float(sorted_ns[rank - 1])


class Runner:
    """Runs variants in interleaved rounds.

    Args:
        rounds: how many rounds (the medians need at least 5 for a claim).
        ops: operations per variant per round, unless the variant says otherwise.
        warmup: untimed operations per variant before the first round.
        gc_off: disable the garbage collector inside timed regions (collect before each).
        progress: where to report.
    """

    def __init__(
        self, *, rounds: int, ops: int, warmup: int, gc_off: bool, progress: Progress
    ) -> None:
        self.rounds = rounds
        self.ops = ops
        self.warmup = warmup
        self.gc_off = gc_off
        self.progress = progress

    def _local_round(self, v: Variant, n: int) -> tuple[list[int], int]:
        op, check = v.op, v.check
        times = [0] * n
        extra = 0
        if self.gc_off:
            gc.collect()
            gc.disable()
        try:
            if v.begin is not None:
                t0 = _perf()
                v.begin()
                extra += _perf() - t0
            for i in range(n):
                t0 = _perf()
                out = op()
                t1 = _perf()
                times[i] = t1 - t0
                if check is not None:
                    check(out)
            if v.end is not None:
                t0 = _perf()
                v.end()
                extra += _perf() - t0
        finally:
            if self.gc_off:
                gc.enable()
        return times, extra

    def _warm(self, v: Variant | Remote) -> None:
        if isinstance(v, Remote):
            v.run(v.warmup, True)  # noqa: FBT003
            return
        n = self.warmup if v.warmup is None else v.warmup
        if v.begin is not None:
            v.begin()
        for i in range(n):
            out = v.op()
            if v.check is not None and i:  # the first call may create the key's run
                v.check(out)
        if v.end is not None:
            v.end()

    def run(self, variants: Sequence[Variant | Remote]) -> dict[str, Result]:
        """Warm every variant up, then time them in rounds, rotating the order each round."""
        for i, v in enumerate(variants):
            self.progress.update("warm-up", f"{i + 1}/{len(variants)} {v.name}")
            self._warm(v)
        per_call: dict[str, list[int]] = {v.name: [] for v in variants}
        per_round: dict[str, list[float]] = {v.name: [] for v in variants}
        count = len(variants)
        for r in range(self.rounds):
            shift = (r * count) // self.rounds if count else 0
            order = list(variants[shift:]) + list(variants[:shift])
            if r % 2:
                order.reverse()
            for j, v in enumerate(order):
                self.progress.update(
                    f"round {r + 1}/{self.rounds}", f"variant {j + 1}/{count} {v.name}"
                )
                if isinstance(v, Remote):
                    times = v.run(v.ops, False)  # noqa: FBT003
                    extra = 0
                else:
                    times, extra = self._local_round(v, self.ops if v.ops is None else v.ops)
                per_call[v.name].extend(times)
                total = sum(times) + extra
                per_round[v.name].append(len(times) / (total / 1e9) if total else 0.0)
        results: dict[str, Result] = {}
        for v in variants:
            calls = sorted(per_call[v.name])
            ops_s = statistics.median(per_round[v.name]) if per_round[v.name] else 0.0
            results[v.name] = Result(
                name=v.name,
                ops_per_s=ops_s,
                us_per_op=1e6 / ops_s if ops_s else 0.0,
                p50_us=percentile(calls, 0.50) / 1e3,
                p99_us=percentile(calls, 0.99) / 1e3,
                rounds_ops_per_s=per_round[v.name],
                calls=len(calls),
                tags=dict(v.tags),
            )
        return results
