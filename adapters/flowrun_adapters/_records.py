"""What the SQL adapters share: column lists and the JSON forms of states and policies.

The SQLite and PostgreSQL adapters store the same columns and the same JSON documents for a
run's state and policy; only how a column value is written differs (their ``rows`` modules).
Keeping the shared part here keeps the two stores readable by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from uuid import UUID

import attrs

from flowrun_core.models import Deployment, FlowRun, FlowRunPolicy, State, StateDetails, StateType

__all__ = [
    "DEPLOYMENT_COLUMNS",
    "DOCUMENT_COLUMNS",
    "FLOW_COLUMNS",
    "FLOW_RUN_COLUMNS",
    "TASK_RUN_COLUMNS",
    "VARIABLE_COLUMNS",
    "WORK_POOL_COLUMNS",
    "WORK_QUEUE_COLUMNS",
    "Row",
    "details_from_json",
    "details_to_json",
    "dt",
    "iso",
    "parse_datetime",
    "policy_from_json",
    "policy_to_json",
    "select_sql",
    "state_from_json",
    "state_to_json",
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


def details_from_json(data: dict[str, Any]) -> StateDetails:
    kwargs: dict[str, Any] = {}
    for name, kind in _DETAIL_KINDS:
        if name not in data:
            continue
        value = data[name]
        if value is not None and kind:
            value = UUID(value) if kind == 1 else parse_datetime(value)
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


def state_from_json(data: dict[str, Any]) -> State:
    """The state :func:`state_to_json` wrote."""
    return State(
        id=UUID(data["id"]),
        type=StateType(data["type"]),
        name=data["name"],
        timestamp=parse_datetime(data["timestamp"]),
        message=data["message"],
        data=data["data"],
        state_details=details_from_json(data["state_details"]),
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
