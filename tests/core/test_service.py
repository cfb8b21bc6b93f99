"""The service edge to edge on the in-memory adapter: one test per rule, in Prefect's order."""

from __future__ import annotations

import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from flowrun_adapters.memory import InMemoryRepository
from hypothesis import given, settings
from hypothesis import strategies as st

from flowrun_core import (
    CircularSchemaRef,
    CreatedBy,
    DeploymentFlowRunCreate,
    DeploymentNotFound,
    FlowRunPolicy,
    FlowRunService,
    HydrationFailed,
    InvalidRetryDelay,
    JobVariablesInvalid,
    MissingParameterSchema,
    ParameterValidationFailed,
    ScheduledTimeOutOfRange,
    Seeder,
    StateCreate,
    StateDetails,
    StateType,
    StorageIntegrityError,
    WorkQueueWithoutPool,
)
from flowrun_core.testing.strategies import json_objects

POOL_TEMPLATE = {
    "job_configuration": {"image": "{{ image }}"},
    "variables": {
        "type": "object",
        "properties": {
            "image": {"type": "string"},
            "cpu": {"type": "integer", "default": 1},
        },
        "required": ["image"],
    },
}


class Ticks:
    """A deterministic clock: one microsecond later at every call."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def make_ids(seed: int = 0):
    counter = itertools.count(seed)
    return lambda: uuid.UUID(int=next(counter))


def make_names():
    counter = itertools.count()
    return lambda: f"run-{next(counter)}"


@attrs.define
class Env:
    repo: InMemoryRepository
    seed: Seeder
    service: FlowRunService

    def deployment(self, **kwargs):
        flow = self.seed.flow(f"etl-{uuid.uuid4().hex[:6]}")
        kwargs.setdefault("enforce_parameter_schema", False)
        return self.seed.deployment(flow, "dep", **kwargs)


@pytest.fixture
def env() -> Env:
    repo = InMemoryRepository()
    return Env(repo=repo, seed=Seeder(repo), service=FlowRunService(repo))


def create(env: Env, deployment_id, **request):
    return env.service.create_flow_run_from_deployment(
        deployment_id, DeploymentFlowRunCreate(**request)
    )


def test_unknown_deployment(env: Env) -> None:
    with pytest.raises(DeploymentNotFound, match=r"^Deployment not found$"):
        create(env, uuid.uuid4())


def test_defaults_are_inferred_and_deployment_untouched(env: Env) -> None:
    dep = env.deployment(parameters={"x": 1, "nested": {"a": 1}}, tags=["b", "a"], version="7")
    run = create(env, dep.id, parameters={"nested": {"b": 2}}, tags=["c", "a"]).value
    assert run.parameters == {"x": 1, "nested": {"b": 2}}
    assert run.tags == ("a", "b", "c")
    assert run.deployment_version == "7"
    assert run.state_type is StateType.SCHEDULED
    assert run.state_name == "Scheduled"
    assert env.repo.get_deployment(dep.id) == dep


def test_labels_precedence(env: Env) -> None:
    dep = env.deployment(labels={"env": "prod"})
    run = create(env, dep.id, labels={"prefect.deployment.id": "spoof", "new": 1}).value
    assert run.labels == {
        "prefect.flow.id": str(dep.flow_id),
        "env": "prod",
        "prefect.deployment.id": "spoof",
        "new": 1,
    }


def test_hydration_runs_even_without_enforcement(env: Env) -> None:
    env.seed.variable("answer", {"a": [1]})
    dep = env.deployment(
        parameters={"v": {"__prefect_kind": "workspace_variable", "variable_name": "answer"}}
    )
    run = create(env, dep.id, parameters={"j": {"__prefect_kind": "json", "value": "[1]"}}).value
    assert run.parameters == {"v": {"a": [1]}, "j": [1]}
    stored = env.repo.get_deployment(dep.id)
    assert stored is not None
    assert stored.parameters["v"] == {
        "__prefect_kind": "workspace_variable",
        "variable_name": "answer",
    }


def test_a_whole_float_variable_hydrates_as_prefect_reads_it_back(env: Env) -> None:
    # Prefect's SQLite column has NUMERIC affinity: a bare 3.0 is read back as 3.
    env.seed.variable("whole", 3.0)
    env.seed.variable("nested", [3.0])
    placeholder = {"__prefect_kind": "workspace_variable", "variable_name": "whole"}
    dep = env.deployment(
        parameters={
            "w": placeholder,
            "n": {"__prefect_kind": "workspace_variable", "variable_name": "nested"},
        },
        parameter_openapi_schema={"type": "object", "properties": {"s": {"type": "string"}}},
    )
    run = create(env, dep.id).value
    assert run.parameters == {"w": 3, "n": [3.0]}
    assert type(run.parameters["w"]) is int
    assert type(run.parameters["n"][0]) is float  # type: ignore[index]
    with pytest.raises(ParameterValidationFailed, match=r"Failure reason: 3 is not"):
        create(env, dep.id, parameters={"s": placeholder}, enforce_parameter_schema=True)


def test_hydration_error_comes_before_enforcement(env: Env) -> None:
    dep = env.deployment(enforce_parameter_schema=True, has_parameter_schema=False)
    with pytest.raises(HydrationFailed, match=r"^Variable 'nope' not found in workspace\.$"):
        create(
            env,
            dep.id,
            parameters={"v": {"__prefect_kind": "workspace_variable", "variable_name": "nope"}},
        )


def test_missing_schema_with_enforcement(env: Env) -> None:
    dep = env.deployment(enforce_parameter_schema=True, has_parameter_schema=False)
    with pytest.raises(MissingParameterSchema):
        create(env, dep.id)
    assert create(env, dep.id, enforce_parameter_schema=False).created


def test_request_flag_overrides_the_deployment(env: Env) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    dep = env.deployment(parameter_openapi_schema=schema, enforce_parameter_schema=False)
    with pytest.raises(ParameterValidationFailed) as info:
        create(env, dep.id, parameters={"x": 1}, enforce_parameter_schema=True)
    assert info.value.message == (
        "Validation failed for field 'x'. Failure reason: 1 is not of type 'string'"
    )
    assert create(env, dep.id, parameters={"x": 1}).created


def test_circular_schema(env: Env) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/A"}},
        "definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}},
    }
    dep = env.deployment(parameter_openapi_schema=schema, enforce_parameter_schema=True)
    with pytest.raises(CircularSchemaRef):
        create(env, dep.id, parameters={"a": 1})
    assert create(env, dep.id).created


def test_job_variables_are_validated_against_the_pool(env: Env) -> None:
    env.seed.work_pool("pool-a", base_job_template=POOL_TEMPLATE)
    dep = env.deployment(work_pool_name="pool-a")
    with pytest.raises(JobVariablesInvalid) as info:
        create(env, dep.id)
    assert info.value.message == "Validation failed. Failure reason: 'image' is a required property"
    run = create(env, dep.id, job_variables={"image": "x"}).value
    assert run.job_variables == {"image": "x"}


def test_work_queue_override_creates_at_lowest_free_priority(env: Env) -> None:
    env.seed.work_pool("pool-a", work_queues=["existing"])
    dep = env.deployment(work_pool_name="pool-a")
    run = create(env, dep.id, work_queue_name="newq").value
    pool = env.repo.get_work_pool_by_name("pool-a")
    assert pool is not None
    queue = env.repo.get_work_queue_by_name(pool.id, "newq")
    assert queue is not None
    assert queue.priority == 3
    assert (run.work_queue_id, run.work_queue_name) == (queue.id, "newq")
    assert (run.work_pool_id, run.work_pool_name) == (pool.id, "pool-a")


def test_work_queue_override_without_pool(env: Env) -> None:
    dep = env.deployment()
    with pytest.raises(WorkQueueWithoutPool):
        create(env, dep.id, work_queue_name="q")


def test_unknown_infrastructure_document_conflicts_and_writes_nothing(env: Env) -> None:
    env.seed.work_pool("pool-a")
    dep = env.deployment(work_pool_name="pool-a")
    with pytest.raises(StorageIntegrityError):
        create(env, dep.id, infrastructure_document_id=uuid.uuid4(), work_queue_name="brand-new")
    pool = env.repo.get_work_pool_by_name("pool-a")
    assert pool is not None
    assert env.repo.get_work_queue_by_name(pool.id, "brand-new") is None
    assert env.repo.count_flow_runs() == 0


def test_infrastructure_document_falls_back_to_the_deployment(env: Env) -> None:
    doc = env.seed.infrastructure_document("infra")
    dep = env.deployment(infrastructure_document_id=doc.id)
    assert create(env, dep.id).value.infrastructure_document_id == doc.id


def test_parent_task_run_gets_a_copy_of_the_state(env: Env) -> None:
    dep = env.deployment()
    parent = env.seed.flow_run(deployment=dep, name="parent")
    task = env.seed.task_run(flow_run=parent)
    run = create(env, dep.id, parent_task_run_id=task.id).value
    assert run.state is not None
    assert run.state.state_details.task_run_id == task.id
    stored = env.repo.get_task_run(task.id)
    assert stored is not None
    assert stored.state is not None
    assert stored.state.type is StateType.SCHEDULED
    assert stored.state.state_details.child_flow_run_id == run.id
    with pytest.raises(StorageIntegrityError):
        create(env, dep.id, parent_task_run_id=uuid.uuid4())


def test_idempotent_hit_returns_the_stored_run_unchanged(env: Env) -> None:
    env.seed.work_pool("pool-a")
    dep = env.deployment(work_pool_name="pool-a")
    first = create(env, dep.id, idempotency_key="k", tags=["one"])
    second = create(env, dep.id, idempotency_key="k", tags=["two"], work_queue_name="side-q")
    assert first.created
    assert not second.created
    assert second.value.id == first.value.id
    assert second.value.tags == first.value.tags
    pool = env.repo.get_work_pool_by_name("pool-a")
    assert pool is not None
    # Prefect still runs the queue override before the lookup: the queue exists afterwards.
    assert env.repo.get_work_queue_by_name(pool.id, "side-q") is not None


def test_checks_before_the_lookup_still_run_on_a_hit(env: Env) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    dep = env.deployment(parameter_openapi_schema=schema, enforce_parameter_schema=True)
    create(env, dep.id, idempotency_key="k", parameters={"x": 1})
    with pytest.raises(ParameterValidationFailed):
        create(env, dep.id, idempotency_key="k", parameters={"x": "bad"})


def test_a_replay_builds_no_run(env: Env) -> None:
    """A hit answers with the stored run without drawing ids, names or times for a new one."""
    drawn: list[str] = []
    ids, names, clock = make_ids(1), make_names(), Ticks()

    def new_id() -> uuid.UUID:
        drawn.append("id")
        return ids()

    def new_name() -> str:
        drawn.append("name")
        return names()

    def now() -> datetime:
        drawn.append("clock")
        return clock()

    dep = env.deployment()
    service = FlowRunService(env.repo, clock=now, new_id=new_id, new_name=new_name)
    first = service.create_flow_run_from_deployment(
        dep.id, DeploymentFlowRunCreate(idempotency_key="k")
    )
    assert first.created
    assert {"id", "name", "clock"} <= set(drawn)
    drawn.clear()
    again = service.create_flow_run_from_deployment(
        dep.id, DeploymentFlowRunCreate(idempotency_key="k")
    )
    assert not again.created
    assert again.value == first.value
    assert drawn == []


def test_empty_key_twice_conflicts(env: Env) -> None:
    dep = env.deployment()
    assert create(env, dep.id, idempotency_key="").created
    with pytest.raises(StorageIntegrityError):
        create(env, dep.id, idempotency_key="")


def test_same_key_on_another_deployment_of_the_flow_hits(env: Env) -> None:
    flow = env.seed.flow("shared")
    one = env.seed.deployment(flow, "one", enforce_parameter_schema=False)
    two = env.seed.deployment(flow, "two", enforce_parameter_schema=False)
    first = create(env, one.id, idempotency_key="k")
    hit = create(env, two.id, idempotency_key="k")
    assert not hit.created
    assert hit.value.deployment_id == one.id
    assert hit.value.id == first.value.id


def test_job_variables_null_is_stored_as_null_only_on_the_key_path(env: Env) -> None:
    dep = env.deployment()
    assert create(env, dep.id, job_variables=None).value.job_variables == {}
    keyed = create(env, dep.id, job_variables=None, idempotency_key="k").value
    assert keyed.job_variables is None


def test_caller_state_offset_is_echoed_then_stored_in_utc_but_details_keep_it(env: Env) -> None:
    dep = env.deployment()
    plus_two = timezone(timedelta(hours=2))
    when = datetime(2031, 1, 1, 12, tzinfo=plus_two)
    expires = datetime(2031, 1, 2, 12, tzinfo=timezone(timedelta(hours=-3)))
    state = StateCreate(
        type=StateType.SCHEDULED,
        state_details=StateDetails(scheduled_time=when, cache_expiration=expires),
    )
    result = create(env, dep.id, state=state, idempotency_key="tz")
    assert result.value.expected_start_time is not None
    assert result.value.expected_start_time.utcoffset() == timedelta(hours=2)
    replay = create(env, dep.id, state=state, idempotency_key="tz").value
    # The run's own columns and the state's timestamp come back in UTC ...
    assert replay.expected_start_time == when
    assert replay.expected_start_time is not None
    assert replay.expected_start_time.utcoffset() == timedelta(0)
    assert replay.state is not None
    assert replay.state.timestamp.utcoffset() == timedelta(0)
    # ... the state's details are a JSON document in Prefect: their offsets are kept.
    details = replay.state.state_details
    assert details.scheduled_time is not None
    assert details.scheduled_time.utcoffset() == timedelta(hours=2)
    assert details.scheduled_time == when
    assert details.cache_expiration is not None
    assert details.cache_expiration.utcoffset() == timedelta(hours=-3)


def test_created_by_and_policy_are_stored(env: Env) -> None:
    dep = env.deployment()
    who = CreatedBy(id=uuid.uuid4(), type="AUTOMATION", display_value="nightly")
    result = env.service.create_flow_run_from_deployment(
        dep.id,
        DeploymentFlowRunCreate(empirical_policy=FlowRunPolicy(retries=3), context={"a": [1]}),
        created_by=who,
    )
    assert result.value.created_by == who
    assert result.value.empirical_policy.retries == 3
    assert result.value.context == {"a": [1]}


def test_timestamps_are_ordered(env: Env) -> None:
    dep = env.deployment()
    run = create(env, dep.id).value
    assert run.state is not None
    assert run.expected_start_time is not None
    assert run.expected_start_time <= run.state.timestamp <= run.created <= run.updated


def _deterministic(repo: InMemoryRepository) -> FlowRunService:
    return FlowRunService(repo, clock=Ticks(), new_id=make_ids(10_000), new_name=make_names())


@settings(max_examples=20, deadline=None)
@given(parameters=json_objects(), tags=st.lists(st.text(max_size=3), max_size=3))
def test_same_inputs_and_factories_give_identical_runs(parameters, tags) -> None:
    runs = []
    for _ in range(2):
        repo = InMemoryRepository()
        seed = Seeder(repo, clock=Ticks(), new_id=make_ids(1))
        dep = seed.deployment(seed.flow("f"), "d", enforce_parameter_schema=False)
        service = _deterministic(repo)
        runs.append(
            service.create_flow_run_from_deployment(
                dep.id, DeploymentFlowRunCreate(parameters=parameters, tags=tuple(tags))
            ).value
        )
    assert runs[0] == runs[1]


@settings(max_examples=20, deadline=None)
@given(keys=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8))
def test_idempotency_law(keys: list[str]) -> None:
    repo = InMemoryRepository()
    seed = Seeder(repo)
    dep = seed.deployment(seed.flow("f"), "d", enforce_parameter_schema=False)
    service = FlowRunService(repo)
    ids: dict[str, uuid.UUID] = {}
    for key in keys:
        result = service.create_flow_run_from_deployment(
            dep.id, DeploymentFlowRunCreate(idempotency_key=key)
        )
        assert result.created == (key not in ids)
        ids.setdefault(key, result.value.id)
        assert result.value.id == ids[key]
    assert repo.count_flow_runs() == len(set(keys))


# -- id versions (spec §2 step 6, §3: run ids are uuid4, state ids UUIDv7) -----------------


def _uuid7_millis(value: uuid.UUID) -> int:
    """The Unix time in milliseconds a UUIDv7 carries in its first 48 bits."""
    return value.int >> 80


def test_default_ids_have_prefects_versions(env: Env) -> None:
    env.seed.work_pool("pool-a")
    dep = env.deployment(work_pool_name="pool-a")
    before = int(datetime.now(UTC).timestamp() * 1000)
    run = create(env, dep.id, work_queue_name="fresh-queue").value
    after = int(datetime.now(UTC).timestamp() * 1000)
    assert run.state is not None
    assert run.id.version == 4
    assert run.state.id.version == 7
    assert run.state_id == run.state.id
    assert before <= _uuid7_millis(run.state.id) <= after
    assert run.work_queue_id is not None
    assert run.work_queue_id.version == 4  # a queue the override created: the ORM's uuid4


def test_default_state_ids_sort_by_creation(env: Env) -> None:
    dep = env.deployment()
    states = []
    for _ in range(3):
        state = create(env, dep.id).value.state
        assert state is not None
        states.append(state.id)
        time.sleep(0.002)
    assert states == sorted(states, key=lambda u: u.bytes)
    assert len(set(states)) == 3


def test_the_parent_task_runs_state_copy_gets_a_uuid7(env: Env) -> None:
    dep = env.deployment()
    task = env.seed.task_run(flow_run=env.seed.flow_run(deployment=dep, name="parent"))
    run = create(env, dep.id, parent_task_run_id=task.id).value
    stored = env.repo.get_task_run(task.id)
    assert stored is not None
    assert stored.state is not None
    assert run.state is not None
    assert stored.state.id.version == 7
    assert stored.state.id != run.state.id


def test_an_injected_id_factory_alone_also_names_the_states() -> None:
    repo = InMemoryRepository()
    seed = Seeder(repo)
    dep = seed.deployment(seed.flow("f"), "d", enforce_parameter_schema=False)
    service = FlowRunService(repo, new_id=make_ids(500))
    run = service.create_flow_run_from_deployment(dep.id).value
    assert run.state is not None
    assert {run.id, run.state.id} == {uuid.UUID(int=500), uuid.UUID(int=501)}
    assert service.new_state_id is service.new_id


def test_an_injected_state_id_factory_names_only_the_states() -> None:
    repo = InMemoryRepository()
    seed = Seeder(repo)
    dep = seed.deployment(seed.flow("f"), "d", enforce_parameter_schema=False)
    service = FlowRunService(repo, new_id=make_ids(10), new_state_id=make_ids(900))
    first = service.create_flow_run_from_deployment(dep.id).value
    second = service.create_flow_run_from_deployment(dep.id).value
    assert (first.id, second.id) == (uuid.UUID(int=10), uuid.UUID(int=11))
    assert first.state is not None
    assert second.state is not None
    assert (first.state.id, second.state.id) == (uuid.UUID(int=900), uuid.UUID(int=901))


def test_seeded_runs_get_uuid7_states_unless_ids_are_injected() -> None:
    repo = InMemoryRepository()
    seed = Seeder(repo)
    flow = seed.flow("f")
    state = seed.flow_run(flow=flow, name="pre").state
    assert state is not None
    assert state.id.version == 7
    injected = Seeder(repo, new_id=make_ids(70))
    run = injected.flow_run(flow=flow, name="pre-2")
    assert run.state is not None
    assert {run.id, run.state.id} == {uuid.UUID(int=70), uuid.UUID(int=71)}


def test_a_seeded_run_takes_a_whole_state_and_keeps_its_tags_as_given() -> None:
    # As Prefect's plain POST /flow_runs/ (recorded on 3.9.1, batch 11a): the state's message
    # and details are the caller's, and the tags keep their order and repeats.
    repo = InMemoryRepository()
    seed = Seeder(repo, clock=Ticks())
    flow = seed.flow("f")
    when = datetime(2031, 3, 3, 3, 3, 3, tzinfo=UTC)
    state = StateCreate(
        type=StateType.SCHEDULED,
        message="from the scheduler",
        state_details=StateDetails(scheduled_time=when),
    )
    run = seed.flow_run(flow=flow, state=state, tags=["b", "a", "b"])
    assert run.tags == ("b", "a", "b")
    assert run.state is not None
    assert (run.state.message, run.state.state_details.scheduled_time) == (
        "from the scheduler",
        when,
    )
    assert run.state.state_details.flow_run_id == run.id
    assert (run.expected_start_time, run.next_scheduled_start_time) == (when, when)
    assert repo.get_flow_run(run.id) == run
    pending = seed.flow_run(flow=flow, state_name="Waiting")
    assert (pending.state_type, pending.state_name) == (StateType.PENDING, "Waiting")
    scheduled = seed.flow_run(flow=flow, state_type=StateType.SCHEDULED)
    assert scheduled.state is not None
    assert scheduled.next_scheduled_start_time == scheduled.state.state_details.scheduled_time
    with pytest.raises(ValueError, match="either a whole state"):
        seed.flow_run(flow=flow, state=state, state_type=StateType.PENDING)


def test_seeding_follows_prefects_creation_routes() -> None:
    # Recorded on 3.9.1 (batch 12b): flows are get-or-create by name, a setup run whose key
    # the flow already holds is the existing run, and a deployment naming only a queue is
    # bound to the first queue of that name in any pool until default-agent-pool exists.
    repo = InMemoryRepository()
    seed = Seeder(repo)
    flow = seed.flow("etl", labels={"team": "a"})
    assert seed.flow("etl", labels={"team": "b"}) == flow
    first = seed.flow_run(flow=flow, name="first", idempotency_key="dup")
    again = seed.flow_run(flow=flow, name="second", idempotency_key="dup")
    assert again == first
    assert repo.count_flow_runs() == 1
    pool = seed.work_pool("pool-a", work_queues=["shared"])
    bound = seed.deployment(flow, "bound", work_queue_name="shared")
    assert (bound.work_pool_name, bound.work_queue_name) == ("pool-a", "shared")
    default = seed.deployment(flow, "default", work_queue_name="default")
    assert default.work_queue_id == pool.default_queue_id
    fresh = seed.deployment(flow, "fresh", work_queue_name="new-queue")
    assert fresh.work_pool_name == "default-agent-pool"
    # Once default-agent-pool exists, only its queues count.
    later = seed.deployment(flow, "later", work_queue_name="shared")
    assert later.work_pool_name == "default-agent-pool"
    assert later.work_queue_id != bound.work_queue_id
    # Task runs are get-or-create by flow run, task key and dynamic key.
    task = seed.task_run(flow_run=first, name="t1")
    assert seed.task_run(flow_run=first, name="t2") == task
    assert seed.task_run(flow_run=first, dynamic_key="1") != task
    loose = seed.task_run(name="loose")
    assert seed.task_run(name="loose-again") == loose
    assert loose != task


def test_a_scheduled_time_with_no_utc_equivalent_is_refused_after_the_insert_checks(
    env: Env,
) -> None:
    # Recorded on 3.9.1 (batch 12b, not vendored): Prefect fails writing the first state and
    # stores nothing, yet answers 201 (no key) or 503 (a key); flowrun-core refuses it.
    dep = env.deployment()
    late = datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))
    state = StateCreate(type=StateType.SCHEDULED, state_details=StateDetails(scheduled_time=late))
    with pytest.raises(ScheduledTimeOutOfRange, match=r"9999-12-31T23:30:00-01:00") as caught:
        create(env, dep.id, state=state)
    assert caught.value.value == late
    with pytest.raises(ScheduledTimeOutOfRange):
        env.service.plan(dep.id, DeploymentFlowRunCreate(state=state))
    with pytest.raises(StorageIntegrityError):
        create(env, dep.id, state=state, infrastructure_document_id=uuid.uuid4())
    first = create(env, dep.id, idempotency_key="k").value
    assert create(env, dep.id, state=state, idempotency_key="k").value == first
    early = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ScheduledTimeOutOfRange):
        create(
            env,
            dep.id,
            state=StateCreate(
                type=StateType.SCHEDULED, state_details=StateDetails(scheduled_time=early)
            ),
        )
    assert env.repo.count_flow_runs() == 1


def test_the_policy_is_back_filled_again_when_the_run_is_built(env: Env) -> None:
    # Recorded on 3.9.1 (batch 13a): step 6 re-validates the request's policy, so a
    # retries or retry_delay that validated to 0 takes the deprecated field's value, and a
    # delay that cannot be a whole number fails there: after the queue override (which is
    # rolled back), before the insert's checks, and on an idempotent repeat too.
    pool = env.seed.work_pool("pool-a")
    dep = env.deployment(work_pool_name="pool-a")
    policy = FlowRunPolicy(max_retries=3, retries=0, retry_delay_seconds=4.0, retry_delay=0)
    run = create(env, dep.id, empirical_policy=policy).value
    assert (run.empirical_policy.retries, run.empirical_policy.retry_delay) == (3, 4)
    fractional = FlowRunPolicy(retry_delay_seconds=2.5, retry_delay=0)
    with pytest.raises(InvalidRetryDelay):
        create(env, dep.id, empirical_policy=fractional, work_queue_name="rolled-back")
    assert env.repo.get_work_queue_by_name(pool.id, "rolled-back") is None
    with pytest.raises(InvalidRetryDelay):
        create(env, dep.id, empirical_policy=fractional, infrastructure_document_id=uuid.uuid4())
    create(env, dep.id, idempotency_key="k")
    with pytest.raises(InvalidRetryDelay):
        create(env, dep.id, empirical_policy=fractional, idempotency_key="k")
    assert env.repo.count_flow_runs() == 2


def test_a_top_level_placeholder_that_is_no_object_meets_the_later_checks_first(
    env: Env,
) -> None:
    # Recorded on 3.9.1 (batch 14): Prefect enforces the schema on the hydrated value, checks
    # job variables and the queue override, and fails only when it builds the run (500).
    three = {"__prefect_kind": "none", "value": 3}
    typed = env.deployment(
        parameter_openapi_schema={"type": "object", "properties": {}},
        enforce_parameter_schema=True,
    )
    with pytest.raises(ParameterValidationFailed, match="3 is not of type 'object'"):
        create(env, typed.id, parameters=three)
    env.seed.work_pool("pool-a", base_job_template=POOL_TEMPLATE)
    pooled = env.deployment(work_pool_name="pool-a")
    with pytest.raises(JobVariablesInvalid):
        create(env, pooled.id, parameters=three)
    loose = env.deployment()
    with pytest.raises(WorkQueueWithoutPool):
        create(env, loose.id, parameters=three, work_queue_name="q")
    with pytest.raises(HydrationFailed, match="must be a JSON object, got integer"):
        create(
            env, pooled.id, parameters=three, job_variables={"image": "x"}, work_queue_name="new"
        )
    pool = env.repo.get_work_pool_by_name("pool-a")
    assert pool is not None
    assert env.repo.get_work_queue_by_name(pool.id, "new") is None
    assert env.repo.count_flow_runs() == 0
