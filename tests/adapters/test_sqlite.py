"""The SQLite storage adapter: the port's contract, migrations, faults and round-trips.

Multi-process races and SIGKILL durability live in ``test_sqlite_processes.py``.
"""

from __future__ import annotations

import copy
import math
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from flowrun_adapters._timeouts import MAX_TIMEOUT
from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SCHEMA_VERSION, SQLiteRepository, rows
from flowrun_adapters.sqlite._translate import is_busy, translate_error
from flowrun_adapters.sqlite.migrations import MIGRATIONS
from flowrun_adapters.sqlite.repository import _SELECT_RUN_BY_KEY as SELECT_RUN_BY_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from sqlite_utils import Database

from flowrun_core.errors import (
    StorageClosed,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIntegrityError,
    StorageLocked,
    StorageOperationalError,
    StorageReadOnly,
    StorageSchemaError,
    StorageValueError,
)
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
from flowrun_core.testing import RepositoryContract
from flowrun_core.testing.stateful import DifferentialMachine, RepositoryMachine

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
HOSTILE = [
    "",
    "'; DROP TABLE flow_runs; --",
    'a"b`c[d]e',
    "nul\x00byte",
    "emoji \U0001f600 and \U0001f9ea",
    "line\nbreak\ttab\r",
    "\\u0000 not an escape",
    "%s ? :name $1",
]

# -- builders -----------------------------------------------------------------------------


def new_flow(repo: SQLiteRepository, name: str = "flow") -> Flow:
    flow = Flow(id=uuid.uuid4(), name=name, tags=("a", "b"), labels={"team": "x", "n": 1})
    repo.add_flow(flow)
    return flow


def new_pool(repo: SQLiteRepository, name: str = "pool") -> WorkPool:
    pool = WorkPool(
        id=uuid.uuid4(),
        name=name,
        base_job_template={"variables": {"type": "object", "properties": {}}},
    )
    repo.add_work_pool(pool)
    return pool


def make_queue(pool: WorkPool, name: str = "default", priority: int = 1) -> WorkQueue:
    return WorkQueue(id=uuid.uuid4(), name=name, work_pool_id=pool.id, priority=priority)


def make_state(**details: Any) -> State:
    return State(
        id=uuid.uuid4(),
        type=StateType.SCHEDULED,
        name="Scheduled",
        timestamp=NOW,
        message="hello",
        data={"k": [1, 2.5, None]},
        state_details=StateDetails(scheduled_time=NOW, **details),
    )


def make_run(flow: Flow, key: str | None = None, **fields: Any) -> FlowRun:
    defaults: dict[str, Any] = {"created": NOW, "updated": NOW, "name": "brave-otter"}
    return FlowRun(id=uuid.uuid4(), flow_id=flow.id, idempotency_key=key, **(defaults | fields))


def full_run(repo: SQLiteRepository, flow: Flow, key: str | None = "full") -> FlowRun:
    """A run with every field set to a non-default value, and every reference valid."""
    pool = new_pool(repo, f"pool-{uuid.uuid4()}")
    queue = repo.create_work_queue(make_queue(pool))
    document = InfrastructureDocument(id=uuid.uuid4(), name="doc", data={"image": "x"})
    repo.add_infrastructure_document(document)
    parent = repo.create_flow_run(make_run(flow)).value
    task_run = TaskRun(id=uuid.uuid4(), flow_run_id=parent.id, name="t", task_key="k")
    repo.add_task_run(task_run)
    state = make_state(
        flow_run_id=uuid.uuid4(),
        cache_expiration=NOW + timedelta(days=1),
        run_input_keyset={"a": "b"},
        deferred=None,
        retriable=True,
    )
    return FlowRun(
        id=uuid.uuid4(),
        created=NOW,
        updated=NOW + timedelta(microseconds=1),
        name="bold-fox",
        flow_id=flow.id,
        state_id=state.id,
        deployment_id=uuid.uuid4(),
        deployment_version="1.0",
        work_queue_id=queue.id,
        work_queue_name=queue.name,
        flow_version="abc",
        parameters={"z": 1, "a": 1.0, "nested": {"list": [True, None, "s"]}},
        idempotency_key=key,
        context={"ctx": {"deep": [1, [2, [3]]]}},
        empirical_policy=FlowRunPolicy(
            max_retries=3,
            retry_delay_seconds=2.5,
            retries=3,
            retry_delay=2,
            pause_keys=frozenset({"b", "a", "c"}),
            resuming=None,
            retry_type="reschedule",
        ),
        tags=("t2", "t1"),
        labels={"bool": True, "int": 1, "float": 1.5, "str": "s", "one": 1.0},
        parent_task_run_id=task_run.id,
        state_type=StateType.SCHEDULED,
        state_name="Scheduled",
        run_count=2,
        expected_start_time=NOW,
        next_scheduled_start_time=NOW.astimezone(timezone(timedelta(hours=5, minutes=30))),
        start_time=datetime(2026, 1, 2, 3, 4, 5),  # noqa: DTZ001 - naive stays naive
        end_time=None,
        total_run_time=12.25,
        auto_scheduled=True,
        infrastructure_document_id=document.id,
        infrastructure_pid="pid-1",
        created_by=CreatedBy(id=uuid.uuid4(), type="AUTOMATION", display_value="auto"),
        work_pool_id=pool.id,
        work_pool_name=pool.name,
        state=state,
        job_variables=None,
    )


def strictly_equal(a: object, b: object) -> bool:
    """Equal with the same types at every depth and the same key order (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        assert isinstance(b, list | tuple)
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if attrs.has(type(a)):
        return all(
            strictly_equal(getattr(a, f.name), getattr(b, f.name))
            for f in attrs.fields(type(a))  # type: ignore[misc]
        )
    return a == b


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(params=["memory", "file"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteRepository]:
    path = ":memory:" if request.param == "memory" else tmp_path / "flowrun.db"
    with SQLiteRepository(path) as opened:
        yield opened


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "flowrun.db"


# -- the shared storage contract, the model and the differential machine ---------------


@contextmanager
def file_repository() -> Iterator[SQLiteRepository]:
    with tempfile.TemporaryDirectory() as tmp, SQLiteRepository(Path(tmp, "flowrun.db")) as repo:
        yield repo


@contextmanager
def memory_repository() -> Iterator[SQLiteRepository]:
    with SQLiteRepository() as repo:
        yield repo


class TestSQLiteFileRepository(RepositoryContract[SQLiteRepository]):
    def make_repository(self) -> Any:
        return file_repository()

    def raw_flow_run_count(self, repo: SQLiteRepository) -> int:
        return repo.raw_flow_run_count()


class TestSQLiteMemoryRepository(RepositoryContract[SQLiteRepository]):
    def make_repository(self) -> Any:
        return memory_repository()

    def raw_flow_run_count(self, repo: SQLiteRepository) -> int:
        return repo.raw_flow_run_count()


def test_sqlite_adapter_matches_the_model() -> None:
    # The differential test below covers the same steps with a larger budget.
    run_state_machine_as_test(
        lambda: RepositoryMachine(SQLiteRepository),
        settings=settings(max_examples=25, deadline=None),
    )


@pytest.mark.slow
def test_sqlite_adapter_agrees_with_memory() -> None:
    # In-memory SQLite runs the same SQL as a file; files cost ~50 ms per example to create.
    run_state_machine_as_test(lambda: DifferentialMachine(InMemoryRepository, SQLiteRepository))


# -- reads: missing is None, values round-trip --------------------------------------------


def test_missing_is_none(repo: SQLiteRepository) -> None:
    missing = uuid.uuid4()
    assert repo.get_flow(missing) is None
    assert repo.get_deployment(missing) is None
    assert repo.get_work_pool(missing) is None
    assert repo.get_work_pool_by_name("nope") is None
    assert repo.get_work_queue(missing) is None
    assert repo.get_work_queue_by_name(missing, "default") is None
    assert repo.list_work_queues(missing) == []
    assert repo.get_variable("nope") is None
    assert repo.get_task_run(missing) is None
    assert repo.get_infrastructure_document(missing) is None
    assert repo.get_flow_run(missing) is None
    assert repo.get_flow_run_by_idempotency_key(missing, "k") is None
    assert repo.list_flow_runs() == []
    assert repo.count_flow_runs() == 0


def test_every_entity_round_trips(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    assert strictly_equal(repo.get_flow(flow.id), flow)
    pool = new_pool(repo)
    assert strictly_equal(repo.get_work_pool(pool.id), pool)
    assert strictly_equal(repo.get_work_pool_by_name("pool"), pool)
    assert repo.get_work_pool_by_name("POOL") is None  # case-sensitive
    queue = make_queue(pool, "q", priority=7)
    assert strictly_equal(repo.create_work_queue(queue), queue)
    assert strictly_equal(repo.get_work_queue(queue.id), queue)
    assert strictly_equal(repo.get_work_queue_by_name(pool.id, "q"), queue)
    for schema in (None, {}, {"type": "object"}):
        deployment = Deployment(
            id=uuid.uuid4(),
            flow_id=flow.id,
            name="dep",
            version="v",
            description="d",
            parameters={"p": 1.0},
            tags=("x",),
            labels={"prefect.flow.id": str(flow.id), "b": False},
            parameter_openapi_schema=schema,
            enforce_parameter_schema=False,
            work_queue_name="q",
            work_queue_id=queue.id,
            work_pool_name="pool",
            infrastructure_document_id=uuid.uuid4(),
            job_variables={"env": {"A": "1"}},
            paused=True,
        )
        repo.add_deployment(deployment)
        assert strictly_equal(repo.get_deployment(deployment.id), deployment)
    for name, value in (("none", None), ("num", 1.0), ("obj", {"b": 1, "a": [True]})):
        variable = Variable(id=uuid.uuid4(), name=name, value=value, tags=("t",))
        repo.add_variable(variable)
        assert strictly_equal(repo.get_variable(name), variable)
    document = InfrastructureDocument(id=uuid.uuid4(), name="d", data={"x": {"y": 1}})
    repo.add_infrastructure_document(document)
    assert strictly_equal(repo.get_infrastructure_document(document.id), document)
    orphan = TaskRun(id=uuid.uuid4(), flow_run_id=None, state=make_state())
    repo.add_task_run(orphan)
    assert strictly_equal(repo.get_task_run(orphan.id), orphan)


def test_full_flow_run_round_trips(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    run = full_run(repo, flow)
    created = repo.create_flow_run(run)
    assert created.created is True
    assert strictly_equal(created.value, run)
    stored = repo.get_flow_run(run.id)
    assert strictly_equal(stored, run)
    assert strictly_equal(repo.get_flow_run_by_idempotency_key(flow.id, "full"), run)
    hit = repo.create_flow_run(attrs.evolve(run, id=uuid.uuid4(), name="other"))
    assert hit.created is False
    assert strictly_equal(hit.value, run)
    assert stored is not None
    assert stored.empirical_policy.pause_keys == frozenset({"a", "b", "c"})
    assert stored.start_time is not None
    assert stored.start_time.tzinfo is None


def test_defaults_round_trip(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    run = make_run(flow, empirical_policy=FlowRunPolicy(pause_keys=None))
    repo.create_flow_run(run)
    assert strictly_equal(repo.get_flow_run(run.id), run)


# -- copies, never aliases ----------------------------------------------------------------


def test_values_handed_out_are_copies(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    run = make_run(flow, "k", parameters={"a": [1]}, labels={"x": 1}, state=make_state())
    expected_state = copy.deepcopy(run.state)
    # A create may hand back the caller's own value: the store keeps a row, not the object.
    created = repo.create_flow_run(run).value
    created.parameters["a"].append(2)
    created.labels["y"] = 2
    assert created.state is not None
    assert isinstance(created.state.data, dict)
    created.state.data["k"] = "changed"
    first = repo.get_flow_run(run.id)
    assert first is not None
    first.parameters["new"] = 1
    again = repo.get_flow_run(run.id)
    assert again is not None
    assert again.parameters == {"a": [1]}
    assert again.labels == {"x": 1}
    assert again.state == expected_state


def test_values_passed_in_are_copied(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    parameters: dict[str, Any] = {"a": [1]}
    run = make_run(flow, parameters=parameters)
    repo.create_flow_run(run)
    parameters["a"].append(2)
    parameters["b"] = 3
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    assert stored.parameters == {"a": [1]}


# -- create_flow_run: idempotency ---------------------------------------------------------


def test_same_key_same_flow_returns_existing(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    first = repo.create_flow_run(make_run(flow, "k"))
    second = repo.create_flow_run(make_run(flow, "k", name="different"))
    assert (first.created, second.created) == (True, False)
    assert second.value == first.value
    assert repo.raw_flow_run_count() == 1


def test_same_key_other_flow_creates(repo: SQLiteRepository) -> None:
    flow_a, flow_b = new_flow(repo, "a"), new_flow(repo, "b")
    first = repo.create_flow_run(make_run(flow_a, "k"))
    second = repo.create_flow_run(make_run(flow_b, "k"))
    assert first.created
    assert second.created
    assert first.value.id != second.value.id
    assert repo.count_flow_runs() == 2


def test_none_key_never_deduplicates(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    results = [repo.create_flow_run(make_run(flow, None)) for _ in range(3)]
    assert all(r.created for r in results)
    assert repo.raw_flow_run_count() == 3


def test_empty_key_twice_violates_the_unique_index(repo: SQLiteRepository) -> None:
    flow, other = new_flow(repo), new_flow(repo, "other")
    first = repo.create_flow_run(make_run(flow, ""))
    assert first.created
    assert first.value.idempotency_key == ""
    with pytest.raises(StorageIntegrityError, match="UNIQUE"):
        repo.create_flow_run(make_run(flow, ""))
    assert repo.create_flow_run(make_run(other, "")).created
    assert repo.raw_flow_run_count() == 2
    found = repo.get_flow_run_by_idempotency_key(flow.id, "")
    assert found is not None
    assert found.id == first.value.id


def test_add_flow_run_rejects_taken_id_and_key(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    run = make_run(flow, "k")
    repo.add_flow_run(run)
    with pytest.raises(StorageIntegrityError):
        repo.add_flow_run(attrs.evolve(run, idempotency_key="other"))
    with pytest.raises(StorageIntegrityError):
        repo.add_flow_run(make_run(flow, "k"))
    with pytest.raises(StorageIntegrityError):  # create_flow_run: the id is taken
        repo.create_flow_run(attrs.evolve(run, idempotency_key=None))
    assert repo.raw_flow_run_count() == 1


@pytest.mark.parametrize(
    "field", ["flow_id", "work_queue_id", "infrastructure_document_id", "parent_task_run_id"]
)
@pytest.mark.parametrize("key", [None, "", "k"])
def test_missing_reference_is_an_integrity_error(
    repo: SQLiteRepository, field: str, key: str | None
) -> None:
    flow = new_flow(repo)
    run = attrs.evolve(make_run(flow, key), **{field: uuid.uuid4()})
    with pytest.raises(StorageIntegrityError, match="FOREIGN KEY"):
        repo.create_flow_run(run)
    with pytest.raises(StorageIntegrityError):
        repo.add_flow_run(run)
    assert repo.raw_flow_run_count() == 0


def test_seeding_constraints(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    with pytest.raises(StorageIntegrityError):
        repo.add_flow(Flow(id=flow.id, name="again"))
    with pytest.raises(StorageIntegrityError):
        repo.add_deployment(Deployment(id=uuid.uuid4(), flow_id=uuid.uuid4(), name="d"))
    with pytest.raises(StorageIntegrityError):
        repo.add_deployment(
            Deployment(id=uuid.uuid4(), flow_id=flow.id, name="d", work_queue_id=uuid.uuid4())
        )
    pool = new_pool(repo)
    with pytest.raises(StorageIntegrityError):
        repo.add_work_pool(WorkPool(id=uuid.uuid4(), name="pool"))
    with pytest.raises(StorageIntegrityError):
        repo.add_work_pool(WorkPool(id=pool.id, name="another"))
    repo.add_variable(Variable(id=uuid.uuid4(), name="v"))
    with pytest.raises(StorageIntegrityError):
        repo.add_variable(Variable(id=uuid.uuid4(), name="v"))
    with pytest.raises(StorageIntegrityError):
        repo.add_task_run(TaskRun(id=uuid.uuid4(), flow_run_id=uuid.uuid4()))
    document = InfrastructureDocument(id=uuid.uuid4())
    repo.add_infrastructure_document(document)
    with pytest.raises(StorageIntegrityError):
        repo.add_infrastructure_document(document)


def test_work_queues(repo: SQLiteRepository) -> None:
    pool, other = new_pool(repo, "p1"), new_pool(repo, "p2")
    names = ["zeta", "alpha", "mid"]
    queues = [repo.create_work_queue(make_queue(pool, name)) for name in names]
    with pytest.raises(StorageIntegrityError):
        repo.create_work_queue(make_queue(pool, "alpha"))
    with pytest.raises(StorageIntegrityError):
        repo.create_work_queue(attrs.evolve(queues[0], name="fresh"))  # id taken
    with pytest.raises(StorageIntegrityError):  # the pool must exist
        repo.create_work_queue(
            WorkQueue(id=uuid.uuid4(), name="x", work_pool_id=uuid.uuid4(), priority=1)
        )
    in_other = repo.create_work_queue(make_queue(other, "alpha"))
    assert [q.name for q in repo.list_work_queues(pool.id)] == names
    assert repo.list_work_queues(other.id) == [in_other]
    assert repo.get_work_queue_by_name(other.id, "alpha") == in_other
    assert repo.get_work_queue_by_name(other.id, "zeta") is None


def test_set_task_run_state(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    run = repo.create_flow_run(make_run(flow)).value
    task_run = TaskRun(id=uuid.uuid4(), flow_run_id=run.id)
    repo.add_task_run(task_run)
    state = make_state(task_run_id=task_run.id)
    repo.set_task_run_state(task_run.id, state)
    assert repo.get_task_run(task_run.id) == attrs.evolve(task_run, state=state)
    with pytest.raises(StorageIntegrityError):
        repo.set_task_run_state(uuid.uuid4(), state)


def test_list_flow_runs_filters_order_and_limit(repo: SQLiteRepository) -> None:
    flow_a, flow_b = new_flow(repo, "a"), new_flow(repo, "b")
    dep = uuid.uuid4()
    runs = [
        repo.create_flow_run(make_run(flow, deployment_id=d)).value
        for flow, d in [(flow_b, dep), (flow_a, None), (flow_a, dep), (flow_b, None)]
    ]
    assert repo.list_flow_runs() == runs
    assert repo.list_flow_runs(flow_id=flow_a.id) == [runs[1], runs[2]]
    assert repo.list_flow_runs(deployment_id=dep) == [runs[0], runs[2]]
    assert repo.list_flow_runs(flow_id=flow_b.id, deployment_id=dep) == [runs[0]]
    assert repo.list_flow_runs(limit=2) == runs[:2]
    assert repo.list_flow_runs(flow_id=flow_a.id, limit=1) == [runs[1]]
    assert repo.list_flow_runs(limit=0) == []
    assert repo.count_flow_runs() == 4


# -- transactions -------------------------------------------------------------------------


class Boom(Exception):
    pass


# -- shared reads: lent from the cache only while nothing can have changed ---------------


def _new_deployment(repo: SQLiteRepository, flow: Flow) -> Deployment:
    deployment = Deployment(id=uuid.uuid4(), flow_id=flow.id, name="d", tags=("one",))
    repo.add_deployment(deployment)
    return deployment


@contextmanager
def _statements(repo: SQLiteRepository) -> Iterator[list[str]]:
    """The SQL the repository's own connection runs inside the block (a test backdoor)."""
    seen: list[str] = []
    conn = repo._conn
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def test_an_unchanged_shared_read_runs_no_select(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    deployment = _new_deployment(repo, flow)
    first = repo.get_shared_deployment(deployment.id)
    first_flow = repo.get_shared_flow(flow.id)
    with _statements(repo) as seen:
        assert repo.get_shared_deployment(deployment.id) is first
        assert repo.get_shared_flow(flow.id) is first_flow
        repo.create_flow_run(make_run(flow))  # a run changes neither
        assert repo.get_shared_deployment(deployment.id) is first
    assert not [sql for sql in seen if sql.startswith("SELECT")]


def test_a_shared_read_sees_another_connections_commit(db_path: Path) -> None:
    with SQLiteRepository(db_path) as repo, SQLiteRepository(db_path) as other:
        flow = new_flow(repo)
        deployment = _new_deployment(repo, flow)
        assert repo.get_shared_deployment(deployment.id) == deployment
        changed = attrs.evolve(deployment, tags=("two",))
        other.replace_deployment(changed)
        assert repo.get_shared_deployment(deployment.id) == changed
        missing = uuid.uuid4()
        assert repo.get_shared_flow(missing) is None
        other.add_flow(Flow(id=missing, name="late"))
        assert repo.get_shared_flow(missing) == Flow(id=missing, name="late")
        raw = sqlite3.connect(db_path)
        with raw:
            raw.execute("DELETE FROM deployments WHERE id = ?", (str(deployment.id),))
        raw.close()
        assert repo.get_shared_deployment(deployment.id) is None


def test_a_shared_read_follows_own_writes_and_rollbacks(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    deployment = _new_deployment(repo, flow)
    assert repo.get_shared_deployment(deployment.id) == deployment
    changed = attrs.evolve(deployment, tags=("two",))
    with pytest.raises(Boom), repo.transaction():  # noqa: PT012
        repo.replace_deployment(changed)
        assert repo.get_shared_deployment(deployment.id) == changed
        raise Boom
    assert repo.get_shared_deployment(deployment.id) == deployment
    with repo.transaction():
        with pytest.raises(Boom), repo.transaction():  # noqa: PT012
            repo.replace_deployment(changed)
            assert repo.get_shared_deployment(deployment.id) == changed
            raise Boom
        assert repo.get_shared_deployment(deployment.id) == deployment
    repo.replace_deployment(changed)
    assert repo.get_shared_deployment(deployment.id) == changed


def test_transaction_commits(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    with repo.transaction():
        repo.create_flow_run(make_run(flow, "k"))
        assert repo.count_flow_runs() == 1
    assert repo.raw_flow_run_count() == 1


def test_transaction_that_raises_leaves_nothing(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    pool = new_pool(repo)
    queue = make_queue(pool, "made-in-transaction")
    error = Boom()
    with pytest.raises(Boom) as raised, repo.transaction():  # noqa: PT012
        repo.create_work_queue(queue)
        repo.create_flow_run(make_run(flow, "k", work_queue_id=queue.id))
        repo.add_flow(Flow(id=uuid.uuid4(), name="also"))
        raise error
    assert raised.value is error
    assert repo.get_work_queue(queue.id) is None
    assert repo.list_work_queues(pool.id) == []
    assert repo.raw_flow_run_count() == 0
    assert repo.get_flow_run_by_idempotency_key(flow.id, "k") is None
    # the key is free again
    assert repo.create_flow_run(make_run(flow, "k")).created


def test_nested_transaction_rolls_back_only_itself(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    with repo.transaction():
        outer = repo.create_flow_run(make_run(flow, "outer")).value
        with pytest.raises(Boom), repo.transaction():  # noqa: PT012
            repo.create_flow_run(make_run(flow, "inner"))
            with repo.transaction():  # committed into the inner one, undone with it
                repo.create_flow_run(make_run(flow, "innermost"))
            raise Boom
        with repo.transaction():
            kept = repo.create_flow_run(make_run(flow, "kept")).value
        assert repo.count_flow_runs() == 2
    assert [r.id for r in repo.list_flow_runs()] == [outer.id, kept.id]


def test_integrity_error_inside_transaction_keeps_earlier_writes(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    with repo.transaction():
        repo.create_flow_run(make_run(flow, ""))
        with pytest.raises(StorageIntegrityError):
            repo.create_flow_run(make_run(flow, ""))
    assert repo.raw_flow_run_count() == 1


def test_transaction_holds_the_lock_against_other_threads(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    done = threading.Event()

    def writer() -> None:
        repo.create_flow_run(make_run(flow, "from-thread"))
        done.set()

    with repo.transaction():
        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(timeout=0.3)
        assert not done.is_set()  # it waits for the whole unit of work
        assert repo.count_flow_runs() == 0
    thread.join()
    assert done.is_set()
    assert repo.raw_flow_run_count() == 1


def test_threads_racing_one_key_get_one_run(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    barrier = threading.Barrier(8)
    results: list[tuple[uuid.UUID, bool]] = []

    def work() -> None:
        barrier.wait()
        created = repo.create_flow_run(make_run(flow, "same"))
        results.append((created.value.id, created.created))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({run_id for run_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert repo.raw_flow_run_count() == 1


# -- closed -------------------------------------------------------------------------------

PORT_CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("get_flow", (uuid.uuid4(),)),
    ("get_deployment", (uuid.uuid4(),)),
    ("get_work_pool", (uuid.uuid4(),)),
    ("get_work_pool_by_name", ("p",)),
    ("get_work_queue", (uuid.uuid4(),)),
    ("get_work_queue_by_name", (uuid.uuid4(), "q")),
    ("list_work_queues", (uuid.uuid4(),)),
    ("get_variable", ("v",)),
    ("get_task_run", (uuid.uuid4(),)),
    ("get_infrastructure_document", (uuid.uuid4(),)),
    ("get_flow_run", (uuid.uuid4(),)),
    ("get_flow_run_by_idempotency_key", (uuid.uuid4(), "k")),
    ("list_flow_runs", ()),
    ("count_flow_runs", ()),
    ("raw_flow_run_count", ()),
    ("add_flow", (Flow(id=uuid.uuid4(), name="f"),)),
    ("add_work_pool", (WorkPool(id=uuid.uuid4(), name="p"),)),
    ("add_variable", (Variable(id=uuid.uuid4(), name="v"),)),
    ("add_infrastructure_document", (InfrastructureDocument(id=uuid.uuid4()),)),
    ("add_task_run", (TaskRun(id=uuid.uuid4(), flow_run_id=None),)),
    ("add_deployment", (Deployment(id=uuid.uuid4(), flow_id=uuid.uuid4(), name="d"),)),
    (
        "create_work_queue",
        (WorkQueue(id=uuid.uuid4(), name="q", work_pool_id=uuid.uuid4(), priority=1),),
    ),
    ("set_task_run_state", (uuid.uuid4(), make_state())),
    (
        "create_flow_run",
        (
            FlowRun(
                id=uuid.uuid4(),
                created=NOW,
                updated=NOW,
                name="n",
                flow_id=uuid.uuid4(),
                idempotency_key="k",
            ),
        ),
    ),
    (
        "create_flow_run",
        (FlowRun(id=uuid.uuid4(), created=NOW, updated=NOW, name="n", flow_id=uuid.uuid4()),),
    ),
    (
        "add_flow_run",
        (FlowRun(id=uuid.uuid4(), created=NOW, updated=NOW, name="n", flow_id=uuid.uuid4()),),
    ),
]


def test_every_call_after_close_raises_storage_closed(repo: SQLiteRepository) -> None:
    repo.close()
    repo.close()  # idempotent
    for name, args in PORT_CALLS:
        with pytest.raises(StorageClosed):
            getattr(repo, name)(*args)
    with pytest.raises(StorageClosed), repo.transaction():
        pass


def test_close_inside_a_transaction_writes_nothing(db_path: Path) -> None:
    repo = SQLiteRepository(db_path)
    flow = new_flow(repo)
    with pytest.raises(StorageClosed), repo.transaction():  # noqa: PT012
        repo.create_flow_run(make_run(flow))
        repo.close()
    with SQLiteRepository(db_path) as again:
        assert again.raw_flow_run_count() == 0


# -- connection settings, URLs ------------------------------------------------------------


@pytest.mark.parametrize(("synchronous", "level"), [("NORMAL", 1), ("FULL", 2)])
def test_pragmas(db_path: Path, synchronous: Any, level: int) -> None:
    with SQLiteRepository(db_path, synchronous=synchronous, busy_timeout=2.5) as repo:
        conn = repo._conn
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (level,)
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (2500,)
        assert repo.synchronous == synchronous
        assert repo.busy_timeout == 2.5


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteRepository(synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="busy_timeout"):
        SQLiteRepository(busy_timeout=-1)
    with pytest.raises(ValueError, match="read_only"):
        SQLiteRepository(read_only=True)


@pytest.mark.parametrize("seconds", [math.inf, 1e7, MAX_TIMEOUT + 0.001, math.nan])
def test_a_busy_timeout_sqlite_cannot_keep_is_refused(db_path: Path, seconds: float) -> None:
    """Before, these opened with a busy timeout of 0: a lock failed at once, not after it."""
    with pytest.raises(ValueError, match=r"busy_timeout must be >= 0 and at most 2,147,483\.647"):
        SQLiteRepository(db_path, busy_timeout=seconds)
    with pytest.raises(ValueError, match="busy_timeout"):
        SQLiteRepository.from_url(f"sqlite:///{db_path}?busy_timeout={seconds}")
    assert not db_path.exists()


def test_the_longest_busy_timeout_is_kept_whole(db_path: Path) -> None:
    with SQLiteRepository(db_path, busy_timeout=MAX_TIMEOUT) as repo:
        assert repo._conn.execute("PRAGMA busy_timeout").fetchone() == (2**31 - 1,)
        assert repo.busy_timeout == MAX_TIMEOUT


def test_from_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with SQLiteRepository.from_url("sqlite:///rel.db?synchronous=full&busy_timeout=3") as repo:
        assert repo.path == "rel.db"
        assert repo.synchronous == "FULL"
        assert repo.busy_timeout == 3.0
    assert (tmp_path / "rel.db").exists()
    absolute = tmp_path / "sub dir" / "abs.db"
    absolute.parent.mkdir()
    with SQLiteRepository.from_url(f"sqlite:///{absolute.as_posix()}".replace(" ", "%20")) as repo:
        assert repo.path == str(absolute)
    for url in ("sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite://:memory:"):
        with SQLiteRepository.from_url(url) as repo:
            assert repo.path == ":memory:"
    with SQLiteRepository.from_url("sqlite:///rel.db?read_only=true") as repo:
        assert repo.read_only
    with SQLiteRepository.from_url("sqlite:///rel.db", busy_timeout=1) as repo:
        assert repo.busy_timeout == 1.0
    for bad in (
        "memory:",
        "postgresql://x/y",
        "sqlite:rel.db",
        "sqlite://host/x.db",
        "sqlite:///x.db?bogus=1",
    ):
        with pytest.raises(ValueError):
            SQLiteRepository.from_url(bad)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("read_only=maybe", "URL option read_only must be true or false"),
        ("read_only=", "URL option read_only must be true or false"),
        ("busy_timeout=abc", "URL option busy_timeout must be a number, not 'abc'"),
        ("checkpoint_every=1.5", "URL option checkpoint_every must be an integer, not '1.5'"),
    ],
)
def test_a_bad_url_option_value_is_named_and_nothing_is_opened(
    db_path: Path, query: str, message: str
) -> None:
    """Before, ``read_only=maybe`` opened (and created) the file for writing."""
    with pytest.raises(ValueError, match=re.escape(message)):
        SQLiteRepository.from_url(f"sqlite:///{db_path}?{query}")
    assert not db_path.exists()


@pytest.mark.parametrize(("word", "read_only"), [("TRUE", True), ("on", True), ("0", False)])
def test_read_only_url_words(db_path: Path, word: str, read_only: bool) -> None:
    SQLiteRepository(db_path).close()
    with SQLiteRepository.from_url(f"sqlite:///{db_path}?read_only={word}") as repo:
        assert repo.read_only is read_only


# -- migrations ---------------------------------------------------------------------------


def applied(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'flowrun' ORDER BY id"
            )
        ]


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_fresh_file_gets_the_whole_schema(db_path: Path) -> None:
    SQLiteRepository(db_path).close()
    assert applied(db_path) == [
        "0001_initial",
        "0002_flow_run_filters",
        "0003_flow_run_fingerprints",
        "0004_keyed_runs_index",
    ]
    assert user_version(db_path) == SCHEMA_VERSION == 4
    db = Database(db_path)
    assert {
        "flows",
        "deployments",
        "work_pools",
        "work_queues",
        "variables",
        "task_runs",
        "infrastructure_documents",
        "flow_runs",
    } <= set(db.table_names())
    unique = {tuple(i.columns) for i in db.table("flow_runs").indexes if i.unique}
    assert ("flow_id", "idempotency_key") in unique
    assert ("id",) in unique
    queue_unique = {tuple(i.columns) for i in db.table("work_queues").indexes if i.unique}
    assert ("work_pool_id", "name") in queue_unique
    fks = {(fk.column, fk.other_table) for fk in db.table("flow_runs").foreign_keys}
    assert fks == {
        ("flow_id", "flows"),
        ("work_queue_id", "work_queues"),
        ("infrastructure_document_id", "infrastructure_documents"),
        ("parent_task_run_id", "task_runs"),
    }
    db.close()


def test_reopen_is_idempotent_and_keeps_data(db_path: Path) -> None:
    with SQLiteRepository(db_path) as repo:
        flow = new_flow(repo)
        run = repo.create_flow_run(make_run(flow, "k")).value
    for _ in range(2):
        with SQLiteRepository(db_path) as repo:
            assert repo.get_flow_run(run.id) == run
    assert applied(db_path) == [
        "0001_initial",
        "0002_flow_run_filters",
        "0003_flow_run_fingerprints",
        "0004_keyed_runs_index",
    ]


def test_older_file_is_upgraded_on_open(db_path: Path) -> None:
    # A file written by an older flowrun-core: only the first migration, with data in it.
    db = Database(db_path)
    MIGRATIONS.apply(db, stop_before="0002_flow_run_filters")
    flow_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO flows (id, name, tags, labels) VALUES (?, 'old', '[]', '{}')", [flow_id]
    )
    db.close()
    assert user_version(db_path) == 1
    assert applied(db_path) == ["0001_initial"]
    with SQLiteRepository(db_path) as repo:
        flow = repo.get_flow(uuid.UUID(flow_id))
        assert flow == Flow(id=uuid.UUID(flow_id), name="old")
        assert repo.create_flow_run(make_run(flow, "k")).created
    assert applied(db_path) == [
        "0001_initial",
        "0002_flow_run_filters",
        "0003_flow_run_fingerprints",
        "0004_keyed_runs_index",
    ]
    assert user_version(db_path) == SCHEMA_VERSION
    names = {i.name for i in Database(db_path).table("flow_runs").indexes}
    assert {"ix_flow_runs_deployment", "ix_flow_runs_flow"} <= names


def test_version_3_file_keeps_its_keyed_runs_unique_after_the_upgrade(db_path: Path) -> None:
    # Runs written before 0004 (under the index that held every run), then opened by this
    # version: the keyed ones still replay, "" still conflicts, keyless ones still insert.
    db = Database(db_path)
    MIGRATIONS.apply(db, stop_before="0004_keyed_runs_index")
    flow = Flow(id=uuid.uuid4(), name="old")
    db.execute(
        "INSERT INTO flows (id, name, tags, labels) VALUES (?, 'old', '[]', '{}')", [str(flow.id)]
    )
    old = {key: make_run(flow, key) for key in ("k", "", None)}
    for run in old.values():
        db.execute(rows.insert_sql("flow_runs", rows.FLOW_RUN_COLUMNS), rows.flow_run_to_row(run))
    db.conn.commit()
    db.close()
    assert user_version(db_path) == 3
    with SQLiteRepository(db_path) as repo:
        assert user_version(db_path) == SCHEMA_VERSION
        replay = repo.create_flow_run(make_run(flow, "k"))
        assert not replay.created
        assert replay.value == old["k"]
        with pytest.raises(StorageIntegrityError):
            repo.create_flow_run(make_run(flow, ""))
        assert repo.create_flow_run(make_run(flow, None)).created
        assert repo.get_flow_run_by_idempotency_key(flow.id, "") == old[""]
        assert repo.raw_flow_run_count() == 4


def test_key_lookup_uses_the_keyed_runs_index(db_path: Path) -> None:
    # The partial index serves the adapter's own lookup (else a replay would scan every run).
    SQLiteRepository(db_path).close()
    with sqlite3.connect(db_path) as conn:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {SELECT_RUN_BY_KEY}", ["f", "k"]).fetchall()
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'uq_flow_runs_flow_id_idempotency_key'"
        ).fetchone()
    assert "USING INDEX uq_flow_runs_flow_id_idempotency_key" in " ".join(str(r[-1]) for r in plan)
    assert "WHERE idempotency_key IS NOT NULL" in sql


def test_newer_file_is_refused(db_path: Path) -> None:
    SQLiteRepository(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('flowrun', '0005_from_the_future', '2030-01-01')"
        )
        conn.execute("PRAGMA user_version = 5")
    with pytest.raises(StorageSchemaError, match=r"schema version 5.*newer.*upgrade flowrun-core"):
        SQLiteRepository(db_path)


def test_newer_user_version_alone_is_refused(db_path: Path) -> None:
    SQLiteRepository(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageSchemaError, match="newer"):
        SQLiteRepository(db_path)


def test_foreign_flowrun_tables_are_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE flow_runs (id TEXT)")
    with pytest.raises(StorageSchemaError, match="unknown schema"):
        SQLiteRepository(db_path)


def test_unrelated_tables_are_left_alone(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE other_app (x INTEGER)")
        conn.execute("INSERT INTO other_app VALUES (1)")
    with SQLiteRepository(db_path) as repo:
        new_flow(repo)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT x FROM other_app").fetchall() == [(1,)]


# -- faults -------------------------------------------------------------------------------


def test_lock_held_past_busy_timeout(db_path: Path) -> None:
    repo = SQLiteRepository(db_path, busy_timeout=0.05)
    flow = new_flow(repo)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageLocked, match=r"locked.*busy timeout of 0\.05 s"):
            repo.create_flow_run(make_run(flow, "k"))
        with pytest.raises(StorageLocked):
            repo.create_flow_run(make_run(flow, None))
        with pytest.raises(StorageLocked), repo.transaction():
            repo.create_flow_run(make_run(flow))
        assert repo.count_flow_runs() == 0  # reads still work in WAL
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert repo.raw_flow_run_count() == 0
    assert repo.create_flow_run(make_run(flow, "k")).created  # usable again
    repo.close()


def test_open_waits_for_a_held_lock_up_to_busy_timeout_then_says_locked(db_path: Path) -> None:
    # A fresh file in rollback mode, locked by another connection: the switch to WAL cannot
    # happen, and the open fails after the busy timeout (not at once, not later).
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("CREATE TABLE other_app (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(StorageLocked, match=r"locked.*busy timeout of 0\.3 s"):
            SQLiteRepository(db_path, busy_timeout=0.3)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert 0.25 <= waited < 10
    with SQLiteRepository(db_path, busy_timeout=0.3) as repo:  # free again: opens
        assert repo.raw_flow_run_count() == 0


def test_is_busy_knows_sqlite_locked_errors(db_path: Path) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            other.execute("SELECT * FROM sqlite_master").fetchall()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        other.close()
    assert is_busy(raised.value)
    assert is_busy(sqlite3.OperationalError("database is locked"))  # no code: by its text
    assert not is_busy(sqlite3.OperationalError("no such table: x"))
    assert not is_busy(sqlite3.IntegrityError("UNIQUE constraint failed"))


def test_thread_holding_a_transaction_past_busy_timeout(db_path: Path) -> None:
    repo = SQLiteRepository(db_path, busy_timeout=0.05)
    flow = new_flow(repo)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with repo.transaction():
            entered.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    entered.wait()
    try:
        with pytest.raises(StorageLocked, match="another thread"):
            repo.create_flow_run(make_run(flow))
    finally:
        release.set()
        thread.join()
    assert repo.raw_flow_run_count() == 0
    repo.close()


def test_read_only_open(db_path: Path) -> None:
    with SQLiteRepository(db_path) as repo:
        flow = new_flow(repo)
        run = repo.create_flow_run(make_run(flow, "k")).value
    with SQLiteRepository(db_path, read_only=True) as ro:
        assert ro.get_flow_run(run.id) == run
        with pytest.raises(StorageReadOnly, match="read-only"):
            ro.create_flow_run(make_run(flow, "other"))
        with pytest.raises(StorageReadOnly):
            ro.create_flow_run(make_run(flow))
        with pytest.raises(StorageReadOnly):
            ro.add_flow(Flow(id=uuid.uuid4(), name="f"))
        assert ro.raw_flow_run_count() == 1


def test_read_only_file_needing_an_upgrade(db_path: Path) -> None:
    db = Database(db_path)
    MIGRATIONS.apply(db, stop_before="0002_flow_run_filters")
    db.close()
    with pytest.raises(StorageReadOnly, match="upgrade"):
        SQLiteRepository(db_path, read_only=True)


def make_unwritable(path: Path) -> Callable[[], None] | None:
    """Make ``path`` unwritable even for root (``chattr +i``); return the undo, or None."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        path.chmod(0o444)
        return lambda: path.chmod(0o644)
    chattr = shutil.which("chattr")
    if chattr is None:
        return None
    if subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode:
        return None
    return lambda: subprocess.run([chattr, "-i", str(path)], check=True)


def test_read_only_file(db_path: Path) -> None:
    with SQLiteRepository(db_path) as repo:
        flow = new_flow(repo)
        run = repo.create_flow_run(make_run(flow, "k")).value
    undo = make_unwritable(db_path)
    if undo is None:
        pytest.skip("cannot make a file read-only here")
    try:
        with SQLiteRepository(db_path) as repo:  # SQLite falls back to a read-only open
            assert repo.get_flow_run(run.id) == run
            with pytest.raises(StorageReadOnly, match="read-only"):
                repo.create_flow_run(make_run(flow, "other"))
            with pytest.raises(StorageReadOnly), repo.transaction():
                repo.add_flow(Flow(id=uuid.uuid4(), name="g"))
            assert repo.raw_flow_run_count() == 1
    finally:
        undo()


def test_full_database(db_path: Path) -> None:
    repo = SQLiteRepository(db_path)
    flow = new_flow(repo)
    kept = repo.create_flow_run(make_run(flow, "kept")).value
    pages = repo._conn.execute("PRAGMA page_count").fetchone()[0]
    repo._conn.execute(f"PRAGMA max_page_count = {pages}")
    big = {"blob": "x" * 200_000}
    with pytest.raises(StorageFull, match="full"):
        repo.create_flow_run(make_run(flow, "big", parameters=big))
    with pytest.raises(StorageFull):
        repo.create_flow_run(make_run(flow, None, parameters=big))
    with pytest.raises(StorageFull), repo.transaction():  # noqa: PT012
        repo.add_flow(Flow(id=uuid.uuid4(), name="small"))
        repo.create_flow_run(make_run(flow, "big", parameters=big))
    assert repo.list_flow_runs() == [kept]
    assert len([f for f in [repo.get_flow(flow.id)] if f]) == 1
    assert repo._conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    repo._conn.execute("PRAGMA max_page_count = 1000000")
    assert repo.create_flow_run(make_run(flow, "big", parameters=big)).created
    repo.close()
    with SQLiteRepository(db_path) as again:
        assert again.raw_flow_run_count() == 2
        assert again._conn.execute("SELECT count(*) FROM flows").fetchone() == (1,)


def test_not_a_database(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite file " * 200)
    with pytest.raises(StorageCorrupt, match="not a valid database"):
        SQLiteRepository(db_path)


def test_damaged_database(db_path: Path) -> None:
    with SQLiteRepository(db_path) as repo:
        flow = new_flow(repo)
        for i in range(200):
            repo.create_flow_run(make_run(flow, f"k{i}", parameters={"pad": "x" * 500}))
    data = bytearray(db_path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    for offset in range(2 * page, len(data), page):  # scribble over every page but the first
        data[offset : offset + 64] = b"\xa5" * 64
    db_path.write_bytes(bytes(data))
    # on open, or at the latest on the first full read
    with pytest.raises(StorageCorrupt), SQLiteRepository(db_path) as repo:
        repo.list_flow_runs()


def test_unstorable_values_are_storage_errors(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    with pytest.raises(StorageError):
        repo.create_flow_run(make_run(flow, "k", run_count=2**70))
    with pytest.raises(StorageError):
        repo.create_flow_run(make_run(flow, "lone \ud800 surrogate"))
    assert repo.raw_flow_run_count() == 0
    # inside JSON columns, lone surrogates are escaped and survive
    run = make_run(flow, "k", parameters={"s": "\udcff"})
    repo.create_flow_run(run)
    assert repo.get_flow_run(run.id) == run


def _error(cls: type[sqlite3.Error], message: str, code: int | None) -> sqlite3.Error:
    exc = cls(message)
    if code is not None:
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_error(sqlite3.OperationalError, "database is locked", 5), StorageLocked),
        (_error(sqlite3.OperationalError, "database table is locked", 6), StorageLocked),
        (_error(sqlite3.OperationalError, "database is locked", 5 | (3 << 8)), StorageLocked),
        (
            _error(sqlite3.OperationalError, "attempt to write a readonly database", 8),
            StorageReadOnly,
        ),
        (_error(sqlite3.OperationalError, "database or disk is full", 13), StorageFull),
        (_error(sqlite3.DatabaseError, "database disk image is malformed", 11), StorageCorrupt),
        (_error(sqlite3.DatabaseError, "file is not a database", 26), StorageCorrupt),
        (
            _error(sqlite3.IntegrityError, "UNIQUE constraint failed: x", 2067),
            StorageIntegrityError,
        ),
        (_error(sqlite3.IntegrityError, "no code", None), StorageIntegrityError),
        (_error(sqlite3.OperationalError, "database is locked", None), StorageLocked),
        (
            _error(sqlite3.OperationalError, "unable to open database file", 14),
            StorageOperationalError,
        ),
        (
            _error(sqlite3.ProgrammingError, "Cannot operate on a closed database.", None),
            StorageClosed,
        ),
        (_error(sqlite3.InterfaceError, "bad parameter", None), StorageError),
        (OverflowError("Python int too large"), StorageValueError),
        (UnicodeEncodeError("utf-8", "\udfff", 0, 1, "surrogates not allowed"), StorageValueError),
    ],
)
def test_translate_error_table(exc: BaseException, expected: type[StorageError]) -> None:
    translated = translate_error(exc, "x.db", 1.0)
    assert type(translated) is expected
    if expected is not StorageClosed:
        assert str(exc) in str(translated)


# -- round-trips (hypothesis) -------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text()


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)


json_values = st.recursive(
    json_scalars,
    _containers,
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=5)
label_values = st.booleans() | st.integers() | st.floats() | st.text()
texts = st.text() | st.sampled_from(HOSTILE)
# Fixed offsets only: the service and the wire hand adapters fixed-offset (mostly UTC)
# datetimes; a named zone's rules (DST gaps and folds) are not part of the stored value.
datetimes = st.datetimes(timezones=st.none() | st.just(UTC)) | st.datetimes(
    timezones=st.builds(
        timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.fixed_dictionaries(
        {
            "parameters": json_objects,
            "context": json_objects,
            "labels": st.dictionaries(texts, label_values, max_size=5),
            "job_variables": st.none() | json_objects,
            "name": texts,
            "tags": st.lists(texts, max_size=4).map(tuple),
            "created": datetimes,
            "total_run_time": st.floats(),
        }
    ),
    key=st.none() | texts,
    data=json_values,
    pause_keys=st.none() | st.frozensets(texts, max_size=4),
)
def test_flow_run_fields_round_trip_exactly(
    fields: dict[str, Any], key: str | None, data: Any, pause_keys: frozenset[str] | None
) -> None:
    with SQLiteRepository() as repo:
        flow = Flow(
            id=uuid.uuid4(), name=fields["name"], tags=fields["tags"], labels=fields["labels"]
        )
        repo.add_flow(flow)
        state = attrs.evolve(
            make_state(), data=data, timestamp=fields["created"], name=fields["name"]
        )
        run = make_run(
            flow,
            key,
            empirical_policy=FlowRunPolicy(pause_keys=pause_keys),
            state=state,
            **fields,
        )
        result = repo.create_flow_run(run)
        assert strictly_equal(result.value, run)
        assert strictly_equal(repo.get_flow_run(run.id), run)
        assert strictly_equal(repo.get_flow(flow.id), flow)
        if key is not None:
            assert strictly_equal(repo.get_flow_run_by_idempotency_key(flow.id, key), run)
        if key:
            again = repo.create_flow_run(attrs.evolve(run, id=uuid.uuid4()))
            assert again.created is False
            assert strictly_equal(again.value, run)


@settings(max_examples=40, deadline=None)
@given(name=texts, value=json_values, data=json_objects)
def test_named_entities_round_trip_exactly(name: str, value: Any, data: dict[str, Any]) -> None:
    with SQLiteRepository() as repo:
        variable = Variable(id=uuid.uuid4(), name=name, value=value)
        repo.add_variable(variable)
        assert strictly_equal(repo.get_variable(name), variable)
        pool = WorkPool(id=uuid.uuid4(), name=name, base_job_template=data)
        repo.add_work_pool(pool)
        assert strictly_equal(repo.get_work_pool_by_name(name), pool)
        queue = repo.create_work_queue(make_queue(pool, name))
        assert strictly_equal(repo.get_work_queue_by_name(pool.id, name), queue)
        document = InfrastructureDocument(id=uuid.uuid4(), name=name, data=data)
        repo.add_infrastructure_document(document)
        assert strictly_equal(repo.get_infrastructure_document(document.id), document)


def test_one_megabyte_strings_round_trip(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    huge = ("\U0001f600\x00'\"; --" * 150_000)[:1_048_576]
    run = make_run(flow, huge, name=huge, parameters={huge[:1000]: huge})
    assert repo.create_flow_run(run).created
    assert strictly_equal(repo.get_flow_run(run.id), run)
    assert repo.create_flow_run(make_run(flow, huge)).value.id == run.id


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(0),
        timedelta(hours=5, minutes=30),
        -timedelta(hours=23, minutes=59),
        timedelta(seconds=1),
        timedelta(microseconds=1),  # Python 3.11's fromisoformat drops this one
        -timedelta(hours=3, seconds=7, microseconds=250),
    ],
)
def test_datetimes_keep_microseconds_and_offset(repo: SQLiteRepository, offset: timedelta) -> None:
    flow = new_flow(repo)
    moment = datetime(2026, 5, 6, 7, 8, 9, 101112, tzinfo=timezone(offset))
    state = attrs.evolve(make_state(), timestamp=moment)
    run = make_run(flow, created=moment, start_time=moment.replace(microsecond=0), state=state)
    repo.create_flow_run(run)
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    for got, want in [(stored.created, moment), (stored.start_time, run.start_time)]:
        assert got == want
        assert got is not None
        assert got.utcoffset() == offset
    assert stored.state is not None
    assert stored.state.timestamp.utcoffset() == offset


def test_special_floats_round_trip(repo: SQLiteRepository) -> None:
    flow = new_flow(repo)
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
    run = make_run(
        flow, parameters={"v": values}, labels={"nan": math.nan}, total_run_time=math.nan
    )
    repo.create_flow_run(run)
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    assert strictly_equal(stored.parameters, run.parameters)
    assert math.isnan(stored.total_run_time)
    assert math.copysign(1.0, stored.parameters["v"][3]) == -1.0  # type: ignore[index]
