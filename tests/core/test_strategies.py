"""The shipped strategies keep their promises: valid payloads are accepted, invalid rejected."""

from __future__ import annotations

import json

from flowrun_adapters.memory import InMemoryRepository
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowrun_core import FlowRunService, Seeder
from flowrun_core.testing.strategies import (
    flow_run_creates,
    invalid_flow_run_creates,
    invalid_parameters,
    parameter_schemas,
    states,
    work_pool_templates,
)
from flowrun_core.wire import handle_create_flow_run

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _service_with(schema: dict, *, template: dict | None = None):
    repo = InMemoryRepository()
    seed = Seeder(repo)
    pool = None
    if template is not None:
        seed.work_pool("pool", base_job_template=template)
        pool = "pool"
    deployment = seed.deployment(
        seed.flow("f"),
        "d",
        parameter_openapi_schema=schema,
        enforce_parameter_schema=True,
        work_pool_name=pool,
    )
    return FlowRunService(repo), deployment


@SETTINGS
@given(case=parameter_schemas(), data=st.data())
def test_valid_payloads_are_accepted(case, data) -> None:
    schema, parameters = case
    service, deployment = _service_with(schema)
    body = data.draw(flow_run_creates(st.just(parameters)))
    answer = handle_create_flow_run(service, str(deployment.id), body)
    assert answer.status in {200, 201}, answer.json


@SETTINGS
@given(case=invalid_parameters())
def test_invalid_parameters_are_rejected_with_409(case) -> None:
    schema, parameters = case
    service, deployment = _service_with(schema)
    body = json.dumps({"parameters": parameters}).encode()
    answer = handle_create_flow_run(service, str(deployment.id), body)
    assert answer.status == 409, answer.json
    assert answer.json["detail"].startswith("Error creating flow run: Validation failed")


@SETTINGS
@given(case=invalid_flow_run_creates())
def test_invalid_bodies_are_rejected_as_the_spec_says(case) -> None:
    body, status, kind = case
    service, deployment = _service_with({})
    answer = handle_create_flow_run(service, str(deployment.id), body)
    assert answer.status == status
    assert kind in {item["type"] for item in answer.json["exception_detail"]}


@SETTINGS
@given(template=work_pool_templates())
def test_pool_templates_accept_their_defaults(template) -> None:
    service, deployment = _service_with({}, template=template)
    answer = handle_create_flow_run(service, str(deployment.id), b"{}")
    assert answer.status == 201, answer.json


@SETTINGS
@given(state=states())
def test_states_are_accepted(state) -> None:
    service, deployment = _service_with({})
    body = {"state": {"type": state.type.value, "name": state.name, "message": state.message}}
    answer = handle_create_flow_run(service, str(deployment.id), json.dumps(body).encode())
    assert answer.status == 201, answer.json
    expected_name = state.type.value.capitalize() if state.name is None else state.name
    assert answer.json["state_name"] == expected_name
