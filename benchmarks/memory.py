"""Bytes per stored run: in memory (tracemalloc) and on disk (SQLite file size)."""

from __future__ import annotations

import gc
import sqlite3
import tracemalloc
from pathlib import Path

from benchmarks.scenarios import REQUEST_PARAMETERS, REQUEST_TAGS, World, open_world
from flowrun_core.models import DeploymentFlowRunCreate


def memory_bytes_per_run(count: int) -> float:
    """Bytes a fresh in-memory repository retains per run, over ``count`` service creates."""
    world = open_world("memory", 0, Path())
    request = DeploymentFlowRunCreate(parameters=dict(REQUEST_PARAMETERS), tags=tuple(REQUEST_TAGS))
    create = world.service.create_flow_run_from_deployment
    deployment_id = world.deployments["plain"]
    create(deployment_id, request)  # first-call caches are not per-run cost
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(count):
            create(deployment_id, request)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    world.close()
    return (after - before) / count


def disk_bytes_per_run(world: World) -> dict[str, float]:
    """File size per stored run of an SQLite world after a WAL checkpoint."""
    assert world.path is not None
    conn = sqlite3.connect(world.path, isolation_level=None, timeout=60)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        runs = int(conn.execute("SELECT count(*) FROM flow_runs").fetchone()[0])
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()
    size = world.path.stat().st_size
    return {
        "runs": runs,
        "file_bytes": size,
        "bytes_per_run": size / max(runs, 1),
        "page_bytes_per_run": pages * page_size / max(runs, 1),
    }
