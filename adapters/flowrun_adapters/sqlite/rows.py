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

import json
import marshal
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from json.encoder import encode_basestring_ascii
from json.scanner import make_scanner
from typing import Any, Final, TypeVar, cast
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
    parse_state_type,
    parse_uuid,
    policy_from_json,
    policy_to_json,
    select_sql,
    state_from_json,
    state_to_json,
    state_to_text,
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
    "update_by_id_sql",
    "variable_from_row",
    "variable_to_row",
    "work_pool_from_row",
    "work_pool_to_row",
    "work_queue_from_row",
    "work_queue_to_row",
]

"""A row as ``sqlite3`` returns it, or the parameter tuple written for it."""

# -- JSON ----------------------------------------------------------------------------------
#
# ``json.dumps``/``json.loads`` (and even a prebuilt encoder's ``encode``) pay for Python-level
# wrappers on every call: argument checks, a new C encoder per call, ``raw_decode``'s
# whitespace regex. The functions below call the C encoder and scanner directly, with the
# very settings ``json.JSONEncoder(ensure_ascii=True, allow_nan=True, separators=(",", ":"))``
# and ``json.loads`` use, so the text written and the values read are the same.

_checked_dump: Final[Callable[[object], str]] = json.JSONEncoder(
    ensure_ascii=True, allow_nan=True, separators=(",", ":")
).encode


def _c_encoder() -> Callable[[object, int], Any] | None:
    """The C encoder ``_checked_dump`` uses inside, minus its cycle check, if it agrees."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return None
    default = json.JSONEncoder().default
    try:
        encoder = cast(
            "Callable[[object, int], Any]",
            make(None, default, encode_basestring_ascii, None, ":", ",", False, False, True),  # noqa: FBT003
        )
        sample = {"a": [1, 1.0, -0.0, float("nan"), None, True, "\udcff\u00e9\x00"], "": {}}
        if "".join(encoder(sample, 0)) != _checked_dump(sample):  # pragma: no cover
            return None
    except (TypeError, ValueError):  # pragma: no cover - another C signature
        return None
    return encoder


_encode_chunks: Final = _c_encoder()
_join: Final = "".join


def dump_json(value: object) -> str:
    """Serialise a JSON value compactly (NaN allowed, key order kept, ASCII-escaped).

    The C encoder runs without its cycle bookkeeping; a cycle then ends in
    ``RecursionError``, and the checking encoder runs again to raise what it always raised.
    """
    if _encode_chunks is None:  # pragma: no cover - CPython always has the C encoder
        return _checked_dump(value)
    try:
        return _join(_encode_chunks(value, 0))
    except RecursionError:
        return _checked_dump(value)


_scan: Final = make_scanner(cast("make_scanner", json.JSONDecoder()))  # its settings, read
_loads: Final[Callable[[str], Any]] = json.loads


def _load_json(text: str) -> Any:
    """``json.loads(text)``: the scanner directly when the text is one value, nothing more."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, TypeError):  # not JSON at 0 (or not text): json.loads decides
        return _loads(text)
    if end != len(text):  # whitespace or more after the value: json.loads decides
        return _loads(text)
    return value


def _load_object(text: str) -> Any:
    return {} if text == "{}" else _load_json(text)


def insert_sql(table: str, columns: Sequence[str], suffix: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)`` plus ``suffix``."""
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({names}) VALUES ({marks}){suffix}"  # noqa: S608


class NonNullInsert:
    """An ``INSERT`` that binds only a row's non-``NULL`` values.

    Python's ``sqlite3`` module binds ``None`` through its adapter protocol, whose two
    failed attribute lookups cost more than the rest of the bind; a flow run has some fifteen
    ``None`` fields. A column left out of the statement is stored as ``NULL`` (no column of
    these tables has another default), so the stored row is the same. One statement per
    pattern of ``NULL`` columns, made once (``sqlite3`` caches each prepared one).
    """

    _LIMIT: Final = 256
    """Patterns kept; a table's columns each take one or two types, so few ever occur."""

    def __init__(self, table: str, columns: Sequence[str], suffix: str = "") -> None:
        self._table = table
        self._columns = tuple(columns)
        self._suffix = suffix
        self._made: dict[tuple[type, ...], tuple[str, Callable[[Sequence[Any]], Any]]] = {}

    def __call__(self, row: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        """The statement and its parameters for ``row`` (in the table's column order)."""
        pattern = tuple(map(type, row))
        made = self._made.get(pattern)
        if made is None:
            if len(self._made) >= self._LIMIT:
                self._made.clear()
            kept = [i for i, kind in enumerate(pattern) if kind is not type(None)]
            sql = (
                insert_sql(self._table, [self._columns[i] for i in kept], self._suffix)
                if kept
                else f"INSERT INTO {self._table} DEFAULT VALUES{self._suffix}"
            )
            pick = operator.itemgetter(*kept) if len(kept) > 1 else _one_of(kept)
            made = self._made[pattern] = (sql, pick)
        sql, pick = made
        return sql, pick(row)


def _one_of(kept: list[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    return lambda row: tuple(row[i] for i in kept)


def update_by_id_sql(table: str, columns: Sequence[str]) -> str:
    """``UPDATE table SET column = ?, ... WHERE id = ?`` for every column but ``id``.

    Its parameters are :func:`~flowrun_adapters._records.by_id_params` of a row.
    """
    sets = ", ".join(f"{name} = ?" for name in columns if name != "id")
    return f"UPDATE {table} SET {sets} WHERE id = ?"  # noqa: S608


# -- scalars -------------------------------------------------------------------------------
#
# Ids that recur across rows (flows, deployments, queues, pools, documents) are converted
# once and remembered: UUIDs are immutable, so handing the same one out twice aliases
# nothing that can change. The caches are small and simply start over when full.

_CACHE_SIZE: Final = 512
_CACHED_TEXT_MAX: Final = 512
"""Longer texts are not remembered (tags can be arbitrarily long)."""

_ref_uuids: dict[str, UUID] = {}

_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Store ``value`` in one of the module's caches, emptying it first when it is full."""
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value


_ref_texts: dict[int, str] = {}


def _uuid(value: str | None) -> UUID | None:
    return None if value is None else parse_uuid(value)


def _ref_uuid(value: str | None) -> UUID | None:
    """``_uuid`` for ids many rows share, remembered."""
    return None if value is None else _shared_uuid(value)


def _shared_uuid(value: str) -> UUID:
    """``parse_uuid`` for ids many rows share, remembered."""
    found = _ref_uuids.get(value)
    if found is None:
        found = parse_uuid(value)
        _remember(_ref_uuids, value, found)
    return found


def _uuid_text(value: UUID) -> str:
    """``str(value)``, without the ``__str__`` dispatch for a plain ``UUID``."""
    if type(value) is not UUID:
        return str(value)
    digits = "%032x" % value.int  # noqa: UP031 - the fastest spelling
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _text(value: UUID | None) -> str | None:
    return None if value is None else _uuid_text(value)


def _ref_text(value: UUID | None) -> str | None:
    """``_text`` for ids many rows share, remembered."""
    return None if value is None else _shared_text(value)


def _shared_text(value: UUID) -> str:
    """``str(value)`` for ids many rows share, remembered (by the 128-bit number)."""
    if type(value) is not UUID:
        return str(value)
    number = value.int
    found = _ref_texts.get(number)
    if found is None:
        found = _uuid_text(value)
        _remember(_ref_texts, number, found)
    return found


def _dump_object(value: dict[str, Any]) -> str:
    return dump_json(value) if value else "{}"


def _opt_json(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is dict and not value:
        return "{}"
    return dump_json(value)


def _load_opt_json(value: str | None) -> Any:
    return None if value is None else _load_json(value)


def _load_opt_object(value: str | None) -> Any:
    return None if value is None else _load_object(value)


def _real(value: float) -> float | str:
    # SQLite stores a NaN REAL as NULL; the text 'NaN' survives REAL affinity unchanged.
    return value if value == value else "NaN"  # noqa: PLR0124 - the NaN test


# -- tags ----------------------------------------------------------------------------------

_escape: Final[Callable[[str], str]] = encode_basestring_ascii
_tags_by_text: dict[str, tuple[Any, ...]] = {}


def _dump_tags(tags: tuple[str, ...]) -> str:
    """``dump_json(tags)``; a tuple of strings is joined from their escaped forms."""
    if type(tags) is tuple:
        try:
            return "[" + ",".join(map(_escape, tags)) + "]"
        except TypeError:  # something other than a string inside
            pass
    return dump_json(tags)


def _load_tags(text: str) -> tuple[Any, ...]:
    """``tuple(_load_json(text))``, remembered: a tuple of JSON scalars is immutable."""
    tags = _tags_by_text.get(text)
    if tags is None:
        tags = tuple(_load_json(text))
        if len(text) <= _CACHED_TEXT_MAX:
            try:
                hash(tags)  # only scalars inside (a list or an object is not hashable)
            except TypeError:
                return tags
            _remember(_tags_by_text, text, tags)
    return tags


# -- states --------------------------------------------------------------------------------


def _dump_state(state: State | None) -> str | None:
    return None if state is None else state_to_text(state, dump_json)


def _load_state(text: str | None) -> State | None:
    return None if text is None else state_from_json(_load_json(text))


# -- flow runs -----------------------------------------------------------------------------

_policy_values: Final = operator.attrgetter(*(f.name for f in attrs.fields(FlowRunPolicy)))
_policy_texts: dict[bytes, str] = {}
_policies_by_text: dict[str, FlowRunPolicy] = {}


def _dump_policy(policy: FlowRunPolicy) -> str:
    """``dump_json(policy_to_json(policy))``, remembered: few distinct policies recur.

    The key is the ``marshal`` form of the field values, which tells apart what ``==`` does
    not (``0``, ``0.0`` and ``False``; ``0.0`` and ``-0.0``) and refuses subclasses and
    anything that is not plain data (then nothing is remembered).
    """
    try:
        key = marshal.dumps(_policy_values(policy))
    except ValueError:  # not plain data (a subclass, a set, ...)
        return dump_json(policy_to_json(policy))
    text = _policy_texts.get(key)
    if text is None:
        text = dump_json(policy_to_json(policy))
        _remember(_policy_texts, key, text)
    return text


def _load_policy(text: str) -> FlowRunPolicy:
    """``policy_from_json(_load_json(text))``, remembered when the policy is immutable."""
    policy = _policies_by_text.get(text)
    if policy is None:
        policy = policy_from_json(_load_json(text))
        if len(text) <= _CACHED_TEXT_MAX:
            try:
                hash(policy)  # hashable fields only: nothing mutable inside
            except TypeError:
                return policy
            _remember(_policies_by_text, text, policy)
    return policy


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
    run_id = run.id
    run_id_text = _uuid_text(run_id)
    state_id = run.state_id
    state_id_text = _text(state_id)
    expected = run.expected_start_time
    expected_text = iso(expected)
    next_start = run.next_scheduled_start_time
    state = run.state
    if state is None:
        state_text = None
    else:
        # The state repeats the run's id, its own id and (often) the expected start time:
        # the texts made for the columns are reused for those very objects.
        uuids = {id(run_id): run_id_text}
        if state_id_text is not None:
            uuids[id(state_id)] = state_id_text
        moments: dict[int, str] = {}
        if expected_text is not None:
            moments[id(expected)] = expected_text
        state_text = state_to_text(state, dump_json, uuids, moments)
    return (
        run_id_text,
        run.created.isoformat(),
        run.updated.isoformat(),
        run.name,
        _shared_text(run.flow_id),
        state_id_text,
        _ref_text(run.deployment_id),
        run.deployment_version,
        _ref_text(run.work_queue_id),
        run.work_queue_name,
        run.flow_version,
        _dump_object(run.parameters),
        run.idempotency_key,
        _dump_object(run.context),
        _dump_policy(run.empirical_policy),
        _dump_tags(run.tags),
        _dump_object(run.labels),
        _text(run.parent_task_run_id),
        None if state_type is None else state_type.value,
        run.state_name,
        run.run_count,
        expected_text,
        expected_text if next_start is expected else iso(next_start),
        iso(run.start_time),
        iso(run.end_time),
        _real(run.total_run_time),
        int(run.auto_scheduled),
        _ref_text(run.infrastructure_document_id),
        run.infrastructure_pid,
        _created_by_to_json(run.created_by),
        _ref_text(run.work_pool_id),
        run.work_pool_name,
        state_text,
        _opt_json(run.job_variables),
    )


def flow_run_from_row(row: Row) -> FlowRun:
    """The run a :data:`FLOW_RUN_COLUMNS` row (or :func:`flow_run_to_row` tuple) stores."""
    run_id_text = row[0]
    run_id = parse_uuid(run_id_text)
    state_id_text = row[5]
    state_id = _uuid(state_id_text)
    state_type = row[18]
    expected_text = row[21]
    expected = dt(expected_text)
    next_text = row[22]
    state_text = row[32]
    state = None
    if state_text is not None:
        # The state repeats the run's id, its own id and (often) the expected start time:
        # equal text parses to an equal immutable value, so the parsed one is reused.
        uuids = {run_id_text: run_id}
        if state_id is not None:
            uuids[state_id_text] = state_id
        moments: dict[str, datetime] = {}
        if expected is not None:
            moments[expected_text] = expected
        state = state_from_json(_load_json(state_text), uuids, moments)
    return FlowRun(
        id=run_id,
        created=parse_datetime(row[1]),
        updated=parse_datetime(row[2]),
        name=row[3],
        flow_id=_shared_uuid(row[4]),
        state_id=state_id,
        deployment_id=_ref_uuid(row[6]),
        deployment_version=row[7],
        work_queue_id=_ref_uuid(row[8]),
        work_queue_name=row[9],
        flow_version=row[10],
        parameters=_load_object(row[11]),
        idempotency_key=row[12],
        context=_load_object(row[13]),
        empirical_policy=_load_policy(row[14]),
        tags=_load_tags(row[15]),
        labels=_load_object(row[16]),
        parent_task_run_id=_uuid(row[17]),
        state_type=None if state_type is None else parse_state_type(state_type),
        state_name=row[19],
        run_count=row[20],
        expected_start_time=expected,
        next_scheduled_start_time=expected if next_text == expected_text else dt(next_text),
        start_time=dt(row[23]),
        end_time=dt(row[24]),
        total_run_time=float(row[25]),
        auto_scheduled=bool(row[26]),
        infrastructure_document_id=_ref_uuid(row[27]),
        infrastructure_pid=row[28],
        created_by=_created_by_from_json(row[29]),
        work_pool_id=_ref_uuid(row[30]),
        work_pool_name=row[31],
        state=state,
        job_variables=_load_opt_object(row[33]),
    )


# -- the other entities --------------------------------------------------------------------


def flow_to_row(flow: Flow) -> tuple[Any, ...]:
    """The parameters that store ``flow``."""
    return (str(flow.id), flow.name, _dump_tags(flow.tags), dump_json(flow.labels))


def flow_from_row(row: Row) -> Flow:
    """The flow a :data:`FLOW_COLUMNS` row stores."""
    labels = cast("dict[str, LabelValue]", _load_json(row[3]))
    return Flow(id=_shared_uuid(row[0]), name=row[1], tags=_load_tags(row[2]), labels=labels)


def deployment_to_row(d: Deployment) -> tuple[Any, ...]:
    """The parameters that store ``d``, in :data:`DEPLOYMENT_COLUMNS` order."""
    return (
        str(d.id),
        str(d.flow_id),
        d.name,
        d.version,
        d.description,
        dump_json(d.parameters),
        _dump_tags(d.tags),
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
        id=_shared_uuid(row[0]),
        flow_id=_shared_uuid(row[1]),
        name=row[2],
        version=row[3],
        description=row[4],
        parameters=_load_object(row[5]),
        tags=_load_tags(row[6]),
        labels=_load_object(row[7]),
        parameter_openapi_schema=_load_opt_object(row[8]),
        enforce_parameter_schema=bool(row[9]),
        work_queue_name=row[10],
        work_queue_id=_ref_uuid(row[11]),
        work_pool_name=row[12],
        infrastructure_document_id=_ref_uuid(row[13]),
        job_variables=_load_object(row[14]),
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
        id=_shared_uuid(row[0]),
        name=row[1],
        type=row[2],
        base_job_template=_load_json(row[3]),
        default_queue_id=_ref_uuid(row[4]),
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
        id=_shared_uuid(row[0]),
        name=row[1],
        work_pool_id=_shared_uuid(row[2]),
        priority=row[3],
        description=row[4],
        is_paused=bool(row[5]),
        concurrency_limit=row[6],
    )


def variable_to_row(variable: Variable) -> tuple[Any, ...]:
    """The parameters that store ``variable``."""
    return (str(variable.id), variable.name, dump_json(variable.value), _dump_tags(variable.tags))


def variable_from_row(row: Row) -> Variable:
    """The variable a :data:`VARIABLE_COLUMNS` row stores."""
    value: JSON = _load_json(row[2])
    return Variable(id=parse_uuid(row[0]), name=row[1], value=value, tags=_load_tags(row[3]))


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
        id=parse_uuid(row[0]),
        flow_run_id=_uuid(row[1]),
        name=row[2],
        task_key=row[3],
        dynamic_key=row[4],
        state=_load_state(row[5]),
    )


def dump_state(state: State) -> str:
    """A state as the text of a JSON column."""
    return state_to_text(state, dump_json)


def document_to_row(document: InfrastructureDocument) -> tuple[Any, ...]:
    """The parameters that store ``document``."""
    return (str(document.id), document.name, dump_json(document.data))


def document_from_row(row: Row) -> InfrastructureDocument:
    """The block document a :data:`DOCUMENT_COLUMNS` row stores."""
    return InfrastructureDocument(id=_shared_uuid(row[0]), name=row[1], data=_load_json(row[2]))
