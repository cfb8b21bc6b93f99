"""The storage port's contract, as pytest tests an adapter's test module inherits.

Subclass :class:`RepositoryContract` in a module whose class name starts with ``Test`` and
supply :meth:`~RepositoryContract.make_repository` (a context manager yielding a fresh, empty
repository) and :meth:`~RepositoryContract.raw_flow_run_count` (a backdoor count that does
not go through the port)::

    class TestMyRepository(RepositoryContract[MyRepository]):
        def make_repository(self):
            return contextlib.closing(MyRepository())

        def raw_flow_run_count(self, repo):
            return len(repo._rows)

The docstrings of the tests below are the human specification of the port.
"""

from __future__ import annotations

import inspect
import random
import string
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Generic, TypeVar, cast

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrun_core.errors import StorageClosed, StorageError, StorageIntegrityError
from flowrun_core.models import (
    CreatedBy,
    Deployment,
    Flow,
    FlowRun,
    FlowRunPolicy,
    InfrastructureDocument,
    State,
    StateDetails,
    StateType,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)
from flowrun_core.ports import (
    CreationLookups,
    DeploymentUpdates,
    FingerprintStore,
    Repository,
    SharedDeploymentReads,
    SharedFlowReads,
)
from flowrun_core.testing.strategies import hostile_text, json_objects, json_values, label_values

__all__ = ["RepositoryContract", "World", "assert_same", "require_fingerprints"]

R = TypeVar("R", bound=Repository)

T0 = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class World:
    """A small seeded world: a flow, a pool with a queue, a document and a deployment."""

    flow: Flow
    other_flow: Flow
    pool: WorkPool
    queue: WorkQueue
    document: InfrastructureDocument
    deployment: Deployment


def _differing_fields(actual: object, expected: object) -> list[str]:
    if type(actual) is not type(expected) or not attrs.has(type(actual)):
        return []
    return [
        field.name
        for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(actual)))
        if getattr(actual, field.name) != getattr(expected, field.name)
    ]


def assert_same(actual: object, expected: object, what: str) -> None:
    """Assert equality with a short message naming the differing fields.

    Plain ``assert a == b`` on large generated values makes pytest build a character diff
    of their reprs, which can take minutes; this names the fields instead.
    """
    if actual != expected:
        fields = _differing_fields(actual, expected)
        detail = f"fields differ: {', '.join(fields)}" if fields else "values differ"
        raise AssertionError(f"{what}: {detail}")


def seed_world(repo: Repository) -> World:
    """Write a :class:`World` through the port's seeding methods."""
    flow = Flow(id=uuid.uuid4(), name="etl", tags=("t",), labels={"team": "data"})
    other = Flow(id=uuid.uuid4(), name="other")
    pool = WorkPool(
        id=uuid.uuid4(),
        name="pool-a",
        type="process",
        base_job_template={"variables": {"type": "object", "properties": {}}},
    )
    queue = WorkQueue(id=uuid.uuid4(), name="default", work_pool_id=pool.id, priority=1)
    document = InfrastructureDocument(id=uuid.uuid4(), name="infra", data={"image": "x"})
    deployment = Deployment(
        id=uuid.uuid4(),
        flow_id=flow.id,
        name="dep",
        version="1.0",
        parameters={"x": 1, "nested": {"a": [1, 2]}},
        tags=("b", "a"),
        labels={"env": "prod", "n": 1, "f": 1.5, "ok": True},
        parameter_openapi_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
        work_queue_name=queue.name,
        work_queue_id=queue.id,
        work_pool_name=pool.name,
        infrastructure_document_id=document.id,
        job_variables={"image": "y"},
    )
    repo.add_flow(flow)
    repo.add_flow(other)
    repo.add_work_pool(pool)
    repo.create_work_queue(queue)
    repo.add_infrastructure_document(document)
    repo.add_deployment(deployment)
    return World(
        flow=flow,
        other_flow=other,
        pool=pool,
        queue=queue,
        document=document,
        deployment=deployment,
    )


def make_run(flow_id: uuid.UUID, **changes: Any) -> FlowRun:
    """A fully populated run of ``flow_id`` with a SCHEDULED state; ``changes`` override."""
    run_id = changes.pop("id", None) or uuid.uuid4()
    state = State(
        id=uuid.uuid4(),
        type=StateType.SCHEDULED,
        name="Scheduled",
        timestamp=T0,
        state_details=StateDetails(flow_run_id=run_id, scheduled_time=T0 - timedelta(seconds=1)),
    )
    fields: dict[str, Any] = {
        "id": run_id,
        "created": T0 + timedelta(microseconds=7),
        "updated": T0 + timedelta(milliseconds=3),
        "name": "brave-otter",
        "flow_id": flow_id,
        "state_id": state.id,
        "parameters": {"x": 1, "f": 1.0, "b": True, "n": None, "l": [1, "a"], "d": {"k": {}}},
        "context": {"c": [1, {"d": 2}]},
        "empirical_policy": FlowRunPolicy(retries=2, pause_keys=frozenset({"b", "a"})),
        "tags": ("a", "b"),
        "labels": {"s": "v", "i": 1, "f": 2.5, "b": False},
        "state_type": StateType.SCHEDULED,
        "state_name": "Scheduled",
        "expected_start_time": state.state_details.scheduled_time,
        "next_scheduled_start_time": state.state_details.scheduled_time,
        "created_by": CreatedBy(id=uuid.uuid4(), type="AUTOMATION", display_value="auto"),
        "state": state,
        "job_variables": {"image": "z"},
    }
    fields.update(changes)
    return FlowRun(**fields)


def _long_text(seed: int) -> str:
    """20,000 random letters and digits: text no store can compress into a short index entry."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    return "".join(rng.choices(string.ascii_letters + string.digits, k=20_000))


class RepositoryContract(Generic[R]):
    """Every guarantee of :class:`~flowrun_core.ports.Repository`, as inherited tests.

    Not collected by itself (its name does not start with ``Test``).
    """

    # -- what a subclass supplies ---------------------------------------------------------

    def make_repository(self) -> AbstractContextManager[R]:
        """A context manager yielding a fresh, empty repository and closing it after."""
        raise NotImplementedError

    def raw_flow_run_count(self, repo: R) -> int:
        """How many flow runs the store holds, read without the port (a backdoor)."""
        raise NotImplementedError

    @pytest.fixture
    def repo(self) -> Iterator[R]:
        """A fresh repository for one test."""
        with self.make_repository() as repository:
            yield repository

    # -- running the kit outside pytest ---------------------------------------------------

    def contract_test_names(self) -> list[str]:
        """The names of every test of the kit, as this class runs them."""
        return [n for n, _ in inspect.getmembers(self, inspect.ismethod) if n.startswith("test_")]

    def run_contract_test(self, name: str) -> None:
        """Run one test of the kit by name, on a fresh repository when it takes one.

        For harnesses that do not collect tests with pytest. A test of an optional
        capability the adapter lacks raises pytest's skip exception; any other failure
        raises as it would under pytest.
        """
        method = getattr(self, name)
        if "repo" in inspect.signature(method).parameters:
            with self.make_repository() as repository:
                method(repository)
        else:
            method()

    # -- missing is None ------------------------------------------------------------------

    def test_missing_entities_are_none(self, repo: R) -> None:
        """Every read of a missing entity returns ``None``, never raises."""
        missing = uuid.uuid4()
        assert repo.get_flow(missing) is None
        assert repo.get_deployment(missing) is None
        assert list(repo.list_flows()) == []
        assert list(repo.list_deployments()) == []
        assert repo.get_work_pool(missing) is None
        assert repo.get_work_pool_by_name("nope") is None
        assert repo.get_work_queue(missing) is None
        assert repo.get_work_queue_by_name(missing, "default") is None
        assert list(repo.list_work_queues(missing)) == []
        assert repo.get_variable("nope") is None
        assert repo.get_task_run(missing) is None
        assert repo.get_infrastructure_document(missing) is None
        assert repo.get_flow_run(missing) is None
        assert repo.get_flow_run_by_idempotency_key(missing, "k") is None
        assert list(repo.list_flow_runs()) == []
        assert repo.count_flow_runs() == 0

    # -- seeding and reading every entity ---------------------------------------------------

    def test_every_entity_reads_back_equal(self, repo: R) -> None:
        """What is added reads back equal, field for field."""
        world = seed_world(repo)
        assert repo.get_flow(world.flow.id) == world.flow
        assert repo.get_deployment(world.deployment.id) == world.deployment
        assert repo.get_work_pool(world.pool.id) == world.pool
        assert repo.get_work_pool_by_name("pool-a") == world.pool
        assert repo.get_work_queue(world.queue.id) == world.queue
        assert repo.get_work_queue_by_name(world.pool.id, "default") == world.queue
        assert repo.get_infrastructure_document(world.document.id) == world.document
        variable = Variable(id=uuid.uuid4(), name="v", value={"a": [1, 2.5, None]}, tags=("x",))
        repo.add_variable(variable)
        assert repo.get_variable("v") == variable
        run = make_run(world.flow.id)
        repo.add_flow_run(run)
        task = TaskRun(id=uuid.uuid4(), flow_run_id=run.id, name="t", task_key="k")
        repo.add_task_run(task)
        assert repo.get_task_run(task.id) == task
        assert repo.get_flow_run(run.id) == run

    def test_flows_and_deployments_list_by_name(self, repo: R) -> None:
        """Flows and deployments list in creation order, filtered by exact name and flow."""
        world = seed_world(repo)
        twin = attrs.evolve(world.deployment, id=uuid.uuid4(), flow_id=world.other_flow.id)
        repo.add_deployment(attrs.evolve(twin, work_queue_id=None))
        assert [f.id for f in repo.list_flows()] == [world.flow.id, world.other_flow.id]
        assert repo.list_flows(name="etl") == [world.flow]
        assert list(repo.list_flows(name="ETL")) == []
        assert [d.id for d in repo.list_deployments(name="dep")] == [world.deployment.id, twin.id]
        assert repo.list_deployments(name="dep", flow_id=world.flow.id) == [world.deployment]
        assert [d.id for d in repo.list_deployments(flow_id=world.other_flow.id)] == [twin.id]
        assert list(repo.list_deployments(name="nope")) == []

    def test_queue_names_are_per_pool_and_exact(self, repo: R) -> None:
        """Queues are found by exact, case-sensitive name inside their own pool only."""
        world = seed_world(repo)
        other_pool = WorkPool(id=uuid.uuid4(), name="pool-b")
        repo.add_work_pool(other_pool)
        theirs = WorkQueue(id=uuid.uuid4(), name="q", work_pool_id=other_pool.id, priority=1)
        repo.create_work_queue(theirs)
        assert repo.get_work_queue_by_name(world.pool.id, "q") is None
        assert repo.get_work_queue_by_name(other_pool.id, "Q") is None
        assert repo.get_work_queue_by_name(other_pool.id, "q") == theirs

    def test_queues_list_in_creation_order(self, repo: R) -> None:
        """``list_work_queues`` returns a pool's queues in creation order."""
        world = seed_world(repo)
        names = ["zeta", "alpha", "mid"]
        for i, name in enumerate(names, start=2):
            repo.create_work_queue(
                WorkQueue(id=uuid.uuid4(), name=name, work_pool_id=world.pool.id, priority=i)
            )
        listed = [q.name for q in repo.list_work_queues(world.pool.id)]
        assert listed == ["default", *names]

    def test_queues_are_found_by_name_across_pools_in_creation_order(self, repo: R) -> None:
        """``find_work_queues`` (optional: ``CreationLookups``): exact name, every pool."""
        search = require_creation_lookups(repo)
        world = seed_world(repo)
        other_pool = WorkPool(id=uuid.uuid4(), name="pool-b")
        repo.add_work_pool(other_pool)
        theirs = WorkQueue(id=uuid.uuid4(), name="q", work_pool_id=other_pool.id, priority=1)
        repo.create_work_queue(theirs)
        ours = WorkQueue(id=uuid.uuid4(), name="q", work_pool_id=world.pool.id, priority=2)
        repo.create_work_queue(ours)
        assert list(search.find_work_queues("q")) == [theirs, ours]
        assert list(search.find_work_queues("default")) == [world.queue]
        assert list(search.find_work_queues("Q")) == []

    def test_task_runs_are_found_by_their_keys(self, repo: R) -> None:
        """``find_task_run`` (optional: ``CreationLookups``): flow run, task and dynamic key."""
        lookups = require_creation_lookups(repo)
        world = seed_world(repo)
        run = make_run(world.flow.id)
        repo.add_flow_run(run)
        inside = TaskRun(id=uuid.uuid4(), flow_run_id=run.id, task_key="t", dynamic_key="0")
        outside = TaskRun(id=uuid.uuid4(), flow_run_id=None, task_key="t", dynamic_key="0")
        repo.add_task_run(inside)
        repo.add_task_run(outside)
        assert lookups.find_task_run(run.id, "t", "0") == inside
        assert lookups.find_task_run(None, "t", "0") == outside
        assert lookups.find_task_run(run.id, "t", "1") is None
        assert lookups.find_task_run(run.id, "T", "0") is None
        assert lookups.find_task_run(uuid.uuid4(), "t", "0") is None

    def test_duplicates_are_integrity_errors(self, repo: R) -> None:
        """Taken ids and unique names raise ``StorageIntegrityError`` and write nothing."""
        world = seed_world(repo)
        with pytest.raises(StorageIntegrityError):
            repo.add_flow(world.flow)
        with pytest.raises(StorageIntegrityError):
            repo.add_work_pool(WorkPool(id=uuid.uuid4(), name="pool-a"))
        with pytest.raises(StorageIntegrityError):
            repo.create_work_queue(
                WorkQueue(id=uuid.uuid4(), name="default", work_pool_id=world.pool.id, priority=9)
            )
        repo.add_variable(Variable(id=uuid.uuid4(), name="v", value=1))
        with pytest.raises(StorageIntegrityError):
            repo.add_variable(Variable(id=uuid.uuid4(), name="v", value=2))
        assert repo.get_variable("v") == Variable(id=repo.get_variable("v").id, name="v", value=1)  # type: ignore[union-attr]
        run = make_run(world.flow.id)
        repo.add_flow_run(run)
        with pytest.raises(StorageIntegrityError):
            repo.add_flow_run(run)
        assert self.raw_flow_run_count(repo) == 1

    def test_references_must_exist(self, repo: R) -> None:
        """Unknown flow, queue, document or parent task run: ``StorageIntegrityError``."""
        world = seed_world(repo)
        bad = [
            {"flow_id": uuid.uuid4()},
            {"work_queue_id": uuid.uuid4()},
            {"infrastructure_document_id": uuid.uuid4()},
            {"parent_task_run_id": uuid.uuid4()},
        ]
        for changes in bad:
            flow_id = changes.pop("flow_id", world.flow.id)
            with pytest.raises(StorageIntegrityError):
                repo.create_flow_run(make_run(flow_id, **changes))
        with pytest.raises(StorageIntegrityError):
            repo.add_deployment(
                attrs.evolve(world.deployment, id=uuid.uuid4(), flow_id=uuid.uuid4())
            )
        with pytest.raises(StorageIntegrityError):
            repo.add_task_run(TaskRun(id=uuid.uuid4(), flow_run_id=uuid.uuid4()))
        assert self.raw_flow_run_count(repo) == 0

    # -- create-or-return-existing --------------------------------------------------------

    def test_new_run_is_created_and_stored_exactly(self, repo: R) -> None:
        """A new run comes back ``created=True`` and reads back equal."""
        world = seed_world(repo)
        run = make_run(
            world.flow.id,
            deployment_id=world.deployment.id,
            work_queue_id=world.queue.id,
            work_queue_name="default",
            work_pool_id=world.pool.id,
            work_pool_name="pool-a",
            infrastructure_document_id=world.document.id,
            idempotency_key="k1",
        )
        result = repo.create_flow_run(run)
        assert result.created is True
        assert result.value == run
        assert repo.get_flow_run(run.id) == run
        assert repo.get_flow_run_by_idempotency_key(world.flow.id, "k1") == run
        assert self.raw_flow_run_count(repo) == 1

    def test_same_key_same_flow_returns_existing(self, repo: R) -> None:
        """A truthy key the flow already holds: the stored run, unchanged, ``created=False``."""
        world = seed_world(repo)
        first = make_run(world.flow.id, idempotency_key="k")
        repo.create_flow_run(first)
        second = make_run(world.flow.id, idempotency_key="k", name="other", parameters={"y": 2})
        result = repo.create_flow_run(second)
        assert result.created is False
        assert result.value == first
        assert self.raw_flow_run_count(repo) == 1

    def test_same_key_other_flow_creates(self, repo: R) -> None:
        """Keys are scoped by flow: the same key under another flow creates a run."""
        world = seed_world(repo)
        repo.create_flow_run(make_run(world.flow.id, idempotency_key="k"))
        result = repo.create_flow_run(make_run(world.other_flow.id, idempotency_key="k"))
        assert result.created is True
        assert self.raw_flow_run_count(repo) == 2

    def test_no_key_never_deduplicates(self, repo: R) -> None:
        """``None`` keys never conflict."""
        world = seed_world(repo)
        for _ in range(3):
            assert repo.create_flow_run(make_run(world.flow.id)).created is True
        assert self.raw_flow_run_count(repo) == 3

    def test_empty_key_is_stored_and_a_second_one_conflicts(self, repo: R) -> None:
        """``""`` is not a key for lookup but is stored: a second ``""`` is an integrity error."""
        world = seed_world(repo)
        first = repo.create_flow_run(make_run(world.flow.id, idempotency_key=""))
        assert first.created is True
        assert first.value.idempotency_key == ""
        with pytest.raises(StorageIntegrityError):
            repo.create_flow_run(make_run(world.flow.id, idempotency_key=""))
        assert repo.create_flow_run(make_run(world.other_flow.id, idempotency_key="")).created
        assert self.raw_flow_run_count(repo) == 2

    def test_add_flow_run_with_a_taken_key_conflicts(self, repo: R) -> None:
        """Seeding a run whose key the flow holds raises instead of returning the existing."""
        world = seed_world(repo)
        repo.add_flow_run(make_run(world.flow.id, idempotency_key="k"))
        with pytest.raises(StorageIntegrityError):
            repo.add_flow_run(make_run(world.flow.id, idempotency_key="k"))

    # -- copies, never aliases ----------------------------------------------------------

    def test_returned_values_are_copies(self, repo: R) -> None:
        """Mutating what a read returns never changes what is stored."""
        world = seed_world(repo)
        run = make_run(world.flow.id)
        repo.create_flow_run(run)
        got = repo.get_flow_run(run.id)
        assert got is not None
        got.parameters["x"] = 99
        got.parameters["l"].append(3)  # type: ignore[union-attr]
        got.labels["s"] = "changed"
        got.context["c"].append(0)  # type: ignore[union-attr]
        dep = repo.get_deployment(world.deployment.id)
        assert dep is not None
        dep.parameters["x"] = 42
        dep.job_variables["image"] = "w"
        pool = repo.get_work_pool(world.pool.id)
        assert pool is not None
        pool.base_job_template.clear()
        assert repo.get_flow_run(run.id) == run
        assert repo.get_deployment(world.deployment.id) == world.deployment
        assert repo.get_work_pool(world.pool.id) == world.pool

    def test_stored_values_are_copies_of_the_input(self, repo: R) -> None:
        """Mutating a value after handing it to the store never changes what is stored."""
        world = seed_world(repo)
        parameters: dict[str, Any] = {"x": [1]}
        run = make_run(world.flow.id, parameters=parameters)
        created = repo.create_flow_run(run)
        parameters["x"].append(2)
        created.value.parameters["y"] = 1
        stored = repo.get_flow_run(run.id)
        assert stored is not None
        assert stored.parameters == {"x": [1]}

    # -- long keys and names ---------------------------------------------------------------

    def test_long_keys_and_queue_names_behave_as_short_ones(self, repo: R) -> None:
        """A 20,000-character key or queue name is unique and found like a short one.

        The text is random, so a store cannot compress it: its unique indexes must hold any
        length (a plain B-tree entry in PostgreSQL holds about 2.7 kB).
        """
        world = seed_world(repo)
        text = _long_text(7)
        first = repo.create_flow_run(make_run(world.flow.id, idempotency_key=text))
        assert first.created
        again = repo.create_flow_run(make_run(world.flow.id, idempotency_key=text))
        assert not again.created
        assert again.value.id == first.value.id
        found = repo.get_flow_run_by_idempotency_key(world.flow.id, text)
        assert found is not None
        assert found.id == first.value.id
        assert repo.get_flow_run_by_idempotency_key(world.flow.id, text[:-1] + "!") is None
        queue = WorkQueue(id=uuid.uuid4(), name=text, work_pool_id=world.pool.id, priority=5)
        repo.create_work_queue(queue)
        assert repo.get_work_queue_by_name(world.pool.id, text) == queue
        assert repo.get_work_queue_by_name(world.pool.id, text[:-1] + "!") is None
        with pytest.raises(StorageIntegrityError):
            repo.create_work_queue(attrs.evolve(queue, id=uuid.uuid4()))

    def test_long_pool_and_variable_names_behave_as_short_ones(self, repo: R) -> None:
        """A 20,000-character work-pool or variable name is unique and found like a short one."""
        name = _long_text(8)
        pool = WorkPool(id=uuid.uuid4(), name=name)
        repo.add_work_pool(pool)
        assert repo.get_work_pool_by_name(name) == pool
        assert repo.get_work_pool_by_name(name[:-1] + "!") is None
        with pytest.raises(StorageIntegrityError):
            repo.add_work_pool(WorkPool(id=uuid.uuid4(), name=name))
        variable = Variable(id=uuid.uuid4(), name=name, value={"x": 1})
        repo.add_variable(variable)
        assert repo.get_variable(name) == variable
        assert repo.get_variable(name[:-1] + "!") is None
        with pytest.raises(StorageIntegrityError):
            repo.add_variable(Variable(id=uuid.uuid4(), name=name, value=2))

    # -- lookups by text no store can hold ------------------------------------------------

    def test_lookups_by_unstorable_text_find_nothing(self, repo: R) -> None:
        """A name or key with a lone surrogate matches nothing: it is not a storage failure.

        No such text can have been written, so every lookup by it answers "not found",
        inside a transaction too, which goes on unharmed.
        """
        world = seed_world(repo)
        with repo.transaction():
            for text in ("\ud800", "a\udfffb"):
                assert repo.get_variable(text) is None
                assert repo.get_work_pool_by_name(text) is None
                assert repo.get_work_queue_by_name(world.pool.id, text) is None
                assert repo.get_flow_run_by_idempotency_key(world.flow.id, text) is None
                assert list(repo.list_flows(name=text)) == []
                assert list(repo.list_deployments(name=text)) == []
                lookups: object = repo
                if isinstance(lookups, CreationLookups):
                    assert list(lookups.find_work_queues(text)) == []
                    assert lookups.find_task_run(None, text, text) is None
            repo.create_flow_run(make_run(world.flow.id, idempotency_key="after"))
        assert repo.get_flow_run_by_idempotency_key(world.flow.id, "after") is not None

    # -- unit of work ---------------------------------------------------------------------

    def test_transaction_commits(self, repo: R) -> None:
        """Writes inside a transaction that completes are kept."""
        world = seed_world(repo)
        with repo.transaction():
            queue = repo.create_work_queue(
                WorkQueue(id=uuid.uuid4(), name="new", work_pool_id=world.pool.id, priority=2)
            )
            repo.create_flow_run(make_run(world.flow.id, work_queue_id=queue.id))
        assert repo.get_work_queue(queue.id) == queue
        assert self.raw_flow_run_count(repo) == 1

    def test_transaction_rolls_back_everything(self, repo: R) -> None:
        """A transaction that raises leaves nothing behind: no queue, no run, no task state."""
        world = seed_world(repo)
        parent = make_run(world.flow.id)
        repo.add_flow_run(parent)
        task = TaskRun(id=uuid.uuid4(), flow_run_id=parent.id)
        repo.add_task_run(task)
        queue = WorkQueue(id=uuid.uuid4(), name="new", work_pool_id=world.pool.id, priority=2)
        msg = "boom"
        with pytest.raises(RuntimeError, match=msg), repo.transaction():
            repo.create_work_queue(queue)
            repo.create_flow_run(make_run(world.flow.id, idempotency_key="k"))
            repo.set_task_run_state(task.id, parent.state)  # type: ignore[arg-type]
            raise RuntimeError(msg)
        assert repo.get_work_queue(queue.id) is None
        assert repo.get_work_queue_by_name(world.pool.id, "new") is None
        assert repo.get_flow_run_by_idempotency_key(world.flow.id, "k") is None
        assert repo.get_task_run(task.id) == task
        assert self.raw_flow_run_count(repo) == 1

    def test_failed_create_inside_transaction_rolls_back_the_queue(self, repo: R) -> None:
        """An integrity error at the insert undoes the queue created before it."""
        world = seed_world(repo)
        queue = WorkQueue(id=uuid.uuid4(), name="new", work_pool_id=world.pool.id, priority=2)
        with pytest.raises(StorageIntegrityError), repo.transaction():
            repo.create_work_queue(queue)
            repo.create_flow_run(make_run(world.flow.id, parent_task_run_id=uuid.uuid4()))
        assert repo.get_work_queue(queue.id) is None
        assert self.raw_flow_run_count(repo) == 0

    def test_nested_transaction_rolls_back_only_itself(self, repo: R) -> None:
        """An inner transaction that raises undoes its own writes; the outer one goes on."""
        world = seed_world(repo)
        outer = make_run(world.flow.id)
        inner = make_run(world.flow.id)
        with repo.transaction():
            repo.create_flow_run(outer)
            with pytest.raises(ValueError, match="inner"), repo.transaction():
                repo.create_flow_run(inner)
                msg = "inner"
                raise ValueError(msg)
        assert repo.get_flow_run(outer.id) == outer
        assert repo.get_flow_run(inner.id) is None

    def test_set_task_run_state(self, repo: R) -> None:
        """A task run's state is replaced; a missing task run is an integrity error."""
        world = seed_world(repo)
        run = make_run(world.flow.id)
        repo.add_flow_run(run)
        task = TaskRun(id=uuid.uuid4(), flow_run_id=run.id)
        repo.add_task_run(task)
        assert run.state is not None
        repo.set_task_run_state(task.id, run.state)
        stored = repo.get_task_run(task.id)
        assert stored is not None
        assert stored.state == run.state
        with pytest.raises(StorageIntegrityError):
            repo.set_task_run_state(uuid.uuid4(), run.state)

    # -- listing ------------------------------------------------------------------------

    def test_list_and_count_flow_runs(self, repo: R) -> None:
        """Runs list in creation order, filter by flow and deployment, and honour limit."""
        world = seed_world(repo)
        a = make_run(world.flow.id, deployment_id=world.deployment.id)
        b = make_run(world.other_flow.id)
        c = make_run(world.flow.id)
        for run in (a, b, c):
            repo.create_flow_run(run)
        assert [r.id for r in repo.list_flow_runs()] == [a.id, b.id, c.id]
        assert [r.id for r in repo.list_flow_runs(flow_id=world.flow.id)] == [a.id, c.id]
        assert [r.id for r in repo.list_flow_runs(deployment_id=world.deployment.id)] == [a.id]
        assert [r.id for r in repo.list_flow_runs(limit=2)] == [a.id, b.id]
        assert repo.count_flow_runs() == 3

    def test_list_limits_at_the_edges(self, repo: R) -> None:
        """A limit of zero or less lists nothing; one past any integer column lists all."""
        world = seed_world(repo)
        made = [make_run(world.flow.id) for _ in range(3)]
        for run in made:
            repo.create_flow_run(run)
        everything = [r.id for r in made]
        for limit, expected in [
            (0, []),
            (-1, []),
            (-(2**70), []),
            (3, everything),
            (2**63 - 1, everything),
            (2**63, everything),
            (10**30, everything),
        ]:
            assert [r.id for r in repo.list_flow_runs(limit=limit)] == expected, limit
        assert [r.id for r in repo.list_flow_runs(flow_id=world.flow.id, limit=2**64)] == everything

    # -- round trips ----------------------------------------------------------------------

    @settings(
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
        max_examples=25,
        deadline=None,
    )
    @given(
        parameters=json_objects(),
        context=json_objects(),
        labels=st.dictionaries(hostile_text(), label_values(), max_size=4),
        name=hostile_text(),
        key=st.none() | hostile_text(),
        tags=st.lists(hostile_text(), max_size=4, unique=True),
        variable=json_values(),
        offset=st.integers(min_value=-14 * 60, max_value=14 * 60),
    )
    def test_values_round_trip_exactly(
        self,
        parameters: dict[str, Any],
        context: dict[str, Any],
        labels: dict[str, Any],
        name: str,
        key: str | None,
        tags: list[str],
        variable: Any,
        offset: int,
    ) -> None:
        """JSON values, hostile strings, label types and datetimes round-trip unchanged."""
        with self.make_repository() as repo:
            world = seed_world(repo)
            zone = timezone(timedelta(minutes=offset))
            run = make_run(
                world.flow.id,
                parameters=parameters,
                context=context,
                labels=labels,
                name=name,
                idempotency_key=key,
                tags=tuple(tags),
                created=datetime(2031, 5, 6, 7, 8, 9, 101, tzinfo=zone),
            )
            repo.create_flow_run(run)
            assert repo.get_flow_run(run.id) == run
            stored = repo.get_flow_run(run.id)
            assert stored is not None
            assert _json_types(stored.parameters) == _json_types(parameters)
            assert _json_types(stored.labels) == _json_types(labels)
            repo.add_variable(Variable(id=uuid.uuid4(), name=name or "v", value=variable))
            got = repo.get_variable(name or "v")
            assert got is not None
            assert _json_types(got.value) == _json_types(variable)

    # -- shared deployment reads (optional capability: SharedDeploymentReads) ------------

    def test_shared_deployment_equals_the_copy(self, repo: R) -> None:
        """A shared read returns what ``get_deployment`` returns, and ``None`` for a miss."""
        shared = require_shared_reads(repo)
        world = seed_world(repo)
        assert shared.get_shared_deployment(world.deployment.id) == world.deployment
        assert shared.get_shared_deployment(world.deployment.id) == repo.get_deployment(
            world.deployment.id
        )
        assert shared.get_shared_deployment(uuid.uuid4()) is None

    def test_shared_deployment_follows_transactions(self, repo: R) -> None:
        """A deployment added in a transaction is read inside it, and gone after a rollback."""
        shared = require_shared_reads(repo)
        world = seed_world(repo)
        extra = attrs.evolve(world.deployment, id=uuid.uuid4(), name="extra")
        _check_shared_read_follows_transactions(
            repo, repo.add_deployment, shared.get_shared_deployment, extra
        )

    def test_shared_deployment_is_unchanged_by_copies(self, repo: R) -> None:
        """Mutating a ``get_deployment`` copy never changes what a shared read returns."""
        shared = require_shared_reads(repo)
        world = seed_world(repo)
        shared.get_shared_deployment(world.deployment.id)
        copy = repo.get_deployment(world.deployment.id)
        assert copy is not None
        copy.parameters["x"] = 42
        copy.job_variables["image"] = "w"
        assert shared.get_shared_deployment(world.deployment.id) == world.deployment

    # -- shared flow reads (optional capability: SharedFlowReads) ------------------------

    def test_shared_flow_equals_the_copy(self, repo: R) -> None:
        """A shared read returns what ``get_flow`` returns, and ``None`` for a miss."""
        shared = require_shared_flows(repo)
        world = seed_world(repo)
        assert shared.get_shared_flow(world.flow.id) == world.flow
        assert shared.get_shared_flow(world.flow.id) == repo.get_flow(world.flow.id)
        assert shared.get_shared_flow(uuid.uuid4()) is None

    def test_shared_flow_follows_transactions(self, repo: R) -> None:
        """A flow added in a transaction is read inside it, and gone after a rollback."""
        shared = require_shared_flows(repo)
        extra = Flow(id=uuid.uuid4(), name="extra", tags=("t",), labels={"k": "v"})
        _check_shared_read_follows_transactions(repo, repo.add_flow, shared.get_shared_flow, extra)

    def test_shared_flow_is_unchanged_by_copies(self, repo: R) -> None:
        """Mutating a ``get_flow`` copy never changes what a shared read returns."""
        shared = require_shared_flows(repo)
        extra = Flow(id=uuid.uuid4(), name="extra", tags=("t",), labels={"k": "v"})
        repo.add_flow(extra)
        shared.get_shared_flow(extra.id)
        copy = repo.get_flow(extra.id)
        assert copy is not None
        copy.labels["k"] = "changed"
        assert shared.get_shared_flow(extra.id) == extra

    # -- deployment updates (optional capability: DeploymentUpdates) ---------------------

    def test_a_deployment_is_replaced_in_place(self, repo: R) -> None:
        """``replace_deployment`` stores every field anew under the same id, shared reads too."""
        updates = require_deployment_updates(repo)
        world = seed_world(repo)
        changed = attrs.evolve(
            world.deployment,
            version="2.0",
            description="now described",
            parameters={"y": [1, {"z": None}]},
            tags=("c",),
            labels={"prefect.flow.id": str(world.flow.id)},
            parameter_openapi_schema=None,
            enforce_parameter_schema=False,
            work_queue_name=None,
            work_queue_id=None,
            work_pool_name=None,
            infrastructure_document_id=None,
            job_variables={},
            paused=True,
        )
        updates.replace_deployment(changed)
        assert repo.get_deployment(world.deployment.id) == changed
        assert repo.list_deployments(flow_id=world.flow.id) == [changed]
        lender: object = repo
        if isinstance(lender, SharedDeploymentReads):
            assert lender.get_shared_deployment(world.deployment.id) == changed

    def test_a_replaced_deployment_is_restored_by_a_rollback(self, repo: R) -> None:
        """A replacement inside a transaction that fails is undone."""
        updates = require_deployment_updates(repo)
        world = seed_world(repo)
        with pytest.raises(ValueError, match="boom"), repo.transaction():
            updates.replace_deployment(attrs.evolve(world.deployment, version="2.0"))
            msg = "boom"
            raise ValueError(msg)
        assert repo.get_deployment(world.deployment.id) == world.deployment

    def test_replacing_needs_the_deployment_and_its_queue(self, repo: R) -> None:
        """An unknown id, or an unknown work queue, is an integrity error; nothing changes."""
        updates = require_deployment_updates(repo)
        world = seed_world(repo)
        with pytest.raises(StorageIntegrityError):
            updates.replace_deployment(attrs.evolve(world.deployment, id=uuid.uuid4()))
        with pytest.raises(StorageIntegrityError):
            updates.replace_deployment(attrs.evolve(world.deployment, work_queue_id=uuid.uuid4()))
        assert repo.get_deployment(world.deployment.id) == world.deployment

    # -- fingerprints (optional capability: FingerprintStore) ----------------------------

    def test_fingerprint_round_trips_and_is_replaced(self, repo: R) -> None:
        """A run has no fingerprint until one is set; set stores text exactly, or replaces it."""
        store = require_fingerprints(repo)
        world = seed_world(repo)
        run = make_run(world.flow.id, idempotency_key="k")
        repo.create_flow_run(run)
        assert store.get_flow_run_fingerprint(run.id) is None
        assert store.get_flow_run_fingerprint(uuid.uuid4()) is None
        text = '{"name":"x\'; DROP TABLE flow_runs;--","p":"\u00e9\U0001f600\u0000"}'
        store.set_flow_run_fingerprint(run.id, text)
        assert store.get_flow_run_fingerprint(run.id) == text
        store.set_flow_run_fingerprint(run.id, "{}")
        assert store.get_flow_run_fingerprint(run.id) == "{}"

    def test_fingerprint_of_a_missing_run_is_an_integrity_error(self, repo: R) -> None:
        """Setting the fingerprint of a run that does not exist raises, and stores nothing."""
        store = require_fingerprints(repo)
        missing = uuid.uuid4()
        with pytest.raises(StorageIntegrityError):
            store.set_flow_run_fingerprint(missing, "{}")
        assert store.get_flow_run_fingerprint(missing) is None

    def test_fingerprint_rolls_back_with_its_run(self, repo: R) -> None:
        """A fingerprint set inside a transaction that raises is undone with the run."""
        store = require_fingerprints(repo)
        world = seed_world(repo)
        run = make_run(world.flow.id, idempotency_key="k")
        with pytest.raises(ValueError, match="boom"), repo.transaction():
            repo.create_flow_run(run)
            store.set_flow_run_fingerprint(run.id, "{}")
            msg = "boom"
            raise ValueError(msg)
        assert repo.get_flow_run(run.id) is None
        assert store.get_flow_run_fingerprint(run.id) is None

    @settings(
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
        max_examples=25,
        deadline=None,
    )
    @given(text=hostile_text(max_size=200))
    def test_any_fingerprint_text_round_trips(self, text: str) -> None:
        """Any text (SQL metacharacters, NUL, non-BMP characters) reads back unchanged."""
        with self.make_repository() as repo:
            store = require_fingerprints(repo)
            world = seed_world(repo)
            run = make_run(world.flow.id)
            repo.create_flow_run(run)
            store.set_flow_run_fingerprint(run.id, text)
            assert store.get_flow_run_fingerprint(run.id) == text

    # -- concurrency ----------------------------------------------------------------------

    def test_concurrent_creates_with_one_key_have_one_winner(self, repo: R) -> None:
        """Threads racing one new key all get the same run; exactly one ``created=True``."""
        world = seed_world(repo)
        results: list[tuple[uuid.UUID, bool]] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def create() -> None:
            try:
                barrier.wait()
                result = repo.create_flow_run(make_run(world.flow.id, idempotency_key="race"))
                results.append((result.value.id, result.created))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len({run_id for run_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        assert self.raw_flow_run_count(repo) == 1

    def test_concurrent_creates_with_distinct_keys_lose_nothing(self, repo: R) -> None:
        """Threads creating distinct runs all succeed and every run is stored."""
        world = seed_world(repo)
        errors: list[BaseException] = []

        def create(worker: int) -> None:
            try:
                for i in range(10):
                    with repo.transaction():
                        repo.get_deployment(world.deployment.id)
                        repo.create_flow_run(
                            make_run(world.flow.id, idempotency_key=f"{worker}-{i}")
                        )
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert self.raw_flow_run_count(repo) == 40

    # -- errors ---------------------------------------------------------------------------

    def test_closed_repository_raises_storage_errors(self) -> None:
        """After ``close()`` every call raises ``StorageClosed``, a ``StorageError``."""
        with self.make_repository() as repo:
            world = seed_world(repo)
            repo.close()
            with pytest.raises(StorageClosed):
                repo.get_flow(world.flow.id)
            with pytest.raises(StorageError):
                repo.create_flow_run(make_run(world.flow.id))
            with pytest.raises(StorageError), repo.transaction():
                pass


def require_fingerprints(repo: Repository) -> FingerprintStore:
    """``repo`` as a :class:`~flowrun_core.ports.FingerprintStore`, or skip the test."""
    if not isinstance(repo, FingerprintStore):
        pytest.skip(f"{type(repo).__name__} does not store request fingerprints")
    return repo


def require_creation_lookups(repo: Repository) -> CreationLookups:
    """``repo`` as a :class:`~flowrun_core.ports.CreationLookups`, or skip the test."""
    if not isinstance(repo, CreationLookups):
        pytest.skip(f"{type(repo).__name__} does not offer the creation lookups")
    return repo


def require_deployment_updates(repo: Repository) -> DeploymentUpdates:
    """``repo`` as a :class:`~flowrun_core.ports.DeploymentUpdates`, or skip the test."""
    if not isinstance(repo, DeploymentUpdates):
        pytest.skip(f"{type(repo).__name__} does not update deployments in place")
    return repo


def require_shared_reads(repo: Repository) -> SharedDeploymentReads:
    """``repo`` as a :class:`~flowrun_core.ports.SharedDeploymentReads`, or skip the test."""
    if not isinstance(repo, SharedDeploymentReads):
        pytest.skip(f"{type(repo).__name__} does not lend shared deployments")
    return repo


_Entity = TypeVar("_Entity", Deployment, Flow)


def _check_shared_read_follows_transactions(
    repo: Repository,
    add: Callable[[_Entity], None],
    read: Callable[[uuid.UUID], _Entity | None],
    value: _Entity,
) -> None:
    """``value`` added in a transaction is read inside it, gone after a rollback, then back."""
    with pytest.raises(ValueError, match="boom"), repo.transaction():
        add(value)
        assert read(value.id) == value
        msg = "boom"
        raise ValueError(msg)
    assert read(value.id) is None
    add(value)
    assert read(value.id) == value


def require_shared_flows(repo: Repository) -> SharedFlowReads:
    """``repo`` as a :class:`~flowrun_core.ports.SharedFlowReads`, or skip the test."""
    if not isinstance(repo, SharedFlowReads):
        pytest.skip(f"{type(repo).__name__} does not lend shared flows")
    return repo


def _json_types(value: Any) -> Any:
    """The value with every scalar paired with its type, so 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {k: _json_types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_types(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN equals nothing, itself included
        return ("nan", float)
    return (value, type(value))
