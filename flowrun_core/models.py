"""Domain values: frozen, keyword-only attrs classes whose field names equal Prefect's wire keys.

Models carry no serialization configuration: the wire codec (``flowrun_core.wire``) and the
storage adapters convert them at the edges. Annotations resolve at run time, because cattrs
reads them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Generic, Literal, TypeAlias, TypeVar
from uuid import UUID

import attrs

from flowrun_core.json_types import JSON, copy_json, copy_json_object

LabelValue: TypeAlias = bool | int | float | str
"""A label value: Prefect accepts strict booleans, integers, floats and strings."""

T = TypeVar("T")

__all__ = [
    "JSON",
    "Created",
    "CreatedBy",
    "Deployment",
    "DeploymentFlowRunCreate",
    "Flow",
    "FlowRun",
    "FlowRunPolicy",
    "InfrastructureDocument",
    "LabelValue",
    "State",
    "StateCreate",
    "StateDetails",
    "StateType",
    "TaskRun",
    "Variable",
    "WorkPool",
    "WorkQueue",
    "copy_json",
    "copy_json_object",
]


class StateType(enum.Enum):
    """The nine state types of a Prefect run, in Prefect's declaration order."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"

    @property
    def is_terminal(self) -> bool:
        """COMPLETED, FAILED, CANCELLED and CRASHED are terminal."""
        return self in _TERMINAL

    @property
    def default_name(self) -> str:
        """The state name Prefect derives from the type: each word capitalised."""
        return self.value.capitalize()


_TERMINAL = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)


@attrs.frozen(kw_only=True)
class StateDetails:
    """Prefect's ``StateDetails``; keys in serialization order."""

    flow_run_id: UUID | None = None
    task_run_id: UUID | None = None
    child_flow_run_id: UUID | None = None
    scheduled_time: datetime | None = None
    cache_key: str | None = None
    cache_expiration: datetime | None = None
    deferred: bool | None = False
    untrackable_result: bool = False
    pause_timeout: datetime | None = None
    pause_reschedule: bool = False
    pause_key: str | None = None
    run_input_keyset: dict[str, str] | None = None
    refresh_cache: bool | None = None
    retriable: bool | None = None
    transition_id: UUID | None = None
    task_parameters_id: UUID | None = None
    traceparent: str | None = None
    deployment_concurrency_lease_id: UUID | None = None


@attrs.frozen(kw_only=True)
class FlowRunPolicy:
    """Prefect's ``FlowRunPolicy`` (the run's ``empirical_policy``)."""

    max_retries: int = 0
    retry_delay_seconds: float = 0.0
    retries: int | None = None
    retry_delay: int | None = None
    pause_keys: frozenset[str] | None = frozenset()
    resuming: bool | None = False
    retry_type: Literal["in_process", "reschedule"] | None = None


@attrs.frozen(kw_only=True)
class CreatedBy:
    """Who created a run: only automations are recorded by this endpoint."""

    id: UUID | None = None
    type: str | None = None
    display_value: str | None = None


@attrs.frozen(kw_only=True)
class StateCreate:
    """A caller-supplied initial state (``DeploymentFlowRunCreate.state``)."""

    type: StateType
    name: str | None = None
    message: str | None = None
    data: JSON = None
    state_details: StateDetails = attrs.Factory(StateDetails)


@attrs.frozen(kw_only=True)
class DeploymentFlowRunCreate:
    """The decoded request body of ``POST /deployments/{id}/create_flow_run``.

    ``name`` is ``None`` when the caller sent none or a falsy value: the service then
    generates a slug. ``labels`` keeps ``None`` for "absent or null". ``job_variables``
    keeps ``None`` for an explicit ``null`` (it is stored differently on the key path).
    """

    state: StateCreate | None = None
    name: str | None = None
    parameters: dict[str, JSON] = attrs.Factory(dict)
    enforce_parameter_schema: bool | None = None
    context: dict[str, JSON] = attrs.Factory(dict)
    infrastructure_document_id: UUID | None = None
    empirical_policy: FlowRunPolicy = attrs.Factory(FlowRunPolicy)
    tags: tuple[str, ...] = ()
    idempotency_key: str | None = None
    labels: dict[str, LabelValue] | None = None
    parent_task_run_id: UUID | None = None
    work_queue_name: str | None = None
    job_variables: dict[str, JSON] | None = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class State:
    """A run's state as stored and returned."""

    id: UUID
    type: StateType
    name: str | None
    timestamp: datetime
    message: str | None = None
    data: JSON = None
    state_details: StateDetails = attrs.Factory(StateDetails)


@attrs.frozen(kw_only=True)
class FlowRun:
    """A flow run with every stored field of Prefect's ``FlowRunResponse``.

    ``estimated_run_time`` and ``estimated_start_time_delta`` are not stored: Prefect
    computes them when a response is built, and so do :meth:`estimated_run_time` and
    :meth:`estimated_start_time_delta`.
    """

    id: UUID
    created: datetime
    updated: datetime
    name: str
    flow_id: UUID
    state_id: UUID | None = None
    deployment_id: UUID | None = None
    deployment_version: str | None = None
    work_queue_id: UUID | None = None
    work_queue_name: str | None = None
    flow_version: str | None = None
    parameters: dict[str, JSON] = attrs.Factory(dict)
    idempotency_key: str | None = None
    context: dict[str, JSON] = attrs.Factory(dict)
    empirical_policy: FlowRunPolicy = attrs.Factory(FlowRunPolicy)
    tags: tuple[str, ...] = ()
    labels: dict[str, LabelValue] = attrs.Factory(dict)
    parent_task_run_id: UUID | None = None
    state_type: StateType | None = None
    state_name: str | None = None
    run_count: int = 0
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float = 0.0
    auto_scheduled: bool = False
    infrastructure_document_id: UUID | None = None
    infrastructure_pid: str | None = None
    created_by: CreatedBy | None = None
    work_pool_id: UUID | None = None
    work_pool_name: str | None = None
    state: State | None = None
    job_variables: dict[str, JSON] | None = attrs.Factory(dict)

    def estimated_run_time(self, now: datetime) -> float:
        """Seconds of run time, counting a RUNNING state's time up to ``now``."""
        if self.state_type is StateType.RUNNING and self.state is not None:
            return self.total_run_time + (now - self.state.timestamp).total_seconds()
        return self.total_run_time

    def estimated_start_time_delta(self, now: datetime) -> float:
        """Seconds of lateness at ``now``, by Prefect's three rules in order."""
        expected = self.expected_start_time
        if self.start_time is not None and expected is not None:
            if self.start_time > expected:
                return (self.start_time - expected).total_seconds()
            return 0.0
        if (
            self.start_time is None
            and expected is not None
            and expected < now
            and not (self.state_type is not None and self.state_type.is_terminal)
        ):
            return (now - expected).total_seconds()
        return 0.0


@attrs.frozen(kw_only=True)
class Flow:
    """A flow: the scope of idempotency keys."""

    id: UUID
    name: str
    tags: tuple[str, ...] = ()
    labels: dict[str, LabelValue] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Deployment:
    """A deployment as the rules read it.

    ``labels`` are the stored labels (Prefect stores the flow's labels, then
    ``prefect.flow.id``, then the deployment's own). ``parameter_openapi_schema`` is
    ``None`` for "no schema"; ``{}`` accepts anything.
    """

    id: UUID
    flow_id: UUID
    name: str
    version: str | None = None
    description: str | None = None
    parameters: dict[str, JSON] = attrs.Factory(dict)
    tags: tuple[str, ...] = ()
    labels: dict[str, LabelValue] = attrs.Factory(dict)
    parameter_openapi_schema: dict[str, JSON] | None = attrs.Factory(dict)
    enforce_parameter_schema: bool = True
    work_queue_name: str | None = None
    work_queue_id: UUID | None = None
    work_pool_name: str | None = None
    infrastructure_document_id: UUID | None = None
    job_variables: dict[str, JSON] = attrs.Factory(dict)
    paused: bool = False


@attrs.frozen(kw_only=True)
class WorkPool:
    """A work pool; only ``base_job_template['variables']`` matters to the rules."""

    id: UUID
    name: str
    type: str = "process"
    base_job_template: dict[str, JSON] = attrs.Factory(dict)
    default_queue_id: UUID | None = None


@attrs.frozen(kw_only=True)
class WorkQueue:
    """A work queue inside a pool; names are unique per pool."""

    id: UUID
    name: str
    work_pool_id: UUID
    priority: int
    description: str = ""
    is_paused: bool = False
    concurrency_limit: int | None = None


@attrs.frozen(kw_only=True)
class Variable:
    """A workspace variable, read by ``workspace_variable`` hydration."""

    id: UUID
    name: str
    value: JSON = None
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class TaskRun:
    """A task run that a subflow run can name as its parent."""

    id: UUID
    flow_run_id: UUID | None
    name: str = ""
    task_key: str = ""
    dynamic_key: str = "0"
    state: State | None = None


@attrs.frozen(kw_only=True)
class InfrastructureDocument:
    """A block document: the target of ``infrastructure_document_id`` and block ``$ref``s."""

    id: UUID
    name: str = ""
    data: dict[str, JSON] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Created(Generic[T]):
    """A stored value and whether this call created it (``False``: it already existed)."""

    value: T
    created: bool
