"""Model <-> row conversion for the SQLite adapter: a storage converter in plain code.

Every conversion is lossless, so a value read back equals, field for field and type for
type, the value that was stored:

* UUIDs are stored as their canonical text; enums as their value.
* Datetimes are ISO 8601 text from :meth:`datetime.isoformat`, which keeps microseconds
  and the UTC offset (or its absence); :meth:`datetime.fromisoformat` reads it back.
* JSON-valued fields are ``json.dumps`` text (``NaN`` and infinities allowed, as Python
  does; ASCII-escaped, so lone surrogates survive too). JSON keeps ``1`` and ``1.0``
  apart and keeps key order.
* ``FlowRunPolicy.pause_keys`` (a frozenset) is stored as a sorted list.
* Booleans are ``0``/``1``; ``NULL`` stands for ``None``. A ``REAL`` column turns ``NaN``
  into ``NULL``, so ``total_run_time`` stores ``NaN`` as the text ``'NaN'``.

Row tuples list the columns in the order of the ``*_COLUMNS`` constants, which also build
the SQL, so a statement and its parameters cannot drift apart. Reading a row builds fresh
objects: nothing handed out aliases anything stored or passed in.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, Final, cast
from uuid import UUID

from flowrun_adapters._records import (
    DEPLOYMENT_COLUMNS,
    DOCUMENT_COLUMNS,
    FLOW_COLUMNS,
    FLOW_RUN_COLUMNS,
    TASK_RUN_COLUMNS,
    VARIABLE_COLUMNS,
    WORK_POOL_COLUMNS,
    WORK_QUEUE_COLUMNS,
    Row,
    dt,
    iso,
    parse_datetime,
    policy_from_json,
    policy_to_json,
    select_sql,
    state_from_json,
    state_to_json,
)
from flowrun_core.json_types import JSON
from flowrun_core.models import (
    CreatedBy,
    Deployment,
    Flow,
    FlowRun,
    FlowRunPolicy,
    InfrastructureDocument,
    LabelValue,
    State,
    StateType,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)

__all__ = [
    "DEPLOYMENT_COLUMNS",
    "DOCUMENT_COLUMNS",
    "FLOW_COLUMNS",
    "FLOW_RUN_COLUMNS",
    "TASK_RUN_COLUMNS",
    "VARIABLE_COLUMNS",
    "WORK_POOL_COLUMNS",
    "WORK_QUEUE_COLUMNS",
    "deployment_from_row",
    "deployment_to_row",
    "document_from_row",
    "document_to_row",
    "dump_json",
    "dump_state",
    "flow_from_row",
    "flow_run_from_row",
    "flow_run_to_row",
    "flow_to_row",
    "insert_sql",
    "parse_datetime",
    "select_sql",
    "state_from_json",
    "state_to_json",
    "task_run_from_row",
    "task_run_to_row",
    "variable_from_row",
    "variable_to_row",
    "work_pool_from_row",
    "work_pool_to_row",
    "work_queue_from_row",
    "work_queue_to_row",
]

"""A row as ``sqlite3`` returns it, or the parameter tuple written for it."""

dump_json: Final[Callable[[object], str]] = json.JSONEncoder(
    ensure_ascii=True, allow_nan=True, separators=(",", ":")
).encode
"""Serialise a JSON value compactly (NaN allowed, key order kept)."""

_load_json: Final[Callable[[str], Any]] = json.loads


def insert_sql(table: str, columns: Sequence[str], suffix: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)`` plus ``suffix``."""
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({names}) VALUES ({marks}){suffix}"  # noqa: S608


# -- scalars -------------------------------------------------------------------------------


def _uuid(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _dump_object(value: dict[str, Any]) -> str:
    return dump_json(value) if value else "{}"


def _opt_json(value: object) -> str | None:
    return None if value is None else dump_json(value)


def _load_opt_json(value: str | None) -> Any:
    return None if value is None else _load_json(value)


def _real(value: float) -> float | str:
    # SQLite stores a NaN REAL as NULL; the text 'NaN' survives REAL affinity unchanged.
    return value if value == value else "NaN"  # noqa: PLR0124 - the NaN test


# -- states --------------------------------------------------------------------------------


def _dump_state(state: State | None) -> str | None:
    return None if state is None else dump_json(state_to_json(state))


def _load_state(text: str | None) -> State | None:
    return None if text is None else state_from_json(_load_json(text))


# -- flow runs -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _dump_hashable_policy(policy: FlowRunPolicy) -> str:
    return dump_json(policy_to_json(policy))


def _dump_policy(policy: FlowRunPolicy) -> str:
    # Policies are frozen and few distinct ones recur (most runs carry the default).
    try:
        return _dump_hashable_policy(policy)
    except TypeError:  # an unhashable field value (say, a set for pause_keys)
        return dump_json(policy_to_json(policy))


def _created_by_to_json(value: CreatedBy | None) -> str | None:
    if value is None:
        return None
    return dump_json(
        {"id": _text(value.id), "type": value.type, "display_value": value.display_value}
    )


def _created_by_from_json(text: str | None) -> CreatedBy | None:
    if text is None:
        return None
    data = _load_json(text)
    return CreatedBy(id=_uuid(data["id"]), type=data["type"], display_value=data["display_value"])


def flow_run_to_row(run: FlowRun) -> tuple[Any, ...]:
    """The parameters that store ``run``, in :data:`FLOW_RUN_COLUMNS` order."""
    state_type = run.state_type
    return (
        str(run.id),
        run.created.isoformat(),
        run.updated.isoformat(),
        run.name,
        str(run.flow_id),
        _text(run.state_id),
        _text(run.deployment_id),
        run.deployment_version,
        _text(run.work_queue_id),
        run.work_queue_name,
        run.flow_version,
        _dump_object(run.parameters),
        run.idempotency_key,
        _dump_object(run.context),
        _dump_policy(run.empirical_policy),
        dump_json(run.tags),
        _dump_object(run.labels),
        _text(run.parent_task_run_id),
        None if state_type is None else state_type.value,
        run.state_name,
        run.run_count,
        iso(run.expected_start_time),
        iso(run.next_scheduled_start_time),
        iso(run.start_time),
        iso(run.end_time),
        _real(run.total_run_time),
        int(run.auto_scheduled),
        _text(run.infrastructure_document_id),
        run.infrastructure_pid,
        _created_by_to_json(run.created_by),
        _text(run.work_pool_id),
        run.work_pool_name,
        _dump_state(run.state),
        _opt_json(run.job_variables),
    )


def flow_run_from_row(row: Row) -> FlowRun:
    """The run a :data:`FLOW_RUN_COLUMNS` row (or :func:`flow_run_to_row` tuple) stores."""
    state_type = row[18]
    return FlowRun(
        id=UUID(row[0]),
        created=parse_datetime(row[1]),
        updated=parse_datetime(row[2]),
        name=row[3],
        flow_id=UUID(row[4]),
        state_id=_uuid(row[5]),
        deployment_id=_uuid(row[6]),
        deployment_version=row[7],
        work_queue_id=_uuid(row[8]),
        work_queue_name=row[9],
        flow_version=row[10],
        parameters=_load_json(row[11]),
        idempotency_key=row[12],
        context=_load_json(row[13]),
        empirical_policy=policy_from_json(_load_json(row[14])),
        tags=tuple(_load_json(row[15])),
        labels=_load_json(row[16]),
        parent_task_run_id=_uuid(row[17]),
        state_type=None if state_type is None else StateType(state_type),
        state_name=row[19],
        run_count=row[20],
        expected_start_time=dt(row[21]),
        next_scheduled_start_time=dt(row[22]),
        start_time=dt(row[23]),
        end_time=dt(row[24]),
        total_run_time=float(row[25]),
        auto_scheduled=bool(row[26]),
        infrastructure_document_id=_uuid(row[27]),
        infrastructure_pid=row[28],
        created_by=_created_by_from_json(row[29]),
        work_pool_id=_uuid(row[30]),
        work_pool_name=row[31],
        state=_load_state(row[32]),
        job_variables=_load_opt_json(row[33]),
    )


# -- the other entities --------------------------------------------------------------------


def flow_to_row(flow: Flow) -> tuple[Any, ...]:
    """The parameters that store ``flow``."""
    return (str(flow.id), flow.name, dump_json(flow.tags), dump_json(flow.labels))


def flow_from_row(row: Row) -> Flow:
    """The flow a :data:`FLOW_COLUMNS` row stores."""
    labels = cast("dict[str, LabelValue]", _load_json(row[3]))
    return Flow(id=UUID(row[0]), name=row[1], tags=tuple(_load_json(row[2])), labels=labels)


def deployment_to_row(d: Deployment) -> tuple[Any, ...]:
    """The parameters that store ``d``, in :data:`DEPLOYMENT_COLUMNS` order."""
    return (
        str(d.id),
        str(d.flow_id),
        d.name,
        d.version,
        d.description,
        dump_json(d.parameters),
        dump_json(d.tags),
        dump_json(d.labels),
        _opt_json(d.parameter_openapi_schema),
        int(d.enforce_parameter_schema),
        d.work_queue_name,
        _text(d.work_queue_id),
        d.work_pool_name,
        _text(d.infrastructure_document_id),
        dump_json(d.job_variables),
        int(d.paused),
    )


def deployment_from_row(row: Row) -> Deployment:
    """The deployment a :data:`DEPLOYMENT_COLUMNS` row stores."""
    return Deployment(
        id=UUID(row[0]),
        flow_id=UUID(row[1]),
        name=row[2],
        version=row[3],
        description=row[4],
        parameters=_load_json(row[5]),
        tags=tuple(_load_json(row[6])),
        labels=_load_json(row[7]),
        parameter_openapi_schema=_load_opt_json(row[8]),
        enforce_parameter_schema=bool(row[9]),
        work_queue_name=row[10],
        work_queue_id=_uuid(row[11]),
        work_pool_name=row[12],
        infrastructure_document_id=_uuid(row[13]),
        job_variables=_load_json(row[14]),
        paused=bool(row[15]),
    )


def work_pool_to_row(pool: WorkPool) -> tuple[Any, ...]:
    """The parameters that store ``pool``."""
    return (
        str(pool.id),
        pool.name,
        pool.type,
        dump_json(pool.base_job_template),
        _text(pool.default_queue_id),
    )


def work_pool_from_row(row: Row) -> WorkPool:
    """The pool a :data:`WORK_POOL_COLUMNS` row stores."""
    return WorkPool(
        id=UUID(row[0]),
        name=row[1],
        type=row[2],
        base_job_template=_load_json(row[3]),
        default_queue_id=_uuid(row[4]),
    )


def work_queue_to_row(queue: WorkQueue) -> tuple[Any, ...]:
    """The parameters that store ``queue``."""
    return (
        str(queue.id),
        queue.name,
        str(queue.work_pool_id),
        queue.priority,
        queue.description,
        int(queue.is_paused),
        queue.concurrency_limit,
    )


def work_queue_from_row(row: Row) -> WorkQueue:
    """The queue a :data:`WORK_QUEUE_COLUMNS` row stores."""
    return WorkQueue(
        id=UUID(row[0]),
        name=row[1],
        work_pool_id=UUID(row[2]),
        priority=row[3],
        description=row[4],
        is_paused=bool(row[5]),
        concurrency_limit=row[6],
    )


def variable_to_row(variable: Variable) -> tuple[Any, ...]:
    """The parameters that store ``variable``."""
    return (str(variable.id), variable.name, dump_json(variable.value), dump_json(variable.tags))


def variable_from_row(row: Row) -> Variable:
    """The variable a :data:`VARIABLE_COLUMNS` row stores."""
    value: JSON = _load_json(row[2])
    return Variable(id=UUID(row[0]), name=row[1], value=value, tags=tuple(_load_json(row[3])))


def task_run_to_row(task_run: TaskRun) -> tuple[Any, ...]:
    """The parameters that store ``task_run``."""
    return (
        str(task_run.id),
        _text(task_run.flow_run_id),
        task_run.name,
        task_run.task_key,
        task_run.dynamic_key,
        _dump_state(task_run.state),
    )


def task_run_from_row(row: Row) -> TaskRun:
    """The task run a :data:`TASK_RUN_COLUMNS` row stores."""
    return TaskRun(
        id=UUID(row[0]),
        flow_run_id=_uuid(row[1]),
        name=row[2],
        task_key=row[3],
        dynamic_key=row[4],
        state=_load_state(row[5]),
    )


def dump_state(state: State) -> str:
    """A state as the text of a JSON column."""
    return dump_json(state_to_json(state))


def document_to_row(document: InfrastructureDocument) -> tuple[Any, ...]:
    """The parameters that store ``document``."""
    return (str(document.id), document.name, dump_json(document.data))


def document_from_row(row: Row) -> InfrastructureDocument:
    """The block document a :data:`DOCUMENT_COLUMNS` row stores."""
    return InfrastructureDocument(id=UUID(row[0]), name=row[1], data=_load_json(row[2]))
