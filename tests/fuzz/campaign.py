"""The fuzz campaign (not collected by pytest): ``bash scripts/fuzz.sh [N] [SEED]``.

Runs N seeded cases (default 100,000) of :mod:`harness` over worlds of three kinds (the
in-memory adapter, SQLite on a real file, and the in-memory adapter behind a storage-fault
injector), split over worker processes, and prints::

    100000 inputs, 0 unexpected outcomes (SEED 1, 2 workers, 95.3 s)

followed by a breakdown by world and status. Each unexpected outcome is printed with the
command that replays it alone. The exit status is 1 when there was any.

``--differential`` sends every case instead to one world seeded twice, in memory and on
SQLite, with the same repeatable clock, ids and names (``harness.Pair``): any difference
between the two answers, status or body byte, is an unexpected outcome too.
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


def build(
    number: int, directory: Path, *, differential: bool, against: str | None = None
) -> harness.World | harness.Pair:
    """World ``number`` of a campaign (a memory/SQLite or memory/``against`` pair)."""
    path = directory / f"world-{number}.db"
    if differential:
        return harness.build_pair(number, path, against)
    return harness.build_world(world_kind(number), path=path, rng=random.Random(number))


def _worker(
    args: tuple[int, int, int, str, bool, str | None],
) -> tuple[dict[str, int], list[str]]:
    seed, start, stop, tmp, differential, against = args
    unexpected: list[str] = []
    flag = " --differential" if differential else ""
    flag += f" --against {against}" if against else ""

    def factory(number: int) -> harness.World | harness.Pair:
        return build(number, Path(tmp), differential=differential, against=against)

    def on_case(index: int, case: harness.Case, outcome: str) -> None:
        if outcome.startswith("UNEXPECTED"):
            unexpected.append(
                f"case {index} ({case.family}): {outcome}\n"
                f"  replay: python tests/fuzz/campaign.py --seed {seed}{flag} --replay {index}"
            )

    outcomes = harness.run_cases(
        factory, seed, range(start, stop), reset_every=RESET_EVERY, on_case=on_case
    )
    return outcomes, unexpected


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    """World-aligned chunks, so each world is built by one worker only."""
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def replay(seed: int, index: int, *, differential: bool = False, against: str | None = None) -> int:
    """Run one case alone, printing the request and the outcome.

    Alone means on a fresh world: a difference that needs the earlier cases of its world
    (in a differential campaign, a store that drifted) may not show again.
    """
    with tempfile.TemporaryDirectory() as tmp:
        world = build(index // RESET_EVERY, Path(tmp), differential=differential, against=against)
        target = world.left if isinstance(world, harness.Pair) else world
        case = harness.make_case(random.Random(f"{seed}:{index}"), target)
        print(f"world {world.kind}, family {case.family}")
        print(f"path id {case.deployment_id!r}, headers {case.headers!r}")
        print(f"body {case.body[:2000]!r}" if case.body else f"body {case.body!r}")
        if isinstance(world, harness.Pair):
            outcome = harness.check_pair(world, case)
        else:
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
    parser.add_argument(
        "--differential",
        action="store_true",
        help="send every case to memory and SQLite twins and compare their answers",
    )
    parser.add_argument(
        "--against",
        metavar="URL",
        default=None,
        help="with --differential: a postgresql:// database to compare memory with instead",
    )
    options = parser.parse_args()
    if options.against and not options.differential:
        parser.error("--against needs --differential")
    if options.replay is not None:
        return replay(
            options.seed,
            options.replay,
            differential=options.differential,
            against=options.against,
        )
    started = time.perf_counter()
    totals: Counter[str] = Counter()
    unexpected: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flowrun-fuzz-") as tmp:
        jobs = [
            (options.seed, start, stop, tmp, options.differential, options.against)
            for start, stop in _chunks(options.count, RESET_EVERY)
        ]
        context = multiprocessing.get_context("spawn")
        with context.Pool(options.workers) as pool:
            for outcomes, problems in pool.imap_unordered(_worker, jobs):
                totals.update(outcomes)
                unexpected.extend(problems)
    elapsed = time.perf_counter() - started
    count = sum(totals.values())
    bad = sum(n for key, n in totals.items() if key.startswith("UNEXPECTED"))
    mode = ""
    if options.differential:
        mode = ", memory = PostgreSQL" if options.against else ", memory = SQLite"
    print(
        f"{count} inputs, {bad} unexpected outcomes "
        f"(seed {options.seed}, {options.workers} workers{mode}, {elapsed:.1f} s)"
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
