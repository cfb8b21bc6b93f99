"""The PostgreSQL schema: versioned migrations applied on open, under an advisory lock.

Everything lives in one PostgreSQL schema (``flowrun`` unless told otherwise), so several
independent stores can share a database. ``schema_migrations`` records every applied
migration (``version``, ``name``, ``applied_at``); the schema version is its highest
``version``.

:func:`ensure_schema` runs on every open. It first reads the recorded version without
locking and returns at once when the schema is current. Otherwise it opens a transaction,
takes ``pg_advisory_xact_lock`` on a key derived from the schema name (so two instances
starting together queue up instead of racing on ``CREATE``), reads the version again
(another instance may have migrated meanwhile), and applies what is pending in that same
transaction: DDL is transactional in PostgreSQL, so an upgrade is all or nothing. A schema
recorded by a newer flowrun-core, or one that holds flowrun's tables without a recorded
version, is refused with :class:`~flowrun_core.errors.StorageSchemaError`.

Column conventions (see :mod:`flowrun_adapters.postgres.rows`): ids are ``uuid``, JSON data
is ``json`` (exact text), datetimes ISO 8601 ``text``, booleans ``boolean``. Tables whose
order matters carry a ``seq`` identity column that records creation order.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import psycopg
from psycopg import sql

from flowrun_core.errors import StorageSchemaError

__all__ = [
    "FLOWRUN_TABLES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "ensure_schema",
    "schema_version",
]


@attrs.frozen
class Migration:
    """One schema step: its version number, a name, and the DDL statements it runs."""

    version: int
    name: str
    statements: tuple[str, ...]


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

_INITIAL: Final = (
    """
    CREATE TABLE flows (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id uuid PRIMARY KEY,
        name text NOT NULL,
        tags json NOT NULL,
        labels json NOT NULL
    )""",
    """
    CREATE TABLE work_pools (
        id uuid PRIMARY KEY,
        name text NOT NULL UNIQUE,
        type text NOT NULL,
        base_job_template json NOT NULL,
        default_queue_id uuid
    )""",
    """
    CREATE TABLE work_queues (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id uuid PRIMARY KEY,
        name text NOT NULL,
        work_pool_id uuid NOT NULL REFERENCES work_pools (id),
        priority bigint NOT NULL,
        description text NOT NULL,
        is_paused boolean NOT NULL,
        concurrency_limit bigint,
        CONSTRAINT uq_work_queues_pool_name UNIQUE (work_pool_id, name)
    )""",
    """
    CREATE TABLE infrastructure_documents (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        data json NOT NULL
    )""",
    """
    CREATE TABLE deployments (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id uuid PRIMARY KEY,
        flow_id uuid NOT NULL REFERENCES flows (id),
        name text NOT NULL,
        version text,
        description text,
        parameters json NOT NULL,
        tags json NOT NULL,
        labels json NOT NULL,
        parameter_openapi_schema json,
        enforce_parameter_schema boolean NOT NULL,
        work_queue_name text,
        work_queue_id uuid REFERENCES work_queues (id),
        work_pool_name text,
        infrastructure_document_id uuid,
        job_variables json NOT NULL,
        paused boolean NOT NULL
    )""",
    """
    CREATE TABLE variables (
        name text PRIMARY KEY,
        id uuid NOT NULL,
        value json NOT NULL,
        tags json NOT NULL
    )""",
    """
    CREATE TABLE flow_runs (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id uuid PRIMARY KEY,
        created text NOT NULL,
        updated text NOT NULL,
        name text NOT NULL,
        flow_id uuid NOT NULL REFERENCES flows (id),
        state_id uuid,
        deployment_id uuid,
        deployment_version text,
        work_queue_id uuid REFERENCES work_queues (id),
        work_queue_name text,
        flow_version text,
        parameters json NOT NULL,
        idempotency_key text,
        context json NOT NULL,
        empirical_policy json NOT NULL,
        tags json NOT NULL,
        labels json NOT NULL,
        parent_task_run_id uuid,
        state_type text,
        state_name text,
        run_count bigint NOT NULL,
        expected_start_time text,
        next_scheduled_start_time text,
        start_time text,
        end_time text,
        total_run_time double precision NOT NULL,
        auto_scheduled boolean NOT NULL,
        infrastructure_document_id uuid REFERENCES infrastructure_documents (id),
        infrastructure_pid text,
        created_by json,
        work_pool_id uuid,
        work_pool_name text,
        state json,
        job_variables json,
        CONSTRAINT uq_flow_runs_flow_id_idempotency_key UNIQUE (flow_id, idempotency_key)
    )""",
    """
    CREATE TABLE task_runs (
        id uuid PRIMARY KEY,
        flow_run_id uuid REFERENCES flow_runs (id),
        name text NOT NULL,
        task_key text NOT NULL,
        dynamic_key text NOT NULL,
        state json
    )""",
    """
    ALTER TABLE flow_runs ADD CONSTRAINT fk_flow_runs_parent_task_run
        FOREIGN KEY (parent_task_run_id) REFERENCES task_runs (id)""",
)

_FILTER_INDEXES: Final = (
    "CREATE INDEX ix_flow_runs_flow ON flow_runs (flow_id, seq)",
    "CREATE INDEX ix_flow_runs_deployment ON flow_runs (deployment_id, seq)",
    "CREATE INDEX ix_task_runs_flow_run ON task_runs (flow_run_id)",
    "CREATE INDEX ix_deployments_flow ON deployments (flow_id, seq)",
)

_FINGERPRINTS: Final = (
    """
    CREATE TABLE flow_run_fingerprints (
        flow_run_id uuid PRIMARY KEY REFERENCES flow_runs (id),
        fingerprint text NOT NULL
    )""",
)

# A B-tree entry holds at most about 2.7 kB, so a unique index on a long idempotency key or
# queue name (both come from API requests) made the insert fail. These two indexes key on the
# SHA-256 digest of the text instead: 32 bytes, whatever the length, with the same uniqueness.
_TEXT_DIGEST_INDEXES: Final = (
    """
    CREATE FUNCTION flowrun_text_digest(value text) RETURNS bytea
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS 'SELECT pg_catalog.sha256(pg_catalog.convert_to(value, ''UTF8''))'""",
    "ALTER TABLE flow_runs DROP CONSTRAINT uq_flow_runs_flow_id_idempotency_key",
    """
    CREATE UNIQUE INDEX uq_flow_runs_flow_id_idempotency_key
        ON flow_runs (flow_id, flowrun_text_digest(idempotency_key))""",
    "ALTER TABLE work_queues DROP CONSTRAINT uq_work_queues_pool_name",
    """
    CREATE UNIQUE INDEX uq_work_queues_pool_name
        ON work_queues (work_pool_id, flowrun_text_digest(name))""",
)

# The same for the names the seeding side writes: a work pool's name and a variable's name
# (its primary key until now; the table keeps no other key, as nothing refers to it).
_SEEDED_NAME_DIGEST_INDEXES: Final = (
    "ALTER TABLE work_pools DROP CONSTRAINT work_pools_name_key",
    "CREATE UNIQUE INDEX uq_work_pools_name ON work_pools (flowrun_text_digest(name))",
    "ALTER TABLE variables DROP CONSTRAINT variables_pkey",
    "CREATE UNIQUE INDEX uq_variables_name ON variables (flowrun_text_digest(name))",
)

MIGRATIONS: Final = (
    Migration(1, "0001_initial", _INITIAL),
    Migration(2, "0002_filter_indexes", _FILTER_INDEXES),
    Migration(3, "0003_flow_run_fingerprints", _FINGERPRINTS),
    Migration(4, "0004_text_digest_indexes", _TEXT_DIGEST_INDEXES),
    Migration(5, "0005_seeded_name_digest_indexes", _SEEDED_NAME_DIGEST_INDEXES),
)
"""Every migration this version of flowrun-core knows, in order."""

SCHEMA_VERSION: Final = MIGRATIONS[-1].version
"""The schema version this code writes."""

_LOCK_SQL: Final = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

Conn = psycopg.Connection[Any]


def _qualified(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def schema_version(conn: Conn, schema: str) -> int | None:
    """The recorded version of ``schema``; ``None`` when nothing is recorded (or no schema)."""
    # A catalog scan (not to_regclass) so that, after waiting for the advisory lock, the
    # statement's fresh snapshot sees tables another instance has just committed.
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'schema_migrations'",
        (schema,),
    ).fetchone()
    if found is None:
        return None
    query = sql.SQL("SELECT max(version) FROM {}").format(_qualified(schema, "schema_migrations"))
    row = conn.execute(query).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _check(conn: Conn, schema: str, where: str) -> int:
    """The recorded version (0 for none); raise if newer than this code, or not flowrun's."""
    version = schema_version(conn, schema)
    if version is not None and version > SCHEMA_VERSION:
        raise StorageSchemaError(
            f"{where}: schema {schema!r} has version {version}, newer than version "
            f"{SCHEMA_VERSION} that this flowrun-core supports; upgrade flowrun-core to use it."
        )
    if version is None:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
            (schema, list(FLOWRUN_TABLES)),
        ).fetchall()
        if rows:
            names = ", ".join(sorted(str(row[0]) for row in rows))
            raise StorageSchemaError(
                f"{where}: schema {schema!r} holds tables of flowrun's names ({names}) but no "
                "recorded flowrun migrations; refusing to modify it."
            )
        return 0
    return version


def ensure_schema(conn: Conn, schema: str, where: str) -> int:
    """Create or upgrade ``schema`` through ``conn`` (autocommit, no open transaction).

    Returns:
        The schema version after the call (always :data:`SCHEMA_VERSION`).

    Raises:
        StorageSchemaError: the schema is from a newer flowrun-core, or not flowrun's.
        psycopg.Error: the driver failed (the caller translates it).
    """
    if schema_version(conn, schema) == SCHEMA_VERSION:
        return SCHEMA_VERSION
    with conn.transaction():
        conn.execute(_LOCK_SQL, (f"flowrun-schema:{schema}",))
        # Another instance may have migrated while this one waited for the lock.
        version = _check(conn, schema, where)
        if version == SCHEMA_VERSION:
            return version
        exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            for statement in migration.statements:
                conn.execute(statement.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
    return SCHEMA_VERSION
