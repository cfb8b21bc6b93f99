"""The in-memory storage adapter: the reference model of the storage port.

It enforces the same constraints as the SQLite adapter (unique ids and names, the unique
index on ``(flow_id, idempotency_key)``, foreign keys), stores copies of what it is given
and hands out copies of what it stores (flow runs are kept as tuples of their field values
with their JSON in one immutable blob, see ``_run_row``). One re-entrant lock serialises
every call, and a transaction holds it from start to end, so concurrent threads see whole
units of work. Rollback replays an undo log, so its cost is that of the writes it undoes.
"""

from __future__ import annotations

import marshal
import operator
import threading
import typing
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Final, TypeVar
from uuid import UUID

import attrs

from flowrun_core.errors import StorageClosed, StorageIntegrityError
from flowrun_core.json_types import copy_json
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

__all__ = ["InMemoryRepository"]

_T = TypeVar("_T")

_CLOSED: Final = "The repository is closed."


def _mutable_fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """The fields of an attrs class that can hold dicts or lists: ``(name, is_attrs)``."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        found: list[tuple[str, bool]] = []
        for field in attrs.fields(cls):
            hint = hints[field.name]
            nested = [arg for arg in _type_args(hint) if isinstance(arg, type) and attrs.has(arg)]
            if nested:
                if any(_mutable_fields(arg) for arg in nested):
                    found.append((field.name, True))
            elif _may_hold_containers(hint):
                found.append((field.name, False))
        plan = _PLANS[cls] = tuple(found)
    return plan


def _type_args(hint: object) -> tuple[object, ...]:
    args = typing.get_args(hint)
    return (hint, *args) if args else (hint,)


def _may_hold_containers(hint: object) -> bool:
    text = repr(hint)
    return "dict" in text or "list" in text or "JSON" in text


_PLANS: dict[type, tuple[tuple[str, bool], ...]] = {}
_READERS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _reader(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """Every field name of an attrs class, and one C-level getter of all their values."""
    found = _READERS.get(cls)
    if found is None:
        names = tuple(field.name for field in attrs.fields(cls))
        getter = operator.attrgetter(*names)
        read = getter if len(names) > 1 else (lambda value: (getter(value),))
        found = _READERS[cls] = (names, read)
    return found


def _copy(value: _T) -> _T:
    """A copy of an attrs value whose dicts and lists (at any depth) are fresh.

    Which fields can hold containers is worked out once per class, so a copy costs one
    ``evolve`` plus the JSON copies, and values with nothing mutable are shared.
    """
    changes: dict[str, Any] = {}
    for name, is_attrs in _mutable_fields(type(value)):
        current = getattr(value, name)
        if current is None:
            continue
        copied = _copy(current) if is_attrs else copy_json(current)
        if copied is not current:
            changes[name] = copied
    if not changes:
        return value
    # attrs.evolve, without its per-call field walk (the models have no aliases).
    names, read = _reader(type(value))
    fields = dict(zip(names, read(value), strict=True))
    fields.update(changes)
    return type(value)(**fields)


# -- stored runs ---------------------------------------------------------------------------
#
# Runs are the one table written on every create, so they are stored as a tuple of field
# values instead of a second FlowRun: building the tuple skips the 34-argument constructor;
# a read builds the FlowRun it hands out, as any read copies.
#
# The run's JSON containers (parameters, context, labels, job variables) are kept together as
# one ``marshal`` blob: immutable, so nothing can reach the stored copy, and one small
# object instead of a dict or list per node, made and read back by C code. ``marshal`` is
# only used within the process that wrote the blob, so its format may change between Python
# versions. A value it refuses (a subclass of a JSON type, an object that is not JSON, a
# tree over its nesting limit) is kept as a deep copy instead.

_RunRow = tuple[Any, ...]
_RUN_FIELDS: Final = tuple(field.name for field in attrs.fields(FlowRun))
_JSON_FIELDS: Final = tuple(name for name, is_attrs in _mutable_fields(FlowRun) if not is_attrs)
"""A run's JSON containers: kept in the row's last item, as one blob."""
_PLAIN_FIELDS: Final = tuple(name for name in _RUN_FIELDS if name not in _JSON_FIELDS)
"""Every other field: kept as it is, in this order, before the blob."""
_plain_values: Final = operator.attrgetter(*_PLAIN_FIELDS)
_json_values: Final = operator.attrgetter(*_JSON_FIELDS)
_RUN_FLOW_ID: Final = _PLAIN_FIELDS.index("flow_id")
_RUN_DEPLOYMENT_ID: Final = _PLAIN_FIELDS.index("deployment_id")
_RUN_RECORDS: Final = tuple(name for name, is_attrs in _mutable_fields(FlowRun) if is_attrs)
if _RUN_RECORDS != ("state",):  # pragma: no cover - a guard for model changes
    msg = f"rows copy the state alone (_unshared_state), but FlowRun's records are {_RUN_RECORDS}"
    raise TypeError(msg)
_RUN_STATE: Final = _PLAIN_FIELDS.index("state")


def _container_paths(cls: type, prefix: str = "") -> list[str]:
    """Dotted paths to every field under ``cls`` that can hold a dict or a list."""
    paths: list[str] = []
    hints = typing.get_type_hints(cls)
    for name, is_attrs in _mutable_fields(cls):
        if not is_attrs:
            paths.append(prefix + name)
            continue
        for arg in _type_args(hints[name]):
            if isinstance(arg, type) and attrs.has(arg):
                paths.extend(_container_paths(arg, f"{prefix}{name}."))
    return paths


_STATE_CONTAINERS: Final = _container_paths(State)
_state_containers: Final = operator.attrgetter(*_STATE_CONTAINERS)
_NO_STATE_CONTAINERS: Final = (None,) * len(_STATE_CONTAINERS)


def _unshared_state(state: State | None) -> State | None:
    """``state`` itself when it holds no dict or list, otherwise a copy (:func:`_copy`).

    States are frozen, so one without containers (a new run's) can be shared; its
    container fields (:data:`_STATE_CONTAINERS`) are read in one C call.
    """
    if state is None:
        return None
    try:
        if _state_containers(state) == _NO_STATE_CONTAINERS:
            return state
    except AttributeError:  # a record on the way is None: _copy sorts it out
        pass
    return _copy(state)


_MARSHAL_VERSION: Final = 2
"""No back-references: every container a blob loads into is a new, unshared one."""


def _run_row(run: FlowRun) -> _RunRow:
    """What the store keeps for ``run``, sharing nothing mutable with it.

    The plain field values (:data:`_PLAIN_FIELDS`), then the JSON fields: one ``marshal``
    blob, or a tuple of deep copies when ``marshal`` refuses them. The state is kept as
    :func:`_unshared_state` gives it.
    """
    plain = _plain_values(run)
    found = _json_values(run)
    try:
        stored: bytes | tuple[Any, ...] = marshal.dumps(found, _MARSHAL_VERSION)
    except ValueError:
        stored = tuple(None if value is None else copy_json(value) for value in found)
    state = run.state
    kept = _unshared_state(state)
    if kept is not state:
        values = list(plain)
        values[_RUN_STATE] = kept
        plain = tuple(values)
    return (*plain, stored)


def _run_from_row(row: _RunRow) -> FlowRun:
    """A new FlowRun from a stored row, sharing nothing mutable with it."""
    fields = dict(zip(_PLAIN_FIELDS, row[:-1], strict=True))
    stored = row[-1]
    if isinstance(stored, bytes):
        found = marshal.loads(stored)  # noqa: S302 - a blob _run_row made in this process
    else:
        found = tuple(None if value is None else copy_json(value) for value in stored)
    fields.update(zip(_JSON_FIELDS, found, strict=True))
    fields["state"] = _unshared_state(fields["state"])
    return FlowRun(**fields)


class _Unit(AbstractContextManager[None]):
    """The units of work of one :class:`InMemoryRepository` (a nested one is a savepoint).

    Entering holds the store's lock until the matching exit; on an exception, the exit
    undoes the writes made since its enter. One instance serves every unit of its
    repository: the undo marks of open units are a stack on the repository, only touched
    by the thread holding the lock. A class rather than a generator: a create enters one on
    every call.
    """

    __slots__ = ("_repo",)

    def __init__(self, repo: InMemoryRepository) -> None:
        self._repo = repo

    def __enter__(self) -> None:
        repo = self._repo
        repo._lock.acquire()  # noqa: SLF001
        if repo._closed:  # noqa: SLF001 - _check_open, inlined on the hot path
            repo._lock.release()  # noqa: SLF001
            raise StorageClosed(_CLOSED)
        repo._marks.append(len(repo._undo))  # noqa: SLF001

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        repo = self._repo
        marks = repo._marks  # noqa: SLF001
        try:
            mark = marks.pop()
            if exc_type is not None:
                repo._rollback_to(mark)  # noqa: SLF001
        finally:
            if not marks:
                repo._undo.clear()  # noqa: SLF001
            repo._lock.release()  # noqa: SLF001


class InMemoryRepository(
    Repository,
    FingerprintStore,
    SharedDeploymentReads,
    SharedFlowReads,
    CreationLookups,
    DeploymentUpdates,
):
    """A thread-safe, in-process :class:`~flowrun_core.ports.Repository`.

    It also stores request fingerprints (:class:`~flowrun_core.ports.FingerprintStore`),
    and lends the service its stored deployments and flows without a copy
    (:class:`~flowrun_core.ports.SharedDeploymentReads`,
    :class:`~flowrun_core.ports.SharedFlowReads`).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._closed = False
        self._undo: list[Callable[[], None]] = []
        self._marks: list[int] = []
        """Where each open unit of work began in ``_undo`` (see :class:`_Unit`)."""
        self._unit = _Unit(self)
        self._flows: dict[UUID, Flow] = {}
        self._deployments: dict[UUID, Deployment] = {}
        self._pools: dict[UUID, WorkPool] = {}
        self._pool_names: dict[str, UUID] = {}
        self._queues: dict[UUID, WorkQueue] = {}
        self._queue_names: dict[tuple[UUID, str], UUID] = {}
        self._variables: dict[str, Variable] = {}
        self._task_runs: dict[UUID, TaskRun] = {}
        self._documents: dict[UUID, InfrastructureDocument] = {}
        self._runs: dict[UUID, _RunRow] = {}
        self._run_keys: dict[tuple[UUID, str], UUID] = {}
        self._fingerprints: dict[UUID, str] = {}

    # -- unit of work -------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[None]:
        """Hold the lock for the whole unit; undo its writes if the block raises."""
        return self._unit

    def _rollback_to(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    def close(self) -> None:
        """Drop everything; later calls raise ``StorageClosed``."""
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosed(_CLOSED)

    def _put(self, table: dict[Any, Any], key: object, value: object) -> None:
        """Write one entry, recording how to undo it when inside a transaction."""
        if self._marks:
            if key in table:
                previous = table[key]
                self._undo.append(lambda: table.__setitem__(key, previous))
            else:
                self._undo.append(lambda: table.pop(key, None))
        table[key] = value

    def _put_new(self, table: dict[Any, Any], key: object, value: object) -> None:
        """Write an entry whose key the caller has just found absent (see :meth:`_put`)."""
        if self._marks:
            self._undo.append(lambda: table.pop(key, None))
        table[key] = value

    # -- reads --------------------------------------------------------------------------

    def _read(self, table: dict[Any, _T], key: object) -> _T | None:
        with self._lock:
            self._check_open()
            value = table.get(key)
            return None if value is None else _copy(value)

    def get_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow with this id."""
        return self._read(self._flows, flow_id)

    def get_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment with this id."""
        return self._read(self._deployments, deployment_id)

    def get_shared_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The stored deployment itself, not a copy (:class:`SharedDeploymentReads`)."""
        with self._lock:
            self._check_open()
            return self._deployments.get(deployment_id)

    def get_shared_flow(self, flow_id: UUID, /) -> Flow | None:
        """The stored flow itself, not a copy (:class:`SharedFlowReads`)."""
        with self._lock:
            self._check_open()
            return self._flows.get(flow_id)

    def list_flows(self, *, name: str | None = None) -> Sequence[Flow]:
        """Flows in creation order, optionally only those with this exact name."""
        with self._lock:
            self._check_open()
            return [_copy(f) for f in self._flows.values() if name is None or f.name == name]

    def list_deployments(
        self, *, name: str | None = None, flow_id: UUID | None = None
    ) -> Sequence[Deployment]:
        """Deployments in creation order, optionally filtered by exact name and flow."""
        with self._lock:
            self._check_open()
            return [
                _copy(d)
                for d in self._deployments.values()
                if (name is None or d.name == name) and (flow_id is None or d.flow_id == flow_id)
            ]

    def get_work_pool(self, work_pool_id: UUID, /) -> WorkPool | None:
        """The work pool with this id."""
        return self._read(self._pools, work_pool_id)

    def get_work_pool_by_name(self, name: str, /) -> WorkPool | None:
        """The work pool with this exact name."""
        with self._lock:
            self._check_open()
            return self._read(self._pools, self._pool_names.get(name))

    def get_work_queue(self, work_queue_id: UUID, /) -> WorkQueue | None:
        """The work queue with this id."""
        return self._read(self._queues, work_queue_id)

    def get_work_queue_by_name(self, work_pool_id: UUID, name: str, /) -> WorkQueue | None:
        """The queue with this exact name inside this pool."""
        with self._lock:
            self._check_open()
            return self._read(self._queues, self._queue_names.get((work_pool_id, name)))

    def list_work_queues(self, work_pool_id: UUID, /) -> Sequence[WorkQueue]:
        """Every queue of this pool, in creation order."""
        with self._lock:
            self._check_open()
            return [q for q in self._queues.values() if q.work_pool_id == work_pool_id]

    def find_work_queues(self, name: str, /) -> Sequence[WorkQueue]:
        """Every queue with this exact name, in any pool, in creation order."""
        with self._lock:
            self._check_open()
            return [q for q in self._queues.values() if q.name == name]

    def find_task_run(
        self, flow_run_id: UUID | None, task_key: str, dynamic_key: str, /
    ) -> TaskRun | None:
        """The first task run with these keys (``None``: outside any flow run)."""
        with self._lock:
            self._check_open()
            for task in self._task_runs.values():
                if (task.flow_run_id, task.task_key, task.dynamic_key) == (
                    flow_run_id,
                    task_key,
                    dynamic_key,
                ):
                    return _copy(task)
            return None

    def get_variable(self, name: str, /) -> Variable | None:
        """The workspace variable with this name."""
        return self._read(self._variables, name)

    def get_task_run(self, task_run_id: UUID, /) -> TaskRun | None:
        """The task run with this id."""
        return self._read(self._task_runs, task_run_id)

    def get_infrastructure_document(self, document_id: UUID, /) -> InfrastructureDocument | None:
        """The block document with this id."""
        return self._read(self._documents, document_id)

    def _read_run(self, flow_run_id: UUID | None) -> FlowRun | None:
        with self._lock:
            self._check_open()
            row = self._runs.get(flow_run_id) if flow_run_id is not None else None
            return None if row is None else _run_from_row(row)

    def get_flow_run(self, flow_run_id: UUID, /) -> FlowRun | None:
        """The flow run with this id."""
        return self._read_run(flow_run_id)

    def get_flow_run_by_idempotency_key(self, flow_id: UUID, key: str, /) -> FlowRun | None:
        """The run of this flow that holds this key."""
        with self._lock:
            return self._read_run(self._run_keys.get((flow_id, key)))

    def list_flow_runs(
        self,
        *,
        flow_id: UUID | None = None,
        deployment_id: UUID | None = None,
        limit: int | None = None,
    ) -> Sequence[FlowRun]:
        """Runs in creation order, optionally filtered."""
        with self._lock:
            self._check_open()
            found: list[FlowRun] = []
            for row in self._runs.values():
                if limit is not None and len(found) >= limit:
                    break
                if flow_id is not None and row[_RUN_FLOW_ID] != flow_id:
                    continue
                if deployment_id is not None and row[_RUN_DEPLOYMENT_ID] != deployment_id:
                    continue
                found.append(_run_from_row(row))
            return found

    def count_flow_runs(self) -> int:
        """How many flow runs are stored."""
        with self._lock:
            self._check_open()
            return len(self._runs)

    # -- writes -------------------------------------------------------------------------

    def _check_run_references(self, run: FlowRun) -> None:
        if run.flow_id not in self._flows:
            raise StorageIntegrityError(f"Flow {run.flow_id} does not exist.")
        if run.work_queue_id is not None and run.work_queue_id not in self._queues:
            raise StorageIntegrityError(f"Work queue {run.work_queue_id} does not exist.")
        document = run.infrastructure_document_id
        if document is not None and document not in self._documents:
            raise StorageIntegrityError(f"Infrastructure document {document} does not exist.")
        parent = run.parent_task_run_id
        if parent is not None and parent not in self._task_runs:
            raise StorageIntegrityError(f"Task run {parent} does not exist.")

    def _insert_run(self, run: FlowRun) -> None:
        run_id, runs = run.id, self._runs
        if run_id in runs:
            raise StorageIntegrityError(f"Flow run {run_id} already exists.")
        key = run.idempotency_key
        if key is not None and (run.flow_id, key) in self._run_keys:
            raise StorageIntegrityError(
                f"Flow {run.flow_id} already has a run with idempotency key {key!r}."
            )
        self._check_run_references(run)
        if key is not None:
            self._put_new(self._run_keys, (run.flow_id, key), run_id)
        self._put_new(runs, run_id, _run_row(run))

    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        """Insert, or return the run of the same flow holding the same truthy key."""
        with self._lock:
            self._check_open()
            if flow_run.idempotency_key:
                existing = self._run_keys.get((flow_run.flow_id, flow_run.idempotency_key))
                if existing is not None:
                    return Created(value=_run_from_row(self._runs[existing]), created=False)
            self._insert_run(flow_run)
            # The store holds its own copy; the caller's value is not an alias of it.
            return Created(value=flow_run, created=True)

    def add_flow_run(self, flow_run: FlowRun, /) -> None:
        """Insert a pre-existing run as is."""
        with self._lock:
            self._check_open()
            self._insert_run(flow_run)

    def create_work_queue(self, work_queue: WorkQueue, /) -> WorkQueue:
        """Insert a queue; its pool must exist and its name be free in that pool."""
        with self._lock:
            self._check_open()
            if work_queue.id in self._queues:
                raise StorageIntegrityError(f"Work queue {work_queue.id} already exists.")
            if work_queue.work_pool_id not in self._pools:
                raise StorageIntegrityError(f"Work pool {work_queue.work_pool_id} does not exist.")
            name_key = (work_queue.work_pool_id, work_queue.name)
            if name_key in self._queue_names:
                raise StorageIntegrityError(
                    f"Work pool {work_queue.work_pool_id} already has a queue named "
                    f"{work_queue.name!r}."
                )
            self._put(self._queue_names, name_key, work_queue.id)
            self._put(self._queues, work_queue.id, work_queue)
            return work_queue

    def set_task_run_state(self, task_run_id: UUID, state: State, /) -> None:
        """Replace a task run's state."""
        with self._lock:
            self._check_open()
            task_run = self._task_runs.get(task_run_id)
            if task_run is None:
                raise StorageIntegrityError(f"Task run {task_run_id} does not exist.")
            self._put(self._task_runs, task_run_id, attrs.evolve(task_run, state=_copy(state)))

    def set_flow_run_fingerprint(self, flow_run_id: UUID, fingerprint: str, /) -> None:
        """Store the run's request fingerprint; the run must exist."""
        with self._lock:
            self._check_open()
            if flow_run_id not in self._runs:
                raise StorageIntegrityError(f"Flow run {flow_run_id} does not exist.")
            self._put(self._fingerprints, flow_run_id, str(fingerprint))

    def get_flow_run_fingerprint(self, flow_run_id: UUID, /) -> str | None:
        """The run's stored request fingerprint, if any."""
        with self._lock:
            self._check_open()
            return self._fingerprints.get(flow_run_id)

    # -- seeding ------------------------------------------------------------------------

    def _add_unique(self, table: dict[Any, Any], key: object, value: object, what: str) -> None:
        if key in table:
            raise StorageIntegrityError(f"{what} {key} already exists.")
        self._put(table, key, _copy(value))

    def add_flow(self, flow: Flow, /) -> None:
        """Register a flow."""
        with self._lock:
            self._check_open()
            self._add_unique(self._flows, flow.id, flow, "Flow")

    def add_deployment(self, deployment: Deployment, /) -> None:
        """Register a deployment; its flow and work queue must exist."""
        with self._lock:
            self._check_open()
            if deployment.flow_id not in self._flows:
                raise StorageIntegrityError(f"Flow {deployment.flow_id} does not exist.")
            queue = deployment.work_queue_id
            if queue is not None and queue not in self._queues:
                raise StorageIntegrityError(f"Work queue {queue} does not exist.")
            self._add_unique(self._deployments, deployment.id, deployment, "Deployment")

    def replace_deployment(self, deployment: Deployment, /) -> None:
        """Replace the stored deployment with this id (:class:`DeploymentUpdates`)."""
        with self._lock:
            self._check_open()
            if deployment.id not in self._deployments:
                raise StorageIntegrityError(f"Deployment {deployment.id} does not exist.")
            if deployment.flow_id not in self._flows:
                raise StorageIntegrityError(f"Flow {deployment.flow_id} does not exist.")
            queue = deployment.work_queue_id
            if queue is not None and queue not in self._queues:
                raise StorageIntegrityError(f"Work queue {queue} does not exist.")
            self._put(self._deployments, deployment.id, _copy(deployment))

    def add_work_pool(self, work_pool: WorkPool, /) -> None:
        """Register a work pool."""
        with self._lock:
            self._check_open()
            if work_pool.name in self._pool_names:
                raise StorageIntegrityError(f"Work pool {work_pool.name!r} already exists.")
            self._add_unique(self._pools, work_pool.id, work_pool, "Work pool")
            self._put(self._pool_names, work_pool.name, work_pool.id)

    def add_variable(self, variable: Variable, /) -> None:
        """Register a workspace variable."""
        with self._lock:
            self._check_open()
            self._add_unique(self._variables, variable.name, variable, "Variable")

    def add_task_run(self, task_run: TaskRun, /) -> None:
        """Register a task run; its flow run, if set, must exist."""
        with self._lock:
            self._check_open()
            if task_run.flow_run_id is not None and task_run.flow_run_id not in self._runs:
                raise StorageIntegrityError(f"Flow run {task_run.flow_run_id} does not exist.")
            self._add_unique(self._task_runs, task_run.id, task_run, "Task run")

    def add_infrastructure_document(self, document: InfrastructureDocument, /) -> None:
        """Register a block document."""
        with self._lock:
            self._check_open()
            self._add_unique(self._documents, document.id, document, "Infrastructure document")
