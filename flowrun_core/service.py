"""The service: Prefect's create-flow-run-from-deployment, rule by rule, in Prefect's order.

Functional core, imperative shell: this module reads what the rules need through the
storage port, calls the pure functions in :mod:`flowrun_core.rules`, and writes through the
port, all inside one unit of work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from uuid import UUID

import attrs

from flowrun_core.bulk import BulkCreateResult, BulkItemOutcome, BulkStatus
from flowrun_core.errors import (
    DeploymentNotFound,
    FlowRunError,
    IdempotencyKeyReused,
    MissingParameterSchema,
    StorageIntegrityError,
    TooManyFlowRuns,
    UnknownWorkQueue,
)
from flowrun_core.factories import adjective_animal_slug, later_than, new_uuid, utc_now
from flowrun_core.json_types import JSON, copy_json
from flowrun_core.models import (
    Created,
    CreatedBy,
    Deployment,
    DeploymentFlowRunCreate,
    FlowRun,
    State,
    StateCreate,
    WorkPool,
    WorkQueue,
)
from flowrun_core.options import (
    BULK_CREATE_LIMIT,
    IdempotencyPolicy,
    IdempotencyScope,
    ServiceOptions,
    UnknownWorkQueuePolicy,
)
from flowrun_core.ports import (
    Clock,
    FingerprintStore,
    IdFactory,
    NameFactory,
    Repository,
    SharedDeploymentReads,
)
from flowrun_core.rules.hydration import hydrate_parameters
from flowrun_core.rules.idempotency import Fingerprint, pointer_diff
from flowrun_core.rules.idempotency import fingerprint as fingerprint_of
from flowrun_core.rules.job_variables import validate_job_variables
from flowrun_core.rules.parameters import effective_enforcement, merge_parameters
from flowrun_core.rules.provenance import RunPlan, provenance
from flowrun_core.rules.schema import validate_parameters
from flowrun_core.rules.state import (
    initial_state,
    initial_state_fields,
    parent_task_state,
    with_default_scheduled_time,
)
from flowrun_core.rules.stored_form import as_stored
from flowrun_core.rules.tags_labels import run_labels, union_tags
from flowrun_core.rules.work_queue import (
    check_new_queue_name,
    lowest_free_priority,
    require_pool_for_override,
)

__all__ = [
    "BULK_CREATE_LIMIT",
    "FlowRunService",
    "IdempotencyPolicy",
    "IdempotencyScope",
    "ServiceOptions",
    "UnknownWorkQueuePolicy",
]


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


def _roll_back_if_any_failed(outcomes: list[BulkItemOutcome], *, atomic: bool) -> None:
    if atomic and any(o.status is BulkStatus.FAILED for o in outcomes):
        raise _RolledBack(outcomes)


class _RolledBack(Exception):
    """Raised inside an atomic bulk's transaction to undo it; carries the outcomes."""

    def __init__(self, outcomes: list[BulkItemOutcome]) -> None:
        super().__init__("atomic bulk create rolled back")
        self.outcomes = outcomes


@attrs.frozen(kw_only=True)
class _Built:
    """A run as the service builds it, before anything is stored."""

    run: FlowRun
    merged_parameters: dict[str, JSON]
    new_queue: WorkQueue | None


@attrs.frozen(kw_only=True)
class _Checked:
    """What the checks (steps 2 to 5) settle before a run is built."""

    request_state: StateCreate | None
    merged: dict[str, JSON]
    parameters: dict[str, JSON]
    work_pool: tuple[WorkPool, WorkQueue] | None
    work_queue: tuple[UUID | None, str | None]
    new_queue: WorkQueue | None


class FlowRunService:
    """Creates flow runs from deployments exactly as Prefect 3.9.1 does.

    Args:
        repository: the storage adapter (any :class:`~flowrun_core.ports.Repository`).
        clock: returns "now" as an aware ``datetime``; defaults to UTC wall time.
        new_id: returns new run and state ids; defaults to ``uuid4``.
        new_name: returns a run name when the caller gives none; defaults to an
            adjective-animal slug.
        options: opt-in behaviour beyond Prefect (:class:`ServiceOptions`); the default
            is Prefect's.

    Raises:
        TypeError: ``options`` ask for strict idempotency and ``repository`` lacks the
            :class:`~flowrun_core.ports.FingerprintStore` capability.

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
        options: ServiceOptions | None = None,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.new_id = new_id
        self.new_name = new_name
        self.options = options if options is not None else ServiceOptions()
        self._fingerprints: FingerprintStore | None = None
        if self.options.idempotency == "strict":
            if not isinstance(repository, FingerprintStore):
                msg = (
                    f"strict idempotency needs a repository that stores request "
                    f"fingerprints (FingerprintStore); {type(repository).__name__} does not"
                )
                raise TypeError(msg)
            self._fingerprints = repository
        self._shared_reads: SharedDeploymentReads | None = (
            repository if isinstance(repository, SharedDeploymentReads) else None
        )

    # -- public API -------------------------------------------------------------------

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
        (``UnknownWorkQueue`` with ``unknown_work_queue="reject"``),
        ``InvalidWorkQueueName``, ``StorageIntegrityError`` for an unknown infrastructure
        document or parent task run, or a repeated ``""`` key, and (with the opt-in
        idempotency options) ``IdempotencyKeyReused``. Nothing is written when it raises.
        """
        request = request if request is not None else DeploymentFlowRunCreate()
        with self.repository.transaction():
            deployment = self._deployment(deployment_id)
            return self._create(deployment, request, created_by)

    def create_flow_runs_from_deployment(
        self,
        deployment_id: UUID,
        requests: Sequence[DeploymentFlowRunCreate],
        *,
        atomic: bool = False,
        created_by: CreatedBy | None = None,
    ) -> BulkCreateResult:
        """Create many runs of one deployment in one unit of work (one commit).

        Each item is created exactly as :meth:`create_flow_run_from_deployment` would
        create it, inside its own nested transaction (a savepoint): a failing item is
        undone alone and reported with the exception a single create raises, and the
        others go on. Items are processed in order, so a key repeated inside the batch
        resolves to one run (the later items are replays of the first).

        Args:
            deployment_id: the deployment every run is created from.
            requests: the requests, at most ``options.bulk_limit`` of them.
            atomic: all or nothing: if any item fails, every item is still tried (so all
                failures are reported), then the whole batch is rolled back and
                ``committed`` is ``False``; the items that had succeeded are reported
                ``rolled_back``.
            created_by: the automation that creates every run, if any.

        Returns:
            One outcome per request, in order (:class:`~flowrun_core.bulk.BulkCreateResult`).

        Raises:
            TooManyFlowRuns: more requests than the limit (checked first, as in Prefect).
            DeploymentNotFound: no such deployment (also for an empty list).
            StorageError: the unit of work itself could not be begun or committed.
        """
        requests = list(requests)
        if len(requests) > self.options.bulk_limit:
            raise TooManyFlowRuns(self.options.bulk_limit)
        repository = self.repository
        try:
            with repository.transaction():
                deployment = self._deployment(deployment_id)
                outcomes = [
                    self._bulk_item(deployment, index, request, created_by)
                    for index, request in enumerate(requests)
                ]
                _roll_back_if_any_failed(outcomes, atomic=atomic)
        except _RolledBack as rolled:
            return BulkCreateResult(
                outcomes=tuple(
                    o
                    if o.status is BulkStatus.FAILED
                    else attrs.evolve(o, status=BulkStatus.ROLLED_BACK)
                    for o in rolled.outcomes
                ),
                committed=False,
            )
        return BulkCreateResult(outcomes=tuple(outcomes))

    def plan(
        self,
        deployment_id: UUID,
        request: DeploymentFlowRunCreate | None = None,
        *,
        created_by: CreatedBy | None = None,
    ) -> RunPlan:
        """A dry run: what :meth:`create_flow_run_from_deployment` would do, writing nothing.

        Every rule runs, in the same order and with the same factory calls, so the planned
        run equals, field by field, the run ``create`` makes with the same clock, id and
        name factories. Nothing is written: no run, no work queue (a queue ``create``
        would make is returned as ``new_work_queue``), no parent task-run state, no
        fingerprint. ``replay`` says whether ``create`` would return a stored run.

        Raises:
            The same exceptions as :meth:`create_flow_run_from_deployment`, including the
            ``StorageIntegrityError`` its insert would raise (a missing infrastructure
            document or parent task run, a second ``""`` key).
        """
        request = request if request is not None else DeploymentFlowRunCreate()
        repository = self.repository
        with repository.transaction():
            deployment = self._deployment(deployment_id)
            fingerprint = self._fingerprint(request)
            built = self._build(deployment, request, created_by, write=False)
            run = built.run
            found = provenance(request, run, merged_parameters=built.merged_parameters)
            key = request.idempotency_key
            existing = (
                None
                if key is None
                else repository.get_flow_run_by_idempotency_key(deployment.flow_id, key)
            )
            if existing is not None and key:
                self._check_replay(deployment, request, existing, fingerprint)
                return RunPlan(
                    flow_run=existing, replay=True, provenance=found, new_work_queue=built.new_queue
                )
            self._check_insert(run, key_taken=existing is not None)
            return RunPlan(
                flow_run=run, replay=False, provenance=found, new_work_queue=built.new_queue
            )

    # -- one create, inside the caller's unit of work ----------------------------------

    def _deployment(self, deployment_id: UUID) -> Deployment:
        # A create only reads its deployment: an adapter that can share it saves a copy.
        shared = self._shared_reads
        deployment = (
            self.repository.get_deployment(deployment_id)
            if shared is None
            else shared.get_shared_deployment(deployment_id)
        )
        if deployment is None:
            raise DeploymentNotFound
        return deployment

    def _bulk_item(
        self,
        deployment: Deployment,
        index: int,
        request: DeploymentFlowRunCreate,
        created_by: CreatedBy | None,
    ) -> BulkItemOutcome:
        try:
            if self._writes_more_than_the_run(request):
                with self.repository.transaction():
                    result = self._create(deployment, request, created_by)
            else:
                # The run's insert is the item's only write, and a create that raises
                # writes nothing (the port's promise): no savepoint is needed.
                result = self._create(deployment, request, created_by)
        except FlowRunError as exc:
            return BulkItemOutcome(index=index, status=BulkStatus.FAILED, error=exc)
        status = BulkStatus.CREATED if result.created else BulkStatus.REPLAYED
        return BulkItemOutcome(index=index, status=status, flow_run=result.value)

    def _writes_more_than_the_run(self, request: DeploymentFlowRunCreate) -> bool:
        """Whether a create of ``request`` may write besides inserting the run."""
        return bool(
            request.work_queue_name
            or request.parent_task_run_id is not None
            or (self._fingerprints is not None and request.idempotency_key)
        )

    def _create(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        created_by: CreatedBy | None,
    ) -> Created[FlowRun]:
        repository = self.repository
        fingerprint = self._fingerprint(request)
        checked = self._check(deployment, request, write=True)
        key = request.idempotency_key
        if key:
            # A replay needs no new run: every check above has passed (in Prefect's order,
            # with its side effects), so the stored run is the answer. Inside the caller's
            # unit of work; a run inserted concurrently is still caught by the insert below.
            stored = repository.get_flow_run_by_idempotency_key(deployment.flow_id, key)
            if stored is not None:
                self._check_replay(deployment, request, stored, fingerprint)
                return Created(value=stored, created=False)
        run = self._assemble(deployment, request, checked, created_by)
        result = repository.create_flow_run(as_stored(run))
        if not result.created:
            self._check_replay(deployment, request, result.value, fingerprint)
            return result
        if fingerprint is not None and self._fingerprints is not None:
            self._fingerprints.set_flow_run_fingerprint(run.id, fingerprint.canonical)
        if run.parent_task_run_id is not None and run.state is not None:
            repository.set_task_run_state(
                run.parent_task_run_id,
                parent_task_state(
                    run.state, flow_run_id=run.id, clock=self.clock, new_id=self.new_id
                ),
            )
        return Created(value=run, created=True)

    def _build(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        created_by: CreatedBy | None,
        *,
        write: bool,
    ) -> _Built:
        """Steps 2 to 8: the run Prefect would store; ``write=False`` creates no queue."""
        checked = self._check(deployment, request, write=write)
        run = self._assemble(deployment, request, checked, created_by)
        return _Built(run=run, merged_parameters=checked.merged, new_queue=checked.new_queue)

    def _check(
        self, deployment: Deployment, request: DeploymentFlowRunCreate, *, write: bool
    ) -> _Checked:
        """Steps 2 to 5: parameters, job variables and the work queue, in Prefect's order."""
        request_state = with_default_scheduled_time(request.state, self.clock)
        merged, parameters = self._parameters(deployment, request)
        work_pool = self._check_job_variables(deployment, request)
        work_queue_id, work_queue_name = deployment.work_queue_id, deployment.work_queue_name
        new_queue = None
        if request.work_queue_name:
            queue, created = self._override_queue(
                deployment, work_pool, request.work_queue_name, write=write
            )
            work_queue_id, work_queue_name = queue.id, queue.name
            new_queue = queue if created else None
        return _Checked(
            request_state=request_state,
            merged=merged,
            parameters=parameters,
            work_pool=work_pool,
            work_queue=(work_queue_id, work_queue_name),
            new_queue=new_queue,
        )

    def _assemble(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        checked: _Checked,
        created_by: CreatedBy | None,
    ) -> FlowRun:
        """Steps 6 to 8: the new run and its first state."""
        run_id = self.new_id()
        state = initial_state(
            checked.request_state,
            clock=self.clock,
            new_id=self.new_id,
            flow_run_id=run_id,
            parent_task_run_id=request.parent_task_run_id,
        )
        return self._build_run(
            deployment,
            request,
            run_id=run_id,
            state=state,
            parameters=checked.parameters,
            work_queue=checked.work_queue,
            work_pool=checked.work_pool,
            created_by=created_by,
        )

    # -- idempotency -------------------------------------------------------------------

    def _fingerprint(self, request: DeploymentFlowRunCreate) -> Fingerprint | None:
        """The request's fingerprint when strict mode will store or compare one."""
        if self._fingerprints is None or not request.idempotency_key:
            return None
        return fingerprint_of(request)

    def _check_replay(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        existing: FlowRun,
        fingerprint: Fingerprint | None,
    ) -> None:
        """Raise ``IdempotencyKeyReused`` when the options forbid returning ``existing``."""
        key = request.idempotency_key
        if (
            self.options.idempotency_scope == "deployment"
            and existing.deployment_id != deployment.id
        ):
            raise IdempotencyKeyReused(
                f"Idempotency key {key!r} is already held by flow run {existing.id} of "
                f"deployment {existing.deployment_id}. Keys are unique per flow, and the "
                f"idempotency scope is 'deployment', so deployment {deployment.id} cannot "
                "use it; choose another key.",
                (),
            )
        if fingerprint is None or self._fingerprints is None:
            return
        stored = self._fingerprints.get_flow_run_fingerprint(existing.id)
        if stored is None or stored == fingerprint.canonical:
            return
        before: JSON = json.loads(stored)
        differences = pointer_diff(before, fingerprint.document)
        raise IdempotencyKeyReused(
            f"Idempotency key {key!r} was already used for flow run {existing.id} with a "
            f"different request; differing fields: {', '.join(differences)}.",
            differences,
        )

    def _check_insert(self, run: FlowRun, *, key_taken: bool) -> None:
        """The integrity errors the insert of ``run`` would raise (for :meth:`plan`)."""
        repository = self.repository
        if key_taken:
            raise StorageIntegrityError(
                f"Flow {run.flow_id} already has a run with idempotency key "
                f"{run.idempotency_key!r}."
            )
        document = run.infrastructure_document_id
        if document is not None and repository.get_infrastructure_document(document) is None:
            raise StorageIntegrityError(f"Infrastructure document {document} does not exist.")
        parent = run.parent_task_run_id
        if parent is not None and repository.get_task_run(parent) is None:
            raise StorageIntegrityError(f"Task run {parent} does not exist.")

    # -- steps ------------------------------------------------------------------------

    def _parameters(
        self, deployment: Deployment, request: DeploymentFlowRunCreate
    ) -> tuple[dict[str, JSON], dict[str, JSON]]:
        """Steps 2 and 3: merge, hydrate, then enforce the schema if the flags say so.

        Returns the merged parameters (before hydration) and the final ones.
        """
        merged = merge_parameters(deployment.parameters, request.parameters)
        parameters = hydrate_parameters(merged, _WorkspaceVariables(self.repository))
        if effective_enforcement(
            request.enforce_parameter_schema, deployment.enforce_parameter_schema
        ):
            schema = deployment.parameter_openapi_schema
            if not isinstance(schema, dict):
                raise MissingParameterSchema
            validate_parameters(parameters, schema, schema_id=deployment.id)
        return merged, parameters

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
        *,
        write: bool,
    ) -> tuple[WorkQueue, bool]:
        """Step 5: find the named queue in the deployment's pool, or create it.

        Returns the queue and whether it is new; ``write=False`` builds a new queue without
        storing it.
        """
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
            return existing, False
        if self.options.unknown_work_queue == "reject":
            raise UnknownWorkQueue(
                f"Work queue {name!r} does not exist in work pool {pool.name!r}. This "
                "service does not create work queues on demand (unknown work queue policy "
                "'reject'): create the queue first, or leave work_queue_name unset to use "
                "the deployment's queue."
            )
        check_new_queue_name(name)
        priority = lowest_free_priority(
            queue.priority for queue in self.repository.list_work_queues(pool.id)
        )
        queue = WorkQueue(id=self.new_id(), name=name, work_pool_id=pool.id, priority=priority)
        if write:
            queue = self.repository.create_work_queue(queue)
        return queue, True

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
