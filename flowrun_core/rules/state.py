"""The initial state of a new run, and the fields Prefect's forced first transition derives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import attrs

from flowrun_core.models import (
    FlowRun,
    FlowRunPolicy,
    State,
    StateCreate,
    StateDetails,
    StateType,
)

Clock = Callable[[], datetime]
IdFactory = Callable[[], UUID]

_SCHEDULED: Final = StateType.SCHEDULED
_SCHEDULED_NAME: Final = StateType.SCHEDULED.default_name
_RUNNING: Final = StateType.RUNNING
_TERMINAL_TYPES: Final = tuple(kind for kind in StateType if kind.is_terminal)
"""Compared by identity (``in`` on a tuple), which skips the enum's Python-level hash."""


def with_default_scheduled_time(
    request_state: StateCreate | None, clock: Clock
) -> StateCreate | None:
    """A SCHEDULED request state without ``scheduled_time`` gets "now" (Prefect: at parse time)."""
    if (
        request_state is None
        or request_state.type is not StateType.SCHEDULED
        or request_state.state_details.scheduled_time
    ):
        return request_state
    details = attrs.evolve(request_state.state_details, scheduled_time=clock())
    return attrs.evolve(request_state, state_details=details)


def initial_state(
    request_state: StateCreate | None,
    *,
    clock: Clock,
    new_id: IdFactory,
    flow_run_id: UUID | None = None,
    parent_task_run_id: UUID | None = None,
) -> State:
    """The run's first state: the caller's, or a default SCHEDULED one at "now".

    The name defaults from the type only when it is ``None``. For the default state the
    scheduled time is read before the state's own timestamp, as in Prefect. The details'
    ``flow_run_id`` is always ``flow_run_id``; ``task_run_id`` is the parent task run when
    there is one, otherwise the caller's is kept.
    """
    if request_state is None:
        scheduled_time = clock()
        return State(
            id=new_id(),
            type=_SCHEDULED,
            name=_SCHEDULED_NAME,
            timestamp=clock(),
            state_details=StateDetails(
                flow_run_id=flow_run_id,
                task_run_id=parent_task_run_id,
                scheduled_time=scheduled_time,
            ),
        )
    details = request_state.state_details
    task_run_id = details.task_run_id if parent_task_run_id is None else parent_task_run_id
    if details.flow_run_id != flow_run_id or details.task_run_id != task_run_id:
        details = attrs.evolve(details, flow_run_id=flow_run_id, task_run_id=task_run_id)
    return State(
        id=new_id(),
        type=request_state.type,
        name=request_state.type.default_name if request_state.name is None else request_state.name,
        timestamp=clock(),
        message=request_state.message,
        data=None,
        state_details=details,
    )


def initial_state_fields(state: State, policy: FlowRunPolicy) -> dict[str, Any]:
    """The run fields Prefect's forced first transition derives from ``state``.

    Mirrors the global transforms: state type, name and id; start and end times; expected
    and next scheduled start times; the run count; and the ``resuming`` indicator. The
    state's details must already name the run (see :func:`initial_state`).
    """
    kind = state.type
    timestamp = state.timestamp
    if kind is _SCHEDULED:
        scheduled_time = state.state_details.scheduled_time
        started = terminal = False
    else:
        scheduled_time = None
        terminal = kind in _TERMINAL_TYPES
        started = terminal or kind is _RUNNING
    resuming = bool(policy.resuming)
    if resuming and started:
        policy = attrs.evolve(policy, resuming=False)
    return {
        "state": state,
        "state_id": state.id,
        "state_type": kind,
        "state_name": state.name,
        "start_time": timestamp if started else None,
        "end_time": timestamp if terminal else None,
        "expected_start_time": scheduled_time if kind is _SCHEDULED else timestamp,
        "next_scheduled_start_time": scheduled_time,
        "run_count": 1 if kind is _RUNNING and not resuming else 0,
        "empirical_policy": policy,
    }


def apply_initial_state(run: FlowRun, state: State) -> FlowRun:
    """Return ``run`` with ``state`` forced as its first state and every derived field set."""
    details = state.state_details
    task_run_id = details.task_run_id if run.parent_task_run_id is None else run.parent_task_run_id
    state = attrs.evolve(
        state,
        state_details=attrs.evolve(details, flow_run_id=run.id, task_run_id=task_run_id),
    )
    return attrs.evolve(run, **initial_state_fields(state, run.empirical_policy))


def parent_task_state(state: State, *, flow_run_id: UUID, clock: Clock, new_id: IdFactory) -> State:
    """A fresh copy of the run's state for its parent task run, naming the child run."""
    return attrs.evolve(
        state,
        id=new_id(),
        timestamp=clock(),
        state_details=attrs.evolve(state.state_details, child_flow_run_id=flow_run_id),
    )
