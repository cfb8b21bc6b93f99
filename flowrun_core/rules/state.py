"""The initial state of a new run, and the fields Prefect's forced first transition derives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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


def initial_state(request_state: StateCreate | None, *, clock: Clock, new_id: IdFactory) -> State:
    """The run's first state: the caller's, or a default SCHEDULED one at "now".

    The name defaults from the type only when it is ``None``. For the default state the
    scheduled time is read before the state's own timestamp, as in Prefect.
    """
    if request_state is None:
        scheduled_time = clock()
        return State(
            id=new_id(),
            type=StateType.SCHEDULED,
            name=StateType.SCHEDULED.default_name,
            timestamp=clock(),
            state_details=StateDetails(scheduled_time=scheduled_time),
        )
    return State(
        id=new_id(),
        type=request_state.type,
        name=request_state.type.default_name if request_state.name is None else request_state.name,
        timestamp=clock(),
        message=request_state.message,
        data=None,
        state_details=request_state.state_details,
    )


def apply_initial_state(run: FlowRun, state: State) -> FlowRun:
    """Return ``run`` with ``state`` forced as its first state and every derived field set.

    Mirrors the global transforms of Prefect's forced first transition: state type, name
    and id; start and end times; expected and next scheduled start times; the state
    details' ``flow_run_id`` (always overwritten) and ``task_run_id`` (set from the parent
    task run when there is one, otherwise the caller's is kept); the run count; and the
    ``resuming`` indicator.
    """
    kind = state.type
    details = attrs.evolve(
        state.state_details,
        flow_run_id=run.id,
        task_run_id=run.parent_task_run_id
        if run.parent_task_run_id is not None
        else state.state_details.task_run_id,
    )
    state = attrs.evolve(state, state_details=details)
    scheduled_time = details.scheduled_time if kind is StateType.SCHEDULED else None
    start_time = state.timestamp if kind is StateType.RUNNING or kind.is_terminal else None
    resuming = bool(run.empirical_policy.resuming)
    policy: FlowRunPolicy = run.empirical_policy
    if resuming and (kind is StateType.RUNNING or kind.is_terminal):
        policy = attrs.evolve(policy, resuming=False)
    return attrs.evolve(
        run,
        state=state,
        state_id=state.id,
        state_type=kind,
        state_name=state.name,
        start_time=start_time,
        end_time=state.timestamp if kind.is_terminal else None,
        expected_start_time=scheduled_time if kind is StateType.SCHEDULED else state.timestamp,
        next_scheduled_start_time=scheduled_time,
        run_count=1 if kind is StateType.RUNNING and not resuming else 0,
        empirical_policy=policy,
    )


def parent_task_state(state: State, *, flow_run_id: UUID, clock: Clock, new_id: IdFactory) -> State:
    """A fresh copy of the run's state for its parent task run, naming the child run."""
    return attrs.evolve(
        state,
        id=new_id(),
        timestamp=clock(),
        state_details=attrs.evolve(state.state_details, child_flow_run_id=flow_run_id),
    )
