"""A child process for the SQLite multi-process tests (run as a script, not collected).

Usage: ``python sqlite_worker.py COMMAND DB [ARGS...]``; every result is one JSON line on
stdout, flushed as soon as it is known.

* ``open DB`` - open (creating or migrating the file), print the schema version.
* ``open-rounds DIR ROUNDS`` - print ``ready``; then ROUNDS times: wait for a line on stdin,
  open the fresh file ``DIR/round-N.db`` and print its version and journal mode (or the
  error), so that many processes open each new file at the same moment.
* ``race DB FLOW_ID KEY THREADS`` - open, print ``ready``, wait for a line on stdin, then
  ``THREADS`` threads each create a run of FLOW_ID with KEY; one line per thread.
* ``load DB FLOW_ID THREADS COUNT TAG`` - ``THREADS`` threads each create COUNT runs with
  distinct keys (every third one without a key); one summary line per thread.
* ``stream DB FLOW_ID`` - create runs forever, printing each id once its create returned.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import UTC, datetime

from flowrun_adapters.sqlite import SQLiteRepository

from flowrun_core.models import FlowRun

_print_lock = threading.Lock()


def emit(payload: object) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()


def make_run(flow_id: uuid.UUID, key: str | None) -> FlowRun:
    now = datetime.now(UTC)
    return FlowRun(
        id=uuid.uuid4(),
        created=now,
        updated=now,
        name=f"run-{uuid.uuid4().hex[:8]}",
        flow_id=flow_id,
        idempotency_key=key,
        parameters={"x": 1, "y": [1.5, "two"]},
    )


def cmd_open(db: str) -> None:
    with SQLiteRepository(db) as repo:
        version = repo._conn.execute("PRAGMA user_version").fetchone()[0]
        emit({"version": version, "count": repo.count_flow_runs()})


def cmd_open_rounds(directory: str, rounds: str) -> None:
    emit("ready")
    for number in range(int(rounds)):
        sys.stdin.readline()
        db = f"{directory}/round-{number}.db"
        try:
            with SQLiteRepository(db) as repo:
                version = repo._conn.execute("PRAGMA user_version").fetchone()[0]
                mode = repo._conn.execute("PRAGMA journal_mode").fetchone()[0]
        except Exception as exc:  # reported to the parent, which fails the test
            emit({"round": number, "error": f"{type(exc).__name__}: {exc}"})
        else:
            emit({"round": number, "version": version, "journal_mode": mode})


def cmd_race(db: str, flow_id: str, key: str, threads: str) -> None:
    repo = SQLiteRepository(db)
    fid = uuid.UUID(flow_id)
    runs = [make_run(fid, key) for _ in range(int(threads))]
    start = threading.Event()

    def work(run: FlowRun) -> None:
        start.wait()
        try:
            result = repo.create_flow_run(run)
        except Exception as exc:  # reported to the parent, which fails the test
            emit({"error": f"{type(exc).__name__}: {exc}"})
        else:
            emit({"id": str(result.value.id), "created": result.created})

    workers = [threading.Thread(target=work, args=(run,)) for run in runs]
    for worker in workers:
        worker.start()
    emit("ready")
    sys.stdin.readline()
    start.set()
    for worker in workers:
        worker.join()
    repo.close()


def cmd_load(db: str, flow_id: str, threads: str, count: str, tag: str) -> None:
    repo = SQLiteRepository(db)
    fid = uuid.UUID(flow_id)

    def work(index: int) -> None:
        created, errors = 0, []
        for i in range(int(count)):
            key = None if i % 3 == 0 else f"{tag}-{index}-{i}"
            try:
                if repo.create_flow_run(make_run(fid, key)).created:
                    created += 1
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
        emit({"created": created, "errors": errors})

    workers = [threading.Thread(target=work, args=(i,)) for i in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    repo.close()


def cmd_stream(db: str, flow_id: str) -> None:
    repo = SQLiteRepository(db)
    fid = uuid.UUID(flow_id)
    i = 0
    while True:
        i += 1
        run = repo.create_flow_run(make_run(fid, f"stream-{i}")).value
        emit(str(run.id))


COMMANDS = {
    "open": cmd_open,
    "open-rounds": cmd_open_rounds,
    "race": cmd_race,
    "load": cmd_load,
    "stream": cmd_stream,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
