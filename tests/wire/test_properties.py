"""Laws of the request decoder, checked on generated input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.errors import InvalidRequest
from flowrun_core.models import DeploymentFlowRunCreate, StateType
from flowrun_core.wire.request import decode_create_request

FIELDS = [
    "state",
    "name",
    "parameters",
    "enforce_parameter_schema",
    "context",
    "infrastructure_document_id",
    "empirical_policy",
    "tags",
    "idempotency_key",
    "labels",
    "parent_task_run_id",
    "work_queue_name",
    "job_variables",
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
# Objects whose keys are mostly the real field names, so hooks deep inside are reached.
field_names = st.sampled_from([*FIELDS, "type", "state_details", "scheduled_time", "retries", "x"])
body_objects = st.dictionaries(
    field_names,
    json_values
    | st.dictionaries(field_names, json_values, max_size=4)
    | st.fixed_dictionaries(
        {"type": st.sampled_from([t.value for t in StateType])},
        optional={
            "state_details": st.dictionaries(field_names, json_values, max_size=3),
            "name": json_values,
            "data": json_values,
        },
    ),
    max_size=6,
)


def outcome(
    body: bytes | None, content_type: str | None = None
) -> DeploymentFlowRunCreate | InvalidRequest:
    """The decoded request, or the InvalidRequest; any other exception fails the test."""
    try:
        return decode_create_request(body, content_type=content_type)
    except InvalidRequest as exc:
        return exc


def decodes_or_rejects_cleanly(body: bytes | None, content_type: str | None = None) -> None:
    result = outcome(body, content_type)
    if isinstance(result, InvalidRequest):
        assert result.details
        for detail in result.details:
            assert detail.loc[0] == "body"
            assert isinstance(detail.msg, str)
            assert detail.msg
    else:
        assert isinstance(result, DeploymentFlowRunCreate)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_else(body: bytes) -> None:
    decodes_or_rejects_cleanly(body)


@given(st.text(alphabet='{}[]":,0123456789.eE-+ natrulfsNIy\\', max_size=60))
def test_json_like_text_never_raises_anything_else(text: str) -> None:
    decodes_or_rejects_cleanly(text.encode())


@given(json_values)
def test_arbitrary_json_never_raises_anything_else(value: Any) -> None:
    decodes_or_rejects_cleanly(json.dumps(value).encode())


@given(body_objects, st.sampled_from([None, "application/json", "text/plain"]))
def test_field_shaped_objects_never_raise_anything_else(
    value: dict[str, Any], content_type: str | None
) -> None:
    decodes_or_rejects_cleanly(json.dumps(value).encode(), content_type)


@given(body_objects)
def test_errors_are_located_in_the_body_and_request_body_is_the_parsed_body(
    value: dict[str, Any],
) -> None:
    result = outcome(json.dumps(value).encode())
    if isinstance(result, InvalidRequest):
        assert isinstance(result.request_body, dict)
        assert set(result.request_body) == set(value)
        for detail in result.details:
            assert detail.loc[0] == "body"
            if len(detail.loc) > 1:
                assert detail.loc[1] in value


@given(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_unknown_top_level_keys_each_give_one_error(extra: dict[str, str]) -> None:
    unknown = {f"x_{key}": item for key, item in extra.items()}
    if not unknown:
        return
    with pytest.raises(InvalidRequest) as info:
        decode_create_request(json.dumps(unknown).encode())
    assert [d.loc for d in info.value.details] == [("body", key) for key in unknown]
    assert {d.type for d in info.value.details} == {"extra_forbidden"}


texts = st.text(min_size=1, max_size=10)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
valid_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": texts,
        "parameters": st.dictionaries(st.text(max_size=5), plain_json, max_size=3),
        "context": st.dictionaries(st.text(max_size=5), plain_json, max_size=3),
        "tags": st.lists(st.text(max_size=5), max_size=3),
        "idempotency_key": st.none() | st.text(max_size=5),
        "work_queue_name": st.none() | st.text(max_size=5),
        # Finite floats only: an infinite label value is refused under a truthy idempotency
        # key (Prefect fails on it; see _refuse_non_finite_labels), so it is no valid body.
        "labels": st.none()
        | st.dictionaries(
            st.text(max_size=5),
            st.booleans()
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=5),
            max_size=3,
        ),
        "job_variables": st.none() | st.dictionaries(st.text(max_size=5), plain_json, max_size=3),
        "enforce_parameter_schema": st.none() | st.booleans(),
        "infrastructure_document_id": st.none() | st.uuids().map(str),
        "parent_task_run_id": st.none() | st.uuids().map(str),
        "state": st.fixed_dictionaries(
            {"type": st.sampled_from([t.value for t in StateType])},
            optional={
                "name": st.none() | st.text(max_size=5),
                "message": st.none() | st.text(max_size=5),
                "state_details": st.fixed_dictionaries(
                    {},
                    optional={
                        "scheduled_time": st.datetimes(timezones=st.just(UTC)).map(
                            datetime.isoformat
                        )
                    },
                ),
            },
        ),
        "empirical_policy": st.fixed_dictionaries(
            {},
            optional={
                "retries": st.none() | st.integers(0, 10),
                "retry_delay": st.none() | st.integers(0, 10),
                "pause_keys": st.lists(st.text(max_size=3), max_size=3),
                "retry_type": st.sampled_from([None, "in_process", "reschedule"]),
            },
        ),
    },
)


def uuid_or_none(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)


@given(valid_bodies)
def test_valid_bodies_pass_through_unchanged(body: dict[str, Any]) -> None:
    run = decode_create_request(json.dumps(body).encode())
    assert run.name == body.get("name")
    assert run.parameters == body.get("parameters", {})
    assert run.context == body.get("context", {})
    assert run.tags == tuple(body.get("tags", ()))
    assert run.idempotency_key == body.get("idempotency_key")
    assert run.work_queue_name == body.get("work_queue_name")
    assert run.labels == body.get("labels")
    assert run.job_variables == body.get("job_variables", {})
    assert run.enforce_parameter_schema == body.get("enforce_parameter_schema")
    assert run.infrastructure_document_id == uuid_or_none(body.get("infrastructure_document_id"))
    assert run.parent_task_run_id == uuid_or_none(body.get("parent_task_run_id"))
    if "state" in body:
        assert run.state is not None
        assert run.state.type.value == body["state"]["type"]
        assert run.state.name == body["state"].get("name")
        assert run.state.message == body["state"].get("message")
        scheduled = body["state"].get("state_details", {}).get("scheduled_time")
        expected = None if scheduled is None else datetime.fromisoformat(scheduled)
        assert run.state.state_details.scheduled_time == expected
    else:
        assert run.state is None
    policy = body.get("empirical_policy", {})
    assert run.empirical_policy.retries == policy.get("retries")
    assert run.empirical_policy.retry_delay == policy.get("retry_delay")
    assert run.empirical_policy.pause_keys == frozenset(policy.get("pause_keys", ()))
    assert run.empirical_policy.retry_type == policy.get("retry_type")
