"""Pure helpers of the command line: --param parsing and request-body building."""

from __future__ import annotations

import json
import math

import click
import pytest
from flowrun_adapters.cli.app import repository_url
from flowrun_adapters.cli.runs import build_body, parse_param
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.testing.strategies import json_values

keys = st.text(min_size=1).filter(lambda k: "=" not in k)


@given(keys, json_values())
def test_a_json_value_round_trips_through_param(key: str, value: object) -> None:
    assert parse_param(f"{key}={json.dumps(value)}") == (key, value)


@given(keys, st.text())
def test_param_value_is_json_if_it_parses_else_text(key: str, raw: str) -> None:
    try:
        expected = json.loads(raw)
    except ValueError:
        expected = raw
    got_key, got = parse_param(f"{key}={raw}")
    assert got_key == key
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(got, float)
        assert math.isnan(got)
    else:
        assert got == expected


@pytest.mark.parametrize("text", ["novalue", "=value", ""])
def test_param_needs_a_key_and_an_equals_sign(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_param(text)


def test_body_from_options_only() -> None:
    body = build_body(
        None,
        params=[("a", 1), ("b", "x")],
        tags=["t1", "t2"],
        idempotency_key="k",
        state="PENDING",
        work_queue="q",
        name="n",
    )
    assert json.loads(body) == {
        "parameters": {"a": 1, "b": "x"},
        "tags": ["t1", "t2"],
        "name": "n",
        "idempotency_key": "k",
        "state": {"type": "PENDING"},
        "work_queue_name": "q",
    }
    assert build_body(None) == b"{}"


@given(st.lists(st.text(max_size=5), max_size=5), st.lists(st.text(max_size=5), max_size=5))
def test_tags_from_body_and_options_keep_each_once_in_order(
    tmp_path_factory, body_tags, option_tags
) -> None:
    source = tmp_path_factory.mktemp("b") / "body.json"
    source.write_text(json.dumps({"tags": body_tags}))
    merged = json.loads(build_body(str(source), tags=option_tags))["tags"]
    assert merged[: len(body_tags)] == body_tags
    assert set(merged) == set(body_tags) | set(option_tags)
    extra = merged[len(body_tags) :]
    assert len(extra) == len(set(extra))
    assert not set(extra) & set(body_tags)


def test_state_keeps_the_bodys_other_state_fields(tmp_path) -> None:
    source = tmp_path / "body.json"
    source.write_text('{"state": {"type": "SCHEDULED", "message": "hi"}}')
    assert json.loads(build_body(str(source), state="RUNNING")) == {
        "state": {"type": "RUNNING", "message": "hi"}
    }


def test_body_alone_is_passed_byte_for_byte(tmp_path) -> None:
    source = tmp_path / "body.json"
    source.write_text('{"tags" : [1],\n "x": 1}')
    assert build_body(str(source)) == b'{"tags" : [1],\n "x": 1}'


def test_repository_urls_pass_through_and_paths_become_sqlite() -> None:
    assert repository_url("memory:") == "memory:"
    assert repository_url("sqlite:///x.db") == "sqlite:///x.db"
    assert repository_url("postgresql://u@h/db?schema=s") == "postgresql://u@h/db?schema=s"
    assert repository_url("runs.db") == "sqlite:///runs.db"
