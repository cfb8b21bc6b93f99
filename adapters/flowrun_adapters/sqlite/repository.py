"""The SQLite storage adapter: :class:`SQLiteRepository`.

Design
------
* **One connection per repository**, opened with ``check_same_thread=False`` and
  ``isolation_level=None`` (the adapter issues ``BEGIN``/``COMMIT`` itself). A re-entrant
  lock guards it: every call holds the lock while it talks to SQLite, and a
  :meth:`~SQLiteRepository.transaction` holds it from start to end, so other threads wait
  for the whole unit of work. A thread that waits longer than ``busy_timeout`` gets
  :class:`~flowrun_core.errors.StorageLocked`, as a process waiting on SQLite's file lock
  does.
* **Across processes** SQLite's own locking serialises writers: the outermost transaction is
  ``BEGIN IMMEDIATE`` (it takes the write lock before the first read, so a service's
  read-then-write cannot interleave with another process's), and ``busy_timeout`` makes a
  writer wait for the lock instead of failing at once.
* **Outside a transaction** each write is its own transaction (autocommit). A keyed
  :meth:`~SQLiteRepository.create_flow_run` decides with one atomic
  ``INSERT ... ON CONFLICT(flow_id, idempotency_key) DO NOTHING``; on a hit it then selects
  the committed winner (runs are never deleted, so it is there).
* **Durability.** The file is in WAL mode. With ``synchronous="NORMAL"`` (the default) a
  commit is in the OS before the call returns, so it survives the process being killed
  (SIGKILL included); only an OS crash or power loss can lose the last commits, never
  corrupt the file. ``synchronous="FULL"`` fsyncs the WAL on every commit, so commits also
  survive power loss, at roughly five times the cost per write (about 50 µs versus 250 µs).
* **Checkpoints** run on a daemon thread by default (:mod:`flowrun_adapters.sqlite.checkpoint`),
  so no create pays for copying the WAL into the file; ``checkpoint="inline"`` restores
  SQLite's default.
* Foreign keys are enforced (``PRAGMA foreign_keys=ON``), the schema is created and
  upgraded by :mod:`flowrun_adapters.sqlite.migrations`, rows are converted by
  :mod:`flowrun_adapters.sqlite.rows`, and every driver failure is translated by
  :mod:`flowrun_adapters.sqlite._translate`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar
from urllib.parse import parse_qsl, quote, unquote
from uuid import UUID

from flowrun_adapters._records import DecodedRows, by_id_params, sql_limit
from flowrun_adapters._timeouts import checked_timeout
from flowrun_adapters._url_options import url_flag, url_float, url_int
from flowrun_core.errors import (
    StorageClosed,
    StorageError,
    StorageIntegrityError,
    StorageLocked,
)
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
from ._translate import Translator, is_busy
from .checkpoint import DEFAULT_EVERY, SAFETY_NET_PAGES, Checkpointer
from .migrations import ensure_schema

__all__ = ["SQLiteRepository"]

_T = TypeVar("_T")

Synchronous = Literal["NORMAL", "FULL"]
CheckpointMode = Literal["background", "inline"]

_MEMORY: Final = ":memory:"
_WAL_RETRY_PAUSE_MAX: Final = 0.05
"""Longest pause, in seconds, between two tries of the switch to WAL (see ``_switch_to_wal``)."""


def _milliseconds(seconds: float) -> int:
    """``seconds`` as a ``PRAGMA busy_timeout`` value (SQLite keeps a C ``int``)."""
    return min(int(seconds * 1000), 2**31 - 1)


# -- prepared statements (sqlite3 caches them per connection by their text) ----------------

_RUN_COLS: Final = rows.FLOW_RUN_COLUMNS
_RUN_KEY_CONFLICT: Final = (
    " ON CONFLICT(flow_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
)
_SELECT_RUN: Final = rows.select_sql("flow_runs", _RUN_COLS, "WHERE id = ?")
_SELECT_RUN_BY_KEY: Final = rows.select_sql(
    "flow_runs", _RUN_COLS, "WHERE flow_id = ? AND idempotency_key = ?"
)
_SELECT_RUNS: Final = rows.select_sql("flow_runs", _RUN_COLS)
_COUNT_RUNS: Final = "SELECT count(*) FROM flow_runs"

_INSERT_FLOW: Final = rows.insert_sql("flows", rows.FLOW_COLUMNS)
_SELECT_FLOW: Final = rows.select_sql("flows", rows.FLOW_COLUMNS, "WHERE id = ?")

_SELECT_FLOWS: Final = rows.select_sql(
    "flows", rows.FLOW_COLUMNS, "WHERE (?1 IS NULL OR name = ?1) ORDER BY rowid"
)
_SELECT_DEPLOYMENTS: Final = rows.select_sql(
    "deployments",
    rows.DEPLOYMENT_COLUMNS,
    "WHERE (?1 IS NULL OR name = ?1) AND (?2 IS NULL OR flow_id = ?2) ORDER BY rowid",
)

_INSERT_DEPLOYMENT: Final = rows.insert_sql("deployments", rows.DEPLOYMENT_COLUMNS)
_UPDATE_DEPLOYMENT: Final = rows.update_by_id_sql("deployments", rows.DEPLOYMENT_COLUMNS)
_SELECT_DEPLOYMENT: Final = rows.select_sql("deployments", rows.DEPLOYMENT_COLUMNS, "WHERE id = ?")

_INSERT_POOL: Final = rows.insert_sql("work_pools", rows.WORK_POOL_COLUMNS)
_SELECT_POOL: Final = rows.select_sql("work_pools", rows.WORK_POOL_COLUMNS, "WHERE id = ?")
_SELECT_POOL_BY_NAME: Final = rows.select_sql(
    "work_pools", rows.WORK_POOL_COLUMNS, "WHERE name = ?"
)

_INSERT_QUEUE: Final = rows.insert_sql("work_queues", rows.WORK_QUEUE_COLUMNS)
_SELECT_QUEUE: Final = rows.select_sql("work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE id = ?")
_SELECT_QUEUE_BY_NAME: Final = rows.select_sql(
    "work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE work_pool_id = ? AND name = ?"
)
_SELECT_QUEUES: Final = rows.select_sql(
    "work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE work_pool_id = ? ORDER BY seq"
)
_SELECT_QUEUES_NAMED: Final = rows.select_sql(
    "work_queues", rows.WORK_QUEUE_COLUMNS, "WHERE name = ? ORDER BY seq"
)

_INSERT_VARIABLE: Final = rows.insert_sql("variables", rows.VARIABLE_COLUMNS)
_SELECT_VARIABLE: Final = rows.select_sql("variables", rows.VARIABLE_COLUMNS, "WHERE name = ?")

_INSERT_TASK_RUN: Final = rows.insert_sql("task_runs", rows.TASK_RUN_COLUMNS)
_SELECT_TASK_RUN: Final = rows.select_sql("task_runs", rows.TASK_RUN_COLUMNS, "WHERE id = ?")
_SELECT_TASK_RUN_BY_KEYS: Final = rows.select_sql(
    "task_runs",
    rows.TASK_RUN_COLUMNS,
    "WHERE flow_run_id IS ? AND task_key = ? AND dynamic_key = ? ORDER BY rowid LIMIT 1",
)
_UPDATE_TASK_RUN_STATE: Final = "UPDATE task_runs SET state = ? WHERE id = ?"

_INSERT_DOCUMENT: Final = rows.insert_sql("infrastructure_documents", rows.DOCUMENT_COLUMNS)
_SELECT_DOCUMENT: Final = rows.select_sql(
    "infrastructure_documents", rows.DOCUMENT_COLUMNS, "WHERE id = ?"
)

_UPSERT_FINGERPRINT: Final = (
    "INSERT INTO flow_run_fingerprints (flow_run_id, fingerprint) VALUES (?, ?) "
    "ON CONFLICT(flow_run_id) DO UPDATE SET fingerprint = excluded.fingerprint"
)
_SELECT_FINGERPRINT: Final = "SELECT fingerprint FROM flow_run_fingerprints WHERE flow_run_id = ?"
_DATA_VERSION: Final = "PRAGMA data_version"


_URL_OPTIONS: Final = frozenset(
    {"synchronous", "busy_timeout", "read_only", "checkpoint", "checkpoint_every"}
)


class _Session:
    """Hold the repository's lock for one call and hand out its open connection."""

    __slots__ = ("_repo",)

    def __init__(self, repo: SQLiteRepository) -> None:
        self._repo = repo

    def __enter__(self) -> sqlite3.Connection:
        repo = self._repo
        if not repo._lock.acquire(timeout=repo._busy_timeout):  # noqa: SLF001
            raise StorageLocked(
                f"SQLite database {repo.path}: another thread held the repository past "
                f"the busy timeout of {repo.busy_timeout:g} s; nothing was written."
            )
        try:
            repo._check_usable()  # noqa: SLF001
        except BaseException:
            repo._lock.release()  # noqa: SLF001
            raise
        return repo._conn  # noqa: SLF001

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._repo._lock.release()  # noqa: SLF001


def _rollback_quietly(conn: sqlite3.Connection, statement: str = "ROLLBACK") -> None:
    """Undo after a failure; a failing undo must not hide the failure that caused it."""
    try:
        if conn.in_transaction:
            conn.execute(statement)
    except sqlite3.Error:
        pass


class SQLiteRepository(
    Repository,
    FingerprintStore,
    SharedDeploymentReads,
    SharedFlowReads,
    CreationLookups,
    DeploymentUpdates,
):
    """A :class:`~flowrun_core.ports.Repository` over one SQLite file (or ``:memory:``).

    It also stores request fingerprints (:class:`~flowrun_core.ports.FingerprintStore`) in
    the ``flow_run_fingerprints`` table, and lends the service decoded deployments and flows
    (:class:`~flowrun_core.ports.SharedDeploymentReads`,
    :class:`~flowrun_core.ports.SharedFlowReads`).

    Args:
        path: the database file; created with the current schema if missing, upgraded if
            older. ``":memory:"`` keeps everything in this process (no WAL there).
        synchronous: ``"NORMAL"`` (default: survives a killed process, may lose the last
            commits on power loss) or ``"FULL"`` (fsync per commit: survives power loss).
        busy_timeout: seconds a writer waits for another's lock before ``StorageLocked``;
            0 (never wait) to 2,147,483.647 (SQLite's longest, about 24.8 days).
        read_only: open the file read-only (``mode=ro``); every write raises
            ``StorageReadOnly``. The file must exist with the current schema. (A file the
            process cannot write is opened read-only by SQLite anyway, with the same effect.)
        checkpoint: ``"background"`` (default: a daemon thread copies the WAL into the
            file after every ``checkpoint_every`` writes, see
            :mod:`flowrun_adapters.sqlite.checkpoint`) or ``"inline"`` (SQLite's default:
            the commit that fills the WAL past 1000 pages copies it). Files only.
        checkpoint_every: writes between background checkpoints.

    Raises:
        ValueError: an option is out of range.
        TypeError: ``busy_timeout`` is not a number.
        StorageSchemaError: the file's schema is newer than this code, or not flowrun's.
        StorageCorrupt: the file is not an SQLite database.
        StorageError: any other failure to open the file.
    """

    def __init__(
        self,
        path: str | Path = _MEMORY,
        *,
        synchronous: Synchronous = "NORMAL",
        busy_timeout: float = 30.0,
        read_only: bool = False,
        checkpoint: CheckpointMode = "background",
        checkpoint_every: int = DEFAULT_EVERY,
    ) -> None:
        if synchronous not in {"NORMAL", "FULL"}:
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        if checkpoint not in {"background", "inline"}:
            raise ValueError(f"checkpoint must be 'background' or 'inline', not {checkpoint!r}")
        if type(checkpoint_every) is not int or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be an integer >= 1, not {checkpoint_every!r}")
        busy_timeout = checked_timeout("busy_timeout", busy_timeout, zero=True)
        self._path = os.fspath(path)
        self._memory = self._path in {_MEMORY, ""}
        if read_only and self._memory:
            raise ValueError("read_only needs a database file, not ':memory:'")
        self._synchronous: Synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._read_only = read_only
        self._lock = threading.RLock()
        self._session = _Session(self)
        self._depth = 0
        self._closed = False
        self._translate = Translator(self._path, self._busy_timeout)
        self._decoded: DecodedRows[str, Deployment] = DecodedRows(rows.deployment_from_row)
        self._decoded_flows: DecodedRows[str, Flow] = DecodedRows(rows.flow_from_row)
        # Bumped by this connection's own writes to deployments and flows, and by every
        # rollback: with the file's data_version (which other connections' commits change),
        # it tells when a shared read may lend its cached value without a select.
        self._epoch = 0
        self._insert_run = rows.NonNullInsert("flow_runs", _RUN_COLS)
        self._insert_run_or_nothing = rows.NonNullInsert("flow_runs", _RUN_COLS, _RUN_KEY_CONFLICT)
        # The data_version read in the open transaction: no other connection can commit
        # while this one holds the write lock (BEGIN IMMEDIATE), so one read serves it.
        self._version: int | None = None
        background = checkpoint == "background" and not self._memory and not read_only
        self._checkpoint: CheckpointMode = checkpoint if background else "inline"
        self._conn = self._connect()
        self._checkpointer: Checkpointer | None = None
        self._checkpoint_every = checkpoint_every
        self._writes = 0
        if background:
            self._checkpointer = Checkpointer(self._path)
            # A repository dropped without close() still stops its thread.
            weakref.finalize(self, self._checkpointer.stop)

    def _connect(self) -> sqlite3.Connection:
        with self._translate:
            if self._read_only:
                uri = f"file:{quote(str(Path(self._path).absolute()))}?mode=ro"
                conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                conn = sqlite3.connect(
                    self._path,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
        try:
            with self._translate:
                conn.execute("PRAGMA foreign_keys = ON")
                if not self._memory and not self._read_only:
                    self._switch_to_wal(conn)
                    if self._checkpoint == "background":
                        conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES}")
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                ensure_schema(conn, self._path, read_only=self._read_only)
        except BaseException:
            conn.close()
            raise
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """``PRAGMA journal_mode = WAL``, retried while the file is busy, up to the timeout.

        While another process turns a fresh file to WAL (or creates its schema), SQLite can
        answer this pragma "database is locked" at once, without waiting on the busy
        handler: eight processes opening one new file hit that about once in fifty opens.
        So the wait is done here, with the same bound (``busy_timeout``, in all) as every other
        lock wait of the adapter.
        """
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.001
        retried = False
        try:
            while True:
                try:
                    conn.execute("PRAGMA journal_mode = WAL").fetchone()
                except sqlite3.OperationalError as exc:
                    left = deadline - time.monotonic()
                    if not is_busy(exc) or left <= 0:
                        raise
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, _WAL_RETRY_PAUSE_MAX)
                    # A later try may wait on the busy handler: only for the time left.
                    left = max(deadline - time.monotonic(), 0.0)
                    conn.execute(f"PRAGMA busy_timeout = {_milliseconds(left)}")
                    retried = True
                else:
                    return
        finally:
            if retried:
                conn.execute(f"PRAGMA busy_timeout = {_milliseconds(self._busy_timeout)}")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteRepository:
        """Open the repository a URL names.

        ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` name files (as
        SQLAlchemy does); ``sqlite://``, ``sqlite://:memory:`` and ``sqlite:///:memory:``
        name an in-memory database. Query parameters set options: ``synchronous=FULL``,
        ``busy_timeout=5`` (seconds), ``read_only=true``, ``checkpoint=inline``,
        ``checkpoint_every=500`` (writes). Keyword ``options`` win over the
        URL's.

        Raises:
            ValueError: the URL is not an ``sqlite:`` URL, or names an unknown option, or gives
                one a value it cannot take (``read_only`` is true/false, 1/0, yes/no or on/off).
        """
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() != "sqlite":
            raise ValueError(f"not an SQLite URL (expected sqlite:///path.db): {url!r}")
        location, _, query = rest.partition("?")
        if location in {"", "/", "/:memory:", ":memory:"}:
            path = _MEMORY
        elif location.startswith("/"):
            path = unquote(location[1:])
        else:
            raise ValueError(f"SQLite URLs name no host; use sqlite:///path.db, not {url!r}")
        parsed: dict[str, Any] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key not in _URL_OPTIONS:
                raise ValueError(f"unknown SQLite URL option {key!r} in {url!r}")
            if key == "synchronous":
                parsed[key] = value.upper()
            elif key == "busy_timeout":
                parsed[key] = url_float(key, value)
            elif key == "checkpoint_every":
                parsed[key] = url_int(key, value)
            elif key == "checkpoint":
                parsed[key] = value.lower()
            else:
                parsed[key] = url_flag(key, value)
        parsed.update(options)
        return cls(path, **parsed)

    # -- properties -----------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The database file (``":memory:"`` for an in-memory database)."""
        return self._path

    @property
    def synchronous(self) -> Synchronous:
        """The ``PRAGMA synchronous`` level: ``"NORMAL"`` or ``"FULL"``."""
        return self._synchronous

    @property
    def busy_timeout(self) -> float:
        """Seconds a writer waits for a lock before ``StorageLocked``."""
        return self._busy_timeout

    @property
    def read_only(self) -> bool:
        """Whether the file was opened read-only."""
        return self._read_only

    @property
    def checkpoint(self) -> CheckpointMode:
        """``"background"`` when a thread checkpoints the WAL, else ``"inline"``."""
        return self._checkpoint

    def __repr__(self) -> str:
        return (
            f"SQLiteRepository({self._path!r}, synchronous={self._synchronous!r}, "
            f"busy_timeout={self._busy_timeout!r})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- unit of work ---------------------------------------------------------------------

    def _check_usable(self) -> None:
        """Raise if closed, or if SQLite aborted the enclosing transaction after an error."""
        if self._closed:
            raise StorageClosed(f"The repository is closed ({self._path}).")
        if self._depth and not self._conn.in_transaction:
            raise StorageError(
                f"SQLite database {self._path}: the enclosing transaction was rolled back "
                "by SQLite after an error inside it; nothing in it was written. Leave the "
                "transaction block and start again."
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One all-or-nothing unit: ``BEGIN IMMEDIATE`` outermost, ``SAVEPOINT`` nested.

        The lock is held for the whole block, so other threads wait; other processes wait
        on SQLite's write lock (up to ``busy_timeout``).
        """
        with self._session as conn:
            depth = self._depth
            savepoint = f"flowrun_sp{depth}"
            with self._translate:
                conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {savepoint}")
            if depth == 0:
                self._version = None
            self._depth = depth + 1
            try:
                yield
            except BaseException:
                self._depth = depth
                self._epoch += 1
                if not self._closed:
                    if depth == 0:
                        _rollback_quietly(conn)
                    else:
                        _rollback_quietly(conn, f"ROLLBACK TO {savepoint}")
                        _rollback_quietly(conn, f"RELEASE {savepoint}")
                raise
            self._depth = depth
            self._finish(conn, depth, savepoint)

    def _finish(self, conn: sqlite3.Connection, depth: int, savepoint: str) -> None:
        if self._closed:
            raise StorageClosed(
                f"The repository was closed inside a transaction ({self._path}); "
                "nothing in it was written."
            )
        if not conn.in_transaction:
            self._epoch += 1
            raise StorageError(
                f"SQLite database {self._path}: the transaction was rolled back by SQLite "
                "after an error inside it; nothing in it was written."
            )
        try:
            with self._translate:
                conn.execute("COMMIT" if depth == 0 else f"RELEASE {savepoint}")
        except StorageError:
            self._epoch += 1
            if depth == 0:
                _rollback_quietly(conn)
            raise

    def close(self) -> None:
        """Roll back any open transaction and close the connection; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._checkpointer is not None:
                # First, so that the main connection closes last and removes the WAL.
                self._checkpointer.stop()
            _rollback_quietly(self._conn)
            with self._translate:
                self._conn.close()

    # -- helpers --------------------------------------------------------------------------

    def _one(self, sql: str, params: Sequence[Any], convert: Callable[[Any], _T]) -> _T | None:
        with self._session as conn, self._translate:
            try:
                row = conn.execute(sql, params).fetchone()
            except UnicodeEncodeError:  # text no row can hold: nothing matches it
                return None
        return None if row is None else convert(row)

    def _all(self, sql: str, params: Sequence[Any], convert: Callable[[Any], _T]) -> list[_T]:
        """Rows of a read; a bound string SQLite cannot encode (a lone surrogate) matches none.

        Such a string can never have been written (the write raises ``StorageValueError``),
        so a lookup by it finds nothing, as in the in-memory adapter, instead of failing.
        """
        with self._session as conn, self._translate:
            try:
                found = conn.execute(sql, params).fetchall()
            except UnicodeEncodeError:
                return []
        return [convert(row) for row in found]

    def _write(self, sql: str, params: Sequence[Any], *, shared: bool = False) -> int:
        """Run one write; ``shared``: it changes what shared reads lend (see ``_shared``)."""
        with self._session as conn, self._translate:
            if shared:
                self._epoch += 1
            count = conn.execute(sql, params).rowcount
            self._wrote()
            return count

    def _wrote(self) -> None:
        """Count one write; every ``checkpoint_every`` writes, wake the checkpointer."""
        if self._checkpointer is not None:
            self._writes += 1
            if self._writes >= self._checkpoint_every:
                self._writes = 0
                self._checkpointer.notify()

    # -- reads ----------------------------------------------------------------------------

    def get_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow with this id."""
        return self._one(_SELECT_FLOW, (str(flow_id),), rows.flow_from_row)

    def get_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment with this id."""
        return self._one(_SELECT_DEPLOYMENT, (str(deployment_id),), rows.deployment_from_row)

    def get_shared_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment, decoded once per distinct row (:class:`SharedDeploymentReads`).

        A deployment changed or removed behind the adapter's back is seen: the cached value
        is lent without a select only while SQLite's ``data_version`` says no other
        connection has committed since it was read, and this connection has neither written
        a deployment or flow nor rolled back; otherwise the row is selected, and only its
        JSON decoding is skipped when it is the row last decoded for this id.
        """
        return self._shared(_SELECT_DEPLOYMENT, str(deployment_id), self._decoded)

    def get_shared_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow, decoded once per distinct row (:class:`SharedFlowReads`), as above."""
        return self._shared(_SELECT_FLOW, str(flow_id), self._decoded_flows)

    def _shared(self, sql: str, key: str, decoded: DecodedRows[str, _T]) -> _T | None:
        with self._session as conn, self._translate:
            version = self._version if self._depth else None
            if version is None:
                version = int(conn.execute(_DATA_VERSION).fetchone()[0])
                self._version = version
            stamp = (version, self._epoch)
            value = decoded.current(key, stamp)
            if value is not None:
                return value
            row = conn.execute(sql, (key,)).fetchone()
            return None if row is None else decoded.get(key, row, stamp)

    def list_flows(self, *, name: str | None = None) -> Sequence[Flow]:
        """Flows in creation order, optionally only those with this exact name."""
        return self._all(_SELECT_FLOWS, (name,), rows.flow_from_row)

    def list_deployments(
        self, *, name: str | None = None, flow_id: UUID | None = None
    ) -> Sequence[Deployment]:
        """Deployments in creation order, optionally filtered by exact name and flow."""
        params = (name, None if flow_id is None else str(flow_id))
        return self._all(_SELECT_DEPLOYMENTS, params, rows.deployment_from_row)

    def get_work_pool(self, work_pool_id: UUID, /) -> WorkPool | None:
        """The work pool with this id."""
        return self._one(_SELECT_POOL, (str(work_pool_id),), rows.work_pool_from_row)

    def get_work_pool_by_name(self, name: str, /) -> WorkPool | None:
        """The work pool with this exact (case-sensitive) name."""
        return self._one(_SELECT_POOL_BY_NAME, (name,), rows.work_pool_from_row)

    def get_work_queue(self, work_queue_id: UUID, /) -> WorkQueue | None:
        """The work queue with this id."""
        return self._one(_SELECT_QUEUE, (str(work_queue_id),), rows.work_queue_from_row)

    def get_work_queue_by_name(self, work_pool_id: UUID, name: str, /) -> WorkQueue | None:
        """The queue with this exact name inside this pool."""
        return self._one(_SELECT_QUEUE_BY_NAME, (str(work_pool_id), name), rows.work_queue_from_row)

    def list_work_queues(self, work_pool_id: UUID, /) -> Sequence[WorkQueue]:
        """Every queue of this pool, in creation order."""
        return self._all(_SELECT_QUEUES, (str(work_pool_id),), rows.work_queue_from_row)

    def find_work_queues(self, name: str, /) -> Sequence[WorkQueue]:
        """Every queue with this exact name, in any pool, in creation order."""
        return self._all(_SELECT_QUEUES_NAMED, (name,), rows.work_queue_from_row)

    def get_variable(self, name: str, /) -> Variable | None:
        """The workspace variable with this name."""
        return self._one(_SELECT_VARIABLE, (name,), rows.variable_from_row)

    def get_task_run(self, task_run_id: UUID, /) -> TaskRun | None:
        """The task run with this id."""
        return self._one(_SELECT_TASK_RUN, (str(task_run_id),), rows.task_run_from_row)

    def find_task_run(
        self, flow_run_id: UUID | None, task_key: str, dynamic_key: str, /
    ) -> TaskRun | None:
        """The first task run with these keys (``None``: outside any flow run)."""
        run_id = None if flow_run_id is None else str(flow_run_id)
        params = (run_id, task_key, dynamic_key)
        return self._one(_SELECT_TASK_RUN_BY_KEYS, params, rows.task_run_from_row)

    def get_infrastructure_document(self, document_id: UUID, /) -> InfrastructureDocument | None:
        """The block document with this id."""
        return self._one(_SELECT_DOCUMENT, (str(document_id),), rows.document_from_row)

    def get_flow_run(self, flow_run_id: UUID, /) -> FlowRun | None:
        """The flow run with this id."""
        return self._one(_SELECT_RUN, (str(flow_run_id),), rows.flow_run_from_row)

    def get_flow_run_by_idempotency_key(self, flow_id: UUID, key: str, /) -> FlowRun | None:
        """The run of this flow that holds this idempotency key (``""`` included)."""
        return self._one(_SELECT_RUN_BY_KEY, (str(flow_id), key), rows.flow_run_from_row)

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
            clauses.append("flow_id = ?")
            params.append(str(flow_id))
        if deployment_id is not None:
            clauses.append("deployment_id = ?")
            params.append(str(deployment_id))
        sql = _SELECT_RUNS
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(sql_limit(limit))
        return self._all(sql, params, rows.flow_run_from_row)

    def count_flow_runs(self) -> int:
        """How many flow runs are stored."""
        count = self._one(_COUNT_RUNS, (), lambda row: int(row[0]))
        return 0 if count is None else count

    def raw_flow_run_count(self) -> int:
        """Test backdoor: the row count of ``flow_runs``, by SQL that bypasses the port."""
        with self._session as conn, self._translate:
            return int(conn.execute("SELECT count(*) FROM flow_runs").fetchone()[0])

    # -- writes ---------------------------------------------------------------------------

    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        """Insert ``flow_run``, or return the stored run with the same flow and truthy key.

        A truthy key runs ``INSERT ... ON CONFLICT(flow_id, idempotency_key) DO NOTHING``:
        one atomic statement (its own transaction, or part of the caller's), whose row count
        tells a create from a hit; a hit then selects the stored run. ``""`` and ``None``
        are plain inserts, so a second ``""`` of a flow violates the unique index. A create
        returns the caller's own value: the store keeps a row, so nothing is aliased.
        """
        row = rows.flow_run_to_row(flow_run)
        key = flow_run.idempotency_key
        if not key:
            self._write(*self._insert_run(row))
            return Created(value=flow_run, created=True)
        with self._session as conn, self._translate:
            # One statement decides, atomically: the unique index admits one row per key.
            if conn.execute(*self._insert_run_or_nothing(row)).rowcount == 1:
                self._wrote()
                return Created(value=flow_run, created=True)
            # A hit: the winner is committed (or ours, inside the caller's transaction),
            # and runs are never deleted, so this select finds it.
            found = conn.execute(_SELECT_RUN_BY_KEY, (row[4], key)).fetchone()
        if found is None:  # pragma: no cover - runs are never deleted
            raise StorageError(
                f"SQLite database {self._path}: the run holding key {key!r} vanished "
                "during create_flow_run."
            )
        return Created(value=rows.flow_run_from_row(found), created=False)

    def create_work_queue(self, work_queue: WorkQueue, /) -> WorkQueue:
        """Insert a queue; its pool must exist and its name be free in that pool."""
        row = rows.work_queue_to_row(work_queue)
        self._write(_INSERT_QUEUE, row)
        return rows.work_queue_from_row(row)

    def set_task_run_state(self, task_run_id: UUID, state: State, /) -> None:
        """Replace a task run's state; a missing task run raises ``StorageIntegrityError``."""
        if not self._write(_UPDATE_TASK_RUN_STATE, (rows.dump_state(state), str(task_run_id))):
            raise StorageIntegrityError(f"Task run {task_run_id} does not exist.")

    def set_flow_run_fingerprint(self, flow_run_id: UUID, fingerprint: str, /) -> None:
        """Store the run's request fingerprint; the run must exist (a foreign key)."""
        self._write(_UPSERT_FINGERPRINT, (str(flow_run_id), str(fingerprint)))

    def get_flow_run_fingerprint(self, flow_run_id: UUID, /) -> str | None:
        """The run's stored request fingerprint, if any."""
        return self._one(_SELECT_FINGERPRINT, (str(flow_run_id),), lambda row: str(row[0]))

    # -- seeding --------------------------------------------------------------------------

    def add_flow(self, flow: Flow, /) -> None:
        """Register a flow."""
        self._write(_INSERT_FLOW, rows.flow_to_row(flow), shared=True)

    def add_deployment(self, deployment: Deployment, /) -> None:
        """Register a deployment; its flow and (if set) its work queue must exist."""
        self._write(_INSERT_DEPLOYMENT, rows.deployment_to_row(deployment), shared=True)

    def replace_deployment(self, deployment: Deployment, /) -> None:
        """Replace the stored deployment with this id (:class:`DeploymentUpdates`)."""
        row = rows.deployment_to_row(deployment)
        params = by_id_params(rows.DEPLOYMENT_COLUMNS, row)
        if not self._write(_UPDATE_DEPLOYMENT, params, shared=True):
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
        self._write(*self._insert_run(rows.flow_run_to_row(flow_run)))
