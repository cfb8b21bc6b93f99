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
    with SQLiteRepository(path) as repo:
        assert repo.checkpoint == "background"
        assert _threads(path)
        assert repo._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (SAFETY_NET_PAGES,)
        _fill(repo, 300)
        checkpointer = repo._checkpointer
        assert checkpointer is not None
        # The thread copies the log into the file while nobody writes.
        assert _eventually(lambda: checkpointer.rounds > 0 and _wal_frames_zero(repo))
    assert not _threads(path)


def _wal_frames_zero(repo: SQLiteRepository) -> bool:
    with repo._session as conn:
        # Read what the last checkpoint left: log frames minus copied frames.
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return bool(row[0] == 0 and row[1] == row[2])


def test_the_thread_keeps_up_with_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "steady.db"
    with SQLiteRepository(path, checkpoint_interval=0.01) as repo:
        runs = _fill(repo, 8000)
        assert repo._checkpointer is not None
        assert repo._checkpointer.rounds > 0
        # The safety net bounds the log under a steady stream of commits (8,000 creates
        # write some 50,000 frames; the log may overshoot the net while the thread holds
        # the checkpoint lock, by a few commits' frames).
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
    repo = SQLiteRepository(path, checkpoint_interval=0.01)
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
    with pytest.raises(ValueError, match="checkpoint_interval"):
        SQLiteRepository(checkpoint_interval=0)
    with pytest.raises(ValueError, match="interval"):
        Checkpointer("x.db", interval=-1)


def test_url_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteRepository.from_url("sqlite:///u.db?checkpoint=INLINE") as repo:
        assert repo.checkpoint == "inline"
    with SQLiteRepository.from_url("sqlite:///u.db?checkpoint_interval=0.2") as repo:
        assert repo.checkpoint == "background"
        assert repo._checkpointer is not None


def test_a_missing_directory_ends_the_thread_quietly(tmp_path: Path) -> None:
    checkpointer = Checkpointer(str(tmp_path / "no" / "such" / "dir.db"), interval=0.01)
    assert _eventually(lambda: not checkpointer.running)
    checkpointer.stop()
    assert checkpointer.rounds == 0
