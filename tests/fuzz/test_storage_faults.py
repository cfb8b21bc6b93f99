"""Storage faults seen through the wire façade, with real SQLite files and real processes.

``tests/adapters/test_sqlite.py`` pins the adapter's typed errors (locked, read-only, full,
corrupt) and ``test_sqlite_processes.py`` SIGKILL durability of the adapter's own creates.
Here every fault goes edge to edge: the request goes through ``handle_create_flow_run``,
the answer is 503 ``{"exception_message": "Service Unavailable"}``, and nothing is written.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowrun_adapters.sqlite import SQLiteRepository

from flowrun_core.models import Variable
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import WireResponse, handle_create_flow_run

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("fault_worker.py")
TIMEOUT = 60
UNAVAILABLE = {"exception_message": "Service Unavailable"}


def seed(db: Path) -> str:
    """A file holding one deployment on a pool; returns the deployment's id."""
    with SQLiteRepository(db) as repo:
        seeder = Seeder(repo)
        flow = seeder.flow("faults")
        seeder.work_pool("pool")
        deployment = seeder.deployment(flow, "d", work_pool_name="pool")
    return str(deployment.id)


def post(repo: Any, deployment_id: str, body: dict[str, Any]) -> WireResponse:
    response = handle_create_flow_run(
        FlowRunService(repo), deployment_id, json.dumps(body).encode()
    )
    json.loads(response.body)  # always a JSON body
    return response


def integrity(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall()


def run_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM flow_runs").fetchone()[0])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "faults.db"


@pytest.fixture
def child() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def spawn(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    return proc


def test_lock_held_by_another_process_past_the_busy_timeout(
    db: Path, child: list[subprocess.Popen[str]]
) -> None:
    deployment_id = seed(db)
    holder = spawn(child, "lock", str(db))
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == '"locked"'
    with SQLiteRepository(db, busy_timeout=0.2) as repo:
        response = post(repo, deployment_id, {"name": "blocked", "work_queue_name": "new-q"})
        assert (response.status, response.json) == (503, UNAVAILABLE)
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.flush()
        holder.wait(timeout=TIMEOUT)
        assert run_count(db) == 0
        assert repo.get_work_queue_by_name(repo.get_work_pool_by_name("pool").id, "new-q") is None
        # The lock is gone: the same request now succeeds.
        assert (
            post(repo, deployment_id, {"name": "blocked", "work_queue_name": "new-q"}).status == 201
        )
    assert integrity(db) == [("ok",)]


def test_read_only_database(db: Path) -> None:
    deployment_id = seed(db)
    with SQLiteRepository(db, read_only=True) as repo:
        response = post(repo, deployment_id, {"name": "nope"})
        assert (response.status, response.json) == (503, UNAVAILABLE)
        # Reads still work: an unknown deployment is still a 404.
        missing = post(repo, "00000000-0000-0000-0000-000000000000", {})
        assert missing.status == 404
    assert run_count(db) == 0
    assert integrity(db) == [("ok",)]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file modes")
def test_read_only_directory_and_file(db: Path) -> None:
    deployment_id = seed(db)
    db.chmod(0o444)
    db.parent.chmod(0o555)
    try:
        with SQLiteRepository(db) as repo:
            response = post(repo, deployment_id, {"name": "nope"})
            assert (response.status, response.json) == (503, UNAVAILABLE)
    finally:
        db.parent.chmod(0o755)
        db.chmod(0o644)
    assert run_count(db) == 0


def test_full_database(db: Path) -> None:
    deployment_id = seed(db)
    repo = SQLiteRepository(db)
    try:
        pages = repo._conn.execute("PRAGMA page_count").fetchone()[0]
        repo._conn.execute(f"PRAGMA max_page_count = {pages + 64}")  # room for a few runs
        acknowledged = []
        for i in range(200):
            body = {
                "name": f"run-{i}",
                "idempotency_key": f"k{i}",
                "context": {"pad": "x" * 20_000},
            }
            before = run_count(db)
            response = post(repo, deployment_id, body)
            if response.status == 503:
                assert response.json == UNAVAILABLE
                assert run_count(db) == before
                break
            assert response.status == 201
            acknowledged.append(response.json["id"])  # type: ignore[index]
        else:
            pytest.fail("the database never filled up")
        assert acknowledged
        assert integrity(db) == [("ok",)]
        # A queue override that needs a new queue is refused whole, too.
        response = post(
            repo, deployment_id, {"work_queue_name": "late", "context": {"pad": "y" * 50_000}}
        )
        assert response.status == 503
        repo._conn.execute("PRAGMA max_page_count = 1000000")
        assert post(repo, deployment_id, {"name": "after"}).status == 201
    finally:
        repo.close()
    with SQLiteRepository(db) as again:
        stored = {str(run.id) for run in again.list_flow_runs()}
        assert set(acknowledged) <= stored
        assert len(stored) == len(acknowledged) + 1
        pool = again.get_work_pool_by_name("pool")
        assert pool is not None
        assert again.get_work_queue_by_name(pool.id, "late") is None
    assert integrity(db) == [("ok",)]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_every_acknowledged_create_survives_sigkill(
    db: Path, child: list[subprocess.Popen[str]]
) -> None:
    deployment_id = seed(db)
    proc = spawn(child, "stream", str(db), deployment_id)
    assert proc.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < 120:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "child died"
            status, run_id = json.loads(line)
            assert status == 201
            acknowledged.append(run_id)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    for line in proc.stdout.read().splitlines(keepends=True):
        if line.endswith("\n"):
            status, run_id = json.loads(line)
            if status == 201:
                acknowledged.append(run_id)
    with SQLiteRepository(db) as repo:
        stored = {str(run.id) for run in repo.list_flow_runs()}
    assert set(acknowledged) <= stored
    assert len(stored) - len(acknowledged) <= 1  # at most the one in flight
    assert integrity(db) == [("ok",)]
    # After the restart the service answers as before: the last key replays (200).
    with SQLiteRepository(db) as repo:
        last = len(acknowledged)
        replay = post(
            repo,
            deployment_id,
            {"idempotency_key": f"stream-{last}", "parameters": {"i": last}, "tags": [f"t{last}"]},
        )
        assert replay.status == 200
        assert replay.json["id"] == acknowledged[-1]  # type: ignore[index]


def test_deep_seeded_variable_does_not_crash(db: Path) -> None:
    with SQLiteRepository(db) as repo:
        seeder = Seeder(repo)
        flow = seeder.flow("deep")
        deployment = seeder.deployment(flow, "d")
        # Deeper than Prefect's variable route accepts (254), so written past the Seeder, as
        # another tool sharing the store could.
        deep = json.loads("[" * 600 + "]" * 600)
        repo.add_variable(Variable(id=uuid.uuid4(), name="deep", value=deep, tags=()))
        body = {
            "parameters": {"v": {"__prefect_kind": "workspace_variable", "variable_name": "deep"}}
        }
        response = post(repo, str(deployment.id), body)
        # No crash: the deep value is read, hydrated and measured without recursion, then
        # refused (Prefect would store the run and fail to serialize it: 500), storing nothing.
        assert response.status == 400
        assert response.json == {
            "detail": "Error hydrating flow run parameters: "
            "The hydrated parameters are nested too deeply."
        }
        assert json.loads(response.body) == response.json
        assert repo.count_flow_runs() == 0
