"""The SQLite schema, built and upgraded with :class:`sqlite_utils.Migrations`.

Each migration runs once per database file, in order; ``sqlite_utils`` records the applied
ones in ``_sqlite_migrations`` (set ``"flowrun"``), and every migration also sets
``PRAGMA user_version`` to its number, so the schema version is visible to any SQLite tool.

:func:`ensure_schema` runs on every open. It reads the recorded version first and returns at
once when the file is current; otherwise it takes the write lock (``BEGIN IMMEDIATE``), reads
again (another process may have upgraded the file meanwhile) and applies what is pending, in
that one transaction. A file recorded by a newer flowrun-core, or a file that holds flowrun
tables without a recorded version, is refused with :class:`StorageSchemaError`.

Column conventions: ids are UUID text, datetimes ISO 8601 text (offset and microseconds
kept), JSON columns ``json.dumps`` text, booleans ``0``/``1``. Tables whose order matters
(``flow_runs``, ``work_queues``) carry an ``INTEGER PRIMARY KEY`` sequence that records it;
their ids are unique keys.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from sqlite_utils import Database, Migrations

from flowrun_core.errors import StorageReadOnly, StorageSchemaError

__all__ = ["MIGRATIONS", "MIGRATION_SET", "SCHEMA_VERSION", "ensure_schema", "schema_version"]

MIGRATION_SET: Final = "flowrun"
"""The name of flowrun's set in ``_sqlite_migrations``."""

MIGRATIONS: Final = Migrations(MIGRATION_SET)
"""Every migration this version of flowrun-core knows, in order."""

_TEXT = str
_INT = int

FLOWRUN_TABLES: Final = (
    "flows",
    "work_pools",
    "work_queues",
    "deployments",
    "infrastructure_documents",
    "variables",
    "flow_runs",
    "task_runs",
    "flow_run_fingerprints",
)


_FLOW_RUNS_DDL: Final = """
CREATE TABLE [flow_runs] (
    [seq] INTEGER PRIMARY KEY,
    [id] TEXT NOT NULL,
    [created] TEXT NOT NULL,
    [updated] TEXT NOT NULL,
    [name] TEXT NOT NULL,
    [flow_id] TEXT NOT NULL REFERENCES [flows]([id]),
    [state_id] TEXT,
    [deployment_id] TEXT,
    [deployment_version] TEXT,
    [work_queue_id] TEXT REFERENCES [work_queues]([id]),
    [work_queue_name] TEXT,
    [flow_version] TEXT,
    [parameters] TEXT NOT NULL,
    [idempotency_key] TEXT,
    [context] TEXT NOT NULL,
    [empirical_policy] TEXT NOT NULL,
    [tags] TEXT NOT NULL,
    [labels] TEXT NOT NULL,
    [parent_task_run_id] TEXT REFERENCES [task_runs]([id]),
    [state_type] TEXT,
    [state_name] TEXT,
    [run_count] INTEGER NOT NULL,
    [expected_start_time] TEXT,
    [next_scheduled_start_time] TEXT,
    [start_time] TEXT,
    [end_time] TEXT,
    [total_run_time] FLOAT NOT NULL,
    [auto_scheduled] INTEGER NOT NULL,
    [infrastructure_document_id] TEXT REFERENCES [infrastructure_documents]([id]),
    [infrastructure_pid] TEXT,
    [created_by] TEXT,
    [work_pool_id] TEXT,
    [work_pool_name] TEXT,
    [state] TEXT,
    [job_variables] TEXT
)
"""
"""The flow-run table; columns follow ``FlowRun``'s fields, ``seq`` records creation order."""


@MIGRATIONS(name="0001_initial")
def _initial(db: Database) -> None:
    """Every table, with the unique and foreign keys the storage port promises."""
    db.table("flows").create(
        {"id": _TEXT, "name": _TEXT, "tags": _TEXT, "labels": _TEXT},
        pk="id",
        not_null=["name", "tags", "labels"],
    )
    db.table("work_pools").create(
        {
            "id": _TEXT,
            "name": _TEXT,
            "type": _TEXT,
            "base_job_template": _TEXT,
            "default_queue_id": _TEXT,
        },
        pk="id",
        not_null=["name", "type", "base_job_template"],
    )
    db.table("work_pools").create_index(["name"], unique=True)
    db.table("work_queues").create(
        {
            "seq": _INT,
            "id": _TEXT,
            "name": _TEXT,
            "work_pool_id": _TEXT,
            "priority": _INT,
            "description": _TEXT,
            "is_paused": _INT,
            "concurrency_limit": _INT,
        },
        pk="seq",
        not_null=["id", "name", "work_pool_id", "priority", "description", "is_paused"],
        foreign_keys=[("work_pool_id", "work_pools", "id")],
    )
    db.table("work_queues").create_index(["id"], unique=True)
    db.table("work_queues").create_index(["work_pool_id", "name"], unique=True)
    db.table("infrastructure_documents").create(
        {"id": _TEXT, "name": _TEXT, "data": _TEXT}, pk="id", not_null=["name", "data"]
    )
    db.table("deployments").create(
        {
            "id": _TEXT,
            "flow_id": _TEXT,
            "name": _TEXT,
            "version": _TEXT,
            "description": _TEXT,
            "parameters": _TEXT,
            "tags": _TEXT,
            "labels": _TEXT,
            "parameter_openapi_schema": _TEXT,
            "enforce_parameter_schema": _INT,
            "work_queue_name": _TEXT,
            "work_queue_id": _TEXT,
            "work_pool_name": _TEXT,
            "infrastructure_document_id": _TEXT,
            "job_variables": _TEXT,
            "paused": _INT,
        },
        pk="id",
        not_null=[
            "flow_id",
            "name",
            "parameters",
            "tags",
            "labels",
            "enforce_parameter_schema",
            "job_variables",
            "paused",
        ],
        foreign_keys=[("flow_id", "flows", "id"), ("work_queue_id", "work_queues", "id")],
    )
    # Names are the variables' key (as in the reference model); ids are informative.
    db.table("variables").create(
        {"name": _TEXT, "id": _TEXT, "value": _TEXT, "tags": _TEXT},
        pk="name",
        not_null=["id", "value", "tags"],
    )
    # flow_runs and task_runs reference each other, which Table.create cannot express
    # (it checks that the referenced table exists), so flow_runs is plain DDL.
    db.execute(_FLOW_RUNS_DDL)
    db.table("flow_runs").create_index(["id"], unique=True)
    db.table("flow_runs").create_index(
        ["flow_id", "idempotency_key"],
        index_name="uq_flow_runs_flow_id_idempotency_key",
        unique=True,
    )
    db.table("task_runs").create(
        {
            "id": _TEXT,
            "flow_run_id": _TEXT,
            "name": _TEXT,
            "task_key": _TEXT,
            "dynamic_key": _TEXT,
            "state": _TEXT,
        },
        pk="id",
        not_null=["name", "task_key", "dynamic_key"],
        foreign_keys=[("flow_run_id", "flow_runs", "id")],
    )
    db.execute("PRAGMA user_version = 1")


@MIGRATIONS(name="0002_flow_run_filters")
def _flow_run_filters(db: Database) -> None:
    """Indexes for ``list_flow_runs(flow_id=..., deployment_id=...)`` in creation order."""
    db.table("flow_runs").create_index(
        ["deployment_id", "seq"], index_name="ix_flow_runs_deployment"
    )
    db.table("flow_runs").create_index(["flow_id", "seq"], index_name="ix_flow_runs_flow")
    db.table("task_runs").create_index(["flow_run_id"], index_name="ix_task_runs_flow_run")
    db.execute("PRAGMA user_version = 2")


@MIGRATIONS(name="0003_flow_run_fingerprints")
def _flow_run_fingerprints(db: Database) -> None:
    """Request fingerprints of strict idempotency: one optional row per flow run."""
    db.table("flow_run_fingerprints").create(
        {"flow_run_id": _TEXT, "fingerprint": _TEXT},
        pk="flow_run_id",
        not_null=["fingerprint"],
        foreign_keys=[("flow_run_id", "flow_runs", "id")],
    )
    db.execute("PRAGMA user_version = 3")


@MIGRATIONS(name="0004_keyed_runs_index")
def _keyed_runs_index(db: Database) -> None:
    """The unique ``(flow_id, idempotency_key)`` index holds the runs that have a key.

    SQLite never finds two ``NULL`` keys equal, so a run without a key conflicts with no
    other: leaving such runs out of the index changes no answer (``""`` is a key and stays
    in it), and a create without a key writes one index page fewer per commit. A lookup by
    key (``idempotency_key = ?`` implies ``IS NOT NULL``) still uses the index.
    """
    db.execute("DROP INDEX uq_flow_runs_flow_id_idempotency_key")
    db.execute(
        "CREATE UNIQUE INDEX uq_flow_runs_flow_id_idempotency_key "
        "ON flow_runs (flow_id, idempotency_key) WHERE idempotency_key IS NOT NULL"
    )
    db.execute("PRAGMA user_version = 4")


SCHEMA_VERSION: Final = 4
"""The schema version this code writes (``PRAGMA user_version`` after the last migration)."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's ``PRAGMA user_version`` (0 for a fresh file)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _check_known(db: Database, where: str) -> bool:
    """Whether migrations are pending; raise if the file is newer or not flowrun's."""
    applied = [m.name for m in MIGRATIONS.applied(db)]
    version = schema_version(db.conn)
    known = [m.name for m in MIGRATIONS._migrations]  # noqa: SLF001 - no public listing
    unknown = [name for name in applied if name not in known]
    if unknown or version > SCHEMA_VERSION:
        raise StorageSchemaError(
            f"SQLite database {where} has schema version {version} (migrations "
            f"{', '.join(applied)}), newer than version {SCHEMA_VERSION} that this "
            "flowrun-core supports; upgrade flowrun-core to open it."
        )
    if not applied:
        existing = set(db.table_names()) & set(FLOWRUN_TABLES)
        if existing or version != 0:
            raise StorageSchemaError(
                f"SQLite database {where} has an unknown schema (user_version {version}, "
                f"tables {', '.join(sorted(existing)) or 'none of flowrun'}) and no recorded "
                "flowrun migrations; refusing to modify it."
            )
    return len(applied) < len(known)


def ensure_schema(conn: sqlite3.Connection, where: str, *, read_only: bool = False) -> None:
    """Create or upgrade the schema of the database behind ``conn`` (autocommit mode).

    Args:
        conn: a connection with ``isolation_level=None`` and no open transaction.
        where: the database's path, for messages.
        read_only: whether the connection cannot write (pending migrations then fail).

    Raises:
        StorageSchemaError: the file is from a newer flowrun-core, or not flowrun's.
        StorageReadOnly: migrations are pending but the database cannot be written.
        sqlite3.Error: the driver failed (the caller translates it).
    """
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    if not _check_known(db, where):
        return
    if read_only:
        raise StorageReadOnly(
            f"SQLite database {where} needs a schema upgrade to version {SCHEMA_VERSION} "
            "but is opened read-only."
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while this one waited for the lock.
        if _check_known(db, where):
            MIGRATIONS.apply(db)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
