"""The fuzz campaign (not collected by pytest): ``bash scripts/fuzz.sh [N] [SEED]``.

Runs N seeded cases (default 100,000) of :mod:`harness` over worlds of three kinds (the
in-memory adapter, SQLite on a real file, and the in-memory adapter behind a storage-fault
injector), split over worker processes, and prints::

    100000 inputs, 0 unexpected outcomes (SEED 1, 2 workers, 95.3 s)

followed by a breakdown by world and status. Each unexpected outcome is printed with the
command that replays it alone. The exit status is 1 when there was any.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness

RESET_EVERY = 2000
KINDS = ("memory", "memory", "memory", "sqlite", "faulty")


def world_kind(number: int) -> str:
    """World ``number`` of every campaign has this kind (memory 3/5, SQLite 1/5, faults 1/5)."""
    return KINDS[number % len(KINDS)]


def _worker(args: tuple[int, int, int, str]) -> tuple[dict[str, int], list[str]]:
    seed, start, stop, tmp = args
    unexpected: list[str] = []

    def factory(number: int) -> harness.World:
        return harness.build_world(
            world_kind(number), path=Path(tmp) / f"world-{number}.db", rng=random.Random(number)
        )

    def on_case(index: int, case: harness.Case, outcome: str) -> None:
        if outcome.startswith("UNEXPECTED"):
            unexpected.append(
                f"case {index} ({case.family}): {outcome}\n"
                f"  replay: python tests/fuzz/campaign.py --seed {seed} --replay {index}"
            )

    outcomes = harness.run_cases(
        factory, seed, range(start, stop), reset_every=RESET_EVERY, on_case=on_case
    )
    return outcomes, unexpected


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    """World-aligned chunks, so each world is built by one worker only."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def replay(seed: int, index: int) -> int:
    """Run one case alone, printing the request and the outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        number = index // RESET_EVERY
        world = harness.build_world(
            world_kind(number), path=Path(tmp) / "w.db", rng=random.Random(number)
        )
        case = harness.make_case(random.Random(f"{seed}:{index}"), world)
        print(f"world {world.kind}, family {case.family}")
        print(f"path id {case.deployment_id!r}, headers {case.headers!r}")
        print(f"body {case.body[:2000]!r}" if case.body else f"body {case.body!r}")
        outcome = harness.check(world, case)
        world.close()
    print(outcome)
    return 1 if outcome.startswith("UNEXPECTED") else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replay", type=int, default=None, metavar="INDEX")
    options = parser.parse_args()
    if options.replay is not None:
        return replay(options.seed, options.replay)
    started = time.perf_counter()
    totals: Counter[str] = Counter()
    unexpected: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flowrun-fuzz-") as tmp:
        jobs = [
            (options.seed, start, stop, tmp) for start, stop in _chunks(options.count, RESET_EVERY)
        ]
        context = multiprocessing.get_context("spawn")
        with context.Pool(options.workers) as pool:
            for outcomes, problems in pool.imap_unordered(_worker, jobs):
                totals.update(outcomes)
                unexpected.extend(problems)
    elapsed = time.perf_counter() - started
    count = sum(totals.values())
    bad = sum(n for key, n in totals.items() if key.startswith("UNEXPECTED"))
    print(
        f"{count} inputs, {bad} unexpected outcomes "
        f"(seed {options.seed}, {options.workers} workers, {elapsed:.1f} s)"
    )
    by_status: Counter[str] = Counter()
    for key, n in totals.items():
        by_status["UNEXPECTED" if key.startswith("UNEXPECTED") else key.split()[-1]] += n
    print("by status: " + ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items())))
    for key, n in sorted(totals.items()):
        print(f"  {n:>7}  {key}")
    for line in unexpected[:50]:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
