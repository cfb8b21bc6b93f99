"""The SQLite adapter across real processes: races, concurrent first opens, SIGKILL.

Children run ``sqlite_worker.py`` with this interpreter, on real files in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowrun_adapters.sqlite import SCHEMA_VERSION, SQLiteRepository
from flowrun_adapters.sqlite.migrations import MIGRATIONS

from flowrun_core.models import Flow

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("sqlite_worker.py")
TIMEOUT = 60


class Children:
    """Spawns worker processes and always reaps them (and closes their pipes)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def reap(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=TIMEOUT)
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    try:
        yield kids
    finally:
        kids.reap()


def finish(proc: subprocess.Popen[str]) -> list[object]:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def seeded(tmp_path: Path) -> tuple[str, uuid.UUID]:
    db = str(tmp_path / "flowrun.db")
    flow_id = uuid.uuid4()
    with SQLiteRepository(db) as repo:
        repo.add_flow(Flow(id=flow_id, name="racing"))
    return db, flow_id


def test_concurrent_first_open_migrates_once(tmp_path: Path, children: Children) -> None:
    db = str(tmp_path / "fresh.db")
    procs = [children.spawn("open", db) for _ in range(8)]
    results = [finish(proc) for proc in procs]
    assert all(r == [{"version": SCHEMA_VERSION, "count": 0}] for r in results), results
    with sqlite3.connect(db) as conn:
        names = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'flowrun' ORDER BY id"
        ).fetchall()
    assert names == [
        ("0001_initial",),
        ("0002_flow_run_filters",),
        ("0003_flow_run_fingerprints",),
        ("0004_keyed_runs_index",),
    ]


def test_8_processes_opening_each_new_file_at_once_never_see_it_locked(
    tmp_path: Path, children: Children
) -> None:
    # Opened at the same moment, a new file is being turned to WAL by one process while the
    # others ask for the same: SQLite may answer those "database is locked" at once, without
    # waiting (before the fix, about one open in fifty failed so). 8 x 25 opens.
    rounds = 25
    procs = [children.spawn("open-rounds", str(tmp_path), str(rounds)) for _ in range(8)]
    for proc in procs:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == "ready"
    answers = []
    for _ in range(rounds):
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            answers.append(json.loads(proc.stdout.readline()))
    assert [a for a in answers if "error" in a] == []
    assert all(a["version"] == SCHEMA_VERSION and a["journal_mode"] == "wal" for a in answers)
    assert Counter(a["round"] for a in answers) == dict.fromkeys(range(rounds), 8)
    for proc in procs:
        assert finish(proc) == []
    for number in range(rounds):
        with sqlite3.connect(tmp_path / f"round-{number}.db") as conn:
            migrations = conn.execute(
                "SELECT count(*) FROM _sqlite_migrations WHERE migration_set = 'flowrun'"
            ).fetchone()[0]
        assert migrations == len(MIGRATIONS._migrations)


def test_same_new_key_8_processes_x_4_threads_one_winner(
    tmp_path: Path, children: Children
) -> None:
    db, flow_id = seeded(tmp_path)
    key = f"race-{uuid.uuid4()}"
    procs = [children.spawn("race", db, str(flow_id), key, "4") for _ in range(8)]
    for proc in procs:  # every child is open, its threads waiting on one event
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [r for proc in procs for r in finish(proc)]
    assert len(results) == 32
    assert all(isinstance(r, dict) and "error" not in r for r in results), results
    ids = {r["id"] for r in results if isinstance(r, dict)}
    created = [r for r in results if isinstance(r, dict) and r["created"]]
    assert len(ids) == 1
    assert len(created) == 1
    with SQLiteRepository(db) as repo:
        assert repo.raw_flow_run_count() == 1
        stored = repo.get_flow_run_by_idempotency_key(flow_id, key)
        assert stored is not None
        assert str(stored.id) in ids


def test_many_processes_distinct_keys_lose_nothing(tmp_path: Path, children: Children) -> None:
    db, flow_id = seeded(tmp_path)
    processes, threads, count = 4, 3, 40
    procs = [
        children.spawn("load", db, str(flow_id), str(threads), str(count), f"p{i}")
        for i in range(processes)
    ]
    results = [r for proc in procs for r in finish(proc)]
    assert len(results) == processes * threads
    errors = [e for r in results if isinstance(r, dict) for e in r["errors"]]
    assert errors == []  # in particular, no "database is locked"
    assert sum(r["created"] for r in results if isinstance(r, dict)) == processes * threads * count
    with SQLiteRepository(db) as repo:
        assert repo.raw_flow_run_count() == processes * threads * count
        keys = Counter(run.idempotency_key for run in repo.list_flow_runs())
    assert keys[None] == processes * threads * ((count + 2) // 3)
    assert all(n == 1 for key, n in keys.items() if key is not None)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_acknowledged_runs_survive_sigkill(tmp_path: Path, children: Children) -> None:
    db, flow_id = seeded(tmp_path)
    proc = children.spawn("stream", db, str(flow_id))
    assert proc.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < 150:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "child died"
            acknowledged.append(json.loads(line))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    # Lines the child printed before it died but the parent had not read yet count too.
    acknowledged += [
        json.loads(line)
        for line in proc.stdout.read().splitlines(keepends=True)
        if line.endswith("\n")
    ]
    # No clean close removed the WAL file: opening must recover from it.
    assert Path(db + "-wal").exists()
    with SQLiteRepository(db) as repo:
        stored = {str(run.id) for run in repo.list_flow_runs()}
        assert set(acknowledged) <= stored
        assert len(stored) - len(acknowledged) <= 1  # at most the one in flight
        check = repo._conn.execute("PRAGMA integrity_check").fetchall()
        assert check == [("ok",)]
        fk = repo._conn.execute("PRAGMA foreign_key_check").fetchall()
        assert fk == []
