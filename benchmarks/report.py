# ruff: noqa: RUF001 - the tables print multiplication signs and dashes on purpose
"""Tables (Markdown, so the README can quote them), the issue's targets, and the JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.scenarios import ADAPTERS, PATHS, SCENARIOS, human
from benchmarks.timing import Result


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with padded columns."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×" if x < 10 else f"{x:,.0f}×"


def name(adapter: str, path: str, scenario: str, stored: int) -> str:
    """The variant name of one flowrun figure."""
    return f"{adapter}/{path}/{scenario}/{human(stored)}"


@dataclass
class Target:
    """One row of the issue's targets table."""

    measure: str
    target: str
    value: float | None
    passed: bool | None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "measure": self.measure,
            "target": self.target,
            "value": self.value,
            "status": self.status,
            "note": self.note,
        }

    @property
    def status(self) -> str:
        """PASS, MISS or SKIP."""
        if self.passed is None:
            return "SKIP"
        return "PASS" if self.passed else "MISS"


class Report:
    """Derives ratios from one run's results and renders them."""

    def __init__(self, results: dict[str, Result], stored: Sequence[int]) -> None:
        self.results = results
        self.stored = list(stored)
        self.base = self.stored[0]
        self.top = self.stored[-1]

    def get(self, key: str) -> Result | None:
        """The result named ``key``, if measured."""
        return self.results.get(key)

    def us(self, key: str) -> float | None:
        """Microseconds per operation (from the median throughput)."""
        r = self.get(key)
        return None if r is None or not r.ops_per_s else r.us_per_op

    def ops(self, key: str) -> float | None:
        """Operations per second (median over rounds)."""
        r = self.get(key)
        return None if r is None else r.ops_per_s

    def over(self, a: str, b: str) -> float | None:
        """Time per op of ``a`` ÷ time per op of ``b``."""
        ua, ub = self.us(a), self.us(b)
        return None if ua is None or ub is None or not ub else ua / ub

    def speedup(self, a: str, b: str) -> float | None:
        """Throughput of ``a`` ÷ throughput of ``b``."""
        oa, ob = self.ops(a), self.ops(b)
        return None if oa is None or ob is None or not ob else oa / ob

    def floor_ratios(self, adapter: str, key: str) -> dict[str, float | None]:
        """The figure's time per op over its floor(s), measured at the base stored count."""
        if adapter == "memory":
            return {"memory": self.over(key, "floor/memory")}
        return {
            "one_tx": self.over(key, f"floor/sqlite-one-tx/{human(self.base)}"),
            "autocommit": self.over(key, f"floor/sqlite-autocommit/{human(self.base)}"),
        }

    # -- tables ---------------------------------------------------------------------------

    def main_table(self) -> str:
        """Every flowrun figure with its floor and Prefect ratios."""
        rows: list[list[str]] = []
        for adapter in ADAPTERS:
            for stored in self.stored:
                for path in PATHS:
                    for scenario in SCENARIOS:
                        key = name(adapter, path, scenario, stored)
                        r = self.get(key)
                        if r is None:
                            continue
                        floors = self.floor_ratios(adapter, key)
                        if adapter == "memory":
                            floor_text = _ratio(floors["memory"])
                        else:
                            floor_text = (
                                f"{_ratio(floors['one_tx'])} tx · {_ratio(floors['autocommit'])} ac"
                            )
                        vs = self.speedup(key, f"prefect/http/{scenario}")
                        rows.append(
                            [
                                adapter,
                                path,
                                scenario,
                                human(stored),
                                _num(r.ops_per_s),
                                _num(r.p50_us),
                                _num(r.p99_us),
                                floor_text,
                                _ratio(vs),
                            ]
                        )
        return table(
            [
                "adapter",
                "path",
                "scenario",
                "stored",
                "runs/s",
                "p50 µs",
                "p99 µs",
                "time ÷ floor",
                "× Prefect",
            ],
            rows,
        )

    def reference_table(self) -> str:
        """Floors and Prefect, measured in the same rounds."""
        rows = [
            [key, _num(r.ops_per_s), _num(r.p50_us), _num(r.p99_us)]
            for key, r in self.results.items()
            if key.startswith(("floor/", "prefect/"))
        ]
        return table(["reference", "ops/s", "p50 µs", "p99 µs"], rows)

    def scaling(self) -> dict[str, float | None]:
        """Throughput at the top stored count ÷ at the base, per (adapter, path, scenario)."""
        found: dict[str, float | None] = {}
        if self.top == self.base:
            return found
        for adapter in ADAPTERS:
            for path in PATHS:
                for scenario in SCENARIOS:
                    found[f"{adapter}/{path}/{scenario}"] = self.speedup(
                        name(adapter, path, scenario, self.top),
                        name(adapter, path, scenario, self.base),
                    )
        return found

    def scaling_table(self) -> str:
        """The scaling ratios as a table."""
        rows = []
        for key, ratio in self.scaling().items():
            adapter, path, scenario = key.split("/")
            lo = self.ops(name(adapter, path, scenario, self.base))
            hi = self.ops(name(adapter, path, scenario, self.top))
            if lo is None or hi is None:
                continue
            rows.append([adapter, path, scenario, _num(lo), _num(hi), _ratio(ratio)])
        return table(
            [
                "adapter",
                "path",
                "scenario",
                f"runs/s @{human(self.base)}",
                f"runs/s @{human(self.top)}",
                f"{human(self.top)} ÷ {human(self.base)}",
            ],
            rows,
        )

    def bulk_speedup(self, adapter: str, stored: int) -> float | None:
        """Runs/s of a bulk create (100 per call) ÷ runs/s of single plain creates."""
        bulk = self.get(f"{adapter}/service/bulk/{human(stored)}")
        single = self.ops(name(adapter, "service", "plain", stored))
        if bulk is None or single is None or not single:
            return None
        return bulk.ops_per_s * bulk.tags.get("runs_per_op", 1) / single

    def bulk_table(self) -> str:
        """Bulk create (one commit per batch) against single creates, per adapter and size."""
        rows: list[list[str]] = []
        for adapter in ADAPTERS:
            for stored in self.stored:
                bulk = self.get(f"{adapter}/service/bulk/{human(stored)}")
                single = self.ops(name(adapter, "service", "plain", stored))
                if bulk is None:
                    continue
                per_op = bulk.tags.get("runs_per_op", 1)
                rows.append(
                    [
                        adapter,
                        human(stored),
                        _num(bulk.ops_per_s * per_op),
                        "–" if single is None else _num(single),
                        _ratio(self.bulk_speedup(adapter, stored)),
                    ]
                )
        return table(
            ["adapter", "stored", "bulk runs/s (100 per call)", "single runs/s", "bulk × single"],
            rows,
        )

    # -- targets --------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        """The issue's targets, each with the ratio this run measured."""
        base = self.base
        mem = name("memory", "service", "plain", base)
        sql = name("sqlite", "service", "plain", base)
        found: list[Target] = []

        def at_most(measure: str, limit: float, value: float | None, note: str = "") -> None:
            found.append(
                Target(
                    measure,
                    f"≤ {limit:g}×",
                    value,
                    None if value is None else value <= limit,
                    note,
                )
            )

        def at_least(measure: str, limit: float, value: float | None, note: str = "") -> None:
            found.append(
                Target(
                    measure,
                    f"≥ {limit:g}×",
                    value,
                    None if value is None else value >= limit,
                    note or ("run with --vs-prefect" if value is None else ""),
                )
            )

        at_most("In-memory create (service) ÷ in-memory floor", 3, self.over(mem, "floor/memory"))
        at_least(
            "In-memory create (service) × Prefect (HTTP, plain)",
            300,
            self.speedup(mem, "prefect/http/plain"),
        )
        one_tx = f"floor/sqlite-one-tx/{human(base)}"
        # What a commit per call costs by itself: raw sqlite3, one commit per insert, over
        # the one-transaction floor. No create that commits per call can do better.
        bound = self.over(f"floor/sqlite-autocommit/{human(base)}", one_tx)
        at_most(
            "SQLite create (service, file) ÷ raw sqlite3, all rows in ONE transaction",
            1.5,
            self.over(sql, one_tx),
            "the issue's target"
            + ("" if bound is None else f"; raw sqlite3 committing each insert: {_ratio(bound)}"),
        )
        at_most(
            "SQLite create (service, file) ÷ raw sqlite3, one transaction PER insert",
            1.5,
            self.over(sql, f"floor/sqlite-autocommit/{human(base)}"),
            "reference: same commit count as a create",
        )
        at_least(
            "SQLite create (service, file) × Prefect (HTTP, plain)",
            100,
            self.speedup(sql, "prefect/http/plain"),
        )
        for adapter in ADAPTERS:
            plain = name(adapter, "service", "plain", base)
            at_most(
                f"Schema-enforced ÷ plain create ({adapter}, service)",
                1.3,
                self.over(name(adapter, "service", "enforced", base), plain),
            )
        for adapter in ADAPTERS:
            plain = name(adapter, "service", "plain", base)
            at_most(
                f"Idempotent hit ÷ create ({adapter}, service)",
                1.0,
                self.over(name(adapter, "service", "idempotent", base), plain),
            )
        at_least(
            "SQLite bulk create (100 per call) × single creates (service, plain)",
            5,
            self.bulk_speedup("sqlite", base),
            "issue 8",
        )
        for adapter in ADAPTERS:
            if self.top == self.base:
                break
            ratio = self.speedup(
                name(adapter, "service", "plain", self.top),
                name(adapter, "service", "plain", base),
            )
            found.append(
                Target(
                    f"Throughput {human(self.top)} ÷ {human(base)} stored ({adapter}, service)",
                    "0.75–1.25×",
                    ratio,
                    None if ratio is None else 0.75 <= ratio <= 1.25,
                )
            )
        return found

    def targets_table(self) -> str:
        """The targets as a table."""
        rows = [
            [t.measure, t.target, _ratio(t.value), t.status + (f" ({t.note})" if t.note else "")]
            for t in self.targets()
        ]
        return table(["measure", "target", "measured", "status"], rows)
