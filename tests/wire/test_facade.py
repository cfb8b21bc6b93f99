"""The wire façade: check order, the status table, and the opt-in envelope key."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from unittest.mock import ANY

import pytest
from flowrun_adapters.memory import InMemoryRepository

from flowrun_core import FlowRunService, Seeder, errors
from flowrun_core.wire import WireOptions, handle_create_flow_run
from flowrun_core.wire._common import path_uuid
from flowrun_core.wire.problems import INTEGRITY_CONFLICT, problem_for


@pytest.fixture
def env():
    repo = InMemoryRepository()
    seed = Seeder(repo)
    deployment = seed.deployment(seed.flow("f"), "d", enforce_parameter_schema=False)
    return FlowRunService(repo), deployment


def post(env, body=b"{}", headers=None, deployment_id=None, options=None):
    service, deployment = env
    return handle_create_flow_run(
        service,
        deployment_id if deployment_id is not None else str(deployment.id),
        body,
        headers,
        options=options,
    )


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (errors.DeploymentNotFound(), 404, {"detail": "Deployment not found"}),
        (errors.InvalidHeader("bad"), 400, {"detail": "bad"}),
        (
            errors.HydrationFailed("Missing 'value' key in __prefect object"),
            400,
            {
                "detail": "Error hydrating flow run parameters: "
                "Missing 'value' key in __prefect object"
            },
        ),
        (
            errors.MissingParameterSchema(),
            409,
            {
                "detail": "Error updating deployment: Cannot update parameters because "
                "parameter schema enforcement is enabled and the deployment does not have a "
                "valid parameter schema."
            },
        ),
        (
            errors.ParameterValidationFailed("Validation failed. Failure reason: x"),
            409,
            {"detail": "Error creating flow run: Validation failed. Failure reason: x"},
        ),
        (
            errors.CircularSchemaRef(),
            422,
            {"detail": "Invalid schema: Unable to validate schema with circular references."},
        ),
        (
            errors.InvalidParameterSchema("Invalid schema: bad"),
            422,
            {"detail": "Invalid schema: bad"},
        ),
        (errors.JobVariablesInvalid("m"), 422, {"detail": "Error creating flow run: m"}),
        (errors.InvalidJobVariablesSchema("m"), 422, {"detail": "Invalid schema: m"}),
        (errors.BlockNotFound(), 404, {"detail": "Block not found."}),
        (errors.WorkQueueWithoutPool("w"), 400, {"detail": "w"}),
        (errors.InvalidWorkQueueName("q"), 422, {"detail": "q"}),
        (errors.InvalidStateData("s"), 422, {"detail": "s"}),
        (errors.TooManyRelatedResources("r", 101), 422, {"detail": "r"}),
        (
            errors.ScheduledTimeOutOfRange("t", datetime.max.replace(tzinfo=UTC)),
            422,
            {"detail": "t"},
        ),
        (errors.StorageIntegrityError("x"), 409, {"detail": INTEGRITY_CONFLICT}),
        (errors.StorageLocked("x"), 503, {"exception_message": "Service Unavailable"}),
        (errors.StorageCorrupt("x"), 503, {"exception_message": "Service Unavailable"}),
    ],
)
def test_status_table(exc: errors.FlowRunError, status: int, body: dict) -> None:
    assert problem_for(exc) == (status, body)


@pytest.mark.parametrize(
    "path_id",
    [
        "nope",
        "{x}",
        "",
        "urn:uuid:12345678-1234-5678-1234-567812345678",
        "1234",
        "%7B12345678-1234-5678-1234-567812345678%7D",
        "12345678%2F1234-5678-1234-567812345678",
        "12345678%252D1234-5678-1234-567812345678",
    ],
)
def test_a_path_id_that_is_not_a_uuid_is_not_found(env, path_id: str) -> None:
    answer = post(env, deployment_id=path_id)
    assert (answer.status, answer.json) == (404, {"detail": "Not Found"})


def test_path_ids_in_any_case_and_without_hyphens_reach_the_endpoint(env) -> None:
    _, deployment = env
    assert post(env, deployment_id=str(deployment.id).upper()).status == 201
    assert post(env, deployment_id=deployment.id.hex).status == 201
    unknown = post(env, deployment_id=uuid.uuid4().hex)
    assert (unknown.status, unknown.json) == (404, {"detail": "Deployment not found"})


def test_version_header_is_checked_before_the_body(env) -> None:
    answer = post(env, b"[]", {"X-Prefect-Api-Version": "0.7.9"})
    assert answer.status == 400
    assert answer.json == {
        "detail": "The request specified API version 0.7.9 but this server requires "
        "version 0.8.0 or higher."
    }
    bad = post(env, b"{}", {"x-prefect-api-version": "1.2"})
    assert bad.json == {
        "detail": "Invalid X-PREFECT-API-VERSION header format.Expected header in format "
        "'x.y.z' but received 1.2"
    }


def test_header_and_body_errors_are_reported_together(env) -> None:
    answer = post(env, b'{"tags": [1]}', {"prefect-automation-id": "nope"})
    assert answer.status == 422
    locs = [item["loc"] for item in answer.json["exception_detail"]]
    assert ["header", "prefect-automation-id"] in locs
    assert ["body", "tags", 0] in locs
    assert answer.json["request_body"] == {"tags": [1]}


def test_header_errors_alone_echo_the_body(env) -> None:
    answer = post(env, b'{"tags": ["a"]}', {"prefect-automation-id": "nope"})
    assert answer.status == 422
    assert answer.json["request_body"] == {"tags": ["a"]}


def test_automation_headers_fill_created_by(env) -> None:
    automation = uuid.uuid4()
    name = base64.b64encode(b"My Automation").decode()
    answer = post(
        env,
        headers={"prefect-automation-id": str(automation), "prefect-automation-name": name},
    )
    assert answer.status == 201
    assert answer.json["created_by"] == {
        "id": str(automation),
        "type": "AUTOMATION",
        "display_value": "My Automation",
    }


def test_unreadable_body_is_a_400(env) -> None:
    answer = post(env, b"\xff\xfe{")
    assert (answer.status, answer.json) == (400, {"detail": "There was an error parsing the body"})


def test_no_body_is_a_missing_body(env) -> None:
    answer = post(env, None)
    assert answer.status == 422
    assert answer.json["exception_detail"] == [
        {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
    ]


def test_detail_key_is_opt_in(env) -> None:
    default = post(env, b'{"bogus": 1}')
    assert "detail" not in default.json
    with_detail = post(env, b'{"bogus": 1}', options=WireOptions(include_validation_detail=True))
    assert with_detail.json["detail"] == with_detail.json["exception_detail"]


def test_created_then_replayed(env) -> None:
    first = post(env, b'{"idempotency_key": "k"}')
    second = post(env, b'{"idempotency_key": "k"}')
    assert (first.status, second.status) == (201, 200)
    assert first.json["id"] == second.json["id"]
    assert json.loads(second.body) == second.json
    assert second.content_type == "application/json"


def test_unstorable_values_answer_404_for_an_unknown_deployment_else_422(env) -> None:
    deep = b'{"parameters": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}"
    unknown = post(env, deep, deployment_id=str(uuid.uuid4()))
    assert (unknown.status, unknown.json) == (404, {"detail": "Deployment not found"})
    known = post(env, deep)
    assert known.status == 422
    surrogate = post(env, b'{"name": "\\ud800"}')
    # Raw CESU-8 bytes of a high and a low surrogate: the echo reads back as one character.
    cesu = post(env, b'{"nam\\": "\xed\xa0\x80\xed\xbf\xbf"}')
    assert cesu.status == 422
    assert json.loads(cesu.body) == cesu.json
    assert surrogate.status == 422
    assert surrogate.json["exception_detail"][0]["type"] == "string_unicode"


def test_the_json_carries_a_uuid4_run_id_and_a_uuid7_state_id(env) -> None:
    response = post(env)
    assert response.status == 201
    body = json.loads(response.body)
    assert uuid.UUID(body["id"]).version == 4
    assert uuid.UUID(body["state"]["id"]).version == 7
    assert body["state_id"] == body["state"]["id"]


def test_an_invalid_deployment_schema_is_named_once(env) -> None:
    service, _ = env
    seed = Seeder(service.repository)
    deployment = seed.deployment(
        seed.flow("blocks"),
        "untitled-block",
        enforce_parameter_schema=True,
        parameter_openapi_schema={
            "type": "object",
            "definitions": {"C": {"type": "object", "block_type_slug": "c", "properties": {}}},
            "properties": {"c": {"$ref": "#/definitions/C"}},
        },
    )
    response = post(env, b'{"parameters": {"c": {}}}', deployment_id=str(deployment.id))
    assert response.status == 422
    assert json.loads(response.body) == {
        "detail": "Invalid schema: the block definition at '/definitions/C' must have a "
        "string 'title'"
    }


RECURSIVE_SCHEMA = {
    "type": "object",
    "properties": {"n": {"$ref": "#/definitions/N"}},
    "definitions": {
        "N": {
            "anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#/definitions/N"}}]
        }
    },
}
DEEP = b'{"parameters": {"n": ' + b"[" * 300 + b"1" + b"]" * 300 + b"}}"


def test_rules_that_fail_before_a_deep_value_is_stored_answer_first(env) -> None:
    # Prefect stores a deep value and then fails with 500; the rules it runs before that
    # answer as it does: here the enforced schema recurses too deeply (recorded on 3.9.1).
    service, _ = env
    seed = Seeder(service.repository)
    deployment = seed.deployment(
        seed.flow("deep"), "recursive", parameter_openapi_schema=RECURSIVE_SCHEMA
    )
    response = post(env, DEEP, deployment_id=str(deployment.id))
    assert (response.status, response.json) == (
        422,
        {"detail": "Invalid schema: Unable to validate schema with circular references."},
    )
    assert service.repository.count_flow_runs() == 0


def test_a_deep_value_with_a_key_that_names_a_stored_run_replays_it(env) -> None:
    service, _ = env
    first = post(env, b'{"idempotency_key": "deep-key"}')
    assert first.status == 201
    deep_keyed = DEEP[:-1] + b', "idempotency_key": "deep-key"}'
    replay = post(env, deep_keyed)
    assert replay.status == 200
    assert replay.json["id"] == first.json["id"]
    fresh = post(env, DEEP[:-1] + b', "idempotency_key": "other-key"}')
    assert fresh.status == 422
    assert service.repository.count_flow_runs() == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "kind"),
    [
        # Recorded on 3.9.1 (header_b3_json_decode_vs_header_checks and the like): FastAPI
        # parses a JSON body before Prefect's header checks run.
        (b"{bad", {"x-prefect-api-version": "0.7.0"}, 422, "json_invalid"),
        (b"[1,", {"x-prefect-api-version": "1.2"}, 422, "json_invalid"),
        (b"{bad", {"prefect-automation-id": "nope"}, 422, "json_invalid"),
        (b'{"context": {"n": ' + b"9" * 5000 + b"}}", {"x-prefect-api-version": "bad"}, 400, None),
        # A body that parses is checked after the version header, as before.
        (b'{"zzz": 1}', {"x-prefect-api-version": "0.7.0"}, 400, None),
        (b"{bad", {"x-prefect-api-version": "0.7.0", "content-type": "text/plain"}, 400, None),
    ],
)
def test_a_body_that_is_not_json_is_answered_before_the_headers(
    env, body: bytes, headers: dict[str, str], status: int, kind: str | None
) -> None:
    response = post(env, body, headers)
    assert response.status == status
    if kind is not None:
        assert [d["type"] for d in response.json["exception_detail"]] == [kind]
    elif body.startswith(b'{"context"'):
        assert response.json == {"detail": "There was an error parsing the body"}
    else:
        assert "version" in response.json["detail"].lower()


def _items(response) -> list[tuple[str, list[object]]]:
    return [(d["type"], d["loc"]) for d in response.json["exception_detail"]]


def test_state_data_is_refused_only_once_everything_else_is_valid(env) -> None:
    # Recorded on 3.9.1 (multi_b4_state_data_with_other_errors): Prefect validates the body
    # without looking at state.data, and crashes on it afterwards.
    both = post(env, b'{"state": {"type": "PENDING", "data": {"a": 1}, "name": 1}}')
    assert (both.status, _items(both)) == (422, [("string_type", ["body", "state", "name"])])
    alone = post(env, b'{"state": {"type": "PENDING", "data": {"a": 1}}}')
    assert (alone.status, _items(alone)) == (422, [("value_error", ["body", "state", "data"])])


def test_an_infinite_retry_delay_that_prefect_would_store_is_refused(env) -> None:
    service, _ = env
    body = b'{"empirical_policy": {"retry_delay_seconds": 1e400, "retry_delay": 3}}'
    response = post(env, body)
    assert response.status == 422
    assert _items(response) == [
        ("finite_number", ["body", "empirical_policy", "retry_delay_seconds"])
    ]
    assert service.repository.count_flow_runs() == 0


@pytest.mark.parametrize(
    ("moment", "status"),
    [("T12", 201), ("T12:00", 201), ("T1200", 201), ("T12:00:00", 422), ("T12:00:00Z", 422)],
)
def test_time_only_values_after_a_bare_t_parse_as_in_prefect(env, moment: str, status: int) -> None:
    # Recorded on 3.9.1 (datetime_b4_cache_expiration_time_only_forms and _misc).
    body = {"state": {"type": "PAUSED", "state_details": {"pause_timeout": moment}}}
    response = post(env, json.dumps(body).encode())
    assert response.status == status
    if status == 422:
        assert response.json["exception_detail"][0]["msg"] == (
            f"Value error, Unable to parse string [{moment}]"
        )


def test_a_percent_encoded_path_id_is_decoded_as_starlette_decodes_it(env) -> None:
    # Recorded on 3.9.1 (path_b6_id_percent_encoded_and_slash): routes match the decoded path.
    _, deployment = env
    text = str(deployment.id)
    assert post(env, deployment_id=text.replace("-", "%2D")).status == 201
    assert post(env, deployment_id="%" + f"{ord(text[0]):X}" + text[1:]).status == 201
    unknown = post(env, deployment_id=str(uuid.uuid4()).replace("-", "%2d"))
    assert (unknown.status, unknown.json) == (404, {"detail": "Deployment not found"})


def test_a_state_name_prefect_cannot_emit_an_event_for_is_refused_after_the_rules(env) -> None:
    # Recorded on 3.9.1 (batch 8): 1007 characters pass; 1008 make Prefect's event name too
    # long and the create fails (500), unless an idempotency hit answers first.
    service, _ = env
    fits = post(env, json.dumps({"state": {"type": "PENDING", "name": "n" * 1007}}).encode())
    assert fits.status == 201
    long_name = {"type": "PENDING", "name": "é" * 1008}
    refused = post(env, json.dumps({"state": long_name}).encode())
    assert refused.status == 422
    assert _items(refused) == [("string_too_long", ["body", "state", "name"])]
    first = post(env, b'{"idempotency_key": "named"}')
    replay = post(env, json.dumps({"state": long_name, "idempotency_key": "named"}).encode())
    assert (replay.status, replay.json["id"]) == (200, first.json["id"])
    assert service.repository.count_flow_runs() == 2


def _hydration_failure(env) -> str:
    service, _ = env
    seed = Seeder(service.repository)
    placeholder = {"__prefect_kind": "workspace_variable", "variable_name": "missing"}
    return str(seed.deployment(seed.flow("h"), "h", parameters={"v": placeholder}).id)


@pytest.mark.parametrize(
    "crash",
    [
        b'"state": {"type": "RUNNING", "data": 1}',
        b'"empirical_policy": {"retry_delay_seconds": 1e400, "retry_delay": 3}',
        b'"parameters": {"s": "\\ud800"}',
        b'"labels": {"l": NaN}, "idempotency_key": "fresh"',
    ],
)
def test_values_prefect_crashes_on_are_answered_after_its_rules(env, crash: bytes) -> None:
    # Recorded on 3.9.1 (batch 11a): Prefect validates these bodies, runs its rules, and
    # fails only when it writes a new run; every earlier answer comes first.
    service, _ = env
    body = b"{" + crash + b"}"
    unknown = post(env, body, deployment_id=str(uuid.uuid4()))
    assert (unknown.status, unknown.json) == (404, {"detail": "Deployment not found"})
    failing = post(env, body, deployment_id=_hydration_failure(env))
    assert failing.status == 400
    assert failing.json["detail"].startswith("Error hydrating flow run parameters")
    new = post(env, body)
    assert new.status == 422
    assert service.repository.count_flow_runs() == 0


@pytest.mark.parametrize(
    "crash",
    [
        b'"state": {"type": "RUNNING", "data": 1}',
        b'"parameters": {"s": "\\ud800"}',
        b'"tags": ["\\udfff"]',
        b'"labels": {"l": -Infinity}',
    ],
)
def test_a_key_naming_a_stored_run_replays_it_whatever_the_new_value(env, crash: bytes) -> None:
    service, _ = env
    first = post(env, b'{"idempotency_key": "k"}')
    replay = post(env, b'{"idempotency_key": "k", ' + crash + b"}")
    assert (replay.status, replay.json) == (200, {**first.json, "estimated_start_time_delta": ANY})
    assert service.repository.count_flow_runs() == 1


@pytest.mark.parametrize("field", [b"name", b"work_queue_name"])
def test_a_surrogate_in_a_column_prefect_binds_fails_even_on_a_replay(env, field: bytes) -> None:
    service, _ = env
    post(env, b'{"idempotency_key": "k"}')
    refused = post(env, b'{"idempotency_key": "k", "' + field + b'": "\\ud800"}')
    if field == b"work_queue_name":  # the deployment has no pool: that rule answers first
        assert refused.status == 400
    else:
        assert (refused.status, _items(refused)) == (422, [("string_unicode", ["body", "name"])])
    assert service.repository.count_flow_runs() == 1


def test_header_problems_come_alone_beside_a_value_prefect_crashes_on(env) -> None:
    body = b'{"state": {"type": "RUNNING", "data": 1}}'
    response = post(env, body, headers={"prefect-automation-id": "nope"})
    assert response.status == 422
    assert _items(response) == [("uuid_parsing", ["header", "prefect-automation-id"])]


def test_a_non_finite_label_is_kept_as_null_without_a_key(env) -> None:
    # Prefect's keyed insert reads the row back and a null label fails its model (500); the
    # plain insert does not, and the value is answered as null.
    service, _ = env
    plain = post(env, b'{"labels": {"l": NaN}}')
    assert (plain.status, plain.json["labels"]["l"]) == (201, None)
    empty_key = post(env, b'{"labels": {"l": Infinity}, "idempotency_key": ""}')
    assert empty_key.status == 201
    keyed = post(env, b'{"labels": {"l": NaN}, "idempotency_key": "k"}')
    assert (keyed.status, _items(keyed)) == (422, [("finite_number", ["body", "labels", "l"])])
    assert post(env, b'{"idempotency_key": "k"}').status == 201
    assert service.repository.count_flow_runs() == 3


def test_a_scheduled_time_with_no_utc_equivalent_is_a_422_not_a_crash(env) -> None:
    service, _ = env
    details = {"scheduled_time": "9999-12-31T23:30:00-01:00"}
    body = json.dumps({"state": {"type": "SCHEDULED", "state_details": details}}).encode()
    response = post(env, body)
    assert response.status == 422
    assert "has no UTC equivalent" in response.json["detail"]
    assert service.repository.count_flow_runs() == 0


def test_a_header_only_422_echoes_the_body_with_the_policy_back_filled(env) -> None:
    # Recorded on 3.9.1 (fuzz_b14_policy_backfill_echo_header_only_422): Prefect's
    # validation back-fills the deprecated fields in the body it echoes.
    body = b'{"empirical_policy": {"max_retries": 1}}'
    response = post(env, body, headers={"prefect-automation-id": "nope"})
    assert response.status == 422
    assert response.json["request_body"] == {"empirical_policy": {"max_retries": 1, "retries": 1}}


def test_of_two_spellings_of_a_header_the_first_is_read(env) -> None:
    # As Starlette's Headers.get, which Prefect reads its headers with.
    old_first = post(env, b"{}", {"X-Prefect-Api-Version": "0.1.0", "x-prefect-api-version": "1"})
    assert old_first.status == 400
    assert "API version 0.1.0" in old_first.json["detail"]
    new_first = {"x-prefect-api-version": "1.0.0", "X-Prefect-Api-Version": "0.1"}
    assert post(env, b"{}", new_first).status == 201
    text_first = post(
        env, b"{}", {"Content-Type": "text/plain", "content-type": "application/json"}
    )
    assert text_first.status == 422
    assert text_first.json["exception_detail"][0]["type"] == "model_attributes_type"
    assert post(env, b"{}", {"content-type": "application/json", "Content-Type": "x"}).status == 201


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"parameters":{"\\ud800":1}}', "\ufffd\ufffd\ufffd"),
        (b'{"parameters":{"a\\udc00b":1}}', "a\ufffd\ufffd\ufffdb"),
        (b'{"parameters":{"\\ud800\\ud800":1}}', "\ufffd" * 6),
        (b'{"parameters":{"\\ud83d\\ude00":1}}', "\U0001f600"),  # a pair is one character
        ('{"parameters":{"\\ud800":1}}'.encode("utf-16-le"), "\ufffd\ufffd\ufffd"),
    ],
)
def test_a_lone_surrogate_in_a_top_level_key_is_spelled_as_prefect_keeps_it(
    env, body: bytes, key: str
) -> None:
    answer = post(env, body)
    assert answer.status == 201, answer.json
    assert answer.json["parameters"] == {key: 1}


def test_lossy_keys_in_every_free_form_object_and_a_collision(env) -> None:
    body = (
        b'{"parameters":{"\\ud800":1,"\\ufffd\\ufffd\\ufffd":2},"context":{"\\udfff":1},'
        b'"labels":{"a\\ud800":"v"},"job_variables":{"\\ud800":1}}'
    )
    answer = post(env, body)
    assert answer.status == 201, answer.json
    assert answer.json["parameters"] == {"\ufffd\ufffd\ufffd": 2}
    assert answer.json["context"] == {"\ufffd\ufffd\ufffd": 1}
    assert answer.json["labels"]["a\ufffd\ufffd\ufffd"] == "v"
    assert answer.json["job_variables"] == {"\ufffd\ufffd\ufffd": 1}


@pytest.mark.parametrize(
    "body",
    [
        b'{"empirical_policy":{"\\ud800":1}}',
        b'{"empirical_policy":{"x":"\\ud800"}}',
        b'{"state":{"type":"RUNNING","state_details":{"zz":"\\ud800"}}}',
    ],
)
def test_a_lone_surrogate_in_a_field_prefect_drops_is_accepted(env, body: bytes) -> None:
    assert post(env, body).status == 201


@pytest.mark.parametrize(
    "body",
    [
        '{"name":"\\ud800"}',
        '{"parameters":{"x":"\\ud800"}}',
        '{"parameters":{"x":{"\\ud800":1}}}',
        '{"tags":["\\ud800"]}',
        '{"state":{"type":"RUNNING","state_details":{"cache_key":"\\ud800"}}}',
        '{"empirical_policy":{"pause_keys":["\\ud800"]}}',
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-be", "utf-32-le"])
def test_a_lone_surrogate_prefect_keeps_is_refused_in_any_encoding(
    env, body: str, encoding: str
) -> None:
    answer = post(env, body.encode(encoding))
    assert answer.status == 422, answer.json
    assert answer.json["exception_detail"][0]["type"] == "string_unicode"


# -- the collector is paused while a deeply nested body is handled -------------------------


def _collector_seen_while_parsing(env, monkeypatch, body: bytes, handler) -> list[bool]:
    import gc  # noqa: PLC0415

    from flowrun_core.wire import request as request_module  # noqa: PLC0415

    seen: list[bool] = []
    real = request_module.json.loads

    class _Json:
        JSONDecodeError = json.JSONDecodeError

        @staticmethod
        def loads(text):
            seen.append(gc.isenabled())
            return real(text)

    monkeypatch.setattr(request_module, "json", _Json)
    service, deployment = env
    handler(service, str(deployment.id), body, {"content-type": "application/json"})
    return seen


@pytest.mark.parametrize("kind", ["create", "plan", "bulk"])
def test_a_deeply_nested_body_is_handled_with_the_collector_paused(env, monkeypatch, kind):
    """A collection at the recursion limit would run unrelated finalizers without stack."""
    from flowrun_core.wire import handle_bulk_create_flow_runs, handle_plan_flow_run  # noqa: PLC0415

    handler = {
        "create": handle_create_flow_run,
        "plan": handle_plan_flow_run,
        "bulk": handle_bulk_create_flow_runs,
    }[kind]
    deep = b'{"parameters": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    shallow = b'{"parameters": {"a": [[1]]}}'
    if kind == "bulk":
        deep, shallow = b"[" + deep + b"]", b"[" + shallow + b"]"
    assert _collector_seen_while_parsing(env, monkeypatch, deep, handler) == [False]
    assert _collector_seen_while_parsing(env, monkeypatch, shallow, handler) == [True]
    import gc  # noqa: PLC0415

    assert gc.isenabled()


def test_path_ids_are_read_the_same_however_often_and_however_many() -> None:
    """Path ids are remembered for the last few segments: more of them than that, repeated
    in several passes, in plain, upper-case and percent-encoded spellings, read as at first."""
    ids = [uuid.uuid4() for _ in range(300)]
    spellings = {
        segment: expected
        for expected in ids
        for segment in (
            str(expected),
            str(expected).upper(),
            str(expected).replace("-", "%2D"),
            str(expected).replace("-", ""),
        )
    }
    spellings["not-a-uuid"] = None
    spellings[str(ids[0])[:-1] + "%"] = None
    for _ in range(3):
        for segment, expected in spellings.items():
            assert path_uuid(segment) == expected, segment
