"""Merge, tags, labels, work-queue priority and state rules: examples and laws."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.errors import InvalidRetryDelay, InvalidWorkQueueName, WorkQueueWithoutPool
from flowrun_core.models import (
    FlowRun,
    FlowRunPolicy,
    StateCreate,
    StateDetails,
    StateType,
)
from flowrun_core.rules.hydration import hydrate_parameters
from flowrun_core.rules.parameters import effective_enforcement, merge_parameters
from flowrun_core.rules.policy import backfill_deprecated_fields
from flowrun_core.rules.state import (
    apply_initial_state,
    initial_state,
    with_default_scheduled_time,
)
from flowrun_core.rules.tags_labels import deployment_labels, run_labels, union_tags
from flowrun_core.rules.variable_value import as_read_back
from flowrun_core.rules.work_queue import (
    check_new_queue_name,
    lowest_free_priority,
    require_pool_for_override,
)

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=4), json_values, max_size=5)


# -- merge ---------------------------------------------------------------------------------


def test_merge_is_shallow() -> None:
    merged = merge_parameters({"nested": {"a": 1, "b": 2}, "k": 0}, {"nested": {"a": 5}})
    assert merged == {"nested": {"a": 5}, "k": 0}


def test_merge_null_overrides_a_default() -> None:
    assert merge_parameters({"x": 1}, {"x": None}) == {"x": None}


def test_merge_key_order_is_deployment_then_new_request_keys() -> None:
    merged = merge_parameters({"b": 1, "a": 2}, {"c": 3, "a": 4})
    assert list(merged) == ["b", "a", "c"]


@given(json_objects, json_objects)
def test_merge_laws(deployment: dict, request: dict) -> None:
    before_dep, before_req = copy.deepcopy(deployment), copy.deepcopy(request)
    merged = merge_parameters(deployment, request)
    assert deployment == before_dep
    assert request == before_req
    for key, value in request.items():
        assert merged[key] == value
    for key, value in deployment.items():
        if key not in request:
            assert merged[key] == value
    assert set(merged) == set(deployment) | set(request)


@given(json_objects, json_objects)
def test_merge_then_hydrate_shares_no_containers(deployment: dict, request: dict) -> None:
    # What the service stores is hydrate(merge(...)): it must share nothing with the inputs.
    variables: dict = {}
    merged = merge_parameters(deployment, request)
    assert merged is not deployment
    assert merged is not request
    hydrated = hydrate_parameters(merged, variables)
    for key, value in hydrated.items():
        if isinstance(value, dict | list):
            assert value is not request.get(key)
            assert value is not deployment.get(key)


@pytest.mark.parametrize(
    ("request_flag", "deployment_flag", "expected"),
    [(None, True, True), (None, False, False), (False, True, False), (True, False, True)],
)
def test_request_flag_wins_when_given(request_flag, deployment_flag, expected) -> None:
    assert effective_enforcement(request_flag, deployment_flag) is expected


# -- tags and labels -----------------------------------------------------------------------


def test_tags_are_a_union_without_duplicates() -> None:
    assert union_tags(["b", "a"], ["c", "a", "c"]) == ("a", "b", "c")


@given(st.lists(st.text(max_size=4)), st.lists(st.text(max_size=4)))
def test_tags_union_law(dep: list[str], req: list[str]) -> None:
    tags = union_tags(dep, req)
    assert set(tags) == set(dep) | set(req)
    assert len(tags) == len(set(tags))


def test_labels_request_wins_over_everything_in_first_appearance_order() -> None:
    flow_id, dep_id = uuid.uuid4(), uuid.uuid4()
    labels = run_labels(
        deployment_labels={"team": "a", "prefect.flow.id": str(flow_id), "env": "prod"},
        flow_id=flow_id,
        deployment_id=dep_id,
        request_labels={"prefect.deployment.id": "spoof", "env": "dev", "new": 1},
    )
    assert list(labels.items()) == [
        ("team", "a"),
        ("prefect.flow.id", str(flow_id)),
        ("env", "dev"),
        ("prefect.deployment.id", "spoof"),
        ("new", 1),
    ]


def test_deployment_labels_are_flow_then_flow_id_then_own() -> None:
    flow_id = uuid.uuid4()
    labels = deployment_labels(
        flow_labels={"f": 1, "env": "x"}, flow_id=flow_id, own_labels={"env": "prod"}
    )
    assert list(labels.items()) == [("f", 1), ("env", "prod"), ("prefect.flow.id", str(flow_id))]


# -- work queues ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "expected"),
    [([], 1), ([1], 2), ([1, 2], 3), ([2, 3], 1), ([1, 3], 2), ([3, 1, 2, 5], 4)],
)
def test_lowest_free_priority(existing: list[int], expected: int) -> None:
    assert lowest_free_priority(existing) == expected


@given(st.sets(st.integers(min_value=1, max_value=30)))
def test_lowest_free_priority_is_free_and_lowest(existing: set[int]) -> None:
    chosen = lowest_free_priority(existing)
    assert chosen not in existing
    assert all(p in existing for p in range(1, chosen))


def test_override_without_pool_has_prefects_text() -> None:
    dep = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with pytest.raises(WorkQueueWithoutPool) as info:
        require_pool_for_override(
            work_queue_name="q", deployment_id=dep, deployment_work_queue_id=None
        )
    assert info.value.message == (
        "Cannot create flow run in work queue q because deployment "
        "12345678-1234-5678-1234-567812345678 is not associated with a work pool. "
        "Please remove work_pool_name and try again."
    )


@pytest.mark.parametrize("name", ["a/b", "50%", "x&y", "a>b", "a<b", ""])
def test_forbidden_queue_names(name: str) -> None:
    with pytest.raises(InvalidWorkQueueName):
        check_new_queue_name(name)


# -- state ---------------------------------------------------------------------------------


class _Ticks:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def _run(**changes) -> FlowRun:
    t = datetime(2030, 1, 1, tzinfo=UTC)
    return FlowRun(id=uuid.uuid4(), created=t, updated=t, name="n", flow_id=uuid.uuid4(), **changes)


def test_default_state_is_scheduled_now_with_scheduled_time_first() -> None:
    state = initial_state(None, clock=_Ticks(), new_id=uuid.uuid4)
    assert state.type is StateType.SCHEDULED
    assert state.name == "Scheduled"
    assert state.state_details.scheduled_time is not None
    assert state.state_details.scheduled_time < state.timestamp


def test_request_scheduled_state_gets_now_only_when_missing() -> None:
    clock = _Ticks()
    filled = with_default_scheduled_time(StateCreate(type=StateType.SCHEDULED), clock)
    assert filled is not None
    assert filled.state_details.scheduled_time is not None
    given_time = datetime(2040, 1, 1, tzinfo=UTC)
    kept = StateCreate(
        type=StateType.SCHEDULED, state_details=StateDetails(scheduled_time=given_time)
    )
    assert with_default_scheduled_time(kept, clock) is kept
    running = StateCreate(type=StateType.RUNNING)
    assert with_default_scheduled_time(running, clock) is running


@pytest.mark.parametrize("kind", list(StateType))
def test_derived_fields_for_every_state_type(kind: StateType) -> None:
    clock = _Ticks()
    request_state = with_default_scheduled_time(StateCreate(type=kind), clock)
    state = initial_state(request_state, clock=clock, new_id=uuid.uuid4)
    run = apply_initial_state(_run(), state)
    assert run.state_type is kind
    assert run.state_name == kind.value.capitalize()
    assert run.state_id == state.id
    assert run.state is not None
    assert run.state.state_details.flow_run_id == run.id
    assert run.run_count == (1 if kind is StateType.RUNNING else 0)
    if kind is StateType.SCHEDULED:
        assert run.expected_start_time == state.state_details.scheduled_time
        assert run.next_scheduled_start_time == run.expected_start_time
    else:
        assert run.expected_start_time == state.timestamp
        assert run.next_scheduled_start_time is None
    if kind.is_terminal:
        assert run.start_time == run.end_time == state.timestamp
    elif kind is StateType.RUNNING:
        assert run.start_time == state.timestamp
        assert run.end_time is None
    else:
        assert run.start_time is None
        assert run.end_time is None


def test_running_with_resuming_counts_no_run_and_clears_resuming() -> None:
    state = initial_state(StateCreate(type=StateType.RUNNING), clock=_Ticks(), new_id=uuid.uuid4)
    run = apply_initial_state(_run(empirical_policy=FlowRunPolicy(resuming=True)), state)
    assert run.run_count == 0
    assert run.empirical_policy.resuming is False


def test_empty_name_is_kept_and_caller_task_run_id_kept_without_parent() -> None:
    task_run_id = uuid.uuid4()
    request = StateCreate(
        type=StateType.PENDING, name="", state_details=StateDetails(task_run_id=task_run_id)
    )
    state = initial_state(request, clock=_Ticks(), new_id=uuid.uuid4)
    run = apply_initial_state(_run(), state)
    assert run.state_name == ""
    assert run.state is not None
    assert run.state.state_details.task_run_id == task_run_id
    parent = uuid.uuid4()
    with_parent = apply_initial_state(_run(parent_task_run_id=parent), state)
    assert with_parent.state is not None
    assert with_parent.state.state_details.task_run_id == parent


def test_estimates() -> None:
    clock = _Ticks()
    state = initial_state(None, clock=clock, new_id=uuid.uuid4)
    run = apply_initial_state(_run(), state)
    later = clock() + timedelta(seconds=2)
    assert run.estimated_start_time_delta(later) > 0
    assert run.estimated_run_time(later) == 0.0
    running = apply_initial_state(
        _run(), initial_state(StateCreate(type=StateType.RUNNING), clock=clock, new_id=uuid.uuid4)
    )
    assert running.estimated_run_time(later) > 0
    assert running.estimated_start_time_delta(later) == 0.0


# -- a workspace variable's value as read back -----------------------------------------------


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        (3.0, 3),
        (-3.0, -3),
        (0.0, 0),
        (-0.0, 0),
        (1e16, 10_000_000_000_000_000),
        (9.2e18, 9_200_000_000_000_000_000),
        (9007199254740993.0, 9_007_199_254_740_992),
    ],
)
def test_whole_floats_in_int64_come_back_as_integers(stored: float, read: int) -> None:
    got = as_read_back(stored)
    assert type(got) is int
    assert got == read


@pytest.mark.parametrize(
    "stored",
    [
        0.5,
        1e300,
        9.223372036854776e18,  # 2**63: outside int64
        -9.223372036854776e18,  # -2**63: SQLite's bound is strict
        9.3e18,
        5e-324,
        [1.0, -0.0],
        {"a": 1.0},
        "3.0",
        True,
        False,
        None,
        3,
        2**63 - 1,
        -(2**63),
        [2**63],
        10**400,  # beyond any float (Prefect refuses such a variable)
    ],
)
def test_other_values_come_back_unchanged(stored: object) -> None:
    got = as_read_back(stored)  # type: ignore[arg-type]
    assert got is stored


@pytest.mark.parametrize("stored", [2**63, 2**64 - 1, -(2**63) - 1])
def test_integers_beyond_int64_come_back_as_floats(stored: int) -> None:
    got = as_read_back(stored)
    assert type(got) is float
    assert got == float(stored)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_read_back_keeps_the_number(value: float) -> None:
    got = as_read_back(value)
    assert got == value
    assert type(got) is (int if value.is_integer() and abs(value) < 2.0**63 else float)


# -- the deprecated retry fields (Prefect's second back-fill, step 6) -------------------------


@pytest.mark.parametrize(
    ("given", "retries", "retry_delay"),
    [
        (FlowRunPolicy(max_retries=3, retries=0), 3, None),
        (FlowRunPolicy(max_retries=-1), -1, None),
        (FlowRunPolicy(retry_delay_seconds=4.0, retry_delay=0), None, 4),
        (FlowRunPolicy(retry_delay_seconds=9e18), None, 9_000_000_000_000_000_000),
        (FlowRunPolicy(max_retries=3, retries=2, retry_delay_seconds=5, retry_delay=1), 2, 1),
        (FlowRunPolicy(), None, None),
    ],
)
def test_deprecated_fields_fill_falsy_new_ones(
    given: FlowRunPolicy, retries: int | None, retry_delay: int | None
) -> None:
    filled = backfill_deprecated_fields(given)
    assert (filled.retries, filled.retry_delay) == (retries, retry_delay)
    assert (filled.max_retries, filled.retry_delay_seconds) == (
        given.max_retries,
        given.retry_delay_seconds,
    )


@pytest.mark.parametrize("seconds", [2.5, float("inf"), float("nan"), 1e20, -1e19])
def test_a_delay_that_is_no_whole_64_bit_number_cannot_fill_retry_delay(seconds: float) -> None:
    with pytest.raises(InvalidRetryDelay, match="cannot fill retry_delay"):
        backfill_deprecated_fields(FlowRunPolicy(retry_delay_seconds=seconds, retry_delay=0))
    kept = FlowRunPolicy(retry_delay_seconds=seconds, retry_delay=7)
    assert backfill_deprecated_fields(kept) is kept


@given(st.integers(-5, 5), st.integers(-5, 5) | st.none())
def test_backfill_is_idempotent(max_retries: int, retries: int | None) -> None:
    once = backfill_deprecated_fields(FlowRunPolicy(max_retries=max_retries, retries=retries))
    assert backfill_deprecated_fields(once) == once
    assert once.retries == (retries or max_retries or retries)
