"""What the SQL adapters share: column lists and the JSON forms of states and policies.

The SQLite and PostgreSQL adapters store the same columns and the same JSON documents for a
run's state and policy; only how a column value is written differs (their ``rows`` modules).
Keeping the shared part here keeps the two stores readable by the same rules.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from json.encoder import encode_basestring_ascii
from typing import Any, Final, Generic, TypeVar
from uuid import UUID, SafeUUID

import attrs

from flowrun_core.models import Deployment, FlowRun, FlowRunPolicy, State, StateDetails, StateType

__all__ = [
    "DEPLOYMENT_COLUMNS",
    "DOCUMENT_COLUMNS",
    "FLOW_COLUMNS",
    "FLOW_RUN_COLUMNS",
    "MAX_SQL_LIMIT",
    "TASK_RUN_COLUMNS",
    "VARIABLE_COLUMNS",
    "WORK_POOL_COLUMNS",
    "WORK_QUEUE_COLUMNS",
    "DecodedRows",
    "Row",
    "by_id_params",
    "details_from_json",
    "details_to_json",
    "details_to_text",
    "dt",
    "iso",
    "parse_datetime",
    "parse_state_type",
    "parse_uuid",
    "policy_from_json",
    "policy_to_json",
    "select_sql",
    "sql_limit",
    "state_from_json",
    "state_to_json",
    "state_to_text",
]

Row = Sequence[Any]


def select_sql(table: str, columns: Sequence[str], where: str = "") -> str:
    """``SELECT columns FROM table`` plus ``where`` (which may hold ``ORDER BY`` too)."""
    return f"SELECT {', '.join(columns)} FROM {table} {where}".rstrip()  # noqa: S608


def parse_datetime(text: str) -> datetime:
    """The datetime :meth:`datetime.isoformat` wrote, sub-second UTC offsets included.

    Python 3.11's :meth:`datetime.fromisoformat` drops an offset such as
    ``+00:00:00.000001``, so an offset with microseconds is parsed here.
    """
    value = datetime.fromisoformat(text)
    if len(text) > 16 and text[-7] == "." and text[-16] in "+-":  # noqa: PLR2004
        sign = -1 if text[-16] == "-" else 1
        offset = timedelta(
            hours=int(text[-15:-13]),
            minutes=int(text[-12:-10]),
            seconds=int(text[-9:-7]),
            microseconds=int(text[-6:]),
        )
        value = value.replace(tzinfo=timezone(sign * offset))
    return value


def dt(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


_new_object: Final = object.__new__
_set_slot: Final = object.__setattr__
_UNKNOWN_SAFETY: Final = SafeUUID.unknown


def _uuid_from_hex(text: str) -> UUID | None:
    """``UUID(text)`` for text that is 32 hex digits once hyphens go, else ``None``.

    Whenever ``int(digits, 16)`` accepts the digits, ``UUID(text)`` strips nothing but the
    hyphens and reads the same number, so the two agree; this skips ``UUID.__init__``'s
    argument handling, which costs more than the parse itself.
    """
    digits = text.replace("-", "")
    if len(digits) != 32:  # noqa: PLR2004 - 128 bits
        return None
    try:
        value = int(digits, 16)
    except ValueError:
        return None
    uuid = _new_object(UUID)
    _set_slot(uuid, "int", value)
    _set_slot(uuid, "is_safe", _UNKNOWN_SAFETY)
    return uuid


def _fast_uuids_work() -> bool:
    sample = "0123abcd-4567-89ef-0123-456789abcdef"
    try:
        made = _uuid_from_hex(sample)
    except (AttributeError, TypeError):  # pragma: no cover - UUID's slots changed
        return False
    reference = UUID(sample)
    return made == reference and made.is_safe is reference.is_safe and str(made) == sample


_FAST_UUIDS: Final = _fast_uuids_work()


def parse_uuid(text: str) -> UUID:
    """``UUID(text)``, about twice as fast for the canonical text ``str(uuid)`` writes."""
    if _FAST_UUIDS and type(text) is str:
        uuid = _uuid_from_hex(text)
        if uuid is not None:
            return uuid
    return UUID(text)


_STATE_TYPES: Final[Mapping[object, StateType]] = {member.value: member for member in StateType}


def parse_state_type(value: object) -> StateType:
    """``StateType(value)`` without the enum machinery for the known values."""
    try:
        return _STATE_TYPES[value]
    except (KeyError, TypeError):
        return StateType(value)


_DETAIL_UUIDS: Final = frozenset(
    {
        "flow_run_id",
        "task_run_id",
        "child_flow_run_id",
        "transition_id",
        "task_parameters_id",
        "deployment_concurrency_lease_id",
    }
)


_DETAIL_DATETIMES: Final = frozenset({"scheduled_time", "cache_expiration", "pause_timeout"})


_DETAIL_FIELDS: Final = tuple(f.name for f in attrs.fields(StateDetails))


_DETAIL_KINDS: Final = tuple(
    (name, 1 if name in _DETAIL_UUIDS else 2 if name in _DETAIL_DATETIMES else 0)
    for name in _DETAIL_FIELDS
)


def details_to_json(details: StateDetails) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in _DETAIL_KINDS:
        value = getattr(details, name)
        if value is not None and kind:
            value = str(value) if kind == 1 else value.isoformat()
        out[name] = value
    return out


_DETAIL_NAMES: Final = frozenset(_DETAIL_FIELDS)
_DETAIL_UUID_FIELDS: Final = tuple(name for name, kind in _DETAIL_KINDS if kind == 1)
_DETAIL_DATETIME_FIELDS: Final = tuple(name for name, kind in _DETAIL_KINDS if kind == 2)  # noqa: PLR2004

_NO_UUIDS: Final[Mapping[str, UUID]] = {}
_NO_MOMENTS: Final[Mapping[str, datetime]] = {}


def details_from_json(
    data: dict[str, Any],
    uuids: Mapping[str, UUID] = _NO_UUIDS,
    moments: Mapping[str, datetime] = _NO_MOMENTS,
) -> StateDetails:
    """The details :func:`details_to_json` wrote (keys it did not write take defaults).

    ``uuids`` and ``moments`` map text the caller already parsed to its (immutable) value,
    which is reused instead of parsing the same text again.
    """
    if type(data) is dict and data.keys() == _DETAIL_NAMES:
        # Every field, nothing else: what details_to_json writes.
        kwargs = dict(data)
        for name in _DETAIL_UUID_FIELDS:
            value = kwargs[name]
            if value is not None:
                kwargs[name] = (type(value) is str and uuids.get(value)) or parse_uuid(value)
        for name in _DETAIL_DATETIME_FIELDS:
            value = kwargs[name]
            if value is not None:
                kwargs[name] = (type(value) is str and moments.get(value)) or parse_datetime(value)
        return StateDetails(**kwargs)
    kwargs = {}
    for name, kind in _DETAIL_KINDS:
        if name not in data:
            continue
        value = data[name]
        if value is not None and kind:
            value = parse_uuid(value) if kind == 1 else parse_datetime(value)
        kwargs[name] = value
    return StateDetails(**kwargs)


def state_to_json(state: State) -> dict[str, Any]:
    """A state as a JSON object (ids and datetimes as text)."""
    return {
        "id": str(state.id),
        "type": state.type.value,
        "name": state.name,
        "timestamp": state.timestamp.isoformat(),
        "message": state.message,
        "data": state.data,
        "state_details": details_to_json(state.state_details),
    }


# -- the state's JSON text, written directly ----------------------------------------------
#
# ``state_to_text`` gives the text ``dump(state_to_json(state))`` gives, without building the
# two dicts and without the encoder walking them: the keys are constant, so only the values
# are encoded. Details whose plain fields (neither ids nor datetimes) all hold their default
# (``None``/``False``, checked by identity so that ``0`` is not taken for ``False``) fill a
# prepared template; any other details are encoded field by field.

_escape: Final[Callable[[str], str]] = encode_basestring_ascii

_DETAIL_DEFAULTS: Final = tuple(f.default for f in attrs.fields(StateDetails))
_PLAIN_DEFAULTS: Final = (None, True, False)
_TEMPLATED: Final = tuple(
    i
    for i, (_, kind) in enumerate(_DETAIL_KINDS)
    if kind or not any(_DETAIL_DEFAULTS[i] is d for d in _PLAIN_DEFAULTS)
)
"""Indexes of the detail fields the template leaves open (ids, datetimes, odd defaults)."""
_FIXED: Final = tuple(i for i in range(len(_DETAIL_FIELDS)) if i not in _TEMPLATED)

_detail_values: Final = operator.attrgetter(*_DETAIL_FIELDS)
_templated_values: Final = operator.attrgetter(*(_DETAIL_FIELDS[i] for i in _TEMPLATED))
_fixed_values: Final = operator.attrgetter(*(_DETAIL_FIELDS[i] for i in _FIXED))
_FIXED_DEFAULTS: Final = tuple(_DETAIL_DEFAULTS[i] for i in _FIXED)
_TEMPLATED_KINDS: Final = tuple(_DETAIL_KINDS[i][1] for i in _TEMPLATED)
_DETAIL_KEYS: Final = tuple((_escape(name) + ":", kind) for name, kind in _DETAIL_KINDS)
_CONSTANT_JSON: Final = {id(None): "null", id(True): "true", id(False): "false"}  # noqa: FBT003


def _details_template() -> str:
    parts = []
    for i, (key, _) in enumerate(_DETAIL_KEYS):
        value = "%s" if i in _TEMPLATED else _CONSTANT_JSON[id(_DETAIL_DEFAULTS[i])]
        parts.append(key.replace("%", "%%") + value)
    return "{" + ",".join(parts) + "}"


_DETAILS_TEMPLATE: Final = _details_template()
_is: Final = operator.is_


def _uuid_json(value: object, known: Mapping[int, str]) -> str:
    """``dump(str(value))``; ``known`` maps ``id()`` of values converted already."""
    text = known.get(id(value))
    if text is None:
        text = str(value)
    return _escape(text)


def _datetime_json(value: datetime, known: Mapping[int, str], dump: Callable[[object], str]) -> str:
    """``dump(value.isoformat())``; ``known`` maps ``id()`` of values converted already."""
    text: object = known.get(id(value))
    if text is None:
        text = value.isoformat()
    return _escape(text) if type(text) is str else dump(text)


def _value_json(value: object, dump: Callable[[object], str]) -> str:
    if value is None:
        return "null"
    if type(value) is str:
        return _escape(value)
    return dump(value)


def _detail_json(
    kind: int,
    value: Any,
    dump: Callable[[object], str],
    uuids: Mapping[int, str],
    moments: Mapping[int, str],
) -> str:
    if value is None:
        return "null"
    if kind == 1:
        return _uuid_json(value, uuids)
    if kind == 2:  # noqa: PLR2004
        return _datetime_json(value, moments, dump)
    return _value_json(value, dump)


_NO_TEXTS: Final[Mapping[int, str]] = {}

_NEW_RUN_FIELDS: Final = ("flow_run_id", "scheduled_time")
_OTHER_INDEXES: Final = tuple(
    i for i, name in enumerate(_DETAIL_FIELDS) if name not in _NEW_RUN_FIELDS
)
_unscheduled_values: Final = operator.attrgetter(*(_DETAIL_FIELDS[i] for i in _OTHER_INDEXES))
_UNSCHEDULED_DEFAULTS: Final = tuple(_DETAIL_DEFAULTS[i] for i in _OTHER_INDEXES)


def _new_run_template() -> str:
    """The details' text with every field but :data:`_NEW_RUN_FIELDS` at its default."""
    parts = []
    for (key, _), name, default in zip(_DETAIL_KEYS, _DETAIL_FIELDS, _DETAIL_DEFAULTS, strict=True):
        value = "%s" if name in _NEW_RUN_FIELDS else _CONSTANT_JSON[id(default)]
        parts.append(key.replace("%", "%%") + value)
    return "{" + ",".join(parts) + "}"


_NEW_RUN_TEMPLATE: Final = _new_run_template()


def details_to_text(
    details: StateDetails,
    dump: Callable[[object], str],
    uuids: Mapping[int, str] = _NO_TEXTS,
    moments: Mapping[int, str] = _NO_TEXTS,
) -> str:
    """``dump(details_to_json(details))``, for a compact ASCII ``dump`` (see the module)."""
    if all(map(_is, _unscheduled_values(details), _UNSCHEDULED_DEFAULTS)):
        # A new run's first state: only the run's id and the scheduled time are set.
        return _NEW_RUN_TEMPLATE % (
            _detail_json(1, details.flow_run_id, dump, uuids, moments),
            _detail_json(2, details.scheduled_time, dump, uuids, moments),
        )
    if all(map(_is, _fixed_values(details), _FIXED_DEFAULTS)):
        return _DETAILS_TEMPLATE % tuple(
            [
                _detail_json(kind, value, dump, uuids, moments)
                for kind, value in zip(_TEMPLATED_KINDS, _templated_values(details), strict=True)
            ]
        )
    return (
        "{"
        + ",".join(
            [
                key + _detail_json(kind, value, dump, uuids, moments)
                for (key, kind), value in zip(_DETAIL_KEYS, _detail_values(details), strict=True)
            ]
        )
        + "}"
    )


def state_to_text(
    state: State,
    dump: Callable[[object], str],
    uuids: Mapping[int, str] = _NO_TEXTS,
    moments: Mapping[int, str] = _NO_TEXTS,
) -> str:
    """The text ``dump(state_to_json(state))`` gives, built directly.

    ``dump`` must be a compact encoder (separators ``","`` and ``":"``) that escapes to ASCII,
    like both SQL adapters' encoders; it is called only for values other than ``None``,
    booleans and plain strings. ``uuids`` and ``moments`` map the ``id()`` of UUIDs and
    datetimes the caller has converted already (``str()`` and ``isoformat()``) to that text.
    """
    return (
        '{"id":'
        + _uuid_json(state.id, uuids)
        + ',"type":'
        + _value_json(state.type.value, dump)
        + ',"name":'
        + _value_json(state.name, dump)
        + ',"timestamp":'
        + _datetime_json(state.timestamp, moments, dump)
        + ',"message":'
        + _value_json(state.message, dump)
        + ',"data":'
        + _value_json(state.data, dump)
        + ',"state_details":'
        + details_to_text(state.state_details, dump, uuids, moments)
        + "}"
    )


def state_from_json(
    data: dict[str, Any],
    uuids: Mapping[str, UUID] = _NO_UUIDS,
    moments: Mapping[str, datetime] = _NO_MOMENTS,
) -> State:
    """The state :func:`state_to_json` wrote.

    ``uuids`` and ``moments`` map text the caller already parsed to its (immutable) value.
    """
    state_id = data["id"]
    return State(
        id=(type(state_id) is str and uuids.get(state_id)) or parse_uuid(state_id),
        type=parse_state_type(data["type"]),
        name=data["name"],
        timestamp=parse_datetime(data["timestamp"]),
        message=data["message"],
        data=data["data"],
        state_details=details_from_json(data["state_details"], uuids, moments),
    )


def policy_to_json(policy: FlowRunPolicy) -> dict[str, Any]:
    keys = policy.pause_keys
    return {
        "max_retries": policy.max_retries,
        "retry_delay_seconds": policy.retry_delay_seconds,
        "retries": policy.retries,
        "retry_delay": policy.retry_delay,
        "pause_keys": None if keys is None else sorted(keys),
        "resuming": policy.resuming,
        "retry_type": policy.retry_type,
    }


def policy_from_json(data: dict[str, Any]) -> FlowRunPolicy:
    keys = data["pause_keys"]
    return FlowRunPolicy(
        max_retries=data["max_retries"],
        retry_delay_seconds=data["retry_delay_seconds"],
        retries=data["retries"],
        retry_delay=data["retry_delay"],
        pause_keys=None if keys is None else frozenset(keys),
        resuming=data["resuming"],
        retry_type=data["retry_type"],
    )


FLOW_RUN_COLUMNS: Final = tuple(f.name for f in attrs.fields(FlowRun))


_EXPECTED_FLOW_RUN_COLUMNS: Final = (
    "id",
    "created",
    "updated",
    "name",
    "flow_id",
    "state_id",
    "deployment_id",
    "deployment_version",
    "work_queue_id",
    "work_queue_name",
    "flow_version",
    "parameters",
    "idempotency_key",
    "context",
    "empirical_policy",
    "tags",
    "labels",
    "parent_task_run_id",
    "state_type",
    "state_name",
    "run_count",
    "expected_start_time",
    "next_scheduled_start_time",
    "start_time",
    "end_time",
    "total_run_time",
    "auto_scheduled",
    "infrastructure_document_id",
    "infrastructure_pid",
    "created_by",
    "work_pool_id",
    "work_pool_name",
    "state",
    "job_variables",
)

if FLOW_RUN_COLUMNS != _EXPECTED_FLOW_RUN_COLUMNS:  # pragma: no cover - a model change
    msg = "FlowRun's fields changed: update the SQL adapters' rows modules and add migrations"
    raise RuntimeError(msg)


FLOW_COLUMNS: Final = ("id", "name", "tags", "labels")


DEPLOYMENT_COLUMNS: Final = tuple(f.name for f in attrs.fields(Deployment))


WORK_POOL_COLUMNS: Final = ("id", "name", "type", "base_job_template", "default_queue_id")


WORK_QUEUE_COLUMNS: Final = (
    "id",
    "name",
    "work_pool_id",
    "priority",
    "description",
    "is_paused",
    "concurrency_limit",
)


VARIABLE_COLUMNS: Final = ("id", "name", "value", "tags")


TASK_RUN_COLUMNS: Final = ("id", "flow_run_id", "name", "task_key", "dynamic_key", "state")


DOCUMENT_COLUMNS: Final = ("id", "name", "data")


# -- decoded rows, reused while the row is unchanged ------------------------------------------

_K = TypeVar("_K")
_V = TypeVar("_V")


class DecodedRows(Generic[_K, _V]):
    """The values decoded from rows, each reused while its row reads back unchanged.

    Both SQL adapters lend shared deployments this way
    (:class:`~flowrun_core.ports.SharedDeploymentReads`): the row is selected, so a change
    made by anyone is seen, and only the decoding is skipped. An adapter that can tell that
    nothing has changed since an entry was read (SQLite's ``data_version``) passes a
    ``stamp`` naming that state, and :meth:`current` then lends the entry without a select.
    At most ``limit`` entries are kept; a full cache starts over. Values must never be
    mutated by callers.
    """

    def __init__(self, decode: Callable[[Sequence[Any]], _V], limit: int = 256) -> None:
        self._decode = decode
        self._limit = limit
        self._entries: dict[_K, tuple[Sequence[Any], _V, object]] = {}

    def get(self, key: _K, row: Sequence[Any], stamp: object = None) -> _V:
        """The value decoded from ``row`` (the current row for ``key``), read at ``stamp``."""
        entries = self._entries
        cached = entries.get(key)
        if cached is not None and cached[0] == row:
            value = cached[1]
        else:
            value = self._decode(row)
            if len(entries) >= self._limit:
                entries.clear()
        entries[key] = (row, value, stamp)
        return value

    def current(self, key: _K, stamp: object) -> _V | None:
        """The value last read for ``key`` at ``stamp`` (not ``None``), else ``None``."""
        cached = self._entries.get(key)
        if cached is None or stamp is None or cached[2] != stamp:
            return None
        return cached[1]


MAX_SQL_LIMIT: Final = 2**63 - 1
"""The largest ``LIMIT`` both databases bind (a signed 64-bit integer): more rows than any
table can hold, so a larger limit means the same as this one."""


def sql_limit(limit: int) -> int:
    """``limit`` as a ``LIMIT`` parameter: none below zero, at most :data:`MAX_SQL_LIMIT`.

    So every adapter answers ``list_flow_runs(limit=...)`` as the in-memory one does, where
    a negative limit keeps nothing and a huge one keeps everything.
    """
    return min(max(int(limit), 0), MAX_SQL_LIMIT)


def by_id_params(columns: Sequence[str], row: Sequence[Any]) -> tuple[Any, ...]:
    """A row's values for an ``UPDATE ... WHERE id = ?`` that sets every other column.

    Every column but ``id``, in ``columns`` order, then ``id`` (each adapter's
    ``update_by_id_sql`` writes the statement).
    """
    pairs = list(zip(columns, row, strict=True))
    return (*(value for name, value in pairs if name != "id"), dict(pairs)["id"])
