"""The service: Prefect's create-flow-run-from-deployment, rule by rule, in Prefect's order.

Functional core, imperative shell: this module reads what the rules need through the
storage port, calls the pure functions in :mod:`flowrun_core.rules`, and writes through the
port, all inside one unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from uuid import UUID

import attrs

from flowrun_core.errors import DeploymentNotFound, MissingParameterSchema
from flowrun_core.factories import adjective_animal_slug, later_than, new_uuid, utc_now
from flowrun_core.json_types import JSON, copy_json
from flowrun_core.models import (
    Created,
    CreatedBy,
    Deployment,
    DeploymentFlowRunCreate,
    FlowRun,
    State,
    StateDetails,
    WorkPool,
    WorkQueue,
)
from flowrun_core.ports import Clock, IdFactory, NameFactory, Repository
from flowrun_core.rules.hydration import hydrate_parameters
from flowrun_core.rules.job_variables import validate_job_variables
from flowrun_core.rules.parameters import effective_enforcement, merge_parameters
from flowrun_core.rules.schema import validate_parameters
from flowrun_core.rules.state import (
    initial_state,
    initial_state_fields,
    parent_task_state,
    with_default_scheduled_time,
)
from flowrun_core.rules.tags_labels import run_labels, union_tags
from flowrun_core.rules.work_queue import (
    check_new_queue_name,
    lowest_free_priority,
    require_pool_for_override,
)

__all__ = ["FlowRunService"]


class _WorkspaceVariables(Mapping[str, JSON]):
    """Workspace variables read on demand: hydration only asks for the names it meets."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._seen: dict[str, JSON] = {}

    def __getitem__(self, name: str) -> JSON:
        if name not in self._seen:
            variable = self._repository.get_variable(name)
            if variable is None:
                raise KeyError(name)
            self._seen[name] = variable.value
        return copy_json(self._seen[name])

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        msg = "workspace variables are looked up by name, not listed"
        raise TypeError(msg)

    def __len__(self) -> int:
        msg = "workspace variables are looked up by name, not counted"
        raise TypeError(msg)


class FlowRunService:
    """Creates flow runs from deployments exactly as Prefect 3.9.1 does.

    Args:
        repository: the storage adapter (any :class:`~flowrun_core.ports.Repository`).
        clock: returns "now" as an aware ``datetime``; defaults to UTC wall time.
        new_id: returns new run and state ids; defaults to ``uuid4``.
        new_name: returns a run name when the caller gives none; defaults to an
            adjective-animal slug.

    With the same inputs and the same factories, the service produces identical runs.
    The service holds no global state; one instance may be shared by many threads when
    its repository is thread-safe.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Clock = utc_now,
        new_id: IdFactory = new_uuid,
        new_name: NameFactory = adjective_animal_slug,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.new_id = new_id
        self.new_name = new_name

    def create_flow_run_from_deployment(
        self,
        deployment_id: UUID,
        request: DeploymentFlowRunCreate | None = None,
        *,
        created_by: CreatedBy | None = None,
    ) -> Created[FlowRun]:
        """Create a run of ``deployment_id``, or return the run its idempotency key names.

        Returns the run and ``created`` (``False`` for an idempotent hit, whose stored run
        is returned unchanged). Raises the :mod:`flowrun_core.errors` exception of the first
        rule that fails, in Prefect's order: ``DeploymentNotFound``, ``HydrationFailed``,
        ``MissingParameterSchema``, ``ParameterValidationFailed``, ``CircularSchemaRef``,
        ``InvalidParameterSchema``, job-variable errors, ``WorkQueueWithoutPool``,
        ``InvalidWorkQueueName``, and ``StorageIntegrityError`` for an unknown
        infrastructure document or parent task run, or a repeated ``""`` key. Nothing is
        written when it raises.
        """
        request = request if request is not None else DeploymentFlowRunCreate()
        request_state = with_default_scheduled_time(request.state, self.clock)
        repository = self.repository
        with repository.transaction():
            deployment = repository.get_deployment(deployment_id)
            if deployment is None:
                raise DeploymentNotFound
            parameters = self._parameters(deployment, request)
            work_pool = self._check_job_variables(deployment, request)
            work_queue_id, work_queue_name = deployment.work_queue_id, deployment.work_queue_name
            if request.work_queue_name:
                queue = self._override_queue(deployment, work_pool, request.work_queue_name)
                work_queue_id, work_queue_name = queue.id, queue.name
            run_id = self.new_id()
            state = initial_state(
                request_state,
                clock=self.clock,
                new_id=self.new_id,
                flow_run_id=run_id,
                parent_task_run_id=request.parent_task_run_id,
            )
            run = self._build_run(
                deployment,
                request,
                run_id=run_id,
                state=state,
                parameters=parameters,
                work_queue=(work_queue_id, work_queue_name),
                work_pool=work_pool,
                created_by=created_by,
            )
            result = repository.create_flow_run(_as_stored(run))
            if not result.created:
                return result
            if run.parent_task_run_id is not None and run.state is not None:
                repository.set_task_run_state(
                    run.parent_task_run_id,
                    parent_task_state(
                        run.state, flow_run_id=run.id, clock=self.clock, new_id=self.new_id
                    ),
                )
        return Created(value=run, created=True)

    # -- steps ------------------------------------------------------------------------

    def _parameters(
        self, deployment: Deployment, request: DeploymentFlowRunCreate
    ) -> dict[str, JSON]:
        """Steps 2 and 3: merge, hydrate, then enforce the schema if the flags say so."""
        merged = merge_parameters(deployment.parameters, request.parameters)
        parameters = hydrate_parameters(merged, _WorkspaceVariables(self.repository))
        if effective_enforcement(
            request.enforce_parameter_schema, deployment.enforce_parameter_schema
        ):
            schema = deployment.parameter_openapi_schema
            if not isinstance(schema, dict):
                raise MissingParameterSchema
            validate_parameters(parameters, schema)
        return parameters

    def _check_job_variables(
        self, deployment: Deployment, request: DeploymentFlowRunCreate
    ) -> tuple[WorkPool, WorkQueue] | None:
        """Step 4: job variables against the deployment's pool template; returns the pool."""
        if deployment.work_queue_id is None:
            return None
        queue = self.repository.get_work_queue(deployment.work_queue_id)
        if queue is None:
            return None
        pool = self.repository.get_work_pool(queue.work_pool_id)
        if pool is None:
            return None
        validate_job_variables(
            base_job_template=pool.base_job_template,
            deployment_job_variables=deployment.job_variables,
            request_job_variables=request.job_variables,
            resolve_block=self._block_data,
        )
        return pool, queue

    def _block_data(self, document_id: UUID) -> dict[str, JSON] | None:
        document = self.repository.get_infrastructure_document(document_id)
        return None if document is None else document.data

    def _override_queue(
        self,
        deployment: Deployment,
        work_pool: tuple[WorkPool, WorkQueue] | None,
        name: str,
    ) -> WorkQueue:
        """Step 5: find the named queue in the deployment's pool, or create it."""
        require_pool_for_override(
            work_queue_name=name,
            deployment_id=deployment.id,
            deployment_work_queue_id=None if work_pool is None else deployment.work_queue_id,
        )
        if work_pool is None:  # pragma: no cover - require_pool_for_override raised
            raise AssertionError
        pool = work_pool[0]
        existing = self.repository.get_work_queue_by_name(pool.id, name)
        if existing is not None:
            return existing
        check_new_queue_name(name)
        priority = lowest_free_priority(
            queue.priority for queue in self.repository.list_work_queues(pool.id)
        )
        return self.repository.create_work_queue(
            WorkQueue(id=self.new_id(), name=name, work_pool_id=pool.id, priority=priority)
        )

    def _build_run(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        *,
        run_id: UUID,
        state: State,
        parameters: dict[str, JSON],
        work_queue: tuple[UUID | None, str | None],
        work_pool: tuple[WorkPool, WorkQueue] | None,
        created_by: CreatedBy | None,
    ) -> FlowRun:
        """Steps 6 and 8: the run as Prefect builds and stores it, with its first state."""
        keyed = bool(request.idempotency_key)
        job_variables = request.job_variables
        if job_variables is None and not keyed:
            job_variables = {}
        pool = None
        if work_queue[0] is not None and work_pool is not None:
            pool = work_pool[0]
        created = self.clock()
        return FlowRun(
            id=run_id,
            created=created,
            updated=later_than(created, self.clock()),
            name=request.name or self.new_name(),
            flow_id=deployment.flow_id,
            deployment_id=deployment.id,
            deployment_version=deployment.version,
            work_queue_id=work_queue[0],
            work_queue_name=work_queue[1],
            parameters=parameters,
            idempotency_key=request.idempotency_key,
            context={k: copy_json(v) for k, v in request.context.items()},
            tags=union_tags(deployment.tags, request.tags),
            labels=run_labels(
                deployment_labels=deployment.labels,
                flow_id=deployment.flow_id,
                deployment_id=deployment.id,
                request_labels=request.labels,
            ),
            parent_task_run_id=request.parent_task_run_id,
            infrastructure_document_id=request.infrastructure_document_id
            or deployment.infrastructure_document_id,
            created_by=created_by,
            work_pool_id=None if pool is None else pool.id,
            work_pool_name=None if pool is None else pool.name,
            job_variables=None
            if job_variables is None
            else {k: copy_json(v) for k, v in job_variables.items()},
            **initial_state_fields(state, request.empirical_policy),
        )


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _details_utc(details: StateDetails) -> StateDetails:
    return attrs.evolve(
        details,
        scheduled_time=_utc(details.scheduled_time),
        cache_expiration=_utc(details.cache_expiration),
        pause_timeout=_utc(details.pause_timeout),
    )


def _all_utc(run: FlowRun) -> bool:
    details = None if run.state is None else run.state.state_details
    moments = (
        run.created,
        run.updated,
        run.expected_start_time,
        run.next_scheduled_start_time,
        run.start_time,
        run.end_time,
        None if run.state is None else run.state.timestamp,
        None if details is None else details.scheduled_time,
        None if details is None else details.cache_expiration,
        None if details is None else details.pause_timeout,
    )
    return all(moment is None or moment.tzinfo is UTC for moment in moments)


def _as_stored(run: FlowRun) -> FlowRun:
    """The run as a store keeps it: every datetime in UTC (Prefect's later reads are UTC)."""
    if _all_utc(run):
        return run
    state: State | None = run.state
    if state is not None:
        state = attrs.evolve(
            state,
            timestamp=state.timestamp.astimezone(UTC),
            state_details=_details_utc(state.state_details),
        )
    return attrs.evolve(
        run,
        created=run.created.astimezone(UTC),
        updated=run.updated.astimezone(UTC),
        expected_start_time=_utc(run.expected_start_time),
        next_scheduled_start_time=_utc(run.next_scheduled_start_time),
        start_time=_utc(run.start_time),
        end_time=_utc(run.end_time),
        state=state,
    )
