"""One create, step by step: Prefect's rules in Prefect's order, against the storage port.

Functional core, imperative shell: :class:`CreateSteps` reads what the rules need through
the port, calls the pure functions in :mod:`flowrun_core.rules`, and writes through the
port. It runs inside the caller's unit of work; :class:`~flowrun_core.service.FlowRunService`
opens that unit and lends the steps to a single create, a bulk create or a plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from uuid import UUID

import attrs

from flowrun_core.errors import (
    DeploymentNotFound,
    IdempotencyKeyReused,
    MissingParameterSchema,
    NestedTooDeep,
    ScheduledTimeOutOfRange,
    StorageIntegrityError,
    UnknownWorkQueue,
)
from flowrun_core.factories import later_than
from flowrun_core.json_types import JSON, copy_json, copy_json_object
from flowrun_core.models import (
    Created,
    CreatedBy,
    Deployment,
    DeploymentFlowRunCreate,
    FlowRun,
    FlowRunPolicy,
    LabelValue,
    StateCreate,
    WorkPool,
    WorkQueue,
)
from flowrun_core.options import ServiceOptions
from flowrun_core.ports import (
    Clock,
    FingerprintStore,
    IdFactory,
    NameFactory,
    Repository,
    SharedDeploymentReads,
    SharedFlowReads,
)
from flowrun_core.rules.hydration import (
    UnstorableHydration,
    copy_without_placeholders,
    hydrate_placeholders,
    require_object,
)
from flowrun_core.rules.idempotency import Fingerprint, pointer_diff
from flowrun_core.rules.idempotency import fingerprint as fingerprint_of
from flowrun_core.rules.job_variables import validate_job_variables
from flowrun_core.rules.parameters import effective_enforcement, merge_parameters
from flowrun_core.rules.policy import backfill_deprecated_fields
from flowrun_core.rules.related_resources import (
    MAX_RELATED_RESOURCES,
    check_related_resources,
    related_resource_count,
)
from flowrun_core.rules.schema import validate_parameters
from flowrun_core.rules.state import (
    initial_state,
    initial_state_fields,
    parent_task_state,
    with_default_scheduled_time,
)
from flowrun_core.rules.stored_form import as_stored, check_utc_range
from flowrun_core.rules.tags_labels import run_labels, union_tags
from flowrun_core.rules.variable_value import as_read_back
from flowrun_core.rules.work_queue import (
    check_new_queue_name,
    lowest_free_priority,
    require_pool_for_override,
)
from flowrun_core.service.request_check import too_deep

__all__ = ["Built", "Checked", "CreateSteps"]


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
            self._seen[name] = as_read_back(variable.value)
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


@attrs.frozen(kw_only=True)
class Built:
    """A run as the service builds it, before anything is stored."""

    run: FlowRun
    merged_parameters: dict[str, JSON]
    new_queue: WorkQueue | None
    unstorable: UnstorableHydration | None = None
    """A hydrated value Prefect cannot store: raised where it fails (see ``check_event``)."""


@attrs.define(kw_only=True)
class Checked:
    """What the checks (steps 2 to 5) settle before a run is built.

    Not frozen: one is made on every create, and a frozen class's constructor costs several
    times more; nothing changes it after :meth:`CreateSteps.check` returns it.
    """

    request_state: StateCreate | None
    merged: dict[str, JSON]
    parameters: dict[str, JSON]
    work_pool: tuple[WorkPool, WorkQueue] | None
    work_queue: tuple[UUID | None, str | None]
    new_queue: WorkQueue | None
    policy: FlowRunPolicy
    unstorable: UnstorableHydration | None = None


class CreateSteps:
    """The steps of one create, sharing the service's repository, factories and options.

    Every method runs inside the caller's unit of work and writes only through the port.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Clock,
        new_id: IdFactory,
        new_state_id: IdFactory,
        new_name: NameFactory,
        options: ServiceOptions,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.new_id = new_id
        self.new_state_id = new_state_id
        self.new_name = new_name
        self.options = options
        self._fingerprints: FingerprintStore | None = None
        if options.idempotency == "strict":
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
        self._shared_flows: SharedFlowReads | None = (
            repository if isinstance(repository, SharedFlowReads) else None
        )
        # The last deployment's own and system labels (see _labels).
        self._deployment_labels: tuple[Deployment, dict[str, LabelValue]] | None = None

    def deployment(self, deployment_id: UUID) -> Deployment:
        """Step 1: the deployment, or ``DeploymentNotFound``."""
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

    def writes_more_than_the_run(self, request: DeploymentFlowRunCreate) -> bool:
        """Whether a create of ``request`` may write besides inserting the run."""
        return bool(
            request.work_queue_name
            or request.parent_task_run_id is not None
            or (self._fingerprints is not None and request.idempotency_key)
        )

    def create(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        created_by: CreatedBy | None,
        *,
        flow_tags: tuple[str, ...] | None = None,
        flat: bool = False,
    ) -> Created[FlowRun]:
        """Steps 2 to 8: check, then replay the stored run or build and insert a new one.

        Writes only through the port, inside the caller's unit of work; raises the
        exception of the first rule that fails, having written nothing of its own.
        ``flow_tags`` are the deployment's flow's tags when the caller has read them in
        this unit of work (see :meth:`flow_tags`); otherwise they are read when needed.
        ``flat`` says :func:`~flowrun_core.service.request_check.check_request` found the
        request flat, so it cannot nest too deep (see :meth:`check_event`).
        """
        repository = self.repository
        fingerprint = self.fingerprint(request)
        checked = self.check(deployment, request, write=True)
        key = request.idempotency_key
        if key:
            # A replay needs no new run: every check above has passed (in Prefect's order,
            # with its side effects), so the stored run is the answer. Inside the caller's
            # unit of work; a run inserted concurrently is still caught by the insert below.
            stored = repository.get_flow_run_by_idempotency_key(deployment.flow_id, key)
            if stored is not None:
                self.check_replay(deployment, request, stored, fingerprint)
                return Created(value=stored, created=False)
        run = self.assemble(deployment, request, checked, created_by)
        self.check_event(
            run,
            flow_tags=flow_tags,
            unstorable=checked.unstorable,
            too_deep=None if flat else too_deep(request),
        )
        result = repository.create_flow_run(as_stored(run))
        if not result.created:
            self.check_replay(deployment, request, result.value, fingerprint)
            return result
        if fingerprint is not None and self._fingerprints is not None:
            self._fingerprints.set_flow_run_fingerprint(run.id, fingerprint.canonical)
        if run.parent_task_run_id is not None and run.state is not None:
            repository.set_task_run_state(
                run.parent_task_run_id,
                parent_task_state(
                    run.state, flow_run_id=run.id, clock=self.clock, new_id=self.new_state_id
                ),
            )
        # The adapter answers with the value it was given: ``run`` itself unless the stored
        # form differs (a clock that is not UTC), where the caller still gets ``run``.
        return result if result.value is run else Created(value=run, created=True)

    def build(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        created_by: CreatedBy | None,
        *,
        write: bool,
    ) -> Built:
        """Steps 2 to 8: the run Prefect would store; ``write=False`` creates no queue."""
        checked = self.check(deployment, request, write=write)
        run = self.assemble(deployment, request, checked, created_by)
        return Built(
            run=run,
            merged_parameters=checked.merged,
            new_queue=checked.new_queue,
            unstorable=checked.unstorable,
        )

    def check(
        self, deployment: Deployment, request: DeploymentFlowRunCreate, *, write: bool
    ) -> Checked:
        """Steps 2 to 5: parameters, job variables and the work queue, in Prefect's order."""
        request_state = with_default_scheduled_time(request.state, self.clock)
        merged, parameters, unstorable = self._parameters(deployment, request)
        work_pool = self._check_job_variables(deployment, request)
        work_queue_id, work_queue_name = deployment.work_queue_id, deployment.work_queue_name
        new_queue = None
        if request.work_queue_name:
            queue, created = self._override_queue(
                deployment, work_pool, request.work_queue_name, write=write
            )
            work_queue_id, work_queue_name = queue.id, queue.name
            new_queue = queue if created else None
        # Step 6 builds the run from the checked values (on an idempotent repeat too): the
        # parameters must be an object, and the policy is back-filled again.
        return Checked(
            request_state=request_state,
            merged=merged,
            parameters=require_object(parameters),
            work_pool=work_pool,
            work_queue=(work_queue_id, work_queue_name),
            new_queue=new_queue,
            policy=backfill_deprecated_fields(request.empirical_policy),
            unstorable=unstorable,
        )

    def assemble(
        self,
        deployment: Deployment,
        request: DeploymentFlowRunCreate,
        checked: Checked,
        created_by: CreatedBy | None,
    ) -> FlowRun:
        """Steps 6 to 8: the run as Prefect builds and stores it, with its first state."""
        run_id = self.new_id()
        state = initial_state(
            checked.request_state,
            clock=self.clock,
            new_id=self.new_state_id,
            flow_run_id=run_id,
            parent_task_run_id=request.parent_task_run_id,
        )
        job_variables = request.job_variables
        if job_variables:
            job_variables = copy_json_object(job_variables)
        elif job_variables is not None or not request.idempotency_key:
            job_variables = {}
        work_queue_id, work_queue_name = checked.work_queue
        work_pool = checked.work_pool
        pool = None if work_queue_id is None or work_pool is None else work_pool[0]
        clock = self.clock
        created = clock()
        return FlowRun(
            id=run_id,
            created=created,
            updated=later_than(created, clock()),
            name=request.name or self.new_name(),
            flow_id=deployment.flow_id,
            deployment_id=deployment.id,
            deployment_version=deployment.version,
            work_queue_id=work_queue_id,
            work_queue_name=work_queue_name,
            parameters=checked.parameters,
            idempotency_key=request.idempotency_key,
            context=copy_json_object(request.context) if request.context else {},
            tags=union_tags(deployment.tags, request.tags),
            labels=self._labels(deployment, request),
            parent_task_run_id=request.parent_task_run_id,
            infrastructure_document_id=request.infrastructure_document_id
            or deployment.infrastructure_document_id,
            created_by=created_by,
            work_pool_id=None if pool is None else pool.id,
            work_pool_name=None if pool is None else pool.name,
            job_variables=job_variables,
            **initial_state_fields(state, checked.policy),
        )

    # -- idempotency -------------------------------------------------------------------

    def fingerprint(self, request: DeploymentFlowRunCreate) -> Fingerprint | None:
        """The request's fingerprint when strict mode will store or compare one.

        A request nested too deep to store (:func:`too_deep`) has none: strict mode refuses
        it here, before its rules, as no stored run can match it.
        """
        if self._fingerprints is None or not request.idempotency_key:
            return None
        deep = too_deep(request)
        if deep is not None:
            raise deep
        return fingerprint_of(request)

    def check_replay(
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

    def check_insert(self, run: FlowRun, *, key_taken: bool) -> None:
        """The integrity errors the insert of ``run`` would raise (a plan inserts nothing)."""
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

    def flow_tags(self, flow_id: UUID) -> tuple[str, ...]:
        """The tags of the flow with this id (none when it is missing), read through the port.

        Nothing a create writes changes a flow, so one read serves every create of a unit
        of work (a bulk create reads them once). An adapter that lends shared flows
        (:class:`SharedFlowReads`) saves the copy.
        """
        shared = self._shared_flows
        flow = (
            self.repository.get_flow(flow_id) if shared is None else shared.get_shared_flow(flow_id)
        )
        return () if flow is None else tuple(flow.tags)

    def check_event(
        self,
        run: FlowRun,
        *,
        flow_tags: tuple[str, ...] | None = None,
        unstorable: UnstorableHydration | None = None,
        too_deep: NestedTooDeep | None = None,
    ) -> None:
        """Refuse ``run`` where Prefect fails only once the run is inserted.

        First a hydrated value Prefect cannot store (``unstorable``, from :meth:`check`),
        then a request value nested too deep to answer (``too_deep``, from
        :func:`~flowrun_core.service.request_check.too_deep`).

        That is a scheduled time with no UTC equivalent (writing the first state fails; see
        :func:`~flowrun_core.rules.stored_form.check_utc_range`), then a first state-change
        event that would name too many resources (see
        :mod:`flowrun_core.rules.related_resources`). The insert's own integrity errors
        answer first.
        """
        if unstorable is not None:
            self._check_insert_first(run)
            raise unstorable
        if too_deep is not None:
            self._check_insert_first(run)
            raise too_deep
        if flow_tags is None:
            flow_tags = self.flow_tags(run.flow_id)
        try:
            check_utc_range(run)
        except ScheduledTimeOutOfRange:
            self._check_insert_first(run)
            raise
        if related_resource_count(run, flow_tags=flow_tags) <= MAX_RELATED_RESOURCES:
            return
        self._check_insert_first(run)
        check_related_resources(run, flow_tags=flow_tags)

    def _check_insert_first(self, run: FlowRun) -> None:
        key = run.idempotency_key
        key_taken = key == "" and (
            self.repository.get_flow_run_by_idempotency_key(run.flow_id, key) is not None
        )
        self.check_insert(run, key_taken=key_taken)

    # -- steps ------------------------------------------------------------------------

    def _parameters(
        self, deployment: Deployment, request: DeploymentFlowRunCreate
    ) -> tuple[dict[str, JSON], JSON, UnstorableHydration | None]:
        """Steps 2 and 3: merge, hydrate, then enforce the schema if the flags say so.

        Returns the merged parameters (before hydration); the final ones, which are an
        object unless a top-level placeholder hydrated to something else (refused later,
        where Prefect builds the run: see :func:`~flowrun_core.rules.hydration.require_object`);
        and the refusal of a hydrated value Prefect cannot store, if any (raised later too).
        """
        merged = merge_parameters(deployment.parameters, request.parameters)
        unstorable = None
        parameters: JSON | None = copy_without_placeholders(merged)
        if parameters is None:
            try:
                parameters = hydrate_placeholders(merged, _WorkspaceVariables(self.repository))
            except UnstorableHydration as exc:  # Prefect goes on (see check_event)
                parameters, unstorable = exc.value, exc
        if effective_enforcement(
            request.enforce_parameter_schema, deployment.enforce_parameter_schema
        ):
            schema = deployment.parameter_openapi_schema
            if not isinstance(schema, dict):
                raise MissingParameterSchema
            validate_parameters(parameters, schema, schema_id=deployment.id)
        return merged, parameters, unstorable

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

    def _labels(
        self, deployment: Deployment, request: DeploymentFlowRunCreate
    ) -> dict[str, LabelValue]:
        """The run's labels: the deployment's and the system labels, then the request's.

        The first two depend on the deployment alone, so they are worked out once for the
        deployment an adapter lends (:class:`SharedDeploymentReads` returns the same value
        until it changes) and copied for each run.
        """
        cached = self._deployment_labels
        if cached is None or cached[0] is not deployment:
            base = run_labels(
                deployment_labels=deployment.labels,
                flow_id=deployment.flow_id,
                deployment_id=deployment.id,
                request_labels=None,
            )
            cached = self._deployment_labels = (deployment, base)
        return {**cached[1], **request.labels} if request.labels else dict(cached[1])
