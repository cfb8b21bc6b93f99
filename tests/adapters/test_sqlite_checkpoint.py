"""The SQLite adapter's background checkpointer (``flowrun_adapters.sqlite.checkpoint``).

Real files and real threads: the thread must copy committed pages into the database file so
that the WAL stays short, never lose or block a write, and stop with the repository.
"""

from __future__ import annotations

import gc
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flowrun_adapters.sqlite import SQLiteRepository
from flowrun_adapters.sqlite.checkpoint import SAFETY_NET_PAGES, Checkpointer

from flowrun_core.models import Flow, FlowRun

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"flowrun-sqlite-checkpoint:{path}"]


def _eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _fill(repo: SQLiteRepository, count: int) -> list[FlowRun]:
    flow = Flow(id=uuid.uuid4(), name=f"flow-{uuid.uuid4()}")
    repo.add_flow(flow)
    runs = [
        FlowRun(id=uuid.uuid4(), created=NOW, updated=NOW, name=f"run-{i}", flow_id=flow.id)
        for i in range(count)
    ]
    for run in runs:
        repo.create_flow_run(run)
    return runs


def test_files_checkpoint_in_the_background_by_default(tmp_path: Path) -> None:
    path = tmp_path / "bg.db"
    with SQLiteRepository(path, checkpoint_every=50) as repo:
        assert repo.checkpoint == "background"
        assert _threads(path)
        assert repo._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (SAFETY_NET_PAGES,)
        checkpointer = repo._checkpointer
        assert checkpointer is not None
        before = path.stat().st_size
        _fill(repo, 200)
        # Far below the inline safety net, so only the thread can have copied pages into
        # the database file.
        assert _eventually(lambda: checkpointer.rounds > 0 and path.stat().st_size > before)
    assert not _threads(path)


def test_an_idle_repository_never_wakes_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "idle.db"
    with SQLiteRepository(path, checkpoint_every=10) as repo:
        checkpointer = repo._checkpointer
        assert checkpointer is not None
        _fill(repo, 8)  # 9 writes with the flow: one short of a checkpoint
        for run_id in [uuid.uuid4() for _ in range(50)]:
            assert repo.get_flow_run(run_id) is None  # reads do not count
        time.sleep(0.2)
        assert checkpointer.rounds == 0
        _fill(repo, 1)  # the flow is the 10th write
        assert _eventually(lambda: checkpointer.rounds == 1)


def test_the_log_stays_bounded_under_a_steady_writer(tmp_path: Path) -> None:
    path = tmp_path / "steady.db"
    with SQLiteRepository(path, checkpoint_every=10) as repo:
        runs = _fill(repo, 8000)
        assert repo._checkpointer is not None
        assert repo._checkpointer.rounds > 0
        # 8,000 creates write some 50,000 frames; the safety net rewinds the log, which may
        # overshoot the net by a few commits' frames while the thread holds the checkpoint
        # lock.
        page = repo._conn.execute("PRAGMA page_size").fetchone()[0]
        assert Path(f"{path}-wal").stat().st_size <= 1.5 * SAFETY_NET_PAGES * (page + 24)
    with SQLiteRepository(path, checkpoint="inline") as reopened:
        assert reopened._conn.execute("SELECT count(*) FROM flow_runs").fetchone() == (len(runs),)
        for run in runs[:: len(runs) // 10]:
            assert reopened.get_flow_run(run.id) == run
        assert reopened._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_inline_mode_keeps_sqlites_default(tmp_path: Path) -> None:
    path = tmp_path / "inline.db"
    with SQLiteRepository(path, checkpoint="inline") as repo:
        assert repo.checkpoint == "inline"
        assert repo._checkpointer is None
        assert not _threads(path)
        assert repo._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)


@pytest.mark.parametrize("read_only", [False, True])
def test_no_thread_without_a_writable_file(tmp_path: Path, *, read_only: bool) -> None:
    path = tmp_path / "ro.db"
    SQLiteRepository(path, checkpoint="inline").close()
    location = str(path) if read_only else ":memory:"
    with SQLiteRepository(location, read_only=read_only) as repo:
        assert repo.checkpoint == "inline"
        assert repo._checkpointer is None


def test_close_stops_the_thread_and_removes_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    repo = SQLiteRepository(path, checkpoint_every=10)
    _fill(repo, 50)
    repo.close()
    assert not _threads(path)
    assert not Path(f"{path}-wal").exists()  # the main connection closed last
    repo.close()  # idempotent


def test_a_dropped_repository_stops_its_thread(tmp_path: Path) -> None:
    path = tmp_path / "dropped.db"
    repo = SQLiteRepository(path)
    assert _threads(path)
    del repo
    gc.collect()
    assert _eventually(lambda: not _threads(path))


def test_bad_checkpoint_options() -> None:
    with pytest.raises(ValueError, match="checkpoint must be"):
        SQLiteRepository(checkpoint="never")  # type: ignore[arg-type]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="checkpoint_every"):
            SQLiteRepository(checkpoint_every=bad)  # type: ignore[arg-type]


def test_url_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteRepository.from_url("sqlite:///u.db?checkpoint=INLINE") as repo:
        assert repo.checkpoint == "inline"
    with SQLiteRepository.from_url("sqlite:///u.db?checkpoint_every=7") as repo:
        assert repo.checkpoint == "background"
        assert repo._checkpoint_every == 7


def test_a_missing_directory_ends_the_thread_quietly(tmp_path: Path) -> None:
    checkpointer = Checkpointer(str(tmp_path / "no" / "such" / "dir.db"))
    assert _eventually(lambda: not checkpointer.running)
    checkpointer.stop()
    assert checkpointer.rounds == 0
