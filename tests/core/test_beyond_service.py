"""Beyond Prefect, on the service: strict idempotency, plan, bulk, queue policy, reports.

Every test runs on both storage adapters. The laws are property tests; examples pin texts.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SQLiteRepository
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrun_core import (
    DeploymentFlowRunCreate,
    DeploymentNotFound,
    FlowRunService,
    HydrationFailed,
    IdempotencyKeyReused,
    ParameterValidationFailed,
    Repository,
    Seeder,
    StorageIntegrityError,
    UnknownWorkQueue,
)
from flowrun_core.bulk import BulkStatus
from flowrun_core.errors import TooManyFlowRuns
from flowrun_core.rules.provenance import Origin
from flowrun_core.service import ServiceOptions
from flowrun_core.service.flow_run_service import _REPOSITORY_METHODS

ADAPTERS: dict[str, Callable[[], Repository]] = {
    "memory": InMemoryRepository,
    "sqlite": lambda: SQLiteRepository(":memory:"),
}

SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "y": {"type": "string"}},
    "required": ["x"],
}


class Ticks:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def factories(seed: int = 1000) -> dict[str, object]:
    ids = itertools.count(seed)
    names = itertools.count()
    return {
        "clock": Ticks(),
        "new_id": lambda: uuid.UUID(int=next(ids)),
        "new_name": lambda: f"run-{next(names)}",
    }


@attrs.define
class World:
    repo: Repository
    seed: Seeder
    deployment_id: uuid.UUID
    other_deployment_id: uuid.UUID
    pooled_id: uuid.UUID

    def service(self, **options: object) -> FlowRunService:
        return FlowRunService(self.repo, options=ServiceOptions(**options))  # type: ignore[arg-type]


@contextmanager
def world(adapter: str) -> Iterator[World]:
    repo = ADAPTERS[adapter]()
    seed = Seeder(repo, new_id=uuid.uuid4)
    flow = seed.flow("etl")
    seed.work_pool("pool")
    seed.variable("answer", 42)
    dep = seed.deployment(
        flow,
        "dep",
        parameters={
            "x": 1,
            "h": {"__prefect_kind": "workspace_variable", "variable_name": "answer"},
        },
        tags=["t1"],
        labels={"env": "prod"},
        parameter_openapi_schema=SCHEMA,
        enforce_parameter_schema=False,
    )
    other = seed.deployment(flow, "other", enforce_parameter_schema=False)
    pooled = seed.deployment(
        flow,
        "pooled",
        work_pool_name="pool",
        work_queue_name="default",
        enforce_parameter_schema=False,
    )
    try:
        yield World(repo, seed, dep.id, other.id, pooled.id)
    finally:
        repo.close()


@pytest.fixture(params=sorted(ADAPTERS))
def w(request: pytest.FixtureRequest) -> Iterator[World]:
    with world(request.param) as found:
        yield found


def req(**fields: object) -> DeploymentFlowRunCreate:
    return DeploymentFlowRunCreate(**fields)  # type: ignore[arg-type]


# -- options -------------------------------------------------------------------------------


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="idempotency"):
        ServiceOptions(idempotency="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bulk_limit"):
        ServiceOptions(bulk_limit=0)


def test_strict_needs_a_fingerprint_store() -> None:
    class PortOnly:
        """A repository with the port's methods and no optional capability."""

        def __init__(self) -> None:
            self._inner = InMemoryRepository()

        def __getattr__(self, name: str) -> object:
            if name in _REPOSITORY_METHODS:
                return getattr(self._inner, name)
            raise AttributeError(name)

    FlowRunService(PortOnly())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="FingerprintStore"):
        FlowRunService(PortOnly(), options=ServiceOptions(idempotency="strict"))  # type: ignore[arg-type]


class _Bare:
    pass


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            {"repository": _Bare()},
            "repository must implement the Repository protocol; _Bare lacks transaction, close,",
        ),
        ({"options": "strict"}, "options must be a ServiceOptions, not str"),
        ({"clock": "now"}, "clock must be callable, not 'now'"),
        ({"new_id": 5}, "new_id must be callable, not 5"),
        ({"new_name": None}, "new_name must be callable, not None"),
        ({"new_state_id": 5}, "new_state_id must be callable, not 5"),
    ],
)
def test_a_wrong_part_is_refused_when_the_service_is_made(
    parts: dict[str, object], message: str
) -> None:
    """Before, each was accepted and failed on the first create (AttributeError, TypeError)."""
    arguments: dict[str, object] = {"repository": InMemoryRepository(), **parts}
    with pytest.raises(TypeError) as caught:
        FlowRunService(**arguments)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


# -- strict idempotency ----------------------------------------------------------------------


def test_default_policy_returns_the_stored_run_for_any_payload(w: World) -> None:
    service = w.service()
    first = service.create_flow_run_from_deployment(w.deployment_id, req(idempotency_key="k"))
    again = service.create_flow_run_from_deployment(
        w.deployment_id, req(idempotency_key="k", parameters={"x": 9})
    )
    assert again.created is False
    assert again.value == first.value


def test_strict_reuse_with_another_payload_lists_the_differences(w: World) -> None:
    service = w.service(idempotency="strict")
    first = service.create_flow_run_from_deployment(
        w.deployment_id, req(idempotency_key="k", parameters={"x": 1}, tags=("a",))
    )
    with pytest.raises(IdempotencyKeyReused) as caught:
        service.create_flow_run_from_deployment(
            w.deployment_id,
            req(idempotency_key="k", parameters={"x": 2, "y": "new"}, tags=("a",), name="n"),
        )
    assert caught.value.differences == ("/name", "/parameters/x", "/parameters/y")
    assert caught.value.message == (
        f"Idempotency key 'k' was already used for flow run {first.value.id} with a different "
        "request; differing fields: /name, /parameters/x, /parameters/y."
    )
    replay = service.create_flow_run_from_deployment(
        w.deployment_id, req(idempotency_key="k", parameters={"x": 1}, tags=("a",))
    )
    assert replay.created is False
    assert replay.value == first.value
    assert w.repo.count_flow_runs() == 1


def test_strict_rolls_back_a_queue_the_conflicting_request_created(w: World) -> None:
    service = w.service(idempotency="strict")
    service.create_flow_run_from_deployment(w.pooled_id, req(idempotency_key="k"))
    with pytest.raises(IdempotencyKeyReused):
        service.create_flow_run_from_deployment(
            w.pooled_id, req(idempotency_key="k", work_queue_name="brand-new")
        )
    pool = w.repo.get_work_pool_by_name("pool")
    assert pool is not None
    assert w.repo.get_work_queue_by_name(pool.id, "brand-new") is None


def test_strict_returns_runs_that_predate_it(w: World) -> None:
    legacy = w.service().create_flow_run_from_deployment(w.deployment_id, req(idempotency_key="k"))
    again = w.service(idempotency="strict").create_flow_run_from_deployment(
        w.deployment_id, req(idempotency_key="k", parameters={"x": 5})
    )
    assert again.created is False
    assert again.value == legacy.value


def test_deployment_scope_refuses_a_key_held_by_another_deployment(w: World) -> None:
    held = w.service().create_flow_run_from_deployment(w.deployment_id, req(idempotency_key="k"))
    assert (
        w.service()
        .create_flow_run_from_deployment(w.other_deployment_id, req(idempotency_key="k"))
        .value
        == held.value
    )
    with pytest.raises(IdempotencyKeyReused, match="idempotency scope is 'deployment'") as caught:
        w.service(idempotency_scope="deployment").create_flow_run_from_deployment(
            w.other_deployment_id, req(idempotency_key="k")
        )
    assert caught.value.differences == ()
    same = w.service(idempotency_scope="deployment").create_flow_run_from_deployment(
        w.deployment_id, req(idempotency_key="k")
    )
    assert same.created is False


requests = st.builds(
    DeploymentFlowRunCreate,
    parameters=st.dictionaries(st.sampled_from(["x", "y", "z"]), st.integers(0, 3), max_size=2),
    tags=st.lists(st.sampled_from(["a", "b"]), max_size=2).map(tuple),
    name=st.none() | st.sampled_from(["n1", "n2"]),
    context=st.dictionaries(st.sampled_from(["c"]), st.booleans(), max_size=1),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=requests, second=requests, adapter=st.sampled_from(sorted(ADAPTERS)))
def test_law_strict_returns_the_run_exactly_for_an_identical_payload(
    first: DeploymentFlowRunCreate, second: DeploymentFlowRunCreate, adapter: str
) -> None:
    with world(adapter) as found:
        service = found.service(idempotency="strict")
        one = service.create_flow_run_from_deployment(
            found.deployment_id, attrs.evolve(first, idempotency_key="k")
        )
        same = service.create_flow_run_from_deployment(
            found.deployment_id, attrs.evolve(first, idempotency_key="k")
        )
        assert same.created is False
        assert same.value == one.value
        identical = attrs.evolve(first, tags=tuple(sorted(set(first.tags)))) == attrs.evolve(
            second, tags=tuple(sorted(set(second.tags)))
        )
        try:
            other = service.create_flow_run_from_deployment(
                found.deployment_id, attrs.evolve(second, idempotency_key="k")
            )
        except IdempotencyKeyReused as exc:
            differences = exc.differences
            assert not identical
            assert differences
        else:
            assert identical
            assert other.value == one.value


# -- unknown work queue policy -----------------------------------------------------------------


def test_reject_policy_refuses_an_unknown_queue_and_keeps_known_ones(w: World) -> None:
    service = w.service(unknown_work_queue="reject")
    with pytest.raises(UnknownWorkQueue) as caught:
        service.create_flow_run_from_deployment(w.pooled_id, req(work_queue_name="nope"))
    assert caught.value.message.startswith(
        "Work queue 'nope' does not exist in work pool 'pool'. This service does not create "
        "work queues on demand"
    )
    assert w.repo.count_flow_runs() == 0
    run = service.create_flow_run_from_deployment(w.pooled_id, req(work_queue_name="default")).value
    assert run.work_queue_name == "default"
    made = w.service().create_flow_run_from_deployment(w.pooled_id, req(work_queue_name="nope"))
    assert made.value.work_queue_name == "nope"


# -- validation report -------------------------------------------------------------------------


def test_every_violation_is_on_the_exception_and_the_message_is_unchanged(w: World) -> None:
    with pytest.raises(ParameterValidationFailed) as caught:
        w.service().create_flow_run_from_deployment(
            w.deployment_id,
            req(parameters={"x": "one", "y": 2}, enforce_parameter_schema=True),
        )
    assert caught.value.message == (
        "Validation failed for field 'y'. Failure reason: 2 is not valid under any of the "
        "given schemas"
    )
    assert [(v.instance_path, v.schema_path, v.keyword) for v in caught.value.violations] == [
        ("/x", "/properties/x/type", "type"),
        ("/y", "/properties/y/anyOf", "anyOf"),
    ]


# -- plan --------------------------------------------------------------------------------------


def test_plan_writes_nothing_and_explains_every_value(w: World) -> None:
    before = w.repo.count_flow_runs()
    plan = w.service().plan(
        w.pooled_id,
        req(parameters={"x": 2}, labels={"team": "a"}, tags=("t2",), work_queue_name="new-q"),
    )
    assert plan.replay is False
    assert w.repo.count_flow_runs() == before
    pool = w.repo.get_work_pool_by_name("pool")
    assert pool is not None
    assert w.repo.get_work_queue_by_name(pool.id, "new-q") is None
    assert plan.new_work_queue is not None
    assert plan.new_work_queue.name == "new-q"
    prov = plan.provenance
    assert prov.parameters == {"x": Origin.REQUEST}
    assert prov.labels["team"] is Origin.REQUEST
    assert prov.labels["prefect.flow.id"] is Origin.SYSTEM
    assert prov.tags == {"t2": Origin.REQUEST}
    assert prov.fields["id"] is Origin.GENERATED
    assert prov.fields["work_queue_name"] is Origin.REQUEST
    assert prov.fields["work_pool_id"] is Origin.DEPLOYMENT
    assert set(prov.fields) == set(attrs.fields_dict(type(plan.flow_run)))


def test_plan_names_deployment_and_hydration_origins(w: World) -> None:
    plan = w.service().plan(w.deployment_id, req(parameters={"y": "s"}))
    assert plan.flow_run.parameters == {"x": 1, "h": 42, "y": "s"}
    assert plan.provenance.parameters == {
        "x": Origin.DEPLOYMENT,
        "h": Origin.HYDRATION,
        "y": Origin.REQUEST,
    }
    assert plan.provenance.labels["env"] is Origin.DEPLOYMENT
    assert plan.provenance.tags == {"t1": Origin.DEPLOYMENT}
    assert plan.provenance.fields["name"] is Origin.GENERATED
    assert plan.provenance.as_json()["parameters"] == {
        "x": "deployment",
        "h": "hydration",
        "y": "request",
    }


def test_plan_says_replay_and_raises_what_create_raises(w: World) -> None:
    made = w.service().create_flow_run_from_deployment(w.deployment_id, req(idempotency_key="k"))
    plan = w.service().plan(w.deployment_id, req(idempotency_key="k"))
    assert plan.replay is True
    assert plan.flow_run == made.value
    with pytest.raises(DeploymentNotFound):
        w.service().plan(uuid.uuid4())
    with pytest.raises(HydrationFailed):
        w.service().plan(
            w.deployment_id,
            req(
                parameters={"z": {"__prefect_kind": "workspace_variable", "variable_name": "nope"}}
            ),
        )
    with pytest.raises(StorageIntegrityError):
        w.service().plan(w.deployment_id, req(infrastructure_document_id=uuid.uuid4()))
    w.service().create_flow_run_from_deployment(w.deployment_id, req(idempotency_key=""))
    with pytest.raises(StorageIntegrityError):
        w.service().plan(w.deployment_id, req(idempotency_key=""))
    strict = w.service(idempotency="strict")
    strict.create_flow_run_from_deployment(w.deployment_id, req(idempotency_key="s"))
    with pytest.raises(IdempotencyKeyReused):
        strict.plan(w.deployment_id, req(idempotency_key="s", parameters={"x": 3}))


plannable = st.builds(
    DeploymentFlowRunCreate,
    parameters=st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 3), max_size=2),
    tags=st.lists(st.sampled_from(["a", "t1"]), max_size=2).map(tuple),
    labels=st.none()
    | st.dictionaries(st.sampled_from(["env", "prefect.flow.id"]), st.just("v"), max_size=2),
    name=st.none() | st.just("named"),
    work_queue_name=st.none() | st.sampled_from(["default", "fresh"]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=plannable, adapter=st.sampled_from(sorted(ADAPTERS)), pooled=st.booleans())
def test_law_plan_equals_create_field_by_field(
    request: DeploymentFlowRunCreate, adapter: str, pooled: bool
) -> None:
    if not pooled:
        request = attrs.evolve(request, work_queue_name=None)
    with world(adapter) as found:
        target = found.pooled_id if pooled else found.deployment_id
        plan = FlowRunService(found.repo, **factories()).plan(target, request)  # type: ignore[arg-type]
        count = found.repo.count_flow_runs()
        made = FlowRunService(found.repo, **factories()).create_flow_run_from_deployment(
            target, request
        )  # type: ignore[arg-type]
        assert count == 0
        assert made.created is True
        for field in attrs.fields(type(made.value)):
            assert getattr(plan.flow_run, field.name) == getattr(made.value, field.name), field.name


# -- bulk --------------------------------------------------------------------------------------


def test_bulk_reports_each_outcome_and_never_misreports(w: World) -> None:
    service = w.service()
    result = service.create_flow_runs_from_deployment(
        w.deployment_id,
        [
            req(idempotency_key="a"),
            req(
                parameters={"z": {"__prefect_kind": "workspace_variable", "variable_name": "nope"}}
            ),
            req(idempotency_key="a", parameters={"x": 5}),
            req(infrastructure_document_id=uuid.uuid4()),
            req(),
        ],
    )
    statuses = [o.status for o in result.outcomes]
    assert statuses == [
        BulkStatus.CREATED,
        BulkStatus.FAILED,
        BulkStatus.REPLAYED,
        BulkStatus.FAILED,
        BulkStatus.CREATED,
    ]
    assert result.committed is True
    assert isinstance(result.outcomes[1].error, HydrationFailed)
    assert isinstance(result.outcomes[3].error, StorageIntegrityError)
    assert result.outcomes[2].flow_run == result.outcomes[0].flow_run
    for outcome in result.outcomes:
        if outcome.stored:
            assert outcome.flow_run is not None
            assert w.repo.get_flow_run(outcome.flow_run.id) is not None
    assert w.repo.count_flow_runs() == 2
    assert len(result.failed) == 2


def test_bulk_limit_is_checked_before_the_deployment(w: World) -> None:
    with pytest.raises(TooManyFlowRuns, match=r"^Cannot create more than 100 flow runs at once\.$"):
        w.service().create_flow_runs_from_deployment(uuid.uuid4(), [req()] * 101)
    with pytest.raises(TooManyFlowRuns, match="more than 2 flow"):
        w.service(bulk_limit=2).create_flow_runs_from_deployment(w.deployment_id, [req()] * 3)
    with pytest.raises(DeploymentNotFound):
        w.service().create_flow_runs_from_deployment(uuid.uuid4(), [])
    assert w.service().create_flow_runs_from_deployment(w.deployment_id, []).outcomes == ()


def test_bulk_items_with_several_writes_fail_alone(w: World) -> None:
    service = w.service(idempotency="strict")
    result = service.create_flow_runs_from_deployment(
        w.pooled_id,
        [
            req(idempotency_key="q", work_queue_name="made-here"),
            req(idempotency_key="q", work_queue_name="other-new", parameters={"x": 2}),
        ],
    )
    assert [o.status for o in result.outcomes] == [BulkStatus.CREATED, BulkStatus.FAILED]
    assert isinstance(result.outcomes[1].error, IdempotencyKeyReused)
    pool = w.repo.get_work_pool_by_name("pool")
    assert pool is not None
    assert w.repo.get_work_queue_by_name(pool.id, "made-here") is not None
    assert w.repo.get_work_queue_by_name(pool.id, "other-new") is None


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(requests, min_size=1, max_size=6),
    adapter=st.sampled_from(sorted(ADAPTERS)),
)
def test_law_a_bulk_of_distinct_requests_equals_single_creates(
    batch: list[DeploymentFlowRunCreate], adapter: str
) -> None:
    with world(adapter) as bulk_world, world(adapter) as single_world:
        bulk = FlowRunService(bulk_world.repo, **factories()).create_flow_runs_from_deployment(  # type: ignore[arg-type]
            bulk_world.deployment_id, batch
        )
        single = FlowRunService(single_world.repo, **factories())  # type: ignore[arg-type]
        for outcome, request in zip(bulk.outcomes, batch, strict=True):
            made = single.create_flow_run_from_deployment(single_world.deployment_id, request)
            assert outcome.status is BulkStatus.CREATED
            assert outcome.flow_run is not None
            expected = attrs.evolve(
                made.value,
                deployment_id=bulk_world.deployment_id,
                flow_id=outcome.flow_run.flow_id,
                labels=outcome.flow_run.labels,
            )
            assert outcome.flow_run == expected
        assert bulk_world.repo.count_flow_runs() == len(batch)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(requests, min_size=0, max_size=5),
    bad_at=st.integers(0, 5),
    adapter=st.sampled_from(sorted(ADAPTERS)),
)
def test_law_atomic_bulk_with_one_bad_item_writes_nothing(
    batch: list[DeploymentFlowRunCreate], bad_at: int, adapter: str
) -> None:
    bad = req(parent_task_run_id=uuid.uuid4())
    batch = [*batch[:bad_at], bad, *batch[bad_at:]]
    with world(adapter) as found:
        pool = found.repo.get_work_pool_by_name("pool")
        assert pool is not None
        queues = len(found.repo.list_work_queues(pool.id))
        result = found.service().create_flow_runs_from_deployment(
            found.pooled_id,
            [attrs.evolve(r, work_queue_name="atomic-q") for r in batch],
            atomic=True,
        )
        assert result.committed is False
        assert found.repo.count_flow_runs() == 0
        assert len(found.repo.list_work_queues(pool.id)) == queues
        assert [o.status for o in result.outcomes].count(BulkStatus.FAILED) == 1
        assert all(o.status is BulkStatus.ROLLED_BACK for o in result.outcomes if o.error is None)
        assert not any(o.stored for o in result.outcomes)
