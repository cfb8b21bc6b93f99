"""The wire handlers' own arguments: the request is answered, the caller's mistakes raise.

Before: a ``str`` body raised ``TypeError: must be str, not bytes`` from deep inside, a
``memoryview`` an ``AttributeError``, a list of header pairs an ``AttributeError``, and
``bytes`` header names were silently ignored (so ``X-Prefect-Api-Version`` went unchecked).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flowrun_adapters import open_repository

from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import (
    WireResponse,
    handle_bulk_create_flow_runs,
    handle_create_flow_run,
    handle_plan_flow_run,
)

Handler = Callable[..., WireResponse]
HANDLERS: list[tuple[Handler, bytes]] = [
    (handle_create_flow_run, b'{"tags": 5}'),
    (handle_plan_flow_run, b'{"tags": 5}'),
    (handle_bulk_create_flow_runs, b'[{"tags": 5}]'),
]


@pytest.fixture
def target() -> tuple[FlowRunService, str]:
    repo = open_repository("memory:")
    seeder = Seeder(repo)
    deployment = seeder.deployment(seeder.flow("f"), "d")
    return FlowRunService(repo), str(deployment.id)


@pytest.mark.parametrize(("handler", "invalid"), HANDLERS)
def test_bytes_like_bodies_are_answered_as_their_bytes(
    target: tuple[FlowRunService, str], handler: Handler, invalid: bytes
) -> None:
    service, deployment_id = target
    answers = [
        handler(service, deployment_id, body)
        for body in (invalid, bytearray(invalid), memoryview(invalid))
    ]
    assert answers[0].status in {200, 422}
    assert {(a.status, a.body) for a in answers} == {(answers[0].status, answers[0].body)}


@pytest.mark.parametrize(("handler", "invalid"), HANDLERS)
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"body": "{}"},
            "body must be the request's bytes, not str (use text.encode('utf-8'))",
        ),
        ({"body": 5}, "body must be bytes or None, not int"),
        (
            {"deployment_id": uuid.UUID(int=1)},
            "deployment_id must be the path segment as str, not UUID",
        ),
        (
            {"headers": [("content-type", "application/json")]},
            "headers must be a mapping of header names to values, not list",
        ),
        (
            {"headers": {b"x-prefect-api-version": b"0.1"}},
            (
                "headers must map str names to str values (decode bytes as latin-1), "
                "not b'x-prefect-api-version': b'0.1'"
            ),
        ),
    ],
)
def test_wrong_arguments_are_type_errors_naming_what_to_pass(
    target: tuple[FlowRunService, str],
    handler: Handler,
    invalid: bytes,
    arguments: dict[str, Any],
    message: str,
) -> None:
    service, deployment_id = target
    call: dict[str, Any] = {"deployment_id": deployment_id, "body": invalid, "headers": None}
    call.update(arguments)
    with pytest.raises(TypeError) as caught:
        handler(service, call["deployment_id"], call["body"], call["headers"])
    assert str(caught.value) == message
    assert service.repository.count_flow_runs() == 0


def test_text_headers_are_still_read(target: tuple[FlowRunService, str]) -> None:
    service, deployment_id = target
    answer = handle_create_flow_run(service, deployment_id, b"{}", {"X-Prefect-Api-Version": "0.1"})
    assert answer.status == 400
    assert json.loads(answer.body)["detail"].startswith("Invalid X-PREFECT-API-VERSION header")
