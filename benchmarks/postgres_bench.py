"""PostgreSQL creates/s next to SQLite: ``python -m benchmarks.postgres_bench --postgres URL``.

Each adapter gets the benchmark world of :mod:`benchmarks.scenarios` (a flow, variables, the
four deployments) and serves the ``plain`` create through ``FlowRunService``: once from one
client, then from ``--clients`` threads sharing one repository (PostgreSQL: one pooled
connection per thread; SQLite: one connection, its lock serialises the threads). Every create
makes a new run. PostgreSQL runs in a fresh schema that is dropped afterwards, once with
``synchronous_commit=on`` (every commit flushed to disk: the durable default) and once with
``off`` (comparable to SQLite's ``synchronous=NORMAL``); SQLite in a temporary file (WAL,
``synchronous=NORMAL``).

Prefect's own server logic on the same PostgreSQL is not timed here (see the report).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowrun_adapters.sqlite import SQLiteRepository

from benchmarks.scenarios import VARIABLES, deployment_specs, request_body
from flowrun_core.models import DeploymentFlowRunCreate
from flowrun_core.ports import Repository
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService


def _world(repository: Repository) -> tuple[FlowRunService, uuid.UUID]:
    seeder = Seeder(repository)
    flow = seeder.flow("bench-flow")
    for name, value in VARIABLES.items():
        seeder.variable(name, value)
    deployments = {
        name: seeder.deployment(flow, f"bench-{name}", **spec).id
        for name, spec in deployment_specs().items()
    }
    return FlowRunService(repository), deployments["plain"]


def _request() -> DeploymentFlowRunCreate:
    body = request_body("plain")
    return DeploymentFlowRunCreate(parameters=dict(body["parameters"]), tags=tuple(body["tags"]))


def _rate(create: Callable[[], Any], ops: int, clients: int) -> float:
    """Creates per second: ``clients`` threads, ``ops`` creates each, wall-clock time."""
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def client() -> None:
        barrier.wait()
        try:
            for _ in range(ops):
                assert create().created
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return clients * ops / elapsed


def measure(repository: Repository, ops: int, clients: int) -> dict[str, float]:
    """Single-client and concurrent creates/s through the service on ``repository``."""
    service, deployment_id = _world(repository)
    request = _request()

    def create() -> Any:
        return service.create_flow_run_from_deployment(deployment_id, request)

    for _ in range(min(50, ops)):  # warm-up: prepared statements, pool, caches
        create()
    return {
        "single": _rate(create, ops, 1),
        f"{clients} clients": _rate(create, max(1, ops // clients), clients),
    }


def compare(url: str, *, ops: int, clients: int) -> dict[str, dict[str, float]]:
    """Creates/s for SQLite (file, WAL) and PostgreSQL (both commit modes), side by side."""
    from flowrun_adapters.postgres import PostgresRepository  # noqa: PLC0415 - optional extra

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteRepository(Path(tmp, "bench.db"))
        try:
            results["SQLite (file, WAL)"] = measure(sqlite, ops, clients)
        finally:
            sqlite.close()
    for label, commit in [
        ("PostgreSQL (synchronous_commit=on)", "on"),
        ("PostgreSQL (synchronous_commit=off)", "off"),
    ]:
        schema = f"flowrun_bench_{uuid.uuid4().hex[:8]}"
        postgres = PostgresRepository.from_url(
            url, schema=schema, pool_min=clients, pool_max=clients, synchronous_commit=commit
        )
        try:
            results[label] = measure(postgres, ops, clients)
        finally:
            postgres.close()
            _drop_schema(url, schema)
    return results


def table(results: dict[str, dict[str, float]], clients: int) -> str:
    """A Markdown table of :func:`compare`'s figures."""
    lines = [
        f"| adapter | creates/s, 1 client | creates/s, {clients} clients (threads) |",
        "|---|---:|---:|",
    ]
    for name, figures in results.items():
        lines.append(
            f"| {name} | {figures['single']:,.0f} | {figures[f'{clients} clients']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table of creates/s per adapter."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.postgres_bench")
    p.add_argument("--postgres", required=True, help="postgresql://user@host:5432/dbname")
    p.add_argument("--ops", type=int, default=2000, help="creates per measurement")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (threads)")
    args = p.parse_args(argv)
    print(table(compare(args.postgres, ops=args.ops, clients=args.clients), args.clients))
    return 0


def _drop_schema(url: str, schema: str) -> None:
    import psycopg  # noqa: PLC0415 - optional extra

    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(schema)
            )
        )


if __name__ == "__main__":
    raise SystemExit(main())
