"""The PostgreSQL storage adapter: :class:`PostgresRepository`, on psycopg 3 and psycopg-pool.

Design
------
* **A connection pool** (:class:`psycopg_pool.ConnectionPool`, ``pool_min``..``pool_max``
  connections) serves every call. Connections run in autocommit mode; each is configured
  once when the pool opens it: ``search_path`` set to the repository's schema,
  ``statement_timeout``, ``application_name``, and ``json`` columns read back as text.
* **Outside a transaction** each call checks out a connection for one statement (or, for a
  keyed create, two) and returns it. Each write is its own transaction.
* **A transaction** (:meth:`~PostgresRepository.transaction`) checks out one connection for
  its whole duration and records it in a :class:`contextvars.ContextVar`, so every port call
  made inside the block (in the same thread or task) runs on it. The outermost block is
  ``BEGIN``/``COMMIT``; nested blocks are ``SAVEPOINT``/``RELEASE``, and an inner block
  that raises is rolled back to its savepoint only. As in PostgreSQL itself, a statement
  that fails inside a transaction aborts the whole transaction (later calls raise
  :class:`~flowrun_core.errors.StorageError`, and nothing in it is written) unless the
  failure happened inside a nested block, which contains it.
* **Isolation: READ COMMITTED**, PostgreSQL's default. Create-or-return-existing needs no
  more: ``INSERT ... ON CONFLICT DO NOTHING`` on the unique index of ``flow_id`` and the
  key's SHA-256 digest (any key length fits it) waits for a concurrent insert of the same key
  to commit or roll back, then either skips (the unique index admits one row) or inserts;
  the read that follows takes a fresh snapshot, so it sees the committed winner. No
  serialization failures arise at this level; deadlocks (``40P01``) and serialization
  failures (``40001``, should a caller raise the level) of a single statement run outside a
  transaction are retried up to ``max_retries`` times.
  Inside a caller's transaction nothing can be retried (the adapter cannot replay the
  caller's block), so they surface as :class:`~flowrun_core.errors.StorageLocked` /
  :class:`~flowrun_core.errors.StorageOperationalError`, with the transaction rolled back.
* ``""`` is an ordinary key value in the unique index, so a second ``""`` of a flow
  conflicts; ``NULL`` keys never conflict (PostgreSQL treats NULLs as distinct), as the port
  specifies. Only truthy keys take the ``ON CONFLICT`` path.
* **Lost connections.** A server restart or a terminated backend leaves dead connections in
  the pool. A call outside a transaction that hits one (and that is safe to repeat: every
  read, and :meth:`~PostgresRepository.create_flow_run`, which recognises its own earlier
  insert by the run's id) asks the pool to check its idle connections and tries again, up
  to ``max_retries`` times; so does the ``BEGIN`` of a transaction. Other writes, and
  statements inside a transaction, raise :class:`~flowrun_core.errors.StorageUnavailable`.
  A commit is acknowledged only after the server confirmed it, so no acknowledged run is
  lost.
* The schema is created and upgraded by :mod:`flowrun_adapters.postgres.migrations`, rows
  are converted by :mod:`flowrun_adapters.postgres.rows`, and every driver failure is
  translated by :mod:`flowrun_adapters.postgres._translate`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Final, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import attrs
import psycopg
import psycopg_pool
from psycopg import pq, sql
from psycopg.adapt import AdaptersMap
from psycopg.types.string import TextLoader

from flowrun_adapters._records import DecodedRows, by_id_params, sql_limit
from flowrun_adapters._timeouts import checked_timeout
from flowrun_adapters._url_options import url_float, url_int, url_text
from flowrun_core.errors import StorageClosed, StorageError, StorageIntegrityError
from flowrun_core.models import (
    Created,
    Deployment,
    Flow,
    FlowRun,
    InfrastructureDocument,
    State,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)
from flowrun_core.ports import (
    CreationLookups,
    DeploymentUpdates,
    FingerprintStore,
    Repository,
    SharedDeploymentReads,
    SharedFlowReads,
)

from . import rows
from ._translate import (
    DRIVER_ERRORS,
    Translator,
    describe_conninfo,
    is_disconnect,
    is_retryable,
    translate_error,
)
from .migrations import ensure_schema

__all__ = ["PostgresRepository"]

_T = TypeVar("_T")

Conn = psycopg.Connection[Any]

# -- statements ------------------------------------------------------------------------------


def _digest_match(column: str, param: str) -> str:
    """``column`` equal to the parameter, through the unique index on the column's digest.

    Migrations 0004 and 0005 index long texts (keys and names) on their SHA-256 digest; the
    digest comparison reaches that index, the plain one rules out a collision.
    """
    return (
        f"flowrun_text_digest({column}) = flowrun_text_digest(%({param})s)"
        f" AND {column} = %({param})s"
    )


_RUN_COLS: Final = rows.FLOW_RUN_COLUMNS
_INSERT_RUN: Final = rows.insert_sql("flow_runs", _RUN_COLS)
_INSERT_RUN_OR_NOTHING: Final = rows.insert_sql(
    "flow_runs",
    _RUN_COLS,
    " ON CONFLICT (flow_id, flowrun_text_digest(idempotency_key)) DO NOTHING RETURNING seq",
)
_SELECT_RUN: Final = rows.select_sql("flow_runs", _RUN_COLS, "WHERE id = %s")
_SELECT_RUN_BY_KEY: Final = rows.select_sql(
    "flow_runs",
    _RUN_COLS,
    f"WHERE flow_id = %(flow_id)s AND {_digest_match('idempotency_key', 'key')}",
)
_SELECT_RUNS: Final = rows.select_sql("flow_runs", _RUN_COLS)
_COUNT_RUNS: Final = "SELECT count(*) FROM flow_runs"

_INSERT_FLOW: Final = rows.insert_sql("flows", rows.FLOW_COLUMNS)
_SELECT_FLOW: Final = rows.select_sql("flows", rows.FLOW_COLUMNS, "WHERE id = %s")
_SELECT_FLOWS: Final = rows.select_sql(
    "flows", rows.FLOW_COLUMNS, "WHERE (%(name)s::text IS NULL OR name = %(name)s) ORDER BY seq"
)

_INSERT_DEPLOYMENT: Final = rows.insert_sql("deployments", rows.DEPLOYMENT_COLUMNS)
_UPDATE_DEPLOYMENT: Final = rows.update_by_id_sql("deployments", rows.DEPLOYMENT_COLUMNS)
_SELECT_DEPLOYMENT: Final = rows.select_sql("deployments", rows.DEPLOYMENT_COLUMNS, "WHERE id = %s")
_SELECT_DEPLOYMENTS: Final = rows.select_sql(
    "deployments",
    rows.DEPLOYMENT_COLUMNS,
    "WHERE (%(name)s::text IS NULL OR name = %(name)s)"
    " AND (%(flow)s::uuid IS NULL OR flow_id = %(flow)s) ORDER BY seq",
)

_INSERT_POOL: Final = rows.insert_sql("work_pools", rows.WORK_POOL_COLUMNS)
_SELECT_POOL: Final = rows.select_sql("work_pools", rows.WORK_POOL_COLUMNS, "WHERE id = %s")
_BY_NAME: Final = f"WHERE {_digest_match('name', 'name')}"
_SELECT_POOL_BY_NAME: Final = rows.select_sql("work_pools", rows.WORK_POOL_COLUMNS, _BY_NAME)

_INSERT_QUEUE: Final = rows.insert_sql("work_queues", rows.WORK_QUEUE_COLUMNS)
_SELECT_QUEUE: Final = rows.select_sql("work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE id = %s")
_SELECT_QUEUE_BY_NAME: Final = rows.select_sql(
    "work_queues",
    rows.WORK_QUEUE_COLUMNS,
    f"{_BY_NAME} AND work_pool_id = %(pool)s",
)
_SELECT_QUEUES: Final = rows.select_sql(
    "work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE work_pool_id = %s ORDER BY seq"
)
_SELECT_QUEUES_NAMED: Final = rows.select_sql(
    "work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE name = %s ORDER BY seq"
)

_INSERT_VARIABLE: Final = rows.insert_sql("variables", rows.VARIABLE_COLUMNS)
_SELECT_VARIABLE: Final = rows.select_sql("variables", rows.VARIABLE_COLUMNS, _BY_NAME)

_INSERT_TASK_RUN: Final = rows.insert_sql("task_runs", rows.TASK_RUN_COLUMNS)
_SELECT_TASK_RUN: Final = rows.select_sql("task_runs", rows.TASK_RUN_COLUMNS, "WHERE id = %s")
_SELECT_TASK_RUN_BY_KEYS: Final = rows.select_sql(
    "task_runs",
    rows.TASK_RUN_COLUMNS,
    "WHERE flow_run_id IS NOT DISTINCT FROM %s AND task_key = %s AND dynamic_key = %s LIMIT 1",
)
_UPDATE_TASK_RUN_STATE: Final = "UPDATE task_runs SET state = %s WHERE id = %s"

_INSERT_DOCUMENT: Final = rows.insert_sql("infrastructure_documents", rows.DOCUMENT_COLUMNS)
_SELECT_DOCUMENT: Final = rows.select_sql(
    "infrastructure_documents", rows.DOCUMENT_COLUMNS, "WHERE id = %s"
)

_UPSERT_FINGERPRINT: Final = (
    "INSERT INTO flow_run_fingerprints (flow_run_id, fingerprint) VALUES (%s, %s) "
    "ON CONFLICT (flow_run_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint"
)
_SELECT_FINGERPRINT: Final = "SELECT fingerprint FROM flow_run_fingerprints WHERE flow_run_id = %s"

_URL_OPTIONS: Final[dict[str, Callable[[str, str], object]]] = {
    "schema": url_text,
    "pool_min": url_int,
    "pool_max": url_int,
    "statement_timeout": url_float,
    "pool_timeout": url_float,
    "max_retries": url_int,
    "synchronous_commit": url_text,
}
"""Query parameters :meth:`PostgresRepository.from_url` takes; the rest go to libpq."""

_SYNCHRONOUS_COMMIT: Final = frozenset({"on", "off", "local", "remote_write", "remote_apply"})

_MAX_NAME_BYTES: Final = 63
"""PostgreSQL's longest identifier (``NAMEDATALEN - 1``); it cuts longer ones silently."""


def _check_schema_name(schema: str) -> None:
    """``ValueError`` for a schema name PostgreSQL would not keep as given.

    PostgreSQL cuts a name past 63 bytes without an error, so two long names that share
    their first 63 bytes would open one store; and it stores no NUL or lone surrogate.
    """
    if not schema:
        raise ValueError("schema must be a non-empty name")
    if "\x00" in schema:
        raise ValueError(f"schema must not contain NUL characters: {schema!r}")
    try:
        size = len(schema.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"schema must be valid Unicode text: {schema!r}") from None
    if size > _MAX_NAME_BYTES:
        raise ValueError(
            f"schema must be at most {_MAX_NAME_BYTES} bytes in UTF-8, not {size} "
            f"({schema!r}): PostgreSQL cuts longer names, so two of them could share one store"
        )


_URL_SCHEMES: Final = frozenset({"postgresql", "postgres", "postgresql+psycopg"})

_ADAPTERS: Final = AdaptersMap(psycopg.adapters)
# ``json`` columns come back as their exact text; rows.load_json decodes them.
_ADAPTERS.register_loader("json", TextLoader)

_BAD: Final = (pq.TransactionStatus.INERROR, pq.TransactionStatus.UNKNOWN)


@attrs.define
class _Held:
    """The connection a transaction holds, and how deep its savepoints go."""

    conn: Conn
    depth: int = 0


def _quietly(conn: Conn, statement: bytes) -> None:
    """Undo after a failure; a failing undo must not hide the failure that caused it."""
    try:
        if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.execute(statement)
    except psycopg.Error:
        pass


class PostgresRepository(
    Repository,
    FingerprintStore,
    SharedDeploymentReads,
    SharedFlowReads,
    CreationLookups,
    DeploymentUpdates,
):
    """A :class:`~flowrun_core.ports.Repository` over a PostgreSQL database (one schema).

    It also stores request fingerprints (:class:`~flowrun_core.ports.FingerprintStore`),
    and lends the service decoded deployments and flows
    (:class:`~flowrun_core.ports.SharedDeploymentReads`,
    :class:`~flowrun_core.ports.SharedFlowReads`).

    Args:
        conninfo: a libpq connection string or URL (``postgresql://user@host:5432/db``);
            anything libpq reads (``sslmode``, ``connect_timeout``, ...) may be given here.
        schema: the PostgreSQL schema that holds flowrun's tables; created and migrated on
            open. Different schemas are independent stores. At most 63 bytes in UTF-8
            (PostgreSQL's longest name), without NUL.
        pool_min: connections the pool keeps open.
        pool_max: the most connections the pool opens (concurrent calls beyond this wait).
        statement_timeout: seconds after which the server cancels a statement
            (``StorageTimeout``); ``None`` keeps the server's setting.
        pool_timeout: seconds a call waits for a free pooled connection before
            ``StorageUnavailable``.
        connect_timeout: seconds a new connection may take to open. Each of the three
            timeouts is at most 2,147,483.647 s (about 24.8 days: PostgreSQL's longest
            ``statement_timeout``).
        application_name: shown in ``pg_stat_activity`` (default ``"flowrun"``).
        max_retries: attempts for a statement that hit a deadlock, a serialization failure
            or a lost connection (where repeating it is safe).
        synchronous_commit: the session's ``synchronous_commit``; ``None`` keeps the
            server's (``on`` by default: a commit returns once it is flushed to disk, so no
            acknowledged run is lost even if the server crashes). ``"off"`` returns before
            the flush, several times faster per create, like the SQLite adapter's
            ``synchronous="NORMAL"``: a server crash (not a lost connection or a killed
            client) may then lose the last acknowledged commits, never corrupt the data.

    Raises:
        ValueError: an option is out of range.
        TypeError: a timeout is not a number.
        StorageUnavailable: the server cannot be reached.
        StorageAccessDenied: the credentials, role or database were refused.
        StorageSchemaError: the schema is from a newer flowrun-core, or not flowrun's.
        StorageError: any other failure to open.
    """

    def __init__(
        self,
        conninfo: str = "",
        *,
        schema: str = "flowrun",
        pool_min: int = 1,
        pool_max: int = 8,
        statement_timeout: float | None = 30.0,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        application_name: str = "flowrun",
        max_retries: int = 3,
        synchronous_commit: str | None = None,
    ) -> None:
        _check_schema_name(schema)
        if not 0 <= pool_min <= pool_max or pool_max < 1:
            raise ValueError(
                f"need 0 <= pool_min <= pool_max and pool_max >= 1, not {pool_min}, {pool_max}"
            )
        if statement_timeout is not None:
            statement_timeout = checked_timeout("statement_timeout", statement_timeout)
        pool_timeout = checked_timeout("pool_timeout", pool_timeout)
        connect_timeout = checked_timeout("connect_timeout", connect_timeout)
        if max_retries < 1:
            raise ValueError(f"max_retries must be >= 1, not {max_retries!r}")
        if synchronous_commit is not None and synchronous_commit not in _SYNCHRONOUS_COMMIT:
            raise ValueError(
                f"synchronous_commit must be one of {sorted(_SYNCHRONOUS_COMMIT)} or None, "
                f"not {synchronous_commit!r}"
            )
        self._synchronous_commit = synchronous_commit
        self._conninfo = conninfo
        self._schema = schema
        self._statement_timeout = statement_timeout
        self._max_retries = max_retries
        self._application_name = application_name
        self._where = describe_conninfo(conninfo)
        self._translate = Translator(self._where)
        self._current: ContextVar[_Held | None] = ContextVar(
            f"flowrun_postgres_{id(self)}", default=None
        )
        self._closed = False
        self._decoded: DecodedRows[UUID, Deployment] = DecodedRows(rows.deployment_from_row)
        self._decoded_flows: DecodedRows[UUID, Flow] = DecodedRows(rows.flow_from_row)
        self._kwargs: dict[str, Any] = {
            "autocommit": True,
            "context": _ADAPTERS,
            "application_name": application_name,
            "connect_timeout": max(1, round(connect_timeout)),
        }
        # Connect once directly: a refused connection or bad credentials fail here, with
        # the server's own message, instead of as a pool timeout later.
        with self._translate:
            first = psycopg.connect(conninfo, **self._kwargs)
        try:
            with self._translate:
                ensure_schema(first, schema, self._where)
        finally:
            first.close()
        self._pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=pool_min,
            max_size=pool_max,
            kwargs=self._kwargs,
            configure=self._configure,
            timeout=pool_timeout,
            name=f"flowrun-{schema}",
            open=False,
        )
        with self._translate:
            self._pool.open(wait=False)

    def _configure(self, conn: Conn) -> None:
        """Set up a connection the pool just opened (it is in autocommit mode)."""
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema)))
        if self._statement_timeout is not None:
            millis = max(1, round(self._statement_timeout * 1000))
            conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(millis)))
        if self._synchronous_commit is not None:
            conn.execute(
                sql.SQL("SET synchronous_commit = {}").format(sql.Literal(self._synchronous_commit))
            )

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresRepository:
        """Open the repository a ``postgresql://`` URL names.

        Query parameters ``schema``, ``pool_min``, ``pool_max``, ``statement_timeout``
        (seconds), ``pool_timeout`` (seconds), ``max_retries`` and ``synchronous_commit``
        set options; every other
        parameter (``sslmode``, ``connect_timeout``, ``application_name``, ...) is passed
        to libpq. ``postgres://`` and ``postgresql+psycopg://`` are accepted too. Keyword
        ``options`` win over the URL's.

        Raises:
            ValueError: the URL is not a PostgreSQL URL, or an option has a bad value.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() not in _URL_SCHEMES:
            raise ValueError(f"not a PostgreSQL URL (expected postgresql://...): {url!r}")
        parsed: dict[str, Any] = {}
        passthrough: list[tuple[str, str]] = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            convert = _URL_OPTIONS.get(key)
            if convert is None:
                if key == "application_name":
                    parsed[key] = value
                elif key == "connect_timeout":
                    parsed[key] = url_float(key, value)
                else:
                    passthrough.append((key, value))
                continue
            parsed[key] = convert(key, value)
        parsed.update(options)
        conninfo = urlunsplit(
            ("postgresql", parts.netloc, parts.path, urlencode(passthrough), parts.fragment)
        )
        return cls(conninfo, **parsed)

    # -- properties -------------------------------------------------------------------------

    @property
    def schema(self) -> str:
        """The PostgreSQL schema that holds this store's tables."""
        return self._schema

    @property
    def server(self) -> str:
        """The server, database and user, for messages (never the password)."""
        return self._where

    @property
    def application_name(self) -> str:
        """The ``application_name`` every pooled connection reports."""
        return self._application_name

    def __repr__(self) -> str:
        return f"PostgresRepository({self._where!r}, schema={self._schema!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool (open transactions are rolled back by the server); idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._translate:
            self._pool.close(timeout=5.0)

    # -- connections ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosed(f"The repository is closed ({self._where}, {self._schema}).")

    def _getconn(self) -> Conn:
        self._check_open()
        with self._translate:
            return self._pool.getconn()

    def _putconn(self, conn: Conn) -> None:
        try:
            self._pool.putconn(conn)
        except psycopg.Error:  # pragma: no cover - the pool closed meanwhile
            conn.close()

    def _recover(self, exc: BaseException, attempt: int) -> None:
        """Prepare attempt ``attempt + 1`` after ``exc``; re-raise it translated if none."""
        if attempt >= self._max_retries or self._closed:
            raise translate_error(exc, self._where) from exc
        if is_disconnect(exc):
            # Dead connections sit idle in the pool after a restart: drop them all now.
            self._pool.check()
        else:
            time.sleep(0.005 * attempt)

    def _run(self, op: Callable[[Conn, bool], _T], *, repeatable: bool) -> _T:
        """Run ``op(conn, retrying)`` on the transaction's connection, or a pooled one.

        Outside a transaction, deadlocks and serialization failures are retried, and so are
        lost connections when ``repeatable`` (the operation is safe to run twice).
        """
        held = self._current.get()
        if held is not None:
            self._check_open()
            with self._translate:
                return op(held.conn, False)  # noqa: FBT003 - a positional callback
        for attempt in itertools.count(1):
            conn = self._getconn()
            try:
                result = op(conn, attempt > 1)
            except DRIVER_ERRORS as exc:
                self._putconn(conn)
                if not (is_retryable(exc) or (repeatable and is_disconnect(exc))):
                    raise translate_error(exc, self._where) from exc
                self._recover(exc, attempt)
                continue
            except BaseException:
                self._putconn(conn)
                raise
            self._putconn(conn)
            return result
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _one(self, query: str, params: Any, convert: Callable[[Any], _T]) -> _T | None:
        def op(conn: Conn, _retrying: bool) -> _T | None:
            try:
                row = conn.execute(query.encode(), params).fetchone()
            except UnicodeEncodeError:  # text no row can hold: nothing matches it
                return None
            return None if row is None else convert(row)

        return self._run(op, repeatable=True)

    def _all(self, query: str, params: Any, convert: Callable[[Any], _T]) -> list[_T]:
        """Rows of a read; a bound string the server cannot hold (a lone surrogate) matches none.

        Such a string can never have been written (the write raises ``StorageValueError``),
        so a lookup by it finds nothing, as in the in-memory adapter, instead of failing.
        """

        def op(conn: Conn, _retrying: bool) -> list[_T]:
            try:
                found = conn.execute(query.encode(), params).fetchall()
            except UnicodeEncodeError:
                return []
            return [convert(row) for row in found]

        return self._run(op, repeatable=True)

    def _write(self, query: str, params: Any) -> int:
        def op(conn: Conn, _retrying: bool) -> int:
            return conn.execute(query.encode(), params).rowcount

        return self._run(op, repeatable=False)

    # -- unit of work -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One all-or-nothing unit: ``BEGIN`` on one pooled connection, ``SAVEPOINT`` nested.

        Every port call inside the block (in this thread or task) runs on that connection.
        """
        held = self._current.get()
        if held is not None:
            yield from self._savepoint(held)
            return
        conn = self._begin()
        held = _Held(conn)
        token = self._current.set(held)
        try:
            try:
                yield
            except BaseException:
                _quietly(conn, b"ROLLBACK")
                raise
            self._commit(conn)
        finally:
            self._current.reset(token)
            self._putconn(conn)

    def _begin(self) -> Conn:
        """A pooled connection with ``BEGIN`` sent; lost connections are replaced."""
        for attempt in itertools.count(1):
            conn = self._getconn()
            try:
                conn.execute(b"BEGIN")
            except DRIVER_ERRORS as exc:
                self._putconn(conn)
                if not is_disconnect(exc):
                    raise translate_error(exc, self._where) from exc
                self._recover(exc, attempt)
            else:
                return conn
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _commit(self, conn: Conn) -> None:
        if self._closed:
            _quietly(conn, b"ROLLBACK")
            raise StorageClosed(
                f"The repository was closed inside a transaction ({self._where}); "
                "nothing in it was written."
            )
        if conn.info.transaction_status in _BAD:
            _quietly(conn, b"ROLLBACK")
            raise StorageError(
                f"{self._where}: the transaction was aborted by an error inside it; "
                "nothing in it was written."
            )
        try:
            conn.execute(b"COMMIT")
        except DRIVER_ERRORS as exc:
            _quietly(conn, b"ROLLBACK")
            raise translate_error(exc, self._where) from exc

    def _savepoint(self, held: _Held) -> Iterator[None]:
        self._check_open()
        conn = held.conn
        name = sql.Identifier(f"flowrun_sp{held.depth}")
        with self._translate:
            conn.execute(sql.SQL("SAVEPOINT {}").format(name))
        held.depth += 1
        try:
            yield
        except BaseException:
            held.depth -= 1
            _quietly(conn, sql.SQL("ROLLBACK TO SAVEPOINT {}").format(name).as_bytes(conn))
            _quietly(conn, sql.SQL("RELEASE SAVEPOINT {}").format(name).as_bytes(conn))
            raise
        held.depth -= 1
        self._check_open()
        with self._translate:
            conn.execute(sql.SQL("RELEASE SAVEPOINT {}").format(name))

    # -- reads ------------------------------------------------------------------------------

    def get_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow with this id."""
        return self._one(_SELECT_FLOW, (flow_id,), rows.flow_from_row)

    def get_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment with this id."""
        return self._one(_SELECT_DEPLOYMENT, (deployment_id,), rows.deployment_from_row)

    def get_shared_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment, decoded once per distinct row (:class:`SharedDeploymentReads`).

        The row is selected every time (inside the caller's transaction when there is
        one), so a deployment changed or removed by another client is seen; only the
        decoding is skipped when the row is the one last decoded for this id.
        """
        row = self._one(_SELECT_DEPLOYMENT, (deployment_id,), tuple)
        return None if row is None else self._decoded.get(deployment_id, row)

    def get_shared_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow, decoded once per distinct row (:class:`SharedFlowReads`), as above."""
        row = self._one(_SELECT_FLOW, (flow_id,), tuple)
        return None if row is None else self._decoded_flows.get(flow_id, row)

    def list_flows(self, *, name: str | None = None) -> Sequence[Flow]:
        """Flows in creation order; only those with exactly this ``name`` when given."""
        params = {"name": None if name is None else rows.encode_text(name)}
        return self._all(_SELECT_FLOWS, params, rows.flow_from_row)

    def list_deployments(
        self, *, name: str | None = None, flow_id: UUID | None = None
    ) -> Sequence[Deployment]:
        """Deployments in creation order, optionally filtered by exact name and flow."""
        params = {"name": None if name is None else rows.encode_text(name), "flow": flow_id}
        return self._all(_SELECT_DEPLOYMENTS, params, rows.deployment_from_row)

    def get_work_pool(self, work_pool_id: UUID, /) -> WorkPool | None:
        """The work pool with this id."""
        return self._one(_SELECT_POOL, (work_pool_id,), rows.work_pool_from_row)

    def get_work_pool_by_name(self, name: str, /) -> WorkPool | None:
        """The work pool with this exact (case-sensitive) name."""
        params = {"name": rows.encode_text(name)}
        return self._one(_SELECT_POOL_BY_NAME, params, rows.work_pool_from_row)

    def get_work_queue(self, work_queue_id: UUID, /) -> WorkQueue | None:
        """The work queue with this id."""
        return self._one(_SELECT_QUEUE, (work_queue_id,), rows.work_queue_from_row)

    def get_work_queue_by_name(self, work_pool_id: UUID, name: str, /) -> WorkQueue | None:
        """The queue with this exact name inside this pool (never one of another pool)."""
        params = {"pool": work_pool_id, "name": rows.encode_text(name)}
        return self._one(_SELECT_QUEUE_BY_NAME, params, rows.work_queue_from_row)

    def list_work_queues(self, work_pool_id: UUID, /) -> Sequence[WorkQueue]:
        """Every queue of this pool, in creation order."""
        return self._all(_SELECT_QUEUES, (work_pool_id,), rows.work_queue_from_row)

    def find_work_queues(self, name: str, /) -> Sequence[WorkQueue]:
        """Every queue with this exact name, in any pool, in creation order."""
        return self._all(_SELECT_QUEUES_NAMED, (rows.encode_text(name),), rows.work_queue_from_row)

    def get_variable(self, name: str, /) -> Variable | None:
        """The workspace variable with this name."""
        params = {"name": rows.encode_text(name)}
        return self._one(_SELECT_VARIABLE, params, rows.variable_from_row)

    def get_task_run(self, task_run_id: UUID, /) -> TaskRun | None:
        """The task run with this id."""
        return self._one(_SELECT_TASK_RUN, (task_run_id,), rows.task_run_from_row)

    def find_task_run(
        self, flow_run_id: UUID | None, task_key: str, dynamic_key: str, /
    ) -> TaskRun | None:
        """A task run with these keys (``None``: outside any flow run)."""
        params = (flow_run_id, rows.encode_text(task_key), rows.encode_text(dynamic_key))
        return self._one(_SELECT_TASK_RUN_BY_KEYS, params, rows.task_run_from_row)

    def get_infrastructure_document(self, document_id: UUID, /) -> InfrastructureDocument | None:
        """The block document with this id."""
        return self._one(_SELECT_DOCUMENT, (document_id,), rows.document_from_row)

    def get_flow_run(self, flow_run_id: UUID, /) -> FlowRun | None:
        """The flow run with this id."""
        return self._one(_SELECT_RUN, (flow_run_id,), rows.flow_run_from_row)

    def get_flow_run_by_idempotency_key(self, flow_id: UUID, key: str, /) -> FlowRun | None:
        """The run of this flow that holds this idempotency key (``""`` included)."""
        params = {"flow_id": flow_id, "key": rows.encode_text(key)}
        return self._one(_SELECT_RUN_BY_KEY, params, rows.flow_run_from_row)

    def list_flow_runs(
        self,
        *,
        flow_id: UUID | None = None,
        deployment_id: UUID | None = None,
        limit: int | None = None,
    ) -> Sequence[FlowRun]:
        """Runs in creation order, optionally filtered; ``limit`` keeps the first ones.

        A ``limit`` of zero or less keeps none.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if flow_id is not None:
            clauses.append("flow_id = %s")
            params.append(flow_id)
        if deployment_id is not None:
            clauses.append("deployment_id = %s")
            params.append(deployment_id)
        query = _SELECT_RUNS
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT %s"
            params.append(sql_limit(limit))
        return self._all(query, params, rows.flow_run_from_row)

    def count_flow_runs(self) -> int:
        """How many flow runs are stored."""
        count = self._one(_COUNT_RUNS, (), lambda row: int(row[0]))
        return 0 if count is None else count

    def raw_flow_run_count(self) -> int:
        """Test backdoor: the row count of ``flow_runs``, by SQL that bypasses the port."""
        with self._translate, psycopg.connect(self._conninfo, **self._kwargs) as conn:
            query = sql.SQL("SELECT count(*) FROM {}.flow_runs").format(
                sql.Identifier(self._schema)
            )
            row = conn.execute(query).fetchone()
        return 0 if row is None else int(row[0])

    # -- writes -----------------------------------------------------------------------------

    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        """Insert ``flow_run``, or return the stored run with the same flow and truthy key.

        A truthy key runs ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on the unique
        index of the flow and the key's digest: the returned row tells a create from a hit,
        and a hit then reads the winner (committed, or written earlier in the caller's
        transaction). ``""`` and
        ``None`` are plain inserts, so a second ``""`` of a flow violates the unique index.
        Repeated after a lost connection, a create recognises its own earlier insert by the
        run's id and still reports ``created=True``.
        """
        row = rows.flow_run_to_row(flow_run)
        key = row[12]

        def op(conn: Conn, retrying: bool) -> Created[FlowRun]:
            if retrying:
                mine = conn.execute(_SELECT_RUN.encode(), (flow_run.id,)).fetchone()
                if mine is not None:
                    return Created(value=rows.flow_run_from_row(mine), created=True)
            if not key:
                conn.execute(_INSERT_RUN.encode(), row)
                return Created(value=rows.copy_flow_run(flow_run), created=True)
            if conn.execute(_INSERT_RUN_OR_NOTHING.encode(), row).fetchone() is not None:
                return Created(value=rows.copy_flow_run(flow_run), created=True)
            params = {"flow_id": flow_run.flow_id, "key": key}
            found = conn.execute(_SELECT_RUN_BY_KEY.encode(), params).fetchone()
            if found is None:  # pragma: no cover - runs are never deleted
                raise StorageError(
                    f"{self._where}: the run holding key {flow_run.idempotency_key!r} "
                    "vanished during create_flow_run."
                )
            return Created(value=rows.flow_run_from_row(found), created=False)

        return self._run(op, repeatable=True)

    def create_work_queue(self, work_queue: WorkQueue, /) -> WorkQueue:
        """Insert a queue; its pool must exist and its name be free in that pool."""
        self._write(_INSERT_QUEUE, rows.work_queue_to_row(work_queue))
        return attrs.evolve(work_queue)

    def set_task_run_state(self, task_run_id: UUID, state: State, /) -> None:
        """Replace a task run's state; a missing task run raises ``StorageIntegrityError``."""
        if not self._write(_UPDATE_TASK_RUN_STATE, (rows.dump_state(state), task_run_id)):
            raise StorageIntegrityError(f"Task run {task_run_id} does not exist.")

    # -- seeding ----------------------------------------------------------------------------

    def add_flow(self, flow: Flow, /) -> None:
        """Register a flow."""
        self._write(_INSERT_FLOW, rows.flow_to_row(flow))

    def add_deployment(self, deployment: Deployment, /) -> None:
        """Register a deployment; its flow and (if set) its work queue must exist."""
        self._write(_INSERT_DEPLOYMENT, rows.deployment_to_row(deployment))

    def replace_deployment(self, deployment: Deployment, /) -> None:
        """Replace the stored deployment with this id (:class:`DeploymentUpdates`)."""
        row = rows.deployment_to_row(deployment)
        if not self._write(_UPDATE_DEPLOYMENT, by_id_params(rows.DEPLOYMENT_COLUMNS, row)):
            raise StorageIntegrityError(f"Deployment {deployment.id} does not exist.")

    def add_work_pool(self, work_pool: WorkPool, /) -> None:
        """Register a work pool (ids and names are unique)."""
        self._write(_INSERT_POOL, rows.work_pool_to_row(work_pool))

    def add_variable(self, variable: Variable, /) -> None:
        """Register a workspace variable (names are unique)."""
        self._write(_INSERT_VARIABLE, rows.variable_to_row(variable))

    def add_task_run(self, task_run: TaskRun, /) -> None:
        """Register a task run; its flow run, if set, must exist."""
        self._write(_INSERT_TASK_RUN, rows.task_run_to_row(task_run))

    def add_infrastructure_document(self, document: InfrastructureDocument, /) -> None:
        """Register a block document."""
        self._write(_INSERT_DOCUMENT, rows.document_to_row(document))

    def add_flow_run(self, flow_run: FlowRun, /) -> None:
        """Insert a pre-existing run as is; a taken id or (flow, key) is an integrity error."""
        self._write(_INSERT_RUN, rows.flow_run_to_row(flow_run))

    # -- request fingerprints (FingerprintStore) ---------------------------------------------

    def set_flow_run_fingerprint(self, flow_run_id: UUID, fingerprint: str, /) -> None:
        """Store the run's fingerprint, replacing any earlier one; a missing run is an error."""
        self._write(_UPSERT_FINGERPRINT, (flow_run_id, rows.encode_text(fingerprint)))

    def get_flow_run_fingerprint(self, flow_run_id: UUID, /) -> str | None:
        """The fingerprint stored for the run; ``None`` for none (or no such run)."""
        return self._one(_SELECT_FINGERPRINT, (flow_run_id,), lambda row: rows.decode_text(row[0]))
