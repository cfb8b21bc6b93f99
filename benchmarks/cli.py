# ruff: noqa: RUF001 - the tables print multiplication signs and dashes on purpose
"""The command: ``python -m benchmarks [--smoke] [--vs-prefect] [--stored N,M] [--json F]``.

It builds one world per adapter and stored count (prefilled fast), the floors, and
optionally Prefect's worker; times every variant in the same interleaved rounds; measures
bytes per stored run; prints Markdown tables and the issue's targets; writes JSON
(``benchmarks/results/latest.json`` by default).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import floors, memory, scenarios
from benchmarks.progress import Progress
from benchmarks.report import Report
from benchmarks.timing import Remote, Result, Runner, Variant

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="flowrun-core benchmarks: ratios to floors and to Prefect, one run.",
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes, no Prefect: seconds")
    p.add_argument("--vs-prefect", action="store_true", help="also time Prefect 3.9.1")
    p.add_argument("--prefect-python", help="an interpreter that has prefect==3.9.1")
    p.add_argument(
        "--stored",
        default=None,
        help="runs already stored, comma-separated (default 10000,1000000; smoke 100,200)",
    )
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    p.add_argument("--adapters", default="memory,sqlite", help="memory,sqlite")
    p.add_argument("--rounds", type=int, default=None, help="rounds (default 7; smoke 3)")
    p.add_argument("--ops", type=int, default=None, help="calls per variant per round")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls per variant")
    p.add_argument("--prefect-ops", type=int, default=80, help="Prefect calls per round")
    p.add_argument("--memory-runs", type=int, default=None, help="creates for tracemalloc")
    p.add_argument(
        "--gc",
        choices=("off", "on"),
        default="off",
        help="garbage collector inside timed regions (off, as PERFORMANCE.md §3)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="also time the PostgreSQL adapter (1 and 8 clients) beside SQLite at this URL",
    )
    args = p.parse_args(argv)
    smoke = args.smoke
    args.stored = [
        int(x) for x in (args.stored or ("100,200" if smoke else "10000,1000000")).split(",")
    ]
    args.stored = sorted(set(args.stored))
    args.rounds = args.rounds or (3 if smoke else 7)
    args.ops = args.ops or (20 if smoke else 500)
    args.warmup = args.warmup if args.warmup is not None else (5 if smoke else 100)
    args.memory_runs = args.memory_runs or (50 if smoke else 5000)
    args.adapters = [a for a in args.adapters.split(",") if a]
    if smoke and args.vs_prefect:
        p.error("--smoke never runs Prefect")
    return args


def _versions() -> dict[str, str]:
    found = {}
    for dist in ("flowrun-core", "attrs", "cattrs", "sqlite-utils", "jsonschema", "coolname"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "?"
    found["python"] = platform.python_version()
    found["sqlite"] = sqlite3.sqlite_version
    return found


@dataclass
class _Setup:
    """Everything built before the rounds start (closed by :meth:`close`)."""

    worlds: list[scenarios.World] = field(default_factory=list)
    sqlite_floor: floors.SQLiteFloor | None = None
    worker: Any = None
    prefect_info: dict[str, Any] = field(default_factory=dict)
    variants: list[Variant | Remote] = field(default_factory=list)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        if self.sqlite_floor is not None:
            self.sqlite_floor.close()
        for world in self.worlds:
            world.close()


def _build(args: argparse.Namespace, directory: Path, progress: Progress, setup: _Setup) -> None:
    """Worlds (prefilled), floors, Prefect's worker: every variant to time."""
    for adapter in args.adapters:
        for stored in args.stored:
            progress.update(f"prefill {adapter}@{scenarios.human(stored)}", force=True)
            world = scenarios.open_world(adapter, stored, directory)
            setup.worlds.append(world)
            scenarios.prefill(world, progress)
    setup.variants.append(floors.memory_floor())
    if "sqlite" in args.adapters:
        base = next(w for w in setup.worlds if w.adapter == "sqlite" and w.stored == args.stored[0])
        progress.update("sqlite floor", f"prefill {args.stored[0]:,}", force=True)
        setup.sqlite_floor = floors.SQLiteFloor(
            directory,
            scenarios.template_row(base),
            args.stored[0],
            ops=args.ops + args.warmup,
            rounds=args.rounds,
        )
        setup.variants += setup.sqlite_floor.variants()
    for world in setup.worlds:
        setup.variants += scenarios.variants(world)
    if args.vs_prefect:
        from benchmarks import prefect_vs  # noqa: PLC0415

        python = prefect_vs.prefect_python(args.prefect_python, progress)
        progress.update("prefect", "starting its API app (about 10 s)", force=True)
        setup.worker = prefect_vs.PrefectWorker(python)
        setup.prefect_info = setup.worker.setup()
        setup.prefect_info["python_path"] = python
        setup.variants += setup.worker.remotes(args.prefect_ops, min(args.warmup, 50))


def _measure_memory(args: argparse.Namespace, setup: _Setup) -> dict[str, Any]:
    info: dict[str, Any] = {
        "memory_bytes_per_run": memory.memory_bytes_per_run(args.memory_runs),
        "memory_runs_measured": args.memory_runs,
        "sqlite": {
            w.label: memory.disk_bytes_per_run(w) for w in setup.worlds if w.adapter == "sqlite"
        },
    }
    if setup.sqlite_floor is not None:
        info["sqlite_floor_bytes_per_row"] = setup.sqlite_floor.bytes_per_row()
    return info


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 on success (misses are reported, not failures)."""
    args = parse_args(argv)
    progress = Progress(enabled=not args.no_progress)
    started = time.perf_counter()
    setup = _Setup()
    gc_was = gc.isenabled()
    with tempfile.TemporaryDirectory(prefix="flowrun-bench-") as tmp:
        try:
            gc.disable()  # prefill allocates millions of long-lived objects
            _build(args, Path(tmp), progress, setup)
            if gc_was:
                gc.enable()
            gc.collect()
            gc.freeze()  # the prefilled stores are long-lived: keep collections cheap
            runner = Runner(
                rounds=args.rounds,
                ops=args.ops,
                warmup=args.warmup,
                gc_off=args.gc == "off",
                progress=progress,
            )
            results = runner.run(setup.variants)
            progress.update("memory", f"tracemalloc over {args.memory_runs:,} creates", force=True)
            mem_info = _measure_memory(args, setup)
        finally:
            setup.close()
            gc.unfreeze()
            if gc_was:
                gc.enable()
        progress.done()
    report = Report(results, args.stored)
    elapsed = time.perf_counter() - started
    print(render(report, mem_info, setup.prefect_info, args, elapsed))
    payload = _payload(args, argv, report, results, setup, mem_info, elapsed)
    if args.postgres:
        from benchmarks import postgres_bench  # noqa: PLC0415 - needs the [postgres] extra

        clients = 8
        figures = postgres_bench.compare(args.postgres, ops=args.ops * 2, clients=clients)
        print("\n### PostgreSQL (issue 10)\n")
        print(postgres_bench.table(figures, clients))
        payload["postgres"] = figures
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nJSON written to {args.json}")
    return 0


def _payload(  # noqa: PLR0917 - one private call site
    args: argparse.Namespace,
    argv: list[str] | None,
    report: Report,
    results: dict[str, Result],
    setup: _Setup,
    mem_info: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    flowrun = {k: r for k, r in results.items() if r.tags.get("adapter") in {"memory", "sqlite"}}
    return {
        "meta": {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else argv,
            "smoke": args.smoke,
            "rounds": args.rounds,
            "ops_per_round": args.ops,
            "warmup": args.warmup,
            "prefect_ops_per_round": args.prefect_ops if args.vs_prefect else None,
            "stored": args.stored,
            "gc_in_timed_regions": args.gc,
            "machine": {
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "processor": platform.processor() or platform.machine(),
                "load_average": list(os.getloadavg()),
            },
            "versions": _versions(),
            "prefect": setup.prefect_info or None,
            "prefill_seconds": {w.label: w.prefill_seconds for w in setup.worlds},
            "elapsed_seconds": elapsed,
        },
        "results": {k: r.as_json() for k, r in results.items()},
        "floor_ratios": {
            k: report.floor_ratios(r.tags["adapter"], k)
            for k, r in flowrun.items()
            if "floor" not in r.tags
        },
        "prefect_ratios": {
            k: report.speedup(k, f"prefect/http/{r.tags['scenario']}")
            for k, r in flowrun.items()
            if args.vs_prefect and "scenario" in r.tags
        },
        "scaling": report.scaling(),
        "memory": mem_info,
        "targets": [t.as_json() for t in report.targets()],
    }


LEGEND = (
    "time ÷ floor: this figure's time per create over its floor's, measured in the same "
    "rounds at {base:,} stored. memory: the in-memory floor (2× uuid4, a timestamp, a slug, "
    "a 32-field frozen attrs record, a dict insert). sqlite: 'tx' = raw sqlite3 writing the "
    "same rows with ALL inserts of a round in ONE transaction (the issue's reference); "
    "'ac' = one transaction per insert (autocommit: a commit each, as a create pays). "
    "× Prefect: runs/s over Prefect 3.9.1's POST /deployments/{{id}}/create_flow_run "
    "(its API app in process over httpx, same scenario, same rounds)."
)


def render(
    report: Report,
    mem_info: dict[str, Any],
    prefect_info: dict[str, Any],
    args: argparse.Namespace,
    elapsed: float,
) -> str:
    """Every table, with a legend."""
    parts = [
        (
            f"## flowrun-core benchmarks ({'smoke' if args.smoke else 'full'}; "
            f"{args.rounds} rounds × {args.ops} calls per variant, median of rounds; "
            f"GC {args.gc} in timed regions; {elapsed:.0f} s)"
        ),
        "",
        report.main_table(),
        "",
        LEGEND.format(base=report.base),
        "",
        report.reference_table(),
    ]
    if report.top != report.base:
        parts += ["", report.scaling_table()]
    parts += ["", "### Bulk create (issue 8)", "", report.bulk_table()]
    disk = "; ".join(
        f"{label}: {info['bytes_per_run']:,.0f} B/run" for label, info in mem_info["sqlite"].items()
    )
    parts += [
        "",
        f"Memory: {mem_info['memory_bytes_per_run']:,.0f} bytes per stored run in memory "
        f"(tracemalloc over {mem_info['memory_runs_measured']:,} creates); on disk "
        f"(file size ÷ runs after a checkpoint) {disk or '–'}"
        + (
            f"; raw floor table {mem_info['sqlite_floor_bytes_per_row']:,.0f} B/row"
            if "sqlite_floor_bytes_per_row" in mem_info
            else ""
        ),
    ]
    if prefect_info:
        parts += [
            "",
            (
                f"Prefect {prefect_info.get('prefect')} on Python {prefect_info.get('python')} "
                f"({prefect_info.get('python_path')}): import "
                f"{prefect_info.get('import_seconds', 0):.1f} s, ready after "
                f"{prefect_info.get('start_seconds', 0):.1f} s."
            ),
        ]
    parts += ["", "### Targets (issue 6)", "", report.targets_table()]
    return "\n".join(parts)
