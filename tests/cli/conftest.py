"""Fixtures for the ``flowrun`` command line: a runner, a fresh SQLite file, a seeded one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flowrun_adapters.cli import cli

SETUP_YAML = """\
flows:
  - name: etl
    tags: [team-data]
work_pools:
  - name: docker-pool
    type: docker
    work_queues: [backfill]
deployments:
  - name: nightly
    flow: etl
    parameters: {source: "s3://raw", batch_size: 100}
    parameter_openapi_schema:
      type: object
      properties:
        source: {type: string}
        batch_size: {type: integer, minimum: 1, default: 100}
      required: [source]
    tags: [nightly, etl]
    work_pool_name: docker-pool
  - name: adhoc
    flow: etl
    parameter_openapi_schema: null
    enforce_parameter_schema: false
"""

Invoke = Callable[..., Result]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "flowrun.db"


@pytest.fixture
def flowrun(runner: CliRunner, db: Path) -> Invoke:
    """Run ``flowrun --db <tmp file> ARGS...``; keyword arguments go to ``CliRunner.invoke``."""

    def invoke(*args: str, **kwargs: object) -> Result:
        return runner.invoke(cli, ["--db", str(db), *args], **kwargs)  # type: ignore[arg-type]

    return invoke


@pytest.fixture
def seeded(flowrun: Invoke, tmp_path: Path) -> dict[str, str]:
    """The store with SETUP_YAML registered; returns each entity's id by name."""
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP_YAML, encoding="utf-8")
    result = flowrun("register", "all", str(setup), "--json")
    assert result.exit_code == 0, result.output
    return {item["name"]: item["id"] for item in json.loads(result.stdout)}
