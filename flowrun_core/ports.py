"""**Protocol**: the storage port and the injectable factories the service runs on.

The meaning of every method is pinned by ``flowrun_core.testing.RepositoryContract``, which
any adapter's test module subclasses. In short:

* **Missing is** ``None``, never an exception: the service decides what a miss means.
* **Values handed out are copies**, never aliases of stored state, and values passed in are
  copied before they are stored.
* :meth:`Repository.create_flow_run` is the one atomic create-or-return-existing on
  ``(flow_id, idempotency_key)``.
* :meth:`Repository.transaction` is the unit of work: every write inside it is undone if the
  block raises. Transactions nest; an inner one that raises undoes only its own writes.
* Driver failures surface only as :class:`flowrun_core.errors.StorageError` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from flowrun_core.models import (
    Created,
    Deployment,
    Flow,
    FlowRun,
    InfrastructureDocument,
    State,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)

Clock = Callable[[], datetime]
"""**Protocol**: returns the current time as an aware ``datetime``."""

IdFactory = Callable[[], UUID]
"""**Protocol**: returns a new unique id for a run or a state."""

NameFactory = Callable[[], str]
"""**Protocol**: returns a new run name (Prefect: an adjective-animal slug)."""


class Repository(Protocol):
    """**Protocol**: storage for everything the create-flow-run rules read and write.

    Reads return ``None`` for a missing entity, and a lookup by a name or key the store
    cannot hold (a string with a lone surrogate) finds nothing rather than failing: no
    stored value can equal it. Seeding methods (``add_*``) insert one entity and raise
    :class:`~flowrun_core.errors.StorageIntegrityError` when its id (or its unique name)
    is taken or a reference it holds does not exist.
    """

    # -- unit of work -------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[None]:
        """Group reads and writes into one all-or-nothing unit; nested calls are savepoints."""
        ...

    def close(self) -> None:
        """Release the store; any later call raises ``StorageClosed``."""
        ...

    # -- reads --------------------------------------------------------------------------

    def get_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow with this id."""
        ...

    def get_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment with this id."""
        ...

    def list_flows(self, *, name: str | None = None) -> Sequence[Flow]:
        """Flows in creation order; only those with exactly this ``name`` when given."""
        ...

    def list_deployments(
        self, *, name: str | None = None, flow_id: UUID | None = None
    ) -> Sequence[Deployment]:
        """Deployments in creation order, optionally filtered by exact name and flow."""
        ...

    def get_work_pool(self, work_pool_id: UUID, /) -> WorkPool | None:
        """The work pool with this id."""
        ...

    def get_work_pool_by_name(self, name: str, /) -> WorkPool | None:
        """The work pool with this exact (case-sensitive) name."""
        ...

    def get_work_queue(self, work_queue_id: UUID, /) -> WorkQueue | None:
        """The work queue with this id."""
        ...

    def get_work_queue_by_name(self, work_pool_id: UUID, name: str, /) -> WorkQueue | None:
        """The queue with this exact name inside this pool (never one of another pool)."""
        ...

    def list_work_queues(self, work_pool_id: UUID, /) -> Sequence[WorkQueue]:
        """Every queue of this pool, in creation order."""
        ...

    def get_variable(self, name: str, /) -> Variable | None:
        """The workspace variable with this name."""
        ...

    def get_task_run(self, task_run_id: UUID, /) -> TaskRun | None:
        """The task run with this id."""
        ...

    def get_infrastructure_document(self, document_id: UUID, /) -> InfrastructureDocument | None:
        """The block document with this id."""
        ...

    def get_flow_run(self, flow_run_id: UUID, /) -> FlowRun | None:
        """The flow run with this id."""
        ...

    def get_flow_run_by_idempotency_key(self, flow_id: UUID, key: str, /) -> FlowRun | None:
        """The run of this flow that holds this idempotency key (``""`` included)."""
        ...

    def list_flow_runs(
        self,
        *,
        flow_id: UUID | None = None,
        deployment_id: UUID | None = None,
        limit: int | None = None,
    ) -> Sequence[FlowRun]:
        """Runs in creation order, optionally filtered; ``limit`` keeps the first ones.

        A ``limit`` of zero or less keeps none; one larger than any count keeps them all.
        """
        ...

    def count_flow_runs(self) -> int:
        """How many flow runs are stored."""
        ...

    # -- writes -------------------------------------------------------------------------

    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        """Insert ``flow_run``, or return the stored run with the same flow and key.

        * A *truthy* ``idempotency_key`` that a run of the same ``flow_id`` already holds:
          nothing is written; the stored run is returned with ``created=False``.
        * Otherwise the run is inserted and returned with ``created=True``.
        * ``None`` never conflicts. ``""`` is stored as a key, so a second ``""`` for the same
          flow violates the unique index: ``StorageIntegrityError``, as in Prefect.
        * A ``flow_id``, ``work_queue_id``, ``infrastructure_document_id`` or
          ``parent_task_run_id`` that does not exist: ``StorageIntegrityError``.
        * Atomic under concurrency: racing callers with one new key get one run, and exactly
          one of them ``created=True``.
        """
        ...

    def create_work_queue(self, work_queue: WorkQueue, /) -> WorkQueue:
        """Insert a queue; a taken ``(work_pool_id, name)`` raises ``StorageIntegrityError``."""
        ...

    def set_task_run_state(self, task_run_id: UUID, state: State, /) -> None:
        """Replace a task run's state; a missing task run raises ``StorageIntegrityError``."""
        ...

    # -- seeding ------------------------------------------------------------------------

    def add_flow(self, flow: Flow, /) -> None:
        """Register a flow."""
        ...

    def add_deployment(self, deployment: Deployment, /) -> None:
        """Register a deployment; its flow and (if set) its work queue must exist."""
        ...

    def add_work_pool(self, work_pool: WorkPool, /) -> None:
        """Register a work pool (names are unique)."""
        ...

    def add_variable(self, variable: Variable, /) -> None:
        """Register a workspace variable (names are unique)."""
        ...

    def add_task_run(self, task_run: TaskRun, /) -> None:
        """Register a task run; its flow run, if set, must exist."""
        ...

    def add_infrastructure_document(self, document: InfrastructureDocument, /) -> None:
        """Register a block document."""
        ...

    def add_flow_run(self, flow_run: FlowRun, /) -> None:
        """Insert a pre-existing run as is, with the same constraints as ``create_flow_run``.

        A taken id, or a non-null key the flow already holds, raises
        ``StorageIntegrityError``.
        """
        ...


@runtime_checkable
class FingerprintStore(Protocol):
    """**Protocol**: an optional capability: request fingerprints stored with flow runs.

    Strict idempotency (``ServiceOptions(idempotency="strict")``) needs it; a repository
    without it can still serve every other option. The service calls these inside the same
    :meth:`Repository.transaction` as the create, so a run and its fingerprint are stored
    (or rolled back) together. Pinned by ``RepositoryContract``'s fingerprint tests.
    """

    def set_flow_run_fingerprint(self, flow_run_id: UUID, fingerprint: str, /) -> None:
        """Store ``fingerprint`` (any text, kept exactly) for the run, replacing any earlier one.

        A run that does not exist raises ``StorageIntegrityError``. Transactional like any
        write: rolled back with the enclosing transaction.
        """
        ...

    def get_flow_run_fingerprint(self, flow_run_id: UUID, /) -> str | None:
        """The fingerprint stored for the run; ``None`` for none (or no such run)."""
        ...


@runtime_checkable
class CreationLookups(Protocol):
    """**Protocol**: an optional capability: the lookups Prefect's creation routes make.

    :class:`~flowrun_core.seeding.Seeder` uses them to register entities as Prefect's own
    routes would. Deployment creation binds a deployment that names a queue but no pool to
    the first queue of that name in *any* pool while ``default-agent-pool`` does not exist
    (``ensure_work_queue_exists``); task-run creation returns the existing task run with
    the same flow run, task key and dynamic key. Without the capability the Seeder always
    uses ``default-agent-pool`` and always inserts a new task run. Pinned by
    ``RepositoryContract``'s creation-lookup tests.
    """

    def find_work_queues(self, name: str, /) -> Sequence[WorkQueue]:
        """Every queue with this exact (case-sensitive) name, in any pool, in creation order."""
        ...

    def find_task_run(
        self, flow_run_id: UUID | None, task_key: str, dynamic_key: str, /
    ) -> TaskRun | None:
        """The task run with these keys (``None`` matches task runs outside any flow run)."""
        ...


@runtime_checkable
class DeploymentUpdates(Protocol):
    """**Protocol**: an optional capability: replace a stored deployment in place.

    Prefect's ``POST /deployments/`` updates the deployment of the same flow and name when
    there is one, keeping its id; :class:`~flowrun_core.seeding.Seeder` does the same through
    this capability, and refuses a second deployment of a flow and name without it. Pinned
    by ``RepositoryContract``'s deployment-update tests.
    """

    def replace_deployment(self, deployment: Deployment, /) -> None:
        """Store ``deployment`` in place of the stored deployment with its id.

        Raises:
            StorageIntegrityError: no deployment has this id, or its flow or work queue
                does not exist.
        """
        ...


@runtime_checkable
class SharedDeploymentReads(Protocol):
    """**Protocol**: an optional capability: read a deployment without copying it.

    :meth:`Repository.get_deployment` hands out a copy the caller may change. A create
    only reads its deployment, so the service asks an adapter that has this capability
    for a value it may share with the store (or with other callers) instead, and saves
    the copy. The service never mutates that value, and never hands its dicts or lists
    out: a run's parameters are rebuilt by hydration, its labels and tags are new values.

    Pinned by ``RepositoryContract``'s shared-read tests: the value equals what
    :meth:`Repository.get_deployment` returns, inside and outside a transaction.
    """

    def get_shared_deployment(self, deployment_id: UUID, /) -> Deployment | None:
        """The deployment with this id, possibly shared: read it, never mutate it."""
        ...


@runtime_checkable
class SharedFlowReads(Protocol):
    """**Protocol**: an optional capability: read a flow without copying it.

    A create reads its deployment's flow for one thing, the flow's tags (Prefect names
    them among the related resources of the run's first event), so, as with
    :class:`SharedDeploymentReads`, the service asks an adapter that has this capability
    for a value it may share instead of a copy. The service never mutates that value.

    Pinned by ``RepositoryContract``'s shared-read tests: the value equals what
    :meth:`Repository.get_flow` returns, inside and outside a transaction.
    """

    def get_shared_flow(self, flow_id: UUID, /) -> Flow | None:
        """The flow with this id, possibly shared: read it, never mutate it."""
        ...
