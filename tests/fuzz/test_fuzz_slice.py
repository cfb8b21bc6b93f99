"""The CI slice of the fuzz campaign: a few thousand deterministic inputs, zero surprises.

The full campaign (``bash scripts/fuzz.sh``) runs the same generators and the same oracle
on 100,000 inputs and more. Here: seeded cases on each kind of world, hypothesis-generated
bytes, JSON and headers (derandomized), and pinned inputs at the edges the campaign found.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrun_core.rules.hydration import MAX_JSON_DEPTH

SLICE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def memory_world() -> Iterator[harness.World]:
    world = harness.build_world("memory")
    yield world
    world.close()


def _expected(outcomes: dict[str, int]) -> None:
    unexpected = {k: v for k, v in outcomes.items() if k.startswith("UNEXPECTED")}
    assert unexpected == {}


@pytest.mark.parametrize(("kind", "count"), [("memory", 4000), ("sqlite", 1200), ("faulty", 1500)])
def test_seeded_cases_have_only_expected_outcomes(kind: str, count: int, tmp_path: Path) -> None:
    def world(number: int) -> harness.World:
        return harness.build_world(kind, path=tmp_path / f"w{number}.db", rng=random.Random(number))

    outcomes = harness.run_cases(world, seed=20260101, indices=range(count), reset_every=1000)
    _expected(outcomes)
    statuses = {key.split()[-1] for key in outcomes}
    # The slice reaches every family of answers, not only rejections.
    assert {"201", "200", "400", "404", "409", "422"} <= statuses
    if kind == "faulty":
        assert "503" in statuses


def test_memory_and_sqlite_answer_alike(tmp_path: Path) -> None:
    """The same cases on the same world, in memory and on SQLite: identical answers."""

    def pair(number: int) -> harness.Pair:
        return harness.build_pair(number, tmp_path / f"p{number}.db")

    outcomes = harness.run_cases(pair, seed=20260102, indices=range(1500), reset_every=750)
    _expected(outcomes)
    statuses = {key.split()[-1] for key in outcomes}
    assert {"201", "200", "400", "404", "409", "422"} <= statuses


@pytest.mark.parametrize(
    "body",
    [
        # Found by the campaign (seed 28): SQLite answered 503 where memory answered 400.
        (
            b'{"parameters": {"t": {"__prefect_kind": "workspace_variable", '
            b'"variable_name": "\\ud800"}}}'
        ),
        b'{"work_queue_name": "q\\udfff"}',
        b'{"idempotency_key": "\\ud800"}',
        b'{"name": "\\ud800", "idempotency_key": "key-1"}',
    ],
)
def test_lone_surrogates_answer_alike_on_both_adapters(body: bytes, tmp_path: Path) -> None:
    pair = harness.build_pair(0, tmp_path / "p.db")
    try:
        for deployment_id in pair.left.deployment_ids:
            case = harness.Case(deployment_id, body, {}, "pinned")
            outcome = harness.check_pair(pair, case)
            assert not outcome.startswith("UNEXPECTED"), outcome
    finally:
        pair.close()


def _check(
    world: harness.World, deployment_id: str, body: bytes | None, headers: dict[str, str]
) -> str:
    case = harness.Case(deployment_id, body, headers, "pinned")
    return harness.check(world, case)


@SLICE
@given(st.binary(max_size=300))
def test_arbitrary_bytes(memory_world: harness.World, body: bytes) -> None:
    outcome = _check(memory_world, memory_world.deployment_ids[-1], body, {})
    assert not outcome.startswith("UNEXPECTED"), outcome


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec=None), max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from([*harness.FIELDS, "type", "x"]) | st.text(max_size=4), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@SLICE
@given(json_values)
def test_arbitrary_json(memory_world: harness.World, value: Any) -> None:
    body = json.dumps(value, allow_nan=True).encode()
    outcome = _check(memory_world, memory_world.deployment_ids[-1], body, {})
    assert not outcome.startswith("UNEXPECTED"), outcome


header_values = st.text(st.characters(codec=None), max_size=20) | st.sampled_from(
    ["0.8.4", "0.7.0", "1.2", "application/json", "text/plain", "\udcff"]
)


@SLICE
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "x-prefect-api-version",
                "prefect-automation-id",
                "prefect-automation-name",
                "content-type",
            ]
        ),
        header_values,
    ),
    st.sampled_from([b"{}", b'{"name": "n"}', b"[]", b"not json"]),
)
def test_arbitrary_headers(
    memory_world: harness.World, headers: dict[str, str], body: bytes
) -> None:
    outcome = _check(memory_world, memory_world.deployment_ids[-1], body, headers)
    assert not outcome.startswith("UNEXPECTED"), outcome


@SLICE
@given(st.text(st.characters(codec=None), max_size=40))
def test_arbitrary_path_ids(memory_world: harness.World, deployment_id: str) -> None:
    outcome = _check(memory_world, deployment_id, b"{}", {})
    assert outcome in {"404", "201"}, outcome


# -- pinned edges -----------------------------------------------------------------------


def _nested(field: str, levels: int) -> bytes:
    """``{field: {"a": [[...]]}}`` where ``field``'s value nests ``levels`` levels in all."""
    return (f'{{"{field}":{{"a":' + "[" * (levels - 1) + "]" * (levels - 1) + "}}").encode()


@pytest.mark.parametrize("field", ["parameters", "context", "job_variables"])
def test_nesting_up_to_prefects_limit_is_created_and_beyond_is_422(
    memory_world: harness.World, field: str
) -> None:
    deployment = memory_world.deployment_ids[-1]  # "jobvars": on a pool, schema not enforced
    assert _check(memory_world, deployment, _nested(field, MAX_JSON_DEPTH), {}) == "201"
    assert _check(memory_world, deployment, _nested(field, MAX_JSON_DEPTH + 1), {}) == "422"


@pytest.mark.parametrize("depth", [300, 990, 1000, 10_000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{"])
def test_very_deep_bodies(memory_world: harness.World, depth: int, opener: str) -> None:
    inner = harness.deep_json_text(depth, opener)
    for body in (inner, f'{{"parameters":{{"a":{inner}}}}}', f'{{"x":{inner}}}'):
        outcome = _check(memory_world, memory_world.deployment_ids[-1], body.encode(), {})
        assert outcome in {"400", "422"}, outcome


@pytest.mark.parametrize(
    "template",
    [
        "{{ '\\ud800' }}",
        "{{ '%c' % 55296 }}",
    ],
)
def test_jinja_that_renders_a_lone_surrogate_is_refused(
    memory_world: harness.World, template: str
) -> None:
    body = json.dumps({"parameters": {"t": {"__prefect_kind": "jinja", "template": template}}})
    assert _check(memory_world, memory_world.deployment_ids[-1], body.encode(), {}) == "400"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name":"\\udfff"}',
        b'{"name":"\xed\xbf\xbf"}',
        b'{"tags":["ok","\\ud800"]}',
        b'{"parameters":{"x":{"\\ud800":1}}}',
        b'{"context":{"x":["\\ud800"]}}',
        b'{"parameters":{"j":{"__prefect_kind":"json","value":"\\"\\\\ud800\\""}}}',
        # Bound as SQL values before any write: the store cannot even look them up (503 before).
        b'{"work_queue_name":"\\udfff lone low"}',
        b'{"work_queue_name":"\xed\xbf\xbf"}',
        b'{"idempotency_key":"\\ud800"}',
    ],
)
def test_lone_surrogates_are_refused_on_every_adapter(body: bytes, tmp_path: Path) -> None:
    for kind in ("memory", "sqlite"):
        world = harness.build_world(kind, path=tmp_path / "w.db")
        try:
            assert _check(world, world.deployment_ids[-1], body, {}) in {"400", "422"}
        finally:
            world.close()


def test_deep_json_placeholder_is_refused(memory_world: harness.World) -> None:
    # {"j": [[…1…]]}: the parameters nest brackets + 2 levels, scalars counted (Prefect 3.9.1
    # answers 201 up to 256 levels, then 500 once the run is stored).
    for brackets, expected in (
        (MAX_JSON_DEPTH - 2, "201"),
        (MAX_JSON_DEPTH - 1, "400"),
        (MAX_JSON_DEPTH, "400"),
        (5000, "400"),
    ):
        doc = harness.deep_json_text(brackets)
        body = json.dumps({"parameters": {"j": {"__prefect_kind": "json", "value": doc}}})
        assert _check(memory_world, memory_world.deployment_ids[-1], body.encode(), {}) == expected


@pytest.mark.parametrize("template", harness.JINJA_ATTACKS)
def test_every_jinja_attack_is_bounded(memory_world: harness.World, template: str) -> None:
    body = json.dumps({"parameters": {"t": {"__prefect_kind": "jinja", "template": template}}})
    outcome = _check(memory_world, memory_world.deployment_ids[-1], body.encode(), {})
    assert outcome in {"201", "400"}, outcome


@pytest.mark.parametrize("index", range(len(harness.hostile_schemas())))
def test_every_hostile_schema_gets_a_clear_answer(memory_world: harness.World, index: int) -> None:
    deployment = memory_world.deployment_ids[index]
    for parameters in ({}, {"x": 1}, {"a": {"a": {"a": 1}}}, {"x": "a" * 10}):
        body = json.dumps({"parameters": parameters}).encode()
        outcome = _check(memory_world, deployment, body, {})
        assert outcome in {"201", "409", "422"}, outcome
