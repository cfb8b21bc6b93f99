"""Hostile strings in every string field round-trip through the wire, both adapters and back.

``tests/adapters/test_sqlite.py`` already round-trips hostile values through the SQLite
adapter's own API. These tests go edge to edge: request bytes in through
``handle_create_flow_run``, stored by the in-memory adapter or a real SQLite file, and out
again, in the 201 response and in the 200 answer of an idempotent replay (which is read
back from the store), after the SQLite file was closed and reopened.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SQLiteRepository

from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import handle_create_flow_run
from flowrun_core.wire.request import MAX_STATE_NAME

MEGABYTE = 1 << 20
# Parameters are capped at 524,288 bytes of JSON by Prefect; a 1 MB string goes elsewhere.
HOSTILE = {
    "sql": "'; DROP TABLE flow_runs; -- \" OR 1=1 `x` [y] %s ? :n $1",
    "nul": "nul\x00in\x00the middle\x00",
    "emoji": "emoji \U0001f600 \U0001f9ea and max \U0010ffff",
    "controls": "line\nbreak\ttab\r\x1b[31m\x7f\u2028\u2029",
    "escapes": "\\u0000 \\n not escapes \\",
    "json-ish": '{"a": [1, 2]} null true',
    "rtl": "\u202eabc \ufeff bom \u200b",
    "megabyte": "m" * MEGABYTE,
}
# Work-queue names may not hold '/', '%', '&', '>' or '<' (Prefect cannot create them).
QUEUE_SAFE = {
    key: value.replace("%", "").replace("/", "").replace("&", "").replace("<", "").replace(">", "")
    for key, value in HOSTILE.items()
}
# Estimates depend on the moment the response is built.
MOMENT_FIELDS = {"estimated_run_time", "estimated_start_time_delta"}


class Store:
    """A seeded store on one adapter; SQLite ones can be closed and reopened."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self.path = path
        self.repository: Any = self._open()
        seeder = Seeder(self.repository)
        flow = seeder.flow("round-trip")
        seeder.work_pool("pool")
        self.deployment_id = str(
            seeder.deployment(flow, "d", work_pool_name="pool", enforce_parameter_schema=False).id
        )

    def _open(self) -> Any:
        return InMemoryRepository() if self.kind == "memory" else SQLiteRepository(self.path)

    def reopen(self) -> None:
        if self.kind == "sqlite":
            self.repository.close()
            self.repository = self._open()

    def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        service = FlowRunService(self.repository)
        response = handle_create_flow_run(
            service, self.deployment_id, json.dumps(body).encode(), headers
        )
        return response.status, json.loads(response.body)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = Store(request.param, tmp_path / "round-trip.db")
    yield made
    made.repository.close()


def _without_moments(run: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in run.items() if key not in MOMENT_FIELDS}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_string_field_round_trips(store: Store, name: str) -> None:
    value = HOSTILE[name]
    small = value if len(value) < MEGABYTE else value[:100_000]
    # Prefect cannot create a run whose state name is longer (its event name overflows).
    state_name = value[:MAX_STATE_NAME]
    body = {
        "name": value,
        "idempotency_key": f"key {value}",
        "tags": [value, f"t-{small}"],
        "labels": {f"l-{small}": value},
        "parameters": {small: small, "nested": [small, {small: [small]}]},
        "context": {value: [value]},
        "job_variables": {small: small},
        "work_queue_name": f"q {QUEUE_SAFE[name]}",
        "state": {"type": "SCHEDULED", "name": state_name, "message": value},
        "empirical_policy": {"pause_keys": [value]},
    }
    headers = {
        "prefect-automation-id": "0b6e4f9e-1d0a-4d7e-9a47-2f1d6d1c2b3a",
        "prefect-automation-name": base64.b64encode(value.encode()).decode(),
    }
    status, created = store.post(body, headers)
    assert status == 201, str(created)[:300]
    assert created["name"] == value
    assert created["idempotency_key"] == f"key {value}"
    assert created["tags"] == sorted([value, f"t-{small}"])
    assert created["labels"][f"l-{small}"] == value
    assert created["parameters"] == body["parameters"]
    assert created["context"] == body["context"]
    assert created["job_variables"] == body["job_variables"]
    assert created["work_queue_name"] == body["work_queue_name"]
    assert created["state"]["name"] == state_name
    assert created["state"]["message"] == value
    assert created["empirical_policy"]["pause_keys"] == [value]
    assert created["created_by"]["display_value"] == value
    # Read back from the store: the idempotent replay answers the stored run.
    store.reopen()
    status, replayed = store.post(body, headers)
    assert status == 200
    assert _without_moments(replayed) == _without_moments(created)


def test_non_string_edge_values_round_trip(store: Store) -> None:
    body = {
        "idempotency_key": "numbers",
        "parameters": {
            "big": 2**63 - 1,
            "small": -(2**63),
            "tiny": 5e-324,
            "huge": 1.7976931348623157e308,
            "negzero": -0.0,
            "deep": json.loads("[" * 200 + "]" * 200),
        },
        "labels": {"b": True, "i": -(2**63), "f": 0.1},
    }
    status, created = store.post(body)
    assert status == 201, created
    assert created["parameters"] == body["parameters"]
    assert created["labels"]["i"] == -(2**63)
    store.reopen()
    status, replayed = store.post(body)
    assert status == 200
    assert _without_moments(replayed) == _without_moments(created)
