"""The scenarios: deployments, request bodies, prefilled stores and the variants that time them.

One :class:`World` is one repository (memory or an SQLite file) with a flow, three
deployments and ``stored`` runs already in it:

* ``plain``: 5 default parameters, 3 tags, a small schema that is not enforced; the
  request overrides two parameters and adds a tag (PERFORMANCE.md §1's body);
* ``enforced``: the same defaults, the realistic 5-property schema of PERFORMANCE.md §4
  (a string, an integer with a minimum, an enum, a string array, a nested object through
  ``allOf`` + ``$ref``), ``enforce_parameter_schema=True``;
* ``idempotent``: the plain request with the same idempotency key every time (every timed
  call is a hit; the warm-up made the run);
* ``hydration``: a deployment whose defaults hold three ``__prefect_kind`` placeholders
  (two ``workspace_variable``, one ``json``).

Each scenario is timed through the service (``FlowRunService``) and through the wire façade
(request bytes in, response bytes out).

``bulk`` (service path only) times ``create_flow_runs_from_deployment`` with
:data:`BULK_SIZE` distinct plain requests per call (one commit per batch); its runs/s is
calls/s times :data:`BULK_SIZE`, to compare with ``plain``'s one create per call.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SQLiteRepository
from flowrun_adapters.sqlite import rows as sqlite_rows

from benchmarks.progress import Progress
from benchmarks.timing import Variant
from flowrun_core.models import Created, DeploymentFlowRunCreate, FlowRun
from flowrun_core.ports import Repository
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import handle_create_flow_run

ADAPTERS = ("memory", "sqlite")
PATHS = ("service", "wire")
SCENARIOS = ("plain", "enforced", "idempotent", "hydration")

DEPLOYMENT_TAGS = ["bench", "nightly", "team-a"]
DEFAULT_PARAMETERS: dict[str, Any] = {
    "name": "world",
    "count": 1,
    "mode": "fast",
    "tags": ["a", "b"],
    "config": {"retries": 2, "label": "x"},
}
REQUEST_PARAMETERS: dict[str, Any] = {"name": "bench", "count": 3}
REQUEST_TAGS = ["bench"]
IDEMPOTENCY_KEY = "bench-idempotency-key"
BULK_SIZE = 100
"""Requests per bulk call (Prefect's limit)."""

SMALL_SCHEMA: dict[str, Any] = {
    "title": "Parameters",
    "type": "object",
    "properties": {
        "name": {"title": "name", "position": 0, "type": "string"},
        "count": {"title": "count", "position": 1, "type": "integer"},
    },
}

REALISTIC_SCHEMA: dict[str, Any] = {
    "title": "Parameters",
    "type": "object",
    "properties": {
        "name": {"title": "name", "position": 0, "type": "string"},
        "count": {"title": "count", "position": 1, "type": "integer", "minimum": 0},
        "mode": {"title": "mode", "position": 2, "enum": ["fast", "slow"], "type": "string"},
        "tags": {"title": "tags", "position": 3, "type": "array", "items": {"type": "string"}},
        "config": {
            "title": "config",
            "position": 4,
            "allOf": [{"$ref": "#/definitions/Config"}],
        },
    },
    "required": ["name", "count"],
    "definitions": {
        "Config": {
            "title": "Config",
            "type": "object",
            "properties": {
                "retries": {"title": "Retries", "type": "integer", "minimum": 0},
                "label": {"title": "Label", "type": "string"},
            },
            "required": ["retries"],
        }
    },
}

VARIABLES: dict[str, Any] = {"bench_mode": "slow", "bench_tags": ["x", "y", "z"]}
HYDRATED_PARAMETERS: dict[str, Any] = {
    "name": "world",
    "count": 1,
    "mode": {"__prefect_kind": "workspace_variable", "variable_name": "bench_mode"},
    "tags": {"__prefect_kind": "workspace_variable", "variable_name": "bench_tags"},
    "config": {"__prefect_kind": "json", "value": '{"retries": 2, "label": "x"}'},
}


def deployment_specs() -> dict[str, dict[str, Any]]:
    """The three deployments, as Prefect's ``POST /deployments/`` would take them."""
    return {
        "plain": {
            "parameters": DEFAULT_PARAMETERS,
            "tags": DEPLOYMENT_TAGS,
            "parameter_openapi_schema": SMALL_SCHEMA,
            "enforce_parameter_schema": False,
        },
        "enforced": {
            "parameters": DEFAULT_PARAMETERS,
            "tags": DEPLOYMENT_TAGS,
            "parameter_openapi_schema": REALISTIC_SCHEMA,
            "enforce_parameter_schema": True,
        },
        "hydration": {
            "parameters": HYDRATED_PARAMETERS,
            "tags": DEPLOYMENT_TAGS,
            "parameter_openapi_schema": SMALL_SCHEMA,
            "enforce_parameter_schema": False,
        },
    }


def request_body(scenario: str) -> dict[str, Any]:
    """The JSON body each scenario posts."""
    body: dict[str, Any] = {"parameters": REQUEST_PARAMETERS, "tags": REQUEST_TAGS}
    if scenario == "idempotent":
        body["idempotency_key"] = IDEMPOTENCY_KEY
    return body


def deployment_of(scenario: str) -> str:
    """Which deployment a scenario posts to."""
    return "plain" if scenario == "idempotent" else scenario


def expect_created(scenario: str) -> bool:
    """Whether a timed call of ``scenario`` creates (201) or replays (200)."""
    return scenario != "idempotent"


@dataclass
class World:
    """One repository with its deployments and prefilled runs."""

    adapter: str
    stored: int
    repository: Repository
    service: FlowRunService
    deployments: dict[str, uuid.UUID]
    flow_id: uuid.UUID
    path: Path | None = None
    prefill_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``memory@10k`` and the like."""
        return f"{self.adapter}@{human(self.stored)}"

    def close(self) -> None:
        """Close the repository."""
        self.repository.close()


def human(n: int) -> str:
    """``10000`` → ``10k``, ``1000000`` → ``1M``."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def open_world(adapter: str, stored: int, directory: Path) -> World:
    """A fresh repository with the flow, variables and deployments (no runs yet)."""
    path: Path | None = None
    repository: Repository
    if adapter == "memory":
        repository = InMemoryRepository()
    elif adapter == "sqlite":
        path = directory / f"flowrun-{human(stored)}.db"
        repository = SQLiteRepository(path, synchronous="NORMAL")
    else:
        raise ValueError(f"unknown adapter {adapter!r}")
    seeder = Seeder(repository)
    flow = seeder.flow("bench-flow")
    for name, value in VARIABLES.items():
        seeder.variable(name, value)
    deployments = {
        name: seeder.deployment(flow, f"bench-{name}", **spec).id
        for name, spec in deployment_specs().items()
    }
    return World(
        adapter=adapter,
        stored=stored,
        repository=repository,
        service=FlowRunService(repository),
        deployments=deployments,
        flow_id=flow.id,
        path=path,
    )


def _template_run(world: World) -> FlowRun:
    """A run exactly as the service stores it for the plain request (not kept)."""
    scratch = open_world("memory", 0, Path())
    made = scratch.service.create_flow_run_from_deployment(
        scratch.deployments["plain"],
        DeploymentFlowRunCreate(parameters=dict(REQUEST_PARAMETERS), tags=tuple(REQUEST_TAGS)),
    ).value
    return attrs.evolve(
        made,
        flow_id=world.flow_id,
        deployment_id=world.deployments["plain"],
    )


def template_row(world: World) -> tuple[Any, ...]:
    """The row the SQLite adapter writes for one plain create (used by floors and prefill)."""
    return sqlite_rows.flow_run_to_row(_template_run(world))


_ID = sqlite_rows.FLOW_RUN_COLUMNS.index("id")
_NAME = sqlite_rows.FLOW_RUN_COLUMNS.index("name")
_KEY = sqlite_rows.FLOW_RUN_COLUMNS.index("idempotency_key")
_STATE_ID = sqlite_rows.FLOW_RUN_COLUMNS.index("state_id")


def fresh_rows(template: tuple[Any, ...], count: int, prefix: str) -> Iterator[tuple[Any, ...]]:
    """``count`` copies of ``template`` with new ids, names and idempotency keys."""
    base = list(template)
    for i in range(count):
        base[_ID] = str(uuid.uuid4())
        base[_STATE_ID] = str(uuid.uuid4())
        base[_NAME] = f"{prefix}-{i}"
        base[_KEY] = f"{prefix}-{i}"
        yield tuple(base)


def prefill(world: World, progress: Progress, chunk: int = 50_000) -> None:
    """Store ``world.stored`` runs, fast, each with its own idempotency key.

    Memory: ``add_flow_run`` inside one transaction. SQLite: ``executemany`` of the
    adapter's own row shape on a second connection, in one transaction, then a WAL
    checkpoint.
    """
    import time  # noqa: PLC0415

    started = time.perf_counter()
    template = _template_run(world)
    if world.adapter == "memory":
        repo = world.repository
        done = 0
        while done < world.stored:
            step = min(chunk, world.stored - done)
            with repo.transaction():
                for i in range(done, done + step):
                    repo.add_flow_run(
                        attrs.evolve(
                            template,
                            id=uuid.uuid4(),
                            name=f"prefill-{i}",
                            idempotency_key=f"prefill-{i}",
                        )
                    )
            done += step
            progress.update(f"prefill {world.label}", f"{done:,}/{world.stored:,}")
    else:
        assert world.path is not None
        sql = sqlite_rows.insert_sql("flow_runs", sqlite_rows.FLOW_RUN_COLUMNS)
        row = sqlite_rows.flow_run_to_row(template)
        conn = sqlite3.connect(world.path, isolation_level=None, timeout=60)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            done = 0
            conn.execute("BEGIN IMMEDIATE")
            while done < world.stored:
                step = min(chunk, world.stored - done)
                conn.executemany(sql, fresh_rows(row, step, f"prefill-{done}"))
                done += step
                progress.update(f"prefill {world.label}", f"{done:,}/{world.stored:,}")
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    world.prefill_seconds = time.perf_counter() - started


def _check_created(expected: bool) -> Callable[[Any], None]:
    def check(out: Created[FlowRun]) -> None:
        if out.created is not expected:
            raise AssertionError(f"expected created={expected}, got {out.created}")

    return check


def _check_bulk(out: Any) -> None:
    if out.committed is not True or len(out.outcomes) != BULK_SIZE:
        raise AssertionError("the bulk batch was not committed whole")
    if any(o.status.value != "created" for o in out.outcomes):
        raise AssertionError("a bulk item was not created")


def bulk_variant(world: World) -> Variant:
    """The bulk scenario: :data:`BULK_SIZE` distinct plain requests per call."""
    requests = [
        DeploymentFlowRunCreate(
            parameters={**REQUEST_PARAMETERS, "count": index}, tags=tuple(REQUEST_TAGS)
        )
        for index in range(BULK_SIZE)
    ]
    deployment_id = world.deployments["plain"]
    create = world.service.create_flow_runs_from_deployment

    def bulk_op() -> Any:
        return create(deployment_id, requests)

    return Variant(
        name=f"{world.adapter}/service/bulk/{human(world.stored)}",
        op=bulk_op,
        check=_check_bulk,
        ops=10,
        warmup=2,
        tags={
            "adapter": world.adapter,
            "stored": world.stored,
            "scenario": "bulk",
            "path": "service",
            "runs_per_op": BULK_SIZE,
        },
    )


def _check_status(expected: int) -> Callable[[Any], None]:
    def check(out: int) -> None:
        if out != expected:
            raise AssertionError(f"expected HTTP {expected}, got {out}")

    return check


def variants(world: World, paths: tuple[str, ...] = PATHS) -> list[Variant]:
    """Every (path, scenario) variant of one world."""
    found: list[Variant] = []
    service = world.service
    if "service" in paths:
        found.append(bulk_variant(world))
    for scenario in SCENARIOS:
        deployment_id = world.deployments[deployment_of(scenario)]
        body = request_body(scenario)
        created = expect_created(scenario)
        tags = {
            "adapter": world.adapter,
            "stored": world.stored,
            "scenario": scenario,
        }
        if "service" in paths:
            request = DeploymentFlowRunCreate(
                parameters=dict(body["parameters"]),
                tags=tuple(body["tags"]),
                idempotency_key=body.get("idempotency_key"),
            )
            create = service.create_flow_run_from_deployment

            def service_op(
                create: Any = create,
                deployment_id: uuid.UUID = deployment_id,
                request: Any = request,
            ) -> Any:
                return create(deployment_id, request)

            found.append(
                Variant(
                    name=f"{world.adapter}/service/{scenario}/{human(world.stored)}",
                    op=service_op,
                    check=_check_created(created),
                    tags={**tags, "path": "service"},
                )
            )
        if "wire" in paths:
            raw = json.dumps(body).encode()
            path_id = str(deployment_id)
            headers = {"content-type": "application/json"}

            def wire_op(
                service: FlowRunService = service,
                path_id: str = path_id,
                raw: bytes = raw,
                headers: dict[str, str] = headers,
            ) -> int:
                response = handle_create_flow_run(service, path_id, raw, headers)
                response.body  # noqa: B018 - bytes out are part of the timed work
                return response.status

            found.append(
                Variant(
                    name=f"{world.adapter}/wire/{scenario}/{human(world.stored)}",
                    op=wire_op,
                    check=_check_status(201 if created else 200),
                    tags={**tags, "path": "wire"},
                )
            )
    return found
