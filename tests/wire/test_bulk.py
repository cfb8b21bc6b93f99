"""The bulk wire handler, the plan handler and the opt-in validation report body."""

from __future__ import annotations

import json
import uuid

import pytest
from flowrun_adapters.memory import InMemoryRepository

from flowrun_core import FlowRunService, Seeder
from flowrun_core.service import ServiceOptions
from flowrun_core.wire import (
    WireOptions,
    handle_bulk_create_flow_runs,
    handle_create_flow_run,
    handle_plan_flow_run,
)
from flowrun_core.wire.bulk import ROLLED_BACK
from flowrun_core.wire.problems import INTEGRITY_CONFLICT

SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}


@pytest.fixture
def setup() -> tuple[FlowRunService, str, str]:
    repo = InMemoryRepository()
    seed = Seeder(repo)
    flow = seed.flow("etl")
    dep = seed.deployment(
        flow, "dep", parameter_openapi_schema=SCHEMA, enforce_parameter_schema=True
    )
    bare = seed.deployment(flow, "bare", enforce_parameter_schema=False)
    return FlowRunService(repo), str(dep.id), str(bare.id)


def body(items: object) -> bytes:
    return json.dumps(items).encode()


def test_prefect_shape_in_request_order(setup) -> None:
    service, dep, _ = setup
    response = handle_bulk_create_flow_runs(
        service,
        dep,
        body(
            [
                {"parameters": {"x": 1}, "idempotency_key": "k"},
                {},
                {"parameters": {"x": 2}, "idempotency_key": "k"},
            ]
        ),
    )
    assert response.status == 200
    results = response.json["results"]
    assert results[0]["status"] == "CREATED"
    assert results[0]["error"] is None
    assert results[1] == {
        "flow_run_id": None,
        "status": "FAILED",
        "error": "Parameter validation failed: Validation failed. Failure reason: 'x' is a required property",
    }
    assert results[2]["flow_run_id"] == results[0]["flow_run_id"]
    assert results[2]["status"] == "CREATED"
    assert set(response.json) == {"results"}


def test_item_error_texts_follow_prefects_bulk_route(setup) -> None:
    service, _, bare = setup
    response = handle_bulk_create_flow_runs(
        service,
        bare,
        body(
            [
                {
                    "parameters": {
                        "a": {"__prefect_kind": "workspace_variable", "variable_name": "nope"}
                    }
                },
                {"work_queue_name": "q"},
                {"infrastructure_document_id": str(uuid.uuid4())},
            ]
        ),
    )
    errors = [r["error"] for r in response.json["results"]]
    assert errors[0] == "Variable 'nope' not found in workspace."
    assert errors[1] == (
        "Cannot create flow run in work queue q because deployment is not associated with a work pool."
    )
    assert errors[2] == INTEGRITY_CONFLICT


def test_checks_before_the_items(setup) -> None:
    service, dep, _ = setup
    assert handle_bulk_create_flow_runs(service, "nope", body([])).status == 404
    too_many = handle_bulk_create_flow_runs(service, str(uuid.uuid4()), body([{}] * 101))
    assert (too_many.status, too_many.json) == (
        400,
        {"detail": "Cannot create more than 100 flow runs at once."},
    )
    missing = handle_bulk_create_flow_runs(service, str(uuid.uuid4()), body([]))
    assert (missing.status, missing.json) == (404, {"detail": "Deployment not found"})
    assert handle_bulk_create_flow_runs(service, dep, body([])).json == {"results": []}
    invalid = handle_bulk_create_flow_runs(service, dep, body([{}, {"tags": [1]}, 3]))
    assert invalid.status == 422
    locs = [d["loc"] for d in invalid.json["exception_detail"]]
    assert locs == [["body", 1, "tags", 0], ["body", 2]]
    not_list = handle_bulk_create_flow_runs(service, dep, body({}))
    assert not_list.status == 422
    assert not_list.json["exception_detail"][0]["type"] == "list_type"
    assert handle_bulk_create_flow_runs(service, dep, b"[").status == 422


def test_atomic_and_rich_outcomes(setup) -> None:
    service, dep, _ = setup
    options = WireOptions(bulk_atomic=True, bulk_outcomes=True, include_validation_report=True)
    response = handle_bulk_create_flow_runs(
        service, dep, body([{"parameters": {"x": 1}}, {"parameters": {"x": "a"}}]), options=options
    )
    assert response.status == 200
    assert response.json["committed"] is False
    first, second = response.json["results"]
    assert first["outcome"] == "rolled_back"
    assert first["error"] == ROLLED_BACK
    assert first["flow_run_id"] is None
    assert second["outcome"] == "failed"
    assert second["problem"]["status"] == 409
    assert second["problem"]["body"]["violations"][0]["instance_path"] == "/x"
    assert service.repository.count_flow_runs() == 0
    ok = handle_bulk_create_flow_runs(
        service, dep, body([{"parameters": {"x": 1}}]), options=options
    )
    assert ok.json["committed"] is True
    assert ok.json["results"][0]["outcome"] == "created"
    assert ok.json["results"][0]["flow_run"]["id"] == ok.json["results"][0]["flow_run_id"]


def test_validation_report_only_on_request(setup) -> None:
    service, dep, _ = setup
    raw = body({"parameters": {"x": "a"}})
    plain = handle_create_flow_run(service, dep, raw)
    assert plain.status == 409
    assert set(plain.json) == {"detail"}
    rich = handle_create_flow_run(
        service, dep, raw, options=WireOptions(include_validation_report=True)
    )
    assert rich.json["detail"] == plain.json["detail"]
    assert rich.json["violations"] == [
        {
            "instance_path": "/x",
            "schema_path": "/properties/x/type",
            "keyword": "type",
            "message": "'a' is not of type 'integer'",
        }
    ]


def test_strict_reuse_and_unknown_queue_statuses(setup) -> None:
    service, dep, _ = setup
    strict = FlowRunService(service.repository, options=ServiceOptions(idempotency="strict"))
    assert (
        handle_create_flow_run(
            strict, dep, body({"parameters": {"x": 1}, "idempotency_key": "k"})
        ).status
        == 201
    )
    again = handle_create_flow_run(
        strict, dep, body({"parameters": {"x": 2}, "idempotency_key": "k"})
    )
    assert again.status == 422
    assert again.json["differences"] == ["/parameters/x"]


def test_plan_handler(setup) -> None:
    service, dep, _ = setup
    response = handle_plan_flow_run(service, dep, body({"parameters": {"x": 1}}))
    assert response.status == 200
    assert response.json["replay"] is False
    assert response.json["provenance"]["parameters"] == {"x": "request"}
    assert response.json["new_work_queue"] is None
    assert service.repository.count_flow_runs() == 0
    assert handle_plan_flow_run(service, dep, body({})).status == 409


def test_a_bulk_body_that_is_not_json_is_answered_before_the_headers(setup) -> None:
    service, dep, _ = setup
    old = {"x-prefect-api-version": "0.7.0"}
    unparsable = handle_bulk_create_flow_runs(service, dep, b"[{bad", old)
    assert unparsable.status == 422
    assert [d["type"] for d in unparsable.json["exception_detail"]] == ["json_invalid"]
    huge = handle_bulk_create_flow_runs(service, dep, b"[" + b"9" * 5000 + b"]", old)
    assert (huge.status, huge.json) == (400, {"detail": "There was an error parsing the body"})
    parsed = handle_bulk_create_flow_runs(service, dep, body([]), old)
    assert parsed.status == 400
    assert "version" in parsed.json["detail"].lower()


def test_bulk_items_with_state_data_are_refused_once_they_are_otherwise_valid(setup) -> None:
    service, dep, _ = setup
    items = [
        {"state": {"type": "PENDING", "data": {"a": 1}}},
        {"state": {"type": "PENDING", "data": {"a": 1}, "name": 1}},
    ]
    response = handle_bulk_create_flow_runs(service, dep, body(items))
    assert response.status == 422
    locs = [d["loc"] for d in response.json["exception_detail"]]
    assert locs == [["body", 0, "state", "data"], ["body", 1, "state", "name"]]
    assert service.repository.count_flow_runs() == 0
