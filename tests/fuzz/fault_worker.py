"""A child process for the wire-level storage-fault tests (run as a script, not collected).

Usage: ``python fault_worker.py COMMAND DB [ARGS...]``; results are JSON lines on stdout,
flushed at once.

* ``lock DB`` - take SQLite's write lock (``BEGIN IMMEDIATE``) with a plain connection,
  print ``"locked"``, hold it until a line arrives on stdin, then roll back.
* ``stream DB DEPLOYMENT_ID`` - post creates through ``handle_create_flow_run`` forever,
  printing ``[status, run id]`` for each answer as soon as it is known.
"""

from __future__ import annotations

import json
import sqlite3
import sys

from flowrun_adapters.sqlite import SQLiteRepository

from flowrun_core.service import FlowRunService
from flowrun_core.wire import handle_create_flow_run


def emit(payload: object) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def cmd_lock(db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    emit("locked")
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()


def cmd_stream(db: str, deployment_id: str) -> None:
    service = FlowRunService(SQLiteRepository(db))
    i = 0
    while True:
        i += 1
        body = {"idempotency_key": f"stream-{i}", "parameters": {"i": i}, "tags": [f"t{i}"]}
        response = handle_create_flow_run(service, deployment_id, json.dumps(body).encode())
        emit(
            [response.status, response.json.get("id") if isinstance(response.json, dict) else None]
        )


COMMANDS = {"lock": cmd_lock, "stream": cmd_stream}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
