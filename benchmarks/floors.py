"""Floors: what one create cannot avoid, timed in the same rounds as the adapters.

* **In-memory floor**: two ``uuid4`` (the fastest we know: ``uuid-utils``' compiled one, which
  the service's run ids use too), a timestamp, a Prefect-style slug, a frozen attrs
  record of 32 fields, a dict insert (PERFORMANCE.md §3: ~12.7 µs).
* **SQLite floors**: raw ``sqlite3`` writing the adapter's own row tuples (built before the
  timed region) into a ``flow_run``-shaped table (JSON text columns, ``id`` primary key, the
  unique index on ``(flow_id, idempotency_key)``), WAL, ``synchronous=NORMAL``, prefilled
  with as many rows as the world it is compared with. Each insert binds only the row's
  non-``NULL`` values, as the adapter does (``rows.NonNullInsert``: binding ``None``
  costs Python's ``sqlite3`` more than the rest of the row), with its statement chosen
  before the timed region:

  - ``autocommit``: one transaction per insert (a commit each, as a per-call create pays);
  - ``one-tx``: every insert of a round in one transaction (the issue's target reference).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import coolname
from flowrun_adapters.sqlite import rows as sqlite_rows
from uuid_utils import compat as uuid_compat

from benchmarks.scenarios import fresh_rows, human
from benchmarks.timing import Variant


@attrs.frozen(kw_only=True)
class FloorRun:
    """A 32-field frozen record, shaped like a flow run."""

    id: uuid.UUID
    created: datetime
    updated: datetime
    name: str
    flow_id: uuid.UUID
    state_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    deployment_version: str | None = None
    work_queue_id: uuid.UUID | None = None
    work_queue_name: str | None = None
    flow_version: str | None = None
    parameters: dict[str, Any] = attrs.Factory(dict)
    idempotency_key: str | None = None
    context: dict[str, Any] = attrs.Factory(dict)
    empirical_policy: Any = None
    tags: tuple[str, ...] = ()
    labels: dict[str, Any] = attrs.Factory(dict)
    parent_task_run_id: uuid.UUID | None = None
    state_type: str | None = None
    state_name: str | None = None
    run_count: int = 0
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float = 0.0
    auto_scheduled: bool = False
    infrastructure_document_id: uuid.UUID | None = None
    infrastructure_pid: str | None = None
    created_by: Any = None
    work_pool_id: uuid.UUID | None = None
    job_variables: dict[str, Any] | None = None


def memory_floor() -> Variant:
    """The in-memory floor as one variant."""
    store: dict[uuid.UUID, FloorRun] = {}
    flow_id = uuid.uuid4()
    deployment_id = uuid.uuid4()
    parameters = {"name": "bench", "count": 3}
    tags = ("bench",)
    uuid4 = uuid_compat.uuid4
    now = datetime.now
    slug = coolname.generate_slug

    def op() -> FloorRun:
        run_id = uuid4()
        created = now(UTC)
        run = FloorRun(
            id=run_id,
            created=created,
            updated=created,
            name=slug(2),
            flow_id=flow_id,
            state_id=uuid4(),
            deployment_id=deployment_id,
            parameters=parameters,
            tags=tags,
            state_type="SCHEDULED",
            state_name="Scheduled",
            expected_start_time=created,
            next_scheduled_start_time=created,
        )
        store[run_id] = run
        return run

    return Variant(name="floor/memory", op=op, tags={"adapter": "memory", "floor": "memory"})


_FLOOR_DDL = "CREATE TABLE flow_run ({columns}, PRIMARY KEY (id))"


def _floor_table(conn: sqlite3.Connection) -> str:
    columns = ", ".join(
        f"{name} TEXT" if name != "run_count" else f"{name} INTEGER"
        for name in sqlite_rows.FLOW_RUN_COLUMNS
    )
    conn.execute(_FLOOR_DDL.format(columns=columns))
    conn.execute("CREATE UNIQUE INDEX uq_flow_run_key ON flow_run (flow_id, idempotency_key)")
    return sqlite_rows.insert_sql("flow_run", sqlite_rows.FLOW_RUN_COLUMNS)


class SQLiteFloor:
    """A raw ``sqlite3`` database for the floors, prefilled like the world it mirrors."""

    def __init__(
        self, directory: Path, template: tuple[Any, ...], stored: int, ops: int, rounds: int
    ) -> None:
        self.path = directory / f"floor-{human(stored)}.db"
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL").fetchone()
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.sql = _floor_table(self.conn)
        self.template = template
        self.stored = stored
        self.conn.execute("BEGIN")
        self.conn.executemany(self.sql, fresh_rows(template, stored, "prefill"))
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Every row any round will write, with its statement, made now (outside the timed
        # region).
        insert = sqlite_rows.NonNullInsert("flow_run", sqlite_rows.FLOW_RUN_COLUMNS)
        self._rows: Iterator[tuple[str, Sequence[Any]]] = iter(
            [
                insert(row)
                for row in fresh_rows(template, (ops + 1) * (rounds + 2) * 2 + 1000, "floor")
            ]
        )

    def variants(self) -> list[Variant]:
        """The autocommit and the one-transaction floor."""
        execute = self.conn.execute
        rows = self._rows

        def insert() -> object:
            return execute(*next(rows))

        tag = {"adapter": "sqlite", "stored": self.stored}
        return [
            Variant(
                name=f"floor/sqlite-autocommit/{human(self.stored)}",
                op=insert,
                tags={**tag, "floor": "sqlite-autocommit"},
            ),
            Variant(
                name=f"floor/sqlite-one-tx/{human(self.stored)}",
                op=insert,
                begin=lambda: execute("BEGIN"),
                end=lambda: execute("COMMIT"),
                tags={**tag, "floor": "sqlite-one-tx"},
            ),
        ]

    def bytes_per_row(self) -> float:
        """File size per row after a checkpoint."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        count = int(self.conn.execute("SELECT count(*) FROM flow_run").fetchone()[0])
        return self.path.stat().st_size / max(count, 1)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
