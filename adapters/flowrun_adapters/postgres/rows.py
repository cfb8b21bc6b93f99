r"""Model <-> row conversion for the PostgreSQL adapter, lossless in both directions.

A value read back equals, field for field and type for type, the value that was stored:

* **UUIDs** are native ``uuid`` columns; **booleans** native ``boolean``; counters
  ``bigint``; ``total_run_time`` is ``double precision`` (which keeps ``NaN``, the
  infinities and ``-0.0``).
* **JSON-valued fields** are ``json`` columns holding the exact text of
  :func:`dump_json` (compact, ASCII-escaped). ``json`` keeps the text as written, so key
  order, ``1`` versus ``1.0``, big integers, ``\\u0000`` and lone surrogates all survive;
  ``jsonb`` would sort keys, turn ``1e400`` and ``-0.0`` into other numbers, and reject
  ``\\u0000``. Queries can still use ``->``/``->>`` or cast to ``jsonb``. ``NaN`` and the
  infinities, which Python's JSON accepts and PostgreSQL's does not, are stored inside a
  one-key wrapper object ``{"flowrun:nonfinite": "<json text>"}``; an object that would
  itself start with that key is wrapped too, so reading is unambiguous.
* **Datetimes** are ISO 8601 ``text`` from :meth:`datetime.isoformat`: microseconds and the
  exact UTC offset (or its absence) survive, which ``timestamptz`` would not keep.
  ``created::timestamptz`` turns them into instants in SQL.
* **Text** columns cannot hold ``NUL`` in PostgreSQL. Strings that contain ``\\x00`` (or the
  escape character ``\\x01``) are stored escaped: ``\\x01`` becomes ``\\x01\\x01`` and
  ``\\x00`` becomes ``\\x01\\x30``. The mapping is injective and the identity on every other
  string, so equality, uniqueness and lookups are unaffected.
* ``FlowRunPolicy.pause_keys`` (a frozenset) is stored as a sorted list.

Row tuples list the columns in the order of the ``*_COLUMNS`` constants, which also build the
SQL, so a statement and its parameters cannot drift apart. Reading builds fresh objects.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, cast
from uuid import UUID

import attrs

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
from flowrun_core.json_types import JSON, copy_json, copy_json_object
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
    "copy_flow_run",
    "decode_text",
    "deployment_from_row",
    "deployment_to_row",
    "document_from_row",
    "document_to_row",
    "dump_json",
    "dump_state",
    "encode_text",
    "flow_from_row",
    "flow_run_from_row",
    "flow_run_to_row",
    "flow_to_row",
    "insert_sql",
    "load_json",
    "parse_datetime",
    "select_sql",
    "task_run_from_row",
    "task_run_to_row",
    "update_by_id_sql",
    "variable_from_row",
    "variable_to_row",
    "work_pool_from_row",
    "work_pool_to_row",
    "work_queue_from_row",
    "work_queue_to_row",
]

"""A row as psycopg returns it (``json`` columns as text), or the parameters written for it."""

_dump_strict: Final[Callable[[object], str]] = json.JSONEncoder(
    ensure_ascii=True, allow_nan=False, separators=(",", ":")
).encode
_dump_lax: Final[Callable[[object], str]] = json.JSONEncoder(
    ensure_ascii=True, allow_nan=True, separators=(",", ":")
).encode
_load: Final[Callable[[str], Any]] = json.loads

_WRAP_KEY: Final = "flowrun:nonfinite"
_WRAP_PREFIX: Final = '{"' + _WRAP_KEY + '":'


def dump_json(value: object) -> str:
    """The ``json`` column text for ``value`` (non-finite numbers wrapped, see the module)."""
    try:
        text = _dump_strict(value)
    except ValueError:  # NaN or an infinity somewhere inside
        text = _dump_lax(value)
    else:
        if not text.startswith(_WRAP_PREFIX):
            return text
    return _WRAP_PREFIX + _dump_strict(text) + "}"


def load_json(text: str) -> Any:
    """The value :func:`dump_json` wrote."""
    if text.startswith(_WRAP_PREFIX):
        return _load(_load(text)[_WRAP_KEY])
    return _load(text)


def _opt_json(value: object) -> str | None:
    return None if value is None else dump_json(value)


def _load_opt_json(text: str | None) -> Any:
    return None if text is None else load_json(text)


# -- text without NUL ----------------------------------------------------------------------

_UNESCAPE: Final = re.compile("\x01(.)", re.DOTALL)


def _unescape_one(match: re.Match[str]) -> str:
    return "\x00" if match.group(1) == "0" else "\x01"


def encode_text(value: str) -> str:
    """``value`` as a ``text`` column can hold it (``NUL`` escaped; see the module)."""
    if "\x00" in value or "\x01" in value:
        return value.replace("\x01", "\x01\x01").replace("\x00", "\x010")
    return value


def decode_text(value: str) -> str:
    """The string :func:`encode_text` stored."""
    if "\x01" in value:
        return _UNESCAPE.sub(_unescape_one, value)
    return value


def _enc(value: str | None) -> str | None:
    return None if value is None else encode_text(value)


def _dec(value: str | None) -> str | None:
    return None if value is None else decode_text(value)


# -- SQL builders ---------------------------------------------------------------------------


def insert_sql(table: str, columns: Sequence[str], suffix: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (%s, ...)`` plus ``suffix``."""
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {table} ({names}) VALUES ({marks}){suffix}"  # noqa: S608


def update_by_id_sql(table: str, columns: Sequence[str]) -> str:
    """``UPDATE table SET column = %s, ... WHERE id = %s`` for every column but ``id``.

    Its parameters are :func:`~flowrun_adapters._records.by_id_params` of a row.
    """
    sets = ", ".join(f"{name} = %s" for name in columns if name != "id")
    return f"UPDATE {table} SET {sets} WHERE id = %s"  # noqa: S608


# -- datetimes -----------------------------------------------------------------------------


# -- states --------------------------------------------------------------------------------


def dump_state(state: State) -> str:
    """A state as the text of a ``json`` column."""
    return dump_json(state_to_json(state))


def _dump_state(state: State | None) -> str | None:
    return None if state is None else dump_state(state)


def _load_state(text: str | None) -> State | None:
    return None if text is None else state_from_json(load_json(text))


# -- flow runs -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _dump_hashable_policy(policy: FlowRunPolicy) -> str:
    return dump_json(policy_to_json(policy))


def _dump_policy(policy: FlowRunPolicy) -> str:
    # Policies are frozen and few distinct ones recur (most runs carry the default).
    try:
        return _dump_hashable_policy(policy)
    except TypeError:  # an unhashable field value
        return dump_json(policy_to_json(policy))


def _created_by_to_json(value: CreatedBy | None) -> str | None:
    if value is None:
        return None
    ident = None if value.id is None else str(value.id)
    return dump_json({"id": ident, "type": value.type, "display_value": value.display_value})


def _created_by_from_json(text: str | None) -> CreatedBy | None:
    if text is None:
        return None
    data = load_json(text)
    ident = data["id"]
    return CreatedBy(
        id=None if ident is None else UUID(ident),
        type=data["type"],
        display_value=data["display_value"],
    )


FLOW_ID_INDEX: Final = FLOW_RUN_COLUMNS.index("flow_id")
"""Where ``flow_id`` sits in a flow-run row."""


def flow_run_to_row(run: FlowRun) -> tuple[Any, ...]:
    """The parameters that store ``run``, in :data:`FLOW_RUN_COLUMNS` order."""
    state_type = run.state_type
    return (
        run.id,
        run.created.isoformat(),
        run.updated.isoformat(),
        encode_text(run.name),
        run.flow_id,
        run.state_id,
        run.deployment_id,
        _enc(run.deployment_version),
        run.work_queue_id,
        _enc(run.work_queue_name),
        _enc(run.flow_version),
        dump_json(run.parameters),
        _enc(run.idempotency_key),
        dump_json(run.context),
        _dump_policy(run.empirical_policy),
        dump_json(run.tags),
        dump_json(run.labels),
        run.parent_task_run_id,
        None if state_type is None else state_type.value,
        _enc(run.state_name),
        run.run_count,
        iso(run.expected_start_time),
        iso(run.next_scheduled_start_time),
        iso(run.start_time),
        iso(run.end_time),
        run.total_run_time,
        run.auto_scheduled,
        run.infrastructure_document_id,
        _enc(run.infrastructure_pid),
        _created_by_to_json(run.created_by),
        run.work_pool_id,
        _enc(run.work_pool_name),
        _dump_state(run.state),
        _opt_json(run.job_variables),
    )


def flow_run_from_row(row: Row) -> FlowRun:
    """The run a :data:`FLOW_RUN_COLUMNS` row stores."""
    state_type = row[18]
    return FlowRun(
        id=row[0],
        created=parse_datetime(row[1]),
        updated=parse_datetime(row[2]),
        name=decode_text(row[3]),
        flow_id=row[4],
        state_id=row[5],
        deployment_id=row[6],
        deployment_version=_dec(row[7]),
        work_queue_id=row[8],
        work_queue_name=_dec(row[9]),
        flow_version=_dec(row[10]),
        parameters=load_json(row[11]),
        idempotency_key=_dec(row[12]),
        context=load_json(row[13]),
        empirical_policy=policy_from_json(load_json(row[14])),
        tags=tuple(load_json(row[15])),
        labels=load_json(row[16]),
        parent_task_run_id=row[17],
        state_type=None if state_type is None else StateType(state_type),
        state_name=_dec(row[19]),
        run_count=row[20],
        expected_start_time=dt(row[21]),
        next_scheduled_start_time=dt(row[22]),
        start_time=dt(row[23]),
        end_time=dt(row[24]),
        total_run_time=row[25],
        auto_scheduled=row[26],
        infrastructure_document_id=row[27],
        infrastructure_pid=_dec(row[28]),
        created_by=_created_by_from_json(row[29]),
        work_pool_id=row[30],
        work_pool_name=_dec(row[31]),
        state=_load_state(row[32]),
        job_variables=_load_opt_json(row[33]),
    )


def copy_flow_run(run: FlowRun) -> FlowRun:
    """A copy of ``run`` that shares no mutable container with it (cheaper than a decode)."""
    state = run.state
    if state is not None:
        details = state.state_details
        keyset = details.run_input_keyset
        if keyset is not None:
            details = attrs.evolve(details, run_input_keyset=dict(keyset))
        state = attrs.evolve(state, data=copy_json(state.data), state_details=details)
    job_variables = run.job_variables
    return attrs.evolve(
        run,
        parameters=copy_json_object(run.parameters),
        context=copy_json_object(run.context),
        labels=dict(run.labels),
        job_variables=None if job_variables is None else copy_json_object(job_variables),
        state=state,
    )


# -- the other entities --------------------------------------------------------------------


def flow_to_row(flow: Flow) -> tuple[Any, ...]:
    """The parameters that store ``flow``."""
    return (flow.id, encode_text(flow.name), dump_json(flow.tags), dump_json(flow.labels))


def flow_from_row(row: Row) -> Flow:
    """The flow a :data:`FLOW_COLUMNS` row stores."""
    labels = cast("dict[str, LabelValue]", load_json(row[3]))
    return Flow(id=row[0], name=decode_text(row[1]), tags=tuple(load_json(row[2])), labels=labels)


def deployment_to_row(d: Deployment) -> tuple[Any, ...]:
    """The parameters that store ``d``, in :data:`DEPLOYMENT_COLUMNS` order."""
    return (
        d.id,
        d.flow_id,
        encode_text(d.name),
        _enc(d.version),
        _enc(d.description),
        dump_json(d.parameters),
        dump_json(d.tags),
        dump_json(d.labels),
        _opt_json(d.parameter_openapi_schema),
        d.enforce_parameter_schema,
        _enc(d.work_queue_name),
        d.work_queue_id,
        _enc(d.work_pool_name),
        d.infrastructure_document_id,
        dump_json(d.job_variables),
        d.paused,
    )


def deployment_from_row(row: Row) -> Deployment:
    """The deployment a :data:`DEPLOYMENT_COLUMNS` row stores."""
    return Deployment(
        id=row[0],
        flow_id=row[1],
        name=decode_text(row[2]),
        version=_dec(row[3]),
        description=_dec(row[4]),
        parameters=load_json(row[5]),
        tags=tuple(load_json(row[6])),
        labels=load_json(row[7]),
        parameter_openapi_schema=_load_opt_json(row[8]),
        enforce_parameter_schema=row[9],
        work_queue_name=_dec(row[10]),
        work_queue_id=row[11],
        work_pool_name=_dec(row[12]),
        infrastructure_document_id=row[13],
        job_variables=load_json(row[14]),
        paused=row[15],
    )


def work_pool_to_row(pool: WorkPool) -> tuple[Any, ...]:
    """The parameters that store ``pool``."""
    return (
        pool.id,
        encode_text(pool.name),
        encode_text(pool.type),
        dump_json(pool.base_job_template),
        pool.default_queue_id,
    )


def work_pool_from_row(row: Row) -> WorkPool:
    """The pool a :data:`WORK_POOL_COLUMNS` row stores."""
    return WorkPool(
        id=row[0],
        name=decode_text(row[1]),
        type=decode_text(row[2]),
        base_job_template=load_json(row[3]),
        default_queue_id=row[4],
    )


def work_queue_to_row(queue: WorkQueue) -> tuple[Any, ...]:
    """The parameters that store ``queue``."""
    return (
        queue.id,
        encode_text(queue.name),
        queue.work_pool_id,
        queue.priority,
        encode_text(queue.description),
        queue.is_paused,
        queue.concurrency_limit,
    )


def work_queue_from_row(row: Row) -> WorkQueue:
    """The queue a :data:`WORK_QUEUE_COLUMNS` row stores."""
    return WorkQueue(
        id=row[0],
        name=decode_text(row[1]),
        work_pool_id=row[2],
        priority=row[3],
        description=decode_text(row[4]),
        is_paused=row[5],
        concurrency_limit=row[6],
    )


def variable_to_row(variable: Variable) -> tuple[Any, ...]:
    """The parameters that store ``variable``."""
    return (
        variable.id,
        encode_text(variable.name),
        dump_json(variable.value),
        dump_json(variable.tags),
    )


def variable_from_row(row: Row) -> Variable:
    """The variable a :data:`VARIABLE_COLUMNS` row stores."""
    value: JSON = load_json(row[2])
    return Variable(id=row[0], name=decode_text(row[1]), value=value, tags=tuple(load_json(row[3])))


def task_run_to_row(task_run: TaskRun) -> tuple[Any, ...]:
    """The parameters that store ``task_run``."""
    return (
        task_run.id,
        task_run.flow_run_id,
        encode_text(task_run.name),
        encode_text(task_run.task_key),
        encode_text(task_run.dynamic_key),
        _dump_state(task_run.state),
    )


def task_run_from_row(row: Row) -> TaskRun:
    """The task run a :data:`TASK_RUN_COLUMNS` row stores."""
    return TaskRun(
        id=row[0],
        flow_run_id=row[1],
        name=decode_text(row[2]),
        task_key=decode_text(row[3]),
        dynamic_key=decode_text(row[4]),
        state=_load_state(row[5]),
    )


def document_to_row(document: InfrastructureDocument) -> tuple[Any, ...]:
    """The parameters that store ``document``."""
    return (document.id, encode_text(document.name), dump_json(document.data))


def document_from_row(row: Row) -> InfrastructureDocument:
    """The block document a :data:`DOCUMENT_COLUMNS` row stores."""
    return InfrastructureDocument(id=row[0], name=decode_text(row[1]), data=load_json(row[2]))
