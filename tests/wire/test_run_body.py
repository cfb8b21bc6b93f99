"""The direct response writer: byte for byte the reference encoder's output, for any run."""

from __future__ import annotations

import copy
import json
import pickle
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.models import CreatedBy, FlowRun, FlowRunPolicy, State, StateDetails, StateType
from flowrun_core.testing.strategies import json_objects, json_values
from flowrun_core.wire import WireResponse
from flowrun_core.wire.response import encode_flow_run, encode_json
from flowrun_core.wire.run_body import flow_run_body

sys.path.insert(0, str(Path(__file__).parent))
from wire_runs import T0, make_run

NOW = T0 + timedelta(seconds=90)


def reference(run: FlowRun, now: datetime = NOW) -> bytes:
    return encode_json(encode_flow_run(run, now=now))


def outcome(write: Callable[[], bytes]) -> tuple[str, object]:
    """The bytes written, or the exception raised (type and message)."""
    try:
        return "bytes", write()
    except Exception as exc:
        return type(exc).__name__, str(exc)


# -- strategies --------------------------------------------------------------------------

# Text with lone surrogates too: the writer must hand those to the reference.
any_text = st.text(max_size=12) | st.sampled_from(["\ud800", "a\udfffb", "\ud83d\ude00", '"\\\n'])
zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=2)),
        timezone(-timedelta(hours=5, minutes=30)),
        timezone(timedelta(seconds=3725)),
        timezone(timedelta(hours=1, microseconds=5)),
    ]
)
moments = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=zones | st.none(),
)
optional_moments = st.none() | moments
optional_ids = st.none() | st.uuids()
numbers = st.floats() | st.integers(min_value=-(2**70), max_value=2**70)
flags = st.none() | st.booleans()


@st.composite
def state_details(draw: st.DrawFn, run_id: UUID, expected: datetime | None) -> StateDetails:
    return StateDetails(
        flow_run_id=draw(st.sampled_from([run_id, UUID(str(run_id))]) | optional_ids),
        task_run_id=draw(optional_ids),
        child_flow_run_id=draw(optional_ids),
        scheduled_time=draw(st.sampled_from([expected]) | optional_moments),
        cache_key=draw(st.none() | any_text),
        cache_expiration=draw(optional_moments),
        deferred=draw(flags),
        untrackable_result=draw(st.booleans()),
        pause_timeout=draw(optional_moments),
        pause_reschedule=draw(st.booleans()),
        pause_key=draw(st.none() | any_text),
        run_input_keyset=draw(st.none() | st.dictionaries(any_text, any_text, max_size=3)),
        refresh_cache=draw(flags),
        retriable=draw(flags),
        transition_id=draw(optional_ids),
        task_parameters_id=draw(optional_ids),
        traceparent=draw(st.none() | any_text),
        deployment_concurrency_lease_id=draw(optional_ids),
    )


@st.composite
def flow_runs(draw: st.DrawFn) -> FlowRun:
    run_id = draw(st.uuids())
    expected = draw(optional_moments)
    state: State | None = None
    if draw(st.booleans()):
        state = State(
            id=draw(st.uuids()),
            type=draw(st.sampled_from(StateType)),
            name=draw(st.none() | any_text),
            timestamp=draw(moments),
            message=draw(st.none() | any_text),
            data=draw(json_values(allow_nan=True)),
            state_details=draw(state_details(run_id, expected)),
        )
    state_id = None if state is None else draw(st.sampled_from([state.id]) | optional_ids)
    policy = FlowRunPolicy(
        max_retries=draw(st.integers(-5, 2**40)),
        retry_delay_seconds=draw(numbers),
        retries=draw(st.none() | st.integers(-5, 5)),
        retry_delay=draw(st.none() | st.integers(-5, 5)),
        pause_keys=draw(st.none() | st.frozensets(any_text, max_size=3)),
        resuming=draw(flags),
        retry_type=draw(st.sampled_from([None, "in_process", "reschedule"])),
    )
    created_by = draw(
        st.none()
        | st.builds(CreatedBy, id=optional_ids, type=st.none() | any_text, display_value=any_text)
    )
    return FlowRun(
        id=run_id,
        created=draw(moments),
        updated=draw(moments),
        name=draw(any_text),
        flow_id=draw(st.uuids()),
        state_id=state_id,
        deployment_id=draw(optional_ids),
        deployment_version=draw(st.none() | any_text),
        work_queue_id=draw(optional_ids),
        work_queue_name=draw(st.none() | any_text),
        flow_version=draw(st.none() | any_text),
        parameters=draw(json_objects(allow_nan=True)),
        idempotency_key=draw(st.none() | any_text),
        context=draw(json_objects(allow_nan=True)),
        empirical_policy=policy,
        tags=tuple(draw(st.lists(any_text, max_size=4))),
        labels=draw(st.dictionaries(any_text, json_values(allow_nan=True), max_size=3)),
        parent_task_run_id=draw(optional_ids),
        state_type=None if state is None else state.type,
        state_name=None if state is None else state.name,
        run_count=draw(st.integers(0, 2**40)),
        expected_start_time=expected,
        next_scheduled_start_time=draw(st.sampled_from([expected]) | optional_moments),
        start_time=draw(optional_moments),
        end_time=draw(optional_moments),
        total_run_time=draw(numbers),
        auto_scheduled=draw(st.booleans()),
        infrastructure_document_id=draw(optional_ids),
        infrastructure_pid=draw(st.none() | any_text),
        created_by=created_by,
        work_pool_id=draw(optional_ids),
        work_pool_name=draw(st.none() | any_text),
        state=state,
        job_variables=draw(st.none() | json_objects(allow_nan=True)),
    )


# -- the law -----------------------------------------------------------------------------


@given(run=flow_runs(), now=moments.filter(lambda m: m.tzinfo is not None))
def test_the_bytes_are_the_reference_encoders(run: FlowRun, now: datetime) -> None:
    """Same bytes, or the same failure (a naive time against an aware one cannot be compared)."""
    assert outcome(lambda: flow_run_body(run, now=now)) == outcome(lambda: reference(run, now))


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "changes",
    [
        {"parameters": {"x": [1, 2.5, None, True, "é"]}},
        {"name": "lone \ud800 surrogate"},
        {"parameters": {"deep": nested(3000)}},
        {"parameters": {"nan": float("nan"), "inf": [float("-inf")]}},
        {"labels": {"k": float("inf")}},
        {"total_run_time": float("nan")},
        {"state": None, "state_id": None, "state_type": None, "state_name": None},
        {"job_variables": None},
        {"tags": ("b", "a", "é")},
    ],
    ids=[
        "plain",
        "lone-surrogate",
        "deep",
        "non-finite-parameters",
        "non-finite-label",
        "nan-run-time",
        "no-state",
        "null-job-variables",
        "tags",
    ],
)
def test_the_edge_cases_are_the_reference_encoders(changes: dict[str, Any]) -> None:
    run = make_run(**changes)
    assert flow_run_body(run, now=NOW) == reference(run)


def test_an_id_that_is_not_a_uuid_is_escaped_as_in_the_reference() -> None:
    """An adapter outside this project might hand back ids as text."""
    run = make_run(deployment_id='say "hi"\n', work_pool_id="é")
    assert flow_run_body(run, now=NOW) == reference(run)


def test_a_value_json_refuses_fails_as_in_the_reference() -> None:
    run = make_run(parameters={"big": 10**5000})
    with pytest.raises(ValueError, match="4300") as expected:
        reference(run)
    with pytest.raises(ValueError) as actual:
        flow_run_body(run, now=NOW)
    assert str(actual.value) == str(expected.value)


def test_repeated_values_are_written_where_they_are_repeated() -> None:
    """The state's copies of the run's id, state id and start time are the same objects."""
    base = make_run()
    other = attrs.evolve(
        base,
        state=attrs.evolve(
            base.state,
            id=UUID(int=9),
            state_details=StateDetails(flow_run_id=UUID(int=8), scheduled_time=T0 + timedelta(1)),
        ),
        next_scheduled_start_time=T0 + timedelta(2),
    )
    written = json.loads(flow_run_body(other, now=NOW))
    assert written["state_id"] == str(UUID(int=2))
    assert written["state"]["id"] == str(UUID(int=9))
    assert written["state"]["state_details"]["flow_run_id"] == str(UUID(int=8))
    assert written["state"]["state_details"]["scheduled_time"] == "2030-01-02T12:00:00Z"
    assert written["next_scheduled_start_time"] == "2030-01-03T12:00:00Z"
    assert written["expected_start_time"] == "2030-01-01T12:00:00Z"


# -- the response value ------------------------------------------------------------------


def test_a_flow_run_response_is_its_runs_json_and_bytes() -> None:
    run = make_run()
    response = WireResponse.for_flow_run(201, run, now=NOW)
    assert response.status == 201
    assert response.json == encode_flow_run(run, now=NOW)
    assert response.body == reference(run)
    assert response.content_type == "application/json"


def test_the_two_kinds_of_response_are_equal_by_status_and_json() -> None:
    run = make_run()
    lazy = WireResponse.for_flow_run(201, run, now=NOW)
    plain = WireResponse(status=201, json=encode_flow_run(run, now=NOW))
    assert lazy == plain
    assert plain == lazy
    assert lazy != WireResponse(status=200, json=plain.json)
    assert lazy != WireResponse.for_flow_run(201, run, now=NOW + timedelta(seconds=1))
    assert lazy != plain.json
    assert repr(lazy) == repr(plain)
    assert repr(plain).startswith("WireResponse(status=201, json={'id': ")


def test_a_response_is_immutable_and_unhashable() -> None:
    response = WireResponse(status=404, json={"detail": "Not Found"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        response.status = 200  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del response.status
    with pytest.raises(TypeError):
        hash(response)
    assert response.body == b'{"detail":"Not Found"}'


@pytest.mark.parametrize("kind", ["plain", "flow-run"])
def test_a_response_survives_pickle_and_copies(kind: str) -> None:
    run = make_run()
    response = (
        WireResponse(status=201, json=encode_flow_run(run, now=NOW))
        if kind == "plain"
        else WireResponse.for_flow_run(201, run, now=NOW)
    )
    for twin in (
        pickle.loads(pickle.dumps(response)),
        copy.copy(response),
        copy.deepcopy(response),
    ):
        assert twin == response
        assert twin.body == response.body
