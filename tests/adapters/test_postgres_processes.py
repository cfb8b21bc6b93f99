"""The PostgreSQL adapter across real processes: one winner per key, nothing lost.

Children run ``postgres_worker.py`` with this interpreter against the server named by
``FLOWRUN_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), each
test in a fresh schema that is dropped afterwards. Without psycopg or a server these tests
are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install 'flowrun-core[postgres]'"
)

from flowrun_adapters.postgres import PostgresRepository  # noqa: E402
from flowrun_adapters.postgres.migrations import MIGRATIONS  # noqa: E402

from flowrun_core.models import Flow  # noqa: E402

URL = os.environ.get("FLOWRUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
WORKER = Path(__file__).with_name("postgres_worker.py")
TIMEOUT = 60


def _server_problem() -> str | None:
    try:
        with psycopg.connect(URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"no PostgreSQL server at {URL} ({first}); start one (`{START}`) or point "
            "FLOWRUN_TEST_POSTGRES_URL at one"
        )
    return None


_PROBLEM = _server_problem()
if _PROBLEM is not None and os.environ.get("FLOWRUN_REQUIRE_POSTGRES"):
    # scripts/check.sh saw a server: these tests must run, not skip.
    pytest.fail(f"FLOWRUN_REQUIRE_POSTGRES is set but {_PROBLEM}", pytrace=False)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or ""),
]


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


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"flowrun_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    psycopg.sql.Identifier(name)
                )
            )


def finish(proc: subprocess.Popen[str]) -> list[object]:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def seeded(schema: str) -> uuid.UUID:
    flow_id = uuid.uuid4()
    with PostgresRepository(URL, schema=schema, pool_min=0) as repo:
        repo.add_flow(Flow(id=flow_id, name="racing"))
    return flow_id


def test_concurrent_first_open_migrates_once(schema: str, children: Children) -> None:
    procs = [children.spawn("open", URL, schema) for _ in range(8)]
    results = [finish(proc) for proc in procs]
    assert all(r == [{"count": 0}] for r in results), results
    with psycopg.connect(URL) as conn:
        versions = conn.execute(
            psycopg.sql.SQL("SELECT version FROM {}.schema_migrations ORDER BY 1").format(
                psycopg.sql.Identifier(schema)
            )
        ).fetchall()
    assert versions == [(migration.version,) for migration in MIGRATIONS]


def test_same_new_key_8_processes_x_4_threads_one_winner(schema: str, children: Children) -> None:
    flow_id = seeded(schema)
    key = f"race-{uuid.uuid4()}"
    procs = [children.spawn("race", URL, schema, str(flow_id), key, "4") for _ in range(8)]
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
    with PostgresRepository(URL, schema=schema, pool_min=0) as repo:
        assert repo.raw_flow_run_count() == 1
        stored = repo.get_flow_run_by_idempotency_key(flow_id, key)
        assert stored is not None
        assert str(stored.id) in ids


def test_many_processes_distinct_keys_lose_nothing(schema: str, children: Children) -> None:
    flow_id = seeded(schema)
    processes, threads, count = 4, 3, 30
    procs = [
        children.spawn("load", URL, schema, str(flow_id), str(threads), str(count), f"p{i}")
        for i in range(processes)
    ]
    results = [r for proc in procs for r in finish(proc)]
    assert len(results) == processes * threads
    errors = [e for r in results if isinstance(r, dict) for e in r["errors"]]
    assert errors == []
    total = processes * threads * count
    assert sum(r["created"] for r in results if isinstance(r, dict)) == total
    with PostgresRepository(URL, schema=schema, pool_min=0) as repo:
        assert repo.raw_flow_run_count() == total
        keys = Counter(run.idempotency_key for run in repo.list_flow_runs())
    assert keys[None] == processes * threads * ((count + 2) // 3)
    assert all(n == 1 for key, n in keys.items() if key is not None)
