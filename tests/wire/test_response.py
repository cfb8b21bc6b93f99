"""The response encoder: Prefect's ``FlowRunResponse`` JSON, key for key."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.models import (
    FlowRunPolicy,
    StateType,
)
from flowrun_core.wire.response import (
    as_read_back,
    encode_datetime,
    encode_flow_run,
    encode_json,
)

sys.path.insert(0, str(Path(__file__).parent))
from wire_runs import T0, make_run

RESULTS = Path(__file__).parents[1] / "compat" / "sample" / "results"


def recorded_run_bodies() -> list[dict[str, Any]]:
    bodies = []
    for path in sorted(RESULTS.glob("*.json")):
        for response in json.loads(path.read_text())["responses"]:
            body = response["body"]
            if isinstance(body, dict) and "flow_id" in body and response["status_code"] < 300:
                bodies.append(body)
    return bodies


def test_recorded_bodies_exist() -> None:
    assert len(recorded_run_bodies()) >= 10


@pytest.mark.parametrize("recorded", recorded_run_bodies()[:3])
def test_key_order_equals_prefects(recorded: dict[str, Any]) -> None:
    encoded = encode_flow_run(make_run(), now=T0)
    assert list(encoded) == list(recorded)
    assert list(encoded["empirical_policy"]) == list(recorded["empirical_policy"])
    assert list(encoded["state"]) == list(recorded["state"])
    assert list(encoded["state"]["state_details"]) == list(recorded["state"]["state_details"])
    assert list(encoded["created_by"]) == ["id", "type", "display_value"]


def test_defaults_match_prefects_default_body_shapes() -> None:
    encoded = encode_flow_run(make_run(), now=T0)
    assert encoded["empirical_policy"] == {
        "max_retries": 0,
        "retry_delay_seconds": 0.0,
        "retries": None,
        "retry_delay": None,
        "pause_keys": [],
        "resuming": False,
        "retry_type": None,
    }
    assert json.dumps(encoded["total_run_time"]) == "0.0"
    assert json.dumps(encoded["empirical_policy"]["retry_delay_seconds"]) == "0.0"
    assert encoded["estimated_run_time"] == 0.0
    assert encoded["created"] == "2030-01-01T12:00:00Z"
    assert encoded["updated"] == "2030-01-01T12:00:00.003000Z"
    assert encoded["state"]["data"] is None
    assert encoded["created_by"] == {
        "id": str(UUID(int=4)),
        "type": "AUTOMATION",
        "display_value": "A",
    }


def test_estimates_use_now() -> None:
    running = make_run(state_type=StateType.RUNNING, start_time=T0, expected_start_time=T0)
    encoded = encode_flow_run(running, now=T0 + timedelta(seconds=2))
    assert encoded["estimated_run_time"] == 2.0
    late = encode_flow_run(make_run(), now=T0 + timedelta(seconds=3))
    assert late["estimated_start_time_delta"] == 3.0


def test_sets_are_sorted_lists_and_non_finite_labels_are_null() -> None:
    run = make_run(
        tags=("b", "a", "c"),
        empirical_policy=FlowRunPolicy(pause_keys=frozenset({"z", "y"})),
        labels={"inf": float("inf"), "nan": float("nan"), "n": 1, "f": 0.5, "b": True},
        parameters={"x": [float("-inf")]},
    )
    encoded = encode_flow_run(run, now=T0)
    assert encoded["tags"] == ["a", "b", "c"]
    assert encoded["empirical_policy"]["pause_keys"] == ["y", "z"]
    assert encoded["labels"] == {"inf": None, "nan": None, "n": 1, "f": 0.5, "b": True}
    assert encoded["parameters"] == {"x": [None]}


def test_output_does_not_alias_the_run() -> None:
    run = make_run(parameters={"a": {"b": 1}}, context={"c": [1]})
    encoded = encode_flow_run(run, now=T0)
    encoded["parameters"]["a"]["b"] = 2  # type: ignore[index,call-overload]
    assert run.parameters == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2030, 1, 1, tzinfo=UTC), "2030-01-01T00:00:00Z"),
        (datetime(2030, 1, 1, 0, 0, 0, 500000, tzinfo=UTC), "2030-01-01T00:00:00.500000Z"),
        (
            datetime(2030, 1, 1, 0, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
            "2030-01-01T00:00:00.000005+02:00",
        ),
        (
            datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2030-01-01T00:00:00-05:30",
        ),
        (
            datetime(2030, 1, 1, tzinfo=timezone(timedelta(seconds=3661))),
            "2030-01-01T00:00:00+01:01",
        ),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
        (None, None),
    ],
)
def test_datetime_spelling(value: datetime | None, text: str | None) -> None:
    assert encode_datetime(value) == text


def _spelled_field_by_field(value: datetime) -> str:
    """pydantic's spelling, built from the fields (the reference for the fast encoder)."""
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    offset = value.utcoffset()
    if offset is None:
        return text
    if not offset:
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@given(
    moment=st.datetimes(),
    offset=st.one_of(
        st.none(),
        st.just(timedelta(0)),
        st.integers(-1439, 1439).map(lambda minutes: timedelta(minutes=minutes)),
        st.timedeltas(
            min_value=timedelta(hours=-23, minutes=-59, seconds=-59),
            max_value=timedelta(hours=23, minutes=59, seconds=59),
        ),
    ),
)
def test_every_datetime_is_spelled_as_pydantic_spells_it(
    moment: datetime, offset: timedelta | None
) -> None:
    value = moment if offset is None else moment.replace(tzinfo=timezone(offset))
    assert encode_datetime(value) == _spelled_field_by_field(value)


def test_encode_json_is_compact_utf8() -> None:
    assert (
        encode_json({"a": [1, 0.0, "\u00e9"], "b": None})
        == '{"a":[1,0.0,"\u00e9"],"b":null}'.encode()
    )


def test_encode_json_turns_non_finite_numbers_into_null() -> None:
    assert encode_json({"a": float("nan"), "b": [float("inf")]}) == b'{"a":null,"b":[null]}'


def test_encode_json_escapes_lone_surrogates() -> None:
    data = encode_json({"name": "\ud800x"})
    assert json.loads(data) == {"name": "\ud800x"}


def test_a_high_then_low_surrogate_reads_back_as_one_character() -> None:
    value = {"k\ud800\udfff": ["\ud800\udfff x", "\udfff\ud800", "ok"]}
    read = json.loads(encode_json(value))
    assert read == {"k\U000103ff": ["\U000103ff x", "\udfff\ud800", "ok"]}
    assert as_read_back(value) == read
    assert value == {"k\ud800\udfff": ["\ud800\udfff x", "\udfff\ud800", "ok"]}  # not mutated


_surrogate_text = st.text(
    alphabet=st.sampled_from(["a", "\ud800", "\udbff", "\udc00", "\udfff", "\U0001f600"]),
    max_size=6,
)
_surrogate_json = st.recursive(
    st.none() | st.integers() | _surrogate_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(_surrogate_text, children, max_size=3)
    ),
    max_leaves=10,
)


@given(_surrogate_json)
def test_as_read_back_is_what_a_client_reads(value: Any) -> None:
    assert json.loads(encode_json(value)) == as_read_back(value)


def test_as_read_back_does_not_recurse() -> None:
    deep: Any = "\ud800\udc00"
    for _ in range(10_000):
        deep = [deep]
    read = as_read_back(deep)
    for _ in range(10_000):
        read = read[0]
    assert read == "\U00010000"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_encode_json_round_trips(value: Any) -> None:
    assert json.loads(encode_json(value)) == value
