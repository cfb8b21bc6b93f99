"""A child process for the PostgreSQL multi-process tests (run as a script, not collected).

Usage: ``python postgres_worker.py COMMAND URL SCHEMA [ARGS...]``; every result is one JSON
line on stdout, flushed as soon as it is known.

* ``open URL SCHEMA`` - open (creating or migrating the schema), print the run count.
* ``race URL SCHEMA FLOW_ID KEY THREADS`` - open, print ``ready``, wait for a line on stdin,
  then ``THREADS`` threads each create a run of FLOW_ID with KEY; one line per thread.
* ``load URL SCHEMA FLOW_ID THREADS COUNT TAG`` - ``THREADS`` threads each create COUNT runs
  with distinct keys (every third one without a key), each inside a transaction that first
  reads the flow, as the service does; one summary line per thread.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import UTC, datetime

from flowrun_adapters.postgres import PostgresRepository

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


def cmd_open(url: str, schema: str) -> None:
    with PostgresRepository(url, schema=schema, pool_min=0) as repo:
        emit({"count": repo.count_flow_runs()})


def cmd_race(url: str, schema: str, flow_id: str, key: str, threads: str) -> None:
    repo = PostgresRepository(url, schema=schema, pool_min=int(threads), pool_max=int(threads))
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


def cmd_load(  # noqa: PLR0917 - argv, positionally
    url: str, schema: str, flow_id: str, threads: str, count: str, tag: str
) -> None:
    repo = PostgresRepository(url, schema=schema, pool_min=0, pool_max=int(threads))
    fid = uuid.UUID(flow_id)

    def work(index: int) -> None:
        created, errors = 0, []
        for i in range(int(count)):
            key = None if i % 3 == 0 else f"{tag}-{index}-{i}"
            try:
                with repo.transaction():
                    repo.get_flow(fid)
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


COMMANDS = {"open": cmd_open, "race": cmd_race, "load": cmd_load}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
