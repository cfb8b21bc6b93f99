"""A flow run's response body, written straight to JSON text.

:func:`flow_run_body` gives exactly the bytes of ``encode_json(encode_flow_run(run, now=now))``
(:mod:`flowrun_core.wire.response`, the reference) without building the response object
first: fixed keys are literal text, ids and datetimes need no escaping, and only the run's
JSON values (parameters, context, labels, job variables, state data) and its small records go
through :mod:`json`'s C encoder, one made once. On the create path that is about a third of
the time the reference takes.

Anything out of the ordinary (a string UTF-8 cannot carry, a value too deep for a recursive
encoder, a value the encoder refuses) is left to the reference, so the bytes are the same
whatever the run holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any, Final
from uuid import UUID

from flowrun_core.models import FlowRun, State, StateDetails
from flowrun_core.wire.response import (
    created_by_json,
    encode_datetime,
    encode_flow_run,
    encode_json,
    finite_json,
    policy_json,
)

__all__ = ["flow_run_body"]


def _refuse(value: object) -> object:
    msg = f"Object of type {type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


def _make_encoder() -> Callable[[object, int], list[str]]:
    """:mod:`json`'s C encoder, set as :func:`~flowrun_core.wire.response.encode_json`'s.

    Compact separators, ``ensure_ascii=False``, non-finite numbers refused, keys unsorted.
    No circular-reference bookkeeping: a run's JSON comes from a JSON document, and a cycle
    would end in ``RecursionError``, which hands the run to the reference.
    """
    from json import encoder  # noqa: PLC0415 - the C encoder is not in __all__

    make: Any = getattr(encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has _json
        msg = "json's C encoder is not available"
        raise ImportError(msg)
    sort_keys = skipkeys = allow_nan = False
    built: Callable[[object, int], list[str]] = make(
        None, _refuse, encode_basestring, None, ":", ",", sort_keys, skipkeys, allow_nan
    )
    return built


_encode: Final = _make_encoder()
_quote: Final[Callable[[str], str]] = encode_basestring


def _json(value: object) -> str:
    """``value`` as compact JSON text, non-finite numbers as ``null``."""
    try:
        return "".join(_encode(value, 0))
    except ValueError:
        return "".join(_encode(finite_json(value), 0))  # type: ignore[arg-type]


def _text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def _id(value: UUID | None) -> str:
    if value is None:
        return "null"
    # A UUID's text needs no escaping; anything else an adapter may hold is escaped.
    return f'"{value}"' if type(value) is UUID else _quote(str(value))


def _moment(value: datetime | None) -> str:
    return "null" if value is None else f'"{encode_datetime(value)}"'


def _float(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "null"


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return repr(value)
    return "".join(_encode(value, 0))


class _Written:
    """Values a run repeats in its state (the same objects), with the text written for them."""

    __slots__ = ("expected", "expected_text", "id", "id_text", "state_id", "state_id_text")

    def __init__(self, run: FlowRun) -> None:
        self.id = run.id
        self.id_text = _id(run.id)
        self.state_id = run.state_id
        self.state_id_text = _id(run.state_id)
        self.expected = run.expected_start_time
        self.expected_text = _moment(run.expected_start_time)


def _details(details: StateDetails, run: _Written) -> str:
    keyset = details.run_input_keyset
    flow_run_id = details.flow_run_id
    scheduled = details.scheduled_time
    scheduled_text = run.expected_text if scheduled is run.expected else _moment(scheduled)
    return (
        f'{{"flow_run_id":{run.id_text if flow_run_id is run.id else _id(flow_run_id)},'
        f'"task_run_id":{_id(details.task_run_id)},'
        f'"child_flow_run_id":{_id(details.child_flow_run_id)},'
        f'"scheduled_time":{scheduled_text},'
        f'"cache_key":{_text(details.cache_key)},'
        f'"cache_expiration":{_moment(details.cache_expiration)},'
        f'"deferred":{_scalar(details.deferred)},'
        f'"untrackable_result":{_scalar(details.untrackable_result)},'
        f'"pause_timeout":{_moment(details.pause_timeout)},'
        f'"pause_reschedule":{_scalar(details.pause_reschedule)},'
        f'"pause_key":{_text(details.pause_key)},'
        f'"run_input_keyset":{"null" if keyset is None else _json(dict(keyset))},'
        f'"refresh_cache":{_scalar(details.refresh_cache)},'
        f'"retriable":{_scalar(details.retriable)},'
        f'"transition_id":{_id(details.transition_id)},'
        f'"task_parameters_id":{_id(details.task_parameters_id)},'
        f'"traceparent":{_text(details.traceparent)},'
        f'"deployment_concurrency_lease_id":{_id(details.deployment_concurrency_lease_id)}}}'
    )


def _state(state: State | None, run: _Written) -> str:
    if state is None:
        return "null"
    state_id = state.id
    return (
        f'{{"id":{run.state_id_text if state_id is run.state_id else _id(state_id)},'
        f'"type":{_quote(state.type.value)},'
        f'"name":{_text(state.name)},"timestamp":{_moment(state.timestamp)},'
        f'"message":{_text(state.message)},"data":{_json(state.data)},'
        f'"state_details":{_details(state.state_details, run)}}}'
    )


def _run_text(run: FlowRun, now: datetime) -> str:
    written = _Written(run)
    state_type = run.state_type
    job_variables = run.job_variables
    next_start = run.next_scheduled_start_time
    return (
        f'{{"id":{written.id_text},"created":{_moment(run.created)},'
        f'"updated":{_moment(run.updated)},"name":{_quote(run.name)},'
        f'"flow_id":{_id(run.flow_id)},"state_id":{written.state_id_text},'
        f'"deployment_id":{_id(run.deployment_id)},'
        f'"deployment_version":{_text(run.deployment_version)},'
        f'"work_queue_id":{_id(run.work_queue_id)},'
        f'"work_queue_name":{_text(run.work_queue_name)},'
        f'"flow_version":{_text(run.flow_version)},'
        f'"parameters":{_json(run.parameters)},'
        f'"idempotency_key":{_text(run.idempotency_key)},'
        f'"context":{_json(run.context)},'
        f'"empirical_policy":{_json(policy_json(run.empirical_policy))},'
        f'"tags":{_json(sorted(run.tags))},"labels":{_json(run.labels)},'
        f'"parent_task_run_id":{_id(run.parent_task_run_id)},'
        f'"state_type":{"null" if state_type is None else _quote(state_type.value)},'
        f'"state_name":{_text(run.state_name)},"run_count":{_scalar(run.run_count)},'
        f'"expected_start_time":{written.expected_text},'
        f'"next_scheduled_start_time":'
        f"{written.expected_text if next_start is written.expected else _moment(next_start)},"
        f'"start_time":{_moment(run.start_time)},"end_time":{_moment(run.end_time)},'
        f'"total_run_time":{_float(run.total_run_time)},'
        f'"estimated_run_time":{_float(run.estimated_run_time(now))},'
        f'"estimated_start_time_delta":{_float(run.estimated_start_time_delta(now))},'
        f'"auto_scheduled":{_scalar(run.auto_scheduled)},'
        f'"infrastructure_document_id":{_id(run.infrastructure_document_id)},'
        f'"infrastructure_pid":{_text(run.infrastructure_pid)},'
        f'"created_by":{_json(created_by_json(run.created_by))},'
        f'"work_pool_id":{_id(run.work_pool_id)},'
        f'"work_pool_name":{_text(run.work_pool_name)},'
        f'"state":{_state(run.state, written)},'
        f'"job_variables":{"null" if job_variables is None else _json(job_variables)}}}'
    )


def flow_run_body(run: FlowRun, *, now: datetime) -> bytes:
    """The bytes of ``encode_json(encode_flow_run(run, now=now))``, written directly.

    ``now`` is the moment the response is built (see
    :func:`~flowrun_core.wire.response.encode_flow_run`).
    """
    try:
        return _run_text(run, now).encode("utf-8")
    except (UnicodeEncodeError, RecursionError, ValueError, TypeError, OverflowError):
        # A lone surrogate, a deep value, or a value JSON refuses: the reference decides.
        return encode_json(encode_flow_run(run, now=now))
