"""Encode a flow run as Prefect 3.9.1's ``FlowRunResponse`` JSON, and JSON as bytes.

Key order, datetime spelling (``Z`` for UTC, microseconds only when non-zero, other offsets
kept), floats for Prefect's float fields and ``null`` for non-finite numbers all follow what
Prefect sends.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from flowrun_core.json_types import JSON, RECURSIVE_LEVELS, TooDeepForRecursion, map_json
from flowrun_core.models import CreatedBy, FlowRun, FlowRunPolicy, State, StateDetails

__all__ = [
    "as_read_back",
    "created_by_json",
    "encode_datetime",
    "encode_flow_run",
    "encode_json",
    "finite_json",
    "policy_json",
]


def encode_datetime(value: datetime | None) -> str | None:
    """ISO 8601 as pydantic writes it: ``2030-01-01T00:00:00Z``, ``…00.500000+02:00``.

    Microseconds appear only when non-zero, UTC is ``Z``, and an offset is written in whole
    minutes (seconds of an offset are dropped, as pydantic drops them).
    """
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat()
    if not offset:
        return value.isoformat()[:-6] + "Z"  # isoformat ends a zero offset with "+00:00"
    if not offset.seconds % 60 and not offset.microseconds:
        return value.isoformat()  # a whole-minute offset: isoformat writes "+HH:MM"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{value.replace(tzinfo=None).isoformat()}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _uuid(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def finite_json(value: JSON) -> JSON:
    """A deep copy of ``value`` with ``NaN`` and infinities replaced by ``null``.

    pydantic serializes non-finite floats as ``null`` in Prefect's responses. Recursive (fast)
    for trees up to :data:`~flowrun_core.json_types.RECURSIVE_LEVELS` deep; a deeper tree is
    copied iteratively, so any depth works.
    """
    try:
        return _finite_recursive(value, RECURSIVE_LEVELS)
    except (TooDeepForRecursion, RecursionError):
        return map_json(value, _finite_scalar)


_KEPT_AS_IS: Final = frozenset({str, int, bool, type(None)})
"""Exact scalar types a copy shares without a look (a float may be non-finite)."""


def _finite_recursive(value: JSON, room: int) -> JSON:
    if isinstance(value, dict):
        if not room:
            raise TooDeepForRecursion
        room -= 1
        return {
            k: v if type(v) in _KEPT_AS_IS else _finite_recursive(v, room) for k, v in value.items()
        }
    if isinstance(value, list):
        if not room:
            raise TooDeepForRecursion
        room -= 1
        return [v if type(v) in _KEPT_AS_IS else _finite_recursive(v, room) for v in value]
    return _finite_scalar(value)


def _finite_scalar(value: JSON) -> JSON:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _sorted(values: Iterable[str]) -> list[JSON]:
    result: list[JSON] = []
    result.extend(sorted(values))
    return result


def policy_json(policy: FlowRunPolicy) -> dict[str, JSON]:
    """The run's ``empirical_policy`` as Prefect sends it (``pause_keys`` sorted)."""
    return {
        "max_retries": policy.max_retries,
        "retry_delay_seconds": _float(policy.retry_delay_seconds),
        "retries": policy.retries,
        "retry_delay": policy.retry_delay,
        "pause_keys": None if policy.pause_keys is None else _sorted(policy.pause_keys),
        "resuming": policy.resuming,
        "retry_type": policy.retry_type,
    }


def _state_details(details: StateDetails) -> dict[str, JSON]:
    keyset: JSON = None
    if details.run_input_keyset is not None:
        keyset = dict(details.run_input_keyset)
    return {
        "flow_run_id": _uuid(details.flow_run_id),
        "task_run_id": _uuid(details.task_run_id),
        "child_flow_run_id": _uuid(details.child_flow_run_id),
        "scheduled_time": encode_datetime(details.scheduled_time),
        "cache_key": details.cache_key,
        "cache_expiration": encode_datetime(details.cache_expiration),
        "deferred": details.deferred,
        "untrackable_result": details.untrackable_result,
        "pause_timeout": encode_datetime(details.pause_timeout),
        "pause_reschedule": details.pause_reschedule,
        "pause_key": details.pause_key,
        "run_input_keyset": keyset,
        "refresh_cache": details.refresh_cache,
        "retriable": details.retriable,
        "transition_id": _uuid(details.transition_id),
        "task_parameters_id": _uuid(details.task_parameters_id),
        "traceparent": details.traceparent,
        "deployment_concurrency_lease_id": _uuid(details.deployment_concurrency_lease_id),
    }


def _state(state: State | None) -> JSON:
    if state is None:
        return None
    return {
        "id": str(state.id),
        "type": state.type.value,
        "name": state.name,
        "timestamp": encode_datetime(state.timestamp),
        "message": state.message,
        "data": finite_json(state.data),
        "state_details": _state_details(state.state_details),
    }


def created_by_json(created_by: CreatedBy | None) -> JSON:
    """The run's ``created_by`` as Prefect sends it."""
    if created_by is None:
        return None
    return {
        "id": _uuid(created_by.id),
        "type": created_by.type,
        "display_value": created_by.display_value,
    }


def encode_flow_run(run: FlowRun, *, now: datetime) -> dict[str, JSON]:
    """The run as Prefect's ``FlowRunResponse`` JSON object, keys in Prefect's order.

    ``now`` is the moment the response is built: ``estimated_run_time`` and
    ``estimated_start_time_delta`` are computed from it, as Prefect does. The result shares
    no mutable value with ``run``.
    """
    labels: dict[str, JSON] = {key: finite_json(value) for key, value in run.labels.items()}
    job_variables = None if run.job_variables is None else finite_json(run.job_variables)
    return {
        "id": str(run.id),
        "created": encode_datetime(run.created),
        "updated": encode_datetime(run.updated),
        "name": run.name,
        "flow_id": str(run.flow_id),
        "state_id": _uuid(run.state_id),
        "deployment_id": _uuid(run.deployment_id),
        "deployment_version": run.deployment_version,
        "work_queue_id": _uuid(run.work_queue_id),
        "work_queue_name": run.work_queue_name,
        "flow_version": run.flow_version,
        "parameters": finite_json(run.parameters),
        "idempotency_key": run.idempotency_key,
        "context": finite_json(run.context),
        "empirical_policy": policy_json(run.empirical_policy),
        "tags": _sorted(run.tags),
        "labels": labels,
        "parent_task_run_id": _uuid(run.parent_task_run_id),
        "state_type": None if run.state_type is None else run.state_type.value,
        "state_name": run.state_name,
        "run_count": run.run_count,
        "expected_start_time": encode_datetime(run.expected_start_time),
        "next_scheduled_start_time": encode_datetime(run.next_scheduled_start_time),
        "start_time": encode_datetime(run.start_time),
        "end_time": encode_datetime(run.end_time),
        "total_run_time": _float(run.total_run_time),
        "estimated_run_time": _float(run.estimated_run_time(now)),
        "estimated_start_time_delta": _float(run.estimated_start_time_delta(now)),
        "auto_scheduled": run.auto_scheduled,
        "infrastructure_document_id": _uuid(run.infrastructure_document_id),
        "infrastructure_pid": run.infrastructure_pid,
        "created_by": created_by_json(run.created_by),
        "work_pool_id": _uuid(run.work_pool_id),
        "work_pool_name": run.work_pool_name,
        "state": _state(run.state),
        "job_variables": job_variables,
    }


def encode_json(value: JSON) -> bytes:
    """Compact UTF-8 JSON, as Starlette's ``JSONResponse`` renders it.

    Non-finite numbers become ``null`` (Prefect's own responses never contain them; its
    error envelope would crash instead). A string holding a lone surrogate, which UTF-8
    cannot carry, is written with ASCII escapes; the result parses to the same JSON. A value
    nested too deeply for :mod:`json`'s recursive encoder is written without recursion.
    """
    try:
        text = _dumps(value, ensure_ascii=False)
    except RecursionError:
        text = _dumps_iteratively(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = _dumps(value, ensure_ascii=True)
        except RecursionError:
            text = _dumps_iteratively(value, ensure_ascii=True)
        return text.encode("ascii")


_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _paired(text: str) -> str:
    """``text`` with each high surrogate that precedes a low one joined into one character."""
    if _SURROGATE_PAIR.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def as_read_back(value: JSON) -> JSON:
    """``value`` as a client reads it back from :func:`encode_json`'s bytes.

    They differ only where a string holds a lone high surrogate right before a lone low one
    (raw CESU-8 bytes in a request can make such strings, and error bodies echo them): JSON
    can only write the two as escapes, which every reader joins into one character. Error
    bodies are built with this, so that a response's ``json`` is what its bytes say. Walks
    without recursion; dicts and lists are copied.
    """
    return map_json(value, _paired_leaf, _paired)


def _paired_leaf(value: JSON) -> JSON:
    return _paired(value) if isinstance(value, str) else value


_ENCODERS: Final = {
    ascii_only: json.JSONEncoder(ensure_ascii=ascii_only, allow_nan=False, separators=(",", ":"))
    for ascii_only in (False, True)
}
"""Compact encoders that refuse non-finite numbers, made once (they keep no state)."""


def _dumps(value: JSON, *, ensure_ascii: bool) -> str:
    encoder = _ENCODERS[ensure_ascii]
    try:
        return encoder.encode(value)
    except ValueError:
        return encoder.encode(finite_json(value))


def _dumps_iteratively(value: JSON, *, ensure_ascii: bool = False) -> str:
    """The same text as :func:`_dumps`, for any depth: containers are walked with a stack."""
    pieces: list[str] = []
    # Each entry is a piece of text to emit, or a value still to encode.
    todo: list[tuple[bool, object]] = [(False, value)]
    while todo:
        is_text, item = todo.pop()
        if is_text:
            pieces.append(item)  # type: ignore[arg-type]
        elif isinstance(item, dict):
            todo.append((True, "}"))
            for index, (key, child) in enumerate(reversed(item.items())):
                todo.append((False, child))
                separator = "," if index < len(item) - 1 else ""
                todo.append((True, separator + json.dumps(key, ensure_ascii=ensure_ascii) + ":"))
            todo.append((True, "{"))
        elif isinstance(item, list):
            todo.append((True, "]"))
            for index, child in enumerate(reversed(item)):
                todo.append((False, child))
                if index < len(item) - 1:
                    todo.append((True, ","))
            todo.append((True, "["))
        else:
            pieces.append(
                json.dumps(_finite_scalar(item), ensure_ascii=ensure_ascii, allow_nan=False)  # type: ignore[arg-type]
            )
    return "".join(pieces)
