"""The public service: creates flow runs from deployments exactly as Prefect 3.9.1 does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final
from uuid import UUID

from flowrun_core.bulk import BulkCreateResult
from flowrun_core.factories import adjective_animal_slug, new_uuid, state_id_factory, utc_now
from flowrun_core.models import Created, CreatedBy, DeploymentFlowRunCreate, FlowRun
from flowrun_core.options import ServiceOptions
from flowrun_core.ports import Clock, IdFactory, NameFactory, Repository
from flowrun_core.rules.provenance import RunPlan
from flowrun_core.service.bulk_create import create_many
from flowrun_core.service.plan import plan_create
from flowrun_core.service.request_check import check_deployment_id, check_request
from flowrun_core.service.steps import CreateSteps

__all__ = ["FlowRunService"]


class FlowRunService:
    """Creates flow runs from deployments exactly as Prefect 3.9.1 does.

    Args:
        repository: the storage adapter (any :class:`~flowrun_core.ports.Repository`).
        clock: returns "now" as an aware ``datetime``; defaults to UTC wall time.
        new_id: returns new run and work-queue ids; defaults to ``uuid4``, as Prefect.
        new_state_id: returns new state ids (the run's first state, and its copy on a
            parent task run). Defaults to a time-ordered UUIDv7, as Prefect, when
            ``new_id`` is the default; when you inject ``new_id`` alone, states take their
            ids from it too, so injecting ``clock``, ``new_id`` and ``new_name`` is enough
            for deterministic runs.
        new_name: returns a run name when the caller gives none; defaults to an
            adjective-animal slug.
        options: opt-in behaviour beyond Prefect (:class:`ServiceOptions`); the default
            is Prefect's.

    Raises:
        TypeError: ``repository`` lacks a method of the
            :class:`~flowrun_core.ports.Repository` protocol, a factory is not callable,
            ``options`` is not a :class:`ServiceOptions`, or ``options`` ask for strict
            idempotency and ``repository`` lacks the
            :class:`~flowrun_core.ports.FingerprintStore` capability.

    With the same inputs and the same factories, the service produces identical runs.
    The service holds no global state; one instance may be shared by many threads when
    its repository is thread-safe. The repository, factories and options are fixed at
    construction (read-only attributes).
    """

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Clock = utc_now,
        new_id: IdFactory = new_uuid,
        new_name: NameFactory = adjective_animal_slug,
        options: ServiceOptions | None = None,
        new_state_id: IdFactory | None = None,
    ) -> None:
        _check_parts(repository, options, clock=clock, new_id=new_id, new_name=new_name)
        if new_state_id is not None and not callable(new_state_id):
            raise TypeError(f"new_state_id must be callable, not {new_state_id!r}")
        self._steps = CreateSteps(
            repository,
            clock=clock,
            new_id=new_id,
            new_state_id=state_id_factory(new_id, new_state_id),
            new_name=new_name,
            options=options if options is not None else ServiceOptions(),
        )

    @property
    def repository(self) -> Repository:
        """The storage adapter."""
        return self._steps.repository

    @property
    def clock(self) -> Clock:
        """The clock every timestamp comes from."""
        return self._steps.clock

    @property
    def new_id(self) -> IdFactory:
        """The factory of run and work-queue ids."""
        return self._steps.new_id

    @property
    def new_state_id(self) -> IdFactory:
        """The factory of state ids."""
        return self._steps.new_state_id

    @property
    def new_name(self) -> NameFactory:
        """The factory of run names (used when a request gives none)."""
        return self._steps.new_name

    @property
    def options(self) -> ServiceOptions:
        """The opt-in behaviour beyond Prefect; the default is Prefect's."""
        return self._steps.options

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

        A ``deployment_id`` that is not a ``UUID``, or a request holding what no request
        body can (a set or a tuple among the parameters, tags given as one string, a tree
        that contains itself), is a ``TypeError`` naming the field, raised before anything
        is read (:mod:`flowrun_core.service.request_check`).
        """
        check_deployment_id(deployment_id)
        if request is None:
            request, flat = DeploymentFlowRunCreate(), True
        else:
            flat = check_request(request)
        steps = self._steps
        with steps.repository.transaction():
            deployment = steps.deployment(deployment_id)
            return steps.create(deployment, request, created_by, flat=flat)

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
        create it, and undone alone if it fails (an item that writes more than its run
        gets its own savepoint; a lone insert is atomic by itself): it is reported with
        the exception a single create raises, and the others go on. Items are processed
        in order, so a key repeated inside the batch resolves to one run (the later items
        are replays of the first).

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
            TypeError: ``deployment_id`` is not a ``UUID``, ``requests`` is not a sequence,
                or an item is not a request a body could make (as for a single create);
                checked before anything else.
            TooManyFlowRuns: more requests than the limit (checked first, as in Prefect).
            DeploymentNotFound: no such deployment (also for an empty list).
            StorageError: the unit of work itself could not be begun or committed.
        """
        check_deployment_id(deployment_id)
        if isinstance(requests, str | bytes | Mapping) or not isinstance(requests, Iterable):
            raise TypeError(
                "requests must be a sequence of DeploymentFlowRunCreate, "
                f"not {type(requests).__name__}"
            )
        requests = list(requests)
        flat = [
            check_request(request, f"requests[{index}]") for index, request in enumerate(requests)
        ]
        return create_many(
            self._steps, deployment_id, requests, atomic=atomic, created_by=created_by, flat=flat
        )

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
        check_deployment_id(deployment_id)
        if request is None:
            request, flat = DeploymentFlowRunCreate(), True
        else:
            flat = check_request(request)
        return plan_create(self._steps, deployment_id, request, created_by=created_by, flat=flat)


_REPOSITORY_METHODS: Final = tuple(
    name
    for name, member in vars(Repository).items()
    if callable(member) and not name.startswith("_")
)
"""The methods every :class:`~flowrun_core.ports.Repository` has."""


def _check_parts(repository: object, options: object, **factories: object) -> None:
    """``TypeError`` now for a part the first create would otherwise trip over."""
    missing = [
        name for name in _REPOSITORY_METHODS if not callable(getattr(repository, name, None))
    ]
    if missing:
        raise TypeError(
            f"repository must implement the Repository protocol; {type(repository).__name__} "
            f"lacks {', '.join(missing)}"
        )
    for name, factory in factories.items():
        if not callable(factory):
            raise TypeError(f"{name} must be callable, not {factory!r}")
    if options is not None and not isinstance(options, ServiceOptions):
        raise TypeError(f"options must be a ServiceOptions, not {type(options).__name__}")
