"""The SQL adapters' fast codecs agree with the plain standard-library spelling.

``flowrun_adapters.sqlite.rows`` and ``flowrun_adapters._records`` write JSON and ids by
shorter routes than ``json``/``UUID`` (the C encoder and scanner directly, a state's text
built from a template, parsed values reused). Each law here pins one route to the obvious
reference, so that a change to either side shows up as a counterexample.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import attrs
import pytest
from flowrun_adapters._records import (
    DecodedRows,
    details_from_json,
    details_to_json,
    parse_state_type,
    parse_uuid,
    state_from_json,
    state_to_json,
    state_to_text,
)
from flowrun_adapters.sqlite import rows
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.models import (
    CreatedBy,
    FlowRun,
    FlowRunPolicy,
    State,
    StateDetails,
    StateType,
)
from flowrun_core.testing.strategies import hostile_text, json_objects, json_values

_REFERENCE_DUMP = json.JSONEncoder(ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode


def _same_json(a: Any, b: Any) -> bool:
    """Equality that also tells NaN from NaN-less values and ``-0.0`` from ``0.0``."""
    return _REFERENCE_DUMP(a) == _REFERENCE_DUMP(b) and type(a) is type(b)


# -- JSON ----------------------------------------------------------------------------------


@given(json_values(allow_nan=True))
def test_dump_json_writes_the_reference_text(value: Any) -> None:
    assert rows.dump_json(value) == _REFERENCE_DUMP(value)


def test_dump_json_rejects_a_cycle_as_the_reference_does() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        _REFERENCE_DUMP(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        rows.dump_json(cycle)


def test_dump_json_rejects_what_json_cannot_write() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        rows.dump_json({"a": {1, 2}})


@given(json_values(allow_nan=True))
def test_load_json_reads_what_dump_json_wrote(value: Any) -> None:
    loaded = rows._load_json(rows.dump_json(value))
    assert _same_json(loaded, value) or _same_json(loaded, json.loads(_REFERENCE_DUMP(value)))


@given(st.text(alphabet=' \t\n{}[]",:0123456789.eE+-tnaulrsfNIy\\', max_size=12))
def test_load_json_accepts_and_rejects_exactly_what_json_loads_does(text: str) -> None:
    try:
        expected = json.loads(text)
    except json.JSONDecodeError as error:
        with pytest.raises(json.JSONDecodeError, match=f"^{re.escape(str(error))}$"):
            rows._load_json(text)
    else:
        assert _same_json(rows._load_json(text), expected)


# -- ids and enums -------------------------------------------------------------------------


@given(st.uuids())
def test_parse_uuid_reads_canonical_text(value: UUID) -> None:
    parsed = parse_uuid(str(value))
    assert parsed == value
    assert str(parsed) == str(value)
    assert parsed.is_safe is UUID(str(value)).is_safe


@given(
    st.one_of(
        st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: u.hex),
        st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.uuids().map(lambda u: "urn:uuid:" + str(u)),
        st.text(alphabet="0123456789abcdefABCDEF-_+ xz{}", max_size=40),
    )
)
def test_parse_uuid_agrees_with_uuid_on_any_text(text: str) -> None:
    try:
        expected = UUID(text)
    except ValueError:
        with pytest.raises(ValueError, match="hexadecimal UUID string"):
            parse_uuid(text)
    else:
        assert parse_uuid(text) == expected


@given(st.uuids())
def test_uuid_text_is_str(value: UUID) -> None:
    assert rows._uuid_text(value) == str(value)
    assert rows._shared_text(value) == str(value)
    assert rows._shared_uuid(str(value)) == value


@pytest.mark.parametrize("member", list(StateType))
def test_parse_state_type_is_the_enum(member: StateType) -> None:
    assert parse_state_type(member.value) is member


def test_parse_state_type_rejects_an_unknown_value() -> None:
    with pytest.raises(ValueError, match="is not a valid StateType"):
        parse_state_type("NOPE")


# -- states --------------------------------------------------------------------------------

_moments = st.datetimes(
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))])
).map(lambda moment: moment.replace(fold=0))  # fold is not stored (nor is it in Prefect)
_maybe_uuid = st.none() | st.uuids()
_maybe_moment = st.none() | _moments
_maybe_text = st.none() | hostile_text()
_maybe_flag = st.none() | st.booleans()

details_strategy = st.builds(
    StateDetails,
    flow_run_id=_maybe_uuid,
    task_run_id=_maybe_uuid,
    child_flow_run_id=_maybe_uuid,
    scheduled_time=_maybe_moment,
    cache_key=_maybe_text,
    cache_expiration=_maybe_moment,
    deferred=_maybe_flag,
    untrackable_result=st.booleans(),
    pause_timeout=_maybe_moment,
    pause_reschedule=st.booleans(),
    pause_key=_maybe_text,
    run_input_keyset=st.none() | st.dictionaries(hostile_text(), hostile_text(), max_size=3),
    refresh_cache=_maybe_flag,
    retriable=_maybe_flag,
    transition_id=_maybe_uuid,
    task_parameters_id=_maybe_uuid,
    traceparent=_maybe_text,
    deployment_concurrency_lease_id=_maybe_uuid,
)
# Half of the draws keep every plain field at its default, as a new run's state does.
details_or_default = st.one_of(
    details_strategy,
    st.builds(StateDetails, flow_run_id=_maybe_uuid, scheduled_time=_maybe_moment),
)

states_strategy = st.builds(
    State,
    id=st.uuids(),
    type=st.sampled_from(list(StateType)),
    name=_maybe_text,
    timestamp=_moments,
    message=_maybe_text,
    data=json_values(allow_nan=True),
    state_details=details_or_default,
)


@given(states_strategy)
def test_state_text_is_the_dumped_state_json(state: State) -> None:
    assert state_to_text(state, rows.dump_json) == _REFERENCE_DUMP(state_to_json(state))


@given(states_strategy)
def test_state_text_reads_back_to_the_same_state(state: State) -> None:
    loaded = state_from_json(json.loads(state_to_text(state, rows.dump_json)))
    assert _REFERENCE_DUMP(state_to_json(loaded)) == _REFERENCE_DUMP(state_to_json(state))


def test_state_text_writes_zero_apart_from_false() -> None:
    details = StateDetails(deferred=0, pause_reschedule=0)  # type: ignore[arg-type]
    state = State(
        id=UUID(int=1),
        type=StateType.SCHEDULED,
        name="S",
        timestamp=datetime.now(UTC),
        state_details=details,
    )
    text = state_to_text(state, rows.dump_json)
    assert text == _REFERENCE_DUMP(state_to_json(state))
    assert '"deferred":0' in text


@given(details_strategy)
def test_details_read_with_known_values_equal_details_read_plainly(details: StateDetails) -> None:
    data = json.loads(json.dumps(details_to_json(details)))
    known_ids = {str(v): v for v in (details.flow_run_id, details.transition_id) if v is not None}
    known_moments = {v.isoformat(): v for v in (details.scheduled_time,) if v is not None}
    assert details_from_json(data, known_ids, known_moments) == details_from_json(data)
    assert details_from_json(dict(data)) == details


def test_details_from_partial_json_take_defaults() -> None:
    assert details_from_json({"cache_key": "k"}) == StateDetails(cache_key="k")


# -- flow runs -----------------------------------------------------------------------------

_policies = st.builds(
    FlowRunPolicy,
    max_retries=st.integers(-3, 3),
    retry_delay_seconds=st.sampled_from([0.0, -0.0, 1.5, 0, False]),
    retries=st.none() | st.integers(0, 3),
    retry_delay=st.none() | st.integers(0, 3),
    pause_keys=st.none() | st.frozensets(st.text(max_size=3), max_size=2),
    resuming=_maybe_flag,
    retry_type=st.sampled_from([None, "in_process", "reschedule"]),
)


@st.composite
def flow_runs(draw: st.DrawFn) -> FlowRun:
    run_id = draw(st.uuids())
    expected = draw(_maybe_moment)
    state = draw(st.none() | states_strategy)
    if state is not None:  # NaN data would make the runs unequal to themselves
        state = attrs.evolve(state, data=draw(json_values()))
    if state is not None and draw(st.booleans()):
        # What a create writes: the state repeats the run's id and its expected start.
        details = StateDetails(flow_run_id=run_id, scheduled_time=expected)
        state = State(
            id=state.id,
            type=state.type,
            name=state.name,
            timestamp=state.timestamp,
            state_details=details,
        )
    shared = draw(st.sampled_from([UUID(int=7), UUID(int=8)]))
    return FlowRun(
        id=run_id,
        created=draw(_moments),
        updated=draw(_moments),
        name=draw(hostile_text()),
        flow_id=shared,
        state_id=None if state is None else state.id,
        deployment_id=draw(st.none() | st.just(shared)),
        work_queue_id=draw(_maybe_uuid),
        work_queue_name=draw(_maybe_text),
        parameters=draw(json_objects()),
        idempotency_key=draw(_maybe_text),
        context=draw(st.just({}) | json_objects()),
        empirical_policy=draw(st.just(FlowRunPolicy()) | _policies),
        tags=tuple(draw(st.lists(hostile_text(), max_size=3))),
        labels=draw(st.just({}) | json_objects()),
        state_type=None if state is None else state.type,
        state_name=None if state is None else state.name,
        expected_start_time=expected,
        next_scheduled_start_time=draw(st.sampled_from([expected, None])),
        total_run_time=draw(st.floats(allow_nan=True)),
        created_by=draw(st.none() | st.builds(CreatedBy, id=_maybe_uuid, type=_maybe_text)),
        work_pool_id=draw(_maybe_uuid),
        state=state,
        job_variables=draw(st.none() | st.just({}) | json_objects()),
    )


def _comparable(run: FlowRun) -> tuple[FlowRun, str]:
    """``run`` with its float apart, as text, so that NaN equals NaN and ``-0.0`` is kept."""
    return attrs.evolve(run, total_run_time=0.0), repr(run.total_run_time)


@given(flow_runs())
def test_a_flow_run_row_reads_back_to_the_same_run(run: FlowRun) -> None:
    back = rows.flow_run_from_row(rows.flow_run_to_row(run))
    assert _comparable(back) == _comparable(run)


@given(st.lists(hostile_text(), max_size=4).map(tuple))
def test_tags_are_written_as_json_writes_them(tags: tuple[str, ...]) -> None:
    text = rows._dump_tags(tags)
    assert text == _REFERENCE_DUMP(list(tags))
    assert rows._load_tags(text) == tags
    assert rows._load_tags(text) == tags  # the remembered value too


def test_tags_that_are_not_strings_fall_back_to_the_encoder() -> None:
    odd: Any = ("a", 1)
    assert rows._dump_tags(odd) == '["a",1]'
    assert rows._load_tags('[["x"]]') == (["x"],)
    # an unhashable value inside is not remembered, so no caller can change another's
    first, second = rows._load_tags('[["x"]]'), rows._load_tags('[["x"]]')
    assert first[0] is not second[0]


def test_remembered_policies_keep_zero_false_and_negative_zero_apart() -> None:
    texts = {
        rows._dump_policy(FlowRunPolicy(retry_delay_seconds=value))  # type: ignore[arg-type]
        for value in (0.0, -0.0, 0, False)
    }
    assert len(texts) == 4
    for value in (0.0, -0.0, 0, False):
        policy = FlowRunPolicy(retry_delay_seconds=value)  # type: ignore[arg-type]
        assert rows._dump_policy(policy) == _REFERENCE_DUMP(json.loads(rows._dump_policy(policy)))


# -- decoded rows ----------------------------------------------------------------------------


def test_decoded_rows_are_reused_only_while_the_row_is_unchanged() -> None:
    decoded: list[tuple[Any, ...]] = []

    def decode(row: Any) -> list[Any]:
        decoded.append(tuple(row))
        return list(row)

    cache: DecodedRows[str, list[Any]] = DecodedRows(decode, limit=2)
    first = cache.get("a", ("a", 1))
    assert cache.get("a", ("a", 1)) is first  # same row: the same value, decoded once
    changed = cache.get("a", ("a", 2))
    assert changed == ["a", 2]
    assert changed is not first
    cache.get("b", ("b", 1))
    cache.get("c", ("c", 1))  # the third key empties the full cache first
    assert cache.get("a", ("a", 2)) is not changed
    assert decoded == [("a", 1), ("a", 2), ("b", 1), ("c", 1), ("a", 2)]


def test_decoded_rows_lend_a_value_only_for_the_stamp_it_was_read_at() -> None:
    cache: DecodedRows[str, list[Any]] = DecodedRows(list)
    value = cache.get("a", ("a", 1), stamp=(1, 0))
    assert cache.current("a", (1, 0)) is value
    assert cache.current("a", (2, 0)) is None  # another connection committed
    assert cache.current("a", (1, 1)) is None  # this connection wrote or rolled back
    assert cache.current("b", (1, 0)) is None  # never read
    assert cache.get("a", ("a", 1), stamp=(2, 0)) is value  # same row: restamped, no decode
    assert cache.current("a", (2, 0)) is value
    cache.get("c", ("c", 1))  # no stamp: never lent without a select
    assert cache.current("c", None) is None


_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(st.lists(st.one_of(st.none(), _INT64, st.text(max_size=3)), min_size=1, max_size=6))
def test_a_non_null_insert_stores_the_row_the_full_insert_stores(values: list[Any]) -> None:
    import sqlite3  # noqa: PLC0415 - only this test opens a database

    columns = [f"c{i}" for i in range(len(values))]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t (n INTEGER PRIMARY KEY, {', '.join(columns)})")
    conn.execute(rows.insert_sql("t", columns), values)
    sql, params = rows.NonNullInsert("t", columns)(values)
    conn.execute(sql, params)
    assert "NULL" not in sql.upper()
    assert len(params) == sum(v is not None for v in values)
    first, second = conn.execute(f"SELECT {', '.join(columns)} FROM t ORDER BY n").fetchall()
    assert first == second == tuple(values)


def test_a_non_null_insert_makes_one_statement_per_null_pattern() -> None:
    insert = rows.NonNullInsert("t", ["a", "b", "c"], " ON CONFLICT DO NOTHING")
    sql, params = insert(("x", None, 1))
    assert sql == "INSERT INTO t (a, c) VALUES (?, ?) ON CONFLICT DO NOTHING"
    assert params == ("x", 1)
    assert insert(("y", None, 2))[0] is sql  # the same pattern reuses the statement
    assert insert((None, "z", None)) == (
        "INSERT INTO t (b) VALUES (?) ON CONFLICT DO NOTHING",
        ("z",),
    )
