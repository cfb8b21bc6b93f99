"""The request decoder: spec §1 examples pinned to Prefect's exact texts, and coercion tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from flowrun_core.errors import ErrorDetail, InvalidRequest
from flowrun_core.models import DeploymentFlowRunCreate, FlowRunPolicy, StateType
from flowrun_core.wire.converter import (
    MAX_PARAMETER_SIZE,
    WireProblem,
    parse_bool,
    parse_float,
    parse_int,
    parse_uuid,
)
from flowrun_core.wire.request import (
    UNREADABLE_BODY,
    UnreadableBody,
    UnstorableValue,
    decode_create_request,
)

ENUM_MSG = (
    "Input should be 'SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', "
    "'CRASHED', 'PAUSED' or 'CANCELLING'"
)
MODEL_MSG = "Input should be a valid dictionary or object to extract fields from"
U = "0b9f5e8c-3d6f-4f6a-9a62-7c1d2e3f4a5b"


def decode(body: Any) -> DeploymentFlowRunCreate:
    return decode_create_request(json.dumps(body).encode())


def errors_of(body: bytes | None, content_type: str | None = None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        decode_create_request(body, content_type=content_type)
    return info.value


def details(body: Any) -> list[ErrorDetail]:
    return list(errors_of(json.dumps(body).encode()).details)


def triples(body: Any) -> list[tuple[str, tuple[str | int, ...], str]]:
    return [(d.type, d.loc, d.msg) for d in details(body)]


# -- body shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, b"", b"null"])
def test_no_body_or_null_is_missing(body: bytes | None) -> None:
    exc = errors_of(body)
    assert exc.details == (
        ErrorDetail(type="missing", loc=("body",), msg="Field required", input=None),
    )
    assert exc.request_body is None


@pytest.mark.parametrize(("raw", "value"), [(b"[]", []), (b'"x"', "x"), (b"1", 1), (b"true", True)])
def test_non_object_json(raw: bytes, value: Any) -> None:
    exc = errors_of(raw)
    assert exc.details == (
        ErrorDetail(type="model_attributes_type", loc=("body",), msg=MODEL_MSG, input=value),
    )
    assert exc.request_body == value


@pytest.mark.parametrize(
    ("raw", "pos", "error"),
    [
        ("{bad", 1, "Expecting property name enclosed in double quotes"),
        ('{"a":1,}', 7, "Expecting property name enclosed in double quotes"),
        ('  {"a" 1}', 7, "Expecting ':' delimiter"),
        ("  ", 2, "Expecting value"),
        ('{"x": 1} x', 9, "Extra data"),
        ("\u00e9", 0, "Expecting value"),
    ],
)
def test_invalid_json_position_is_a_character_index(raw: str, pos: int, error: str) -> None:
    exc = errors_of(raw.encode())
    assert exc.details == (
        ErrorDetail(
            type="json_invalid",
            loc=("body", pos),
            msg="JSON decode error",
            input={},
            ctx={"error": error},
        ),
    )
    assert exc.request_body == raw


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "", "application/jsonx", "application", "application/x-www-form-urlencoded"],
)
def test_non_json_content_type_reads_the_body_as_one_string(content_type: str) -> None:
    exc = errors_of(b'{"x": 1}', content_type)
    assert exc.details == (
        ErrorDetail(type="model_attributes_type", loc=("body",), msg=MODEL_MSG, input='{"x": 1}'),
    )
    assert exc.request_body == '{"x": 1}'


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/ld+json",
        " application/json ",
    ],
)
def test_json_content_types(content_type: str | None) -> None:
    exc = errors_of(b'{"x": 1}', content_type)
    assert [(d.type, d.loc) for d in exc.details] == [("extra_forbidden", ("body", "x"))]


def test_utf8_bom_and_utf16_are_read_as_python_json_reads_them() -> None:
    assert decode_create_request("\ufeff{}".encode()) == DeploymentFlowRunCreate()
    assert decode_create_request('{"name": "x"}'.encode("utf-16")).name == "x"


@pytest.mark.parametrize(
    "raw",
    [b'{"a": "\xff"}', b"[" * 10_000 + b"]" * 10_000, b'{"x": ' + b"1" * 5000 + b"}"],
    ids=["invalid-utf8", "deep", "huge-int"],
)
def test_unreadable_bodies_are_prefects_400(raw: bytes) -> None:
    exc = errors_of(raw)
    assert isinstance(exc, UnreadableBody)
    assert exc.message == UNREADABLE_BODY == "There was an error parsing the body"


def test_nesting_up_to_the_storable_depth_is_accepted() -> None:
    # The body itself is one level, "parameters" another: 254 more brackets reach 256.
    raw = b'{"parameters": {"a": ' + b"[" * 254 + b"]" * 254 + b"}}"
    assert decode_create_request(raw).parameters["a"] is not None


def test_deeper_values_are_unstorable() -> None:
    raw = b'{"parameters": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}"
    with pytest.raises(UnstorableValue) as info:
        decode_create_request(raw)
    assert [d.loc for d in info.value.details] == [("body", "parameters")]


def test_nan_infinity_and_repeated_keys_behave_as_python_json() -> None:
    run = decode_create_request(
        b'{"name": "a", "name": "b", "parameters": {"n": NaN, "i": Infinity}, "labels": {"x": 1e400}}'
    )
    assert run.name == "b"
    assert run.parameters["i"] == float("inf")
    assert run.labels == {"x": float("inf")}


# -- unknown keys and error order ----------------------------------------------------


def test_extra_keys_one_item_each_in_input_order_after_field_errors() -> None:
    body = {
        "zeta": 1,
        "alpha": 2,
        "tags": [1],
        "state": {"type": "X", "q": 1},
        "name": 5,
        "beta": 3,
    }
    assert triples(body) == [
        ("enum", ("body", "state", "type"), ENUM_MSG),
        ("extra_forbidden", ("body", "state", "q"), "Extra inputs are not permitted"),
        ("string_type", ("body", "name"), "Input should be a valid string"),
        ("string_type", ("body", "tags", 0), "Input should be a valid string"),
        ("extra_forbidden", ("body", "zeta"), "Extra inputs are not permitted"),
        ("extra_forbidden", ("body", "alpha"), "Extra inputs are not permitted"),
        ("extra_forbidden", ("body", "beta"), "Extra inputs are not permitted"),
    ]


@pytest.mark.parametrize(
    "key", ["flow_version", "work_pool_name", "flow_id", "deployment_id", "id"]
)
def test_fields_outside_the_table_are_forbidden(key: str) -> None:
    assert details({key: U}) == [
        ErrorDetail(
            type="extra_forbidden", loc=("body", key), msg="Extra inputs are not permitted", input=U
        )
    ]


def test_unknown_keys_ignored_in_state_details_and_policy() -> None:
    run = decode(
        {"state": {"type": "PAUSED", "state_details": {"bogus": 1}}, "empirical_policy": {"foo": 1}}
    )
    assert run.state is not None
    assert run.empirical_policy == FlowRunPolicy()


@pytest.mark.parametrize("key", ["timestamp", "id", "zzz"])
def test_state_extra_keys_forbidden(key: str) -> None:
    assert triples({"state": {"type": "RUNNING", key: U}}) == [
        ("extra_forbidden", ("body", "state", key), "Extra inputs are not permitted")
    ]


# -- fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("falsy", [None, "", 0, False, [], {}, 0.0])
def test_falsy_name_means_generate_a_slug(falsy: Any) -> None:
    assert decode({"name": falsy}).name is None


@pytest.mark.parametrize("name", ["  ", "a/b %&<>", "0"])
def test_names_kept_verbatim(name: str) -> None:
    assert decode({"name": name}).name == name


@pytest.mark.parametrize("truthy", [1, True, 1.5, [1], {"a": 1}])
def test_truthy_non_string_name(truthy: Any) -> None:
    assert details({"name": truthy}) == [
        ErrorDetail(
            type="string_type",
            loc=("body", "name"),
            msg="Input should be a valid string",
            input=truthy,
        )
    ]


@pytest.mark.parametrize("field", ["parameters", "context"])
@pytest.mark.parametrize("value", [None, [], "x", 1, True])
def test_parameters_and_context_must_be_objects(field: str, value: Any) -> None:
    assert triples({field: value}) == [
        ("dict_type", ("body", field), "Input should be a valid dictionary")
    ]


def test_job_variables_null_is_kept_and_non_object_rejected() -> None:
    assert decode({"job_variables": None}).job_variables is None
    assert decode({}).job_variables == {}
    assert triples({"job_variables": []}) == [
        ("dict_type", ("body", "job_variables"), "Input should be a valid dictionary")
    ]


def test_tags() -> None:
    assert decode({"tags": ["a", "a"]}).tags == ("a", "a")
    assert triples({"tags": None}) == [
        ("list_type", ("body", "tags"), "Input should be a valid list")
    ]
    assert triples({"tags": [1.5, "b", {}]}) == [
        ("string_type", ("body", "tags", 0), "Input should be a valid string"),
        ("string_type", ("body", "tags", 2), "Input should be a valid string"),
    ]


@pytest.mark.parametrize("field", ["idempotency_key", "work_queue_name"])
def test_optional_strings(field: str) -> None:
    assert getattr(decode({field: None}), field) is None
    assert getattr(decode({field: ""}), field) == ""
    assert triples({field: 7}) == [
        ("string_type", ("body", field), "Input should be a valid string")
    ]


def test_labels() -> None:
    assert decode({"labels": None}).labels is None
    labels = {"a": "s", "b": 2, "c": False, "d": 2.5}
    assert decode({"labels": labels}).labels == labels
    assert triples({"labels": []}) == [
        ("dict_type", ("body", "labels"), "Input should be a valid dictionary")
    ]


def test_label_value_errors_come_four_per_bad_key() -> None:
    assert details({"labels": {"a": 1, "b": None, "c": [2]}}) == [
        ErrorDetail(type=kind, loc=("body", "labels", key, branch), msg=msg, input=value)
        for key, value in (("b", None), ("c", [2]))
        for branch, kind, msg in (
            ("bool", "bool_type", "Input should be a valid boolean"),
            ("int", "int_type", "Input should be a valid integer"),
            ("float", "float_type", "Input should be a valid number"),
            ("str", "string_type", "Input should be a valid string"),
        )
    ]


@pytest.mark.parametrize("field", ["infrastructure_document_id", "parent_task_run_id"])
def test_uuid_fields(field: str) -> None:
    assert getattr(decode({field: U.upper()}), field) == UUID(U)
    assert details({field: "bad"}) == [
        ErrorDetail(
            type="uuid_parsing",
            loc=("body", field),
            msg="Input should be a valid UUID, invalid length: found 3",
            input="bad",
            ctx={"error": "invalid length: found 3"},
        )
    ]
    assert triples({field: 5}) == [
        ("uuid_type", ("body", field), "UUID input should be a string, bytes or UUID object")
    ]


# -- parameter size limit ----------------------------------------------------------


def _parameters_of_size(size: int, char: str = "a") -> dict[str, Any]:
    overhead = len(json.dumps({"p": ""}, separators=(",", ":")))
    per_char = len(json.dumps(char)) - 2
    return {"p": char * ((size - overhead) // per_char)}


def test_parameters_equal_to_the_limit_pass() -> None:
    params = _parameters_of_size(MAX_PARAMETER_SIZE)
    assert len(json.dumps(params, separators=(",", ":"))) == MAX_PARAMETER_SIZE
    assert decode({"parameters": params}).parameters == params


def test_parameters_over_the_limit() -> None:
    params = {"p": "a" * 600_000}
    (detail,) = details({"parameters": params})
    assert detail == ErrorDetail(
        type="value_error",
        loc=("body", "parameters"),
        msg="Value error, Flow run parameters must be less than 524,288 bytes when serialized "
        "(got 600,008 bytes).",
        input=params,
        ctx={"error": {}},
    )


def test_parameter_size_counts_non_ascii_as_escapes() -> None:
    params = _parameters_of_size(MAX_PARAMETER_SIZE + 6, "\u00e9")
    (detail,) = details({"parameters": params})
    assert "(got 524,294 bytes)" in detail.msg
    assert decode({"parameters": _parameters_of_size(MAX_PARAMETER_SIZE, "\u00e9")})


def test_empty_parameters_are_never_size_checked() -> None:
    assert decode({"parameters": {}}).parameters == {}


# -- state -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["BOGUS", "scheduled", 1, None])
def test_state_type_enum(bad: Any) -> None:
    assert details({"state": {"type": bad}}) == [
        ErrorDetail(
            type="enum",
            loc=("body", "state", "type"),
            msg=ENUM_MSG,
            input=bad,
            ctx={"expected": ENUM_MSG[16:]},
        )
    ]


def test_state_type_missing_reports_the_state_object_as_input() -> None:
    assert details({"state": {"name": "x"}}) == [
        ErrorDetail(
            type="missing", loc=("body", "state", "type"), msg="Field required", input={"name": "x"}
        )
    ]


@pytest.mark.parametrize("state_type", list(StateType))
def test_every_state_type_is_accepted_and_name_stays_none(state_type: StateType) -> None:
    state = decode({"state": {"type": state_type.value}}).state
    assert state is not None
    assert (state.type, state.name, state.state_details.scheduled_time) == (state_type, None, None)


def test_state_name_empty_string_is_kept() -> None:
    state = decode({"state": {"type": "RUNNING", "name": ""}}).state
    assert state is not None
    assert state.name == ""


@pytest.mark.parametrize("bad", [None, [], "x"])
def test_state_and_state_details_must_be_objects(bad: Any) -> None:
    if bad is not None:
        assert triples({"state": bad}) == [("model_attributes_type", ("body", "state"), MODEL_MSG)]
    assert triples({"state": {"type": "SCHEDULED", "state_details": bad}}) == [
        ("model_attributes_type", ("body", "state", "state_details"), MODEL_MSG)
    ]


def test_unpersisted_state_data_is_dropped() -> None:
    state = decode({"state": {"type": "RUNNING", "data": {"type": "unpersisted"}}}).state
    assert state is not None
    assert state.data is None


@pytest.mark.parametrize("data", [1, "x", {"type": "other"}, [], True])
def test_other_state_data_is_our_own_422(data: Any) -> None:
    (detail,) = details({"state": {"type": "RUNNING", "data": data}})
    assert (detail.type, detail.loc, detail.input) == (
        "value_error",
        ("body", "state", "data"),
        data,
    )
    assert detail.msg.startswith("Value error, state data cannot be set")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2030-01-01T00:00:00+02:00", datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=2)))),
        ("2030-01-01T00:00:00", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_scheduled_time_forms(given: Any, expected: datetime) -> None:
    state = decode(
        {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": given}}}
    ).state
    assert state is not None
    scheduled = state.state_details.scheduled_time
    assert scheduled == expected
    assert scheduled is not None
    assert scheduled.utcoffset() == expected.utcoffset()


def test_scheduled_time_garbage() -> None:
    assert details(
        {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "garbage"}}}
    ) == [
        ErrorDetail(
            type="value_error",
            loc=("body", "state", "state_details", "scheduled_time"),
            msg="Value error, Unable to parse string [garbage]",
            input="garbage",
            ctx={"error": {}},
        )
    ]


# -- empirical_policy -----------------------------------------------------------------


def test_policy_back_fill_example_from_the_spec() -> None:
    body = {"empirical_policy": {"max_retries": 3, "retry_delay_seconds": 5, "foo": 1}}
    policy = decode(body).empirical_policy
    assert policy == FlowRunPolicy(max_retries=3, retry_delay_seconds=5.0, retries=3, retry_delay=5)
    assert type(policy.retry_delay_seconds) is float


def test_back_fill_shows_in_request_body_as_in_prefect() -> None:
    exc = errors_of(b'{"empirical_policy": {"max_retries": "x"}}')
    assert [(d.type, d.loc) for d in exc.details] == [
        ("int_parsing", ("body", "empirical_policy", "max_retries")),
        ("int_parsing", ("body", "empirical_policy", "retries")),
    ]
    assert exc.request_body == {"empirical_policy": {"max_retries": "x", "retries": "x"}}


def test_retry_delay_must_be_integral() -> None:
    msg = "Input should be a valid integer, got a number with a fractional part"
    assert triples({"empirical_policy": {"retry_delay": 2.5}}) == [
        ("int_from_float", ("body", "empirical_policy", "retry_delay"), msg)
    ]
    assert triples({"empirical_policy": {"retry_delay_seconds": 2.5}}) == [
        ("int_from_float", ("body", "empirical_policy", "retry_delay"), msg)
    ]
    assert decode({"empirical_policy": {"retry_delay": "2"}}).empirical_policy.retry_delay == 2


def test_pause_keys_are_a_set() -> None:
    assert decode(
        {"empirical_policy": {"pause_keys": ["b", "a", "a"]}}
    ).empirical_policy.pause_keys == {"a", "b"}
    assert decode({"empirical_policy": {"pause_keys": None}}).empirical_policy.pause_keys is None
    assert triples({"empirical_policy": {"pause_keys": "a"}}) == [
        ("set_type", ("body", "empirical_policy", "pause_keys"), "Input should be a valid set")
    ]


def test_retry_type_literal() -> None:
    expected = "'in_process' or 'reschedule'"
    assert details({"empirical_policy": {"retry_type": "x"}}) == [
        ErrorDetail(
            type="literal_error",
            loc=("body", "empirical_policy", "retry_type"),
            msg=f"Input should be {expected}",
            input="x",
            ctx={"expected": expected},
        )
    ]


@pytest.mark.parametrize("bad", [None, [], "x", 1])
def test_policy_that_is_not_an_object_is_our_own_422(bad: Any) -> None:
    assert triples({"empirical_policy": bad}) == [
        ("model_attributes_type", ("body", "empirical_policy"), MODEL_MSG)
    ]


# -- coercion tables (each row observed on pydantic 2.14 / Prefect 3.9.1) ---------------

BOOLS_OK = [
    *[(w, True) for w in ("yes", "on", "t", "y", "1", "true", "TRUE", "Yes", "oN")],
    *[(w, False) for w in ("no", "off", "f", "n", "0", "false", "OFF", "F")],
    (0, False),
    (1, True),
    (0.0, False),
    (1.0, True),
    (True, True),
    (False, False),
]
BOOLS_BAD = [
    (" yes", "bool_parsing"),
    ("yes ", "bool_parsing"),
    (2, "bool_parsing"),
    (-1, "bool_parsing"),
    ("2", "bool_parsing"),
    ("", "bool_parsing"),
    ("maybe", "bool_parsing"),
    (2.0, "bool_parsing"),
    ("1.0", "bool_parsing"),
    (1.5, "bool_type"),
    ([], "bool_type"),
    ({}, "bool_type"),
    (None, "bool_type"),
    (10**30, "bool_type"),
    (float("nan"), "bool_type"),
]


@pytest.mark.parametrize(("value", "expected"), BOOLS_OK)
def test_bool_accepts(value: Any, expected: bool) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize(("value", "kind"), BOOLS_BAD)
def test_bool_rejects(value: Any, kind: str) -> None:
    with pytest.raises(WireProblem) as info:
        parse_bool(value)
    assert info.value.problems[0].type == kind


INTS_OK = [
    ("3", 3),
    (" 3 ", 3),
    ("3.0", 3),
    ("3.00", 3),
    ("03.00", 3),
    ("-3.0", -3),
    ("+3", 3),
    ("1_000", 1000),
    ("1_0.0", 10),
    ("-0", 0),
    ("3\n", 3),
    ("\xa03", 3),
    (3.0, 3),
    (-0.0, 0),
    (True, 1),
    (False, 0),
    (10**30, 10**30),
    (9.223372036854775e18, 9223372036854774784),
    ("1" * 4300, int("1" * 4300)),
]
INTS_BAD = [
    (3.5, "int_from_float"),
    ("3.5", "int_parsing"),
    ("1e3", "int_parsing"),
    ("0x10", "int_parsing"),
    ("", "int_parsing"),
    ("\u0663", "int_parsing"),
    ("1.", "int_parsing"),
    (".5", "int_parsing"),
    ("1__0", "int_parsing"),
    ("_1", "int_parsing"),
    ("1.50", "int_parsing"),
    ("inf", "int_parsing"),
    (1e20, "int_parsing_size"),
    (2.0**63, "int_parsing_size"),
    (-(2.0**63), "int_parsing_size"),
    ("1" * 4301, "int_parsing_size"),
    (float("inf"), "finite_number"),
    (float("nan"), "finite_number"),
    (None, "int_type"),
    ([], "int_type"),
]


@pytest.mark.parametrize(("value", "expected"), INTS_OK)
def test_int_accepts(value: Any, expected: int) -> None:
    assert parse_int(value) == expected
    assert type(parse_int(value)) is int


@pytest.mark.parametrize(("value", "kind"), INTS_BAD)
def test_int_rejects(value: Any, kind: str) -> None:
    with pytest.raises(WireProblem) as info:
        parse_int(value)
    assert info.value.problems[0].type == kind


FLOATS_OK = [
    ("1_0", 10.0),
    ("1e1", 10.0),
    (".5", 0.5),
    ("5.", 5.0),
    (" 1.5 ", 1.5),
    ("1_0.5_5", 10.55),
    ("1e1_0", 1e10),
    ("Infinity", float("inf")),
    ("-inf", float("-inf")),
    ("1e400", float("inf")),
    (True, 1.0),
    (3, 3.0),
    (2**1023, 2.0**1023),
]
FLOATS_BAD = [
    ("_1", "float_parsing"),
    ("1__0", "float_parsing"),
    ("1e", "float_parsing"),
    ("0x10", "float_parsing"),
    ("", "float_parsing"),
    ("1.5_", "float_parsing"),
    ("1,5", "float_parsing"),
    ("infinit", "float_parsing"),
    (None, "float_type"),
    ([], "float_type"),
    (2**1024, "float_type"),
]


@pytest.mark.parametrize(("value", "expected"), FLOATS_OK)
def test_float_accepts(value: Any, expected: float) -> None:
    assert parse_float(value) == expected
    assert type(parse_float(value)) is float


@pytest.mark.parametrize(("value", "kind"), FLOATS_BAD)
def test_float_rejects(value: Any, kind: str) -> None:
    with pytest.raises(WireProblem) as info:
        parse_float(value)
    assert info.value.problems[0].type == kind


def test_float_nan_strings() -> None:
    assert parse_float("nan") != parse_float("nan")


H = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
UUIDS_OK = [U, U.upper(), U.replace("-", ""), "{" + U + "}", "urn:uuid:" + U]
UUIDS_BAD = [
    ("", "invalid length: found 0"),
    ("not-a-uuid", "invalid character: found `n` at 0"),
    (U[:-1], "invalid group length in group 4: expected 12, found 11"),
    (U + "0", "invalid group length in group 4: expected 12, found 13"),
    (" " + U, "invalid character: found ` ` at 0"),
    ("a" * 36, "invalid group count: expected 5, found 1"),
    ("x" * 46, "invalid length: found 46"),
    ("{bad}", "invalid group count: expected 5, found 1"),
    ("urn:uuid:zzz", "invalid character: found `z` at 9"),
    ("{g" + H[1:] + "}", "invalid character: found `g` at 0"),
    ("{" + "a" * 34 + "}", "invalid character: found `{` at 0"),
    ("urn:uuid:" + H[:-1], "invalid group length in group 4: expected 12, found 20"),
    ("----", "invalid group length in group 0: expected 8, found 0"),
    ("{" + "\u00e9" * 18 + "}", "invalid character: found `\u00e9` at 0"),
    ("\u00e9" * 23, "invalid length: found 46"),
    ("URN:UUID:" + U, "invalid character: found `U` at 0"),
]


@pytest.mark.parametrize("value", UUIDS_OK)
def test_uuid_accepts(value: str) -> None:
    assert parse_uuid(value) == UUID(U)


@pytest.mark.parametrize(("value", "error"), UUIDS_BAD)
def test_uuid_rejects(value: str, error: str) -> None:
    with pytest.raises(WireProblem) as info:
        parse_uuid(value)
    (problem,) = info.value.problems
    assert problem.msg == f"Input should be a valid UUID, {error}"
    assert problem.ctx == {"error": error}
