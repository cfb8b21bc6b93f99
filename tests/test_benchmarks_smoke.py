"""The benchmark command keeps working: its smoke mode runs end to end and reports every figure.

No timing is asserted: only that each scenario was measured and produced positive numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = ("memory", "sqlite")
PATHS = ("service", "wire")
SCENARIOS = ("plain", "enforced", "idempotent", "hydration")
STORED = ("100", "200")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--no-progress", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "### Targets" in proc.stdout
    return json.loads(out.read_text())


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("stored", STORED)
def test_every_scenario_is_measured(smoke: dict, adapter, path, scenario, stored) -> None:
    result = smoke["results"][f"{adapter}/{path}/{scenario}/{stored}"]
    assert result["calls"] > 0
    for key in ("ops_per_s", "us_per_op", "p50_us", "p99_us"):
        assert result[key] > 0, key
    assert result["p99_us"] >= result["p50_us"]


def test_floors_and_their_ratios(smoke: dict) -> None:
    for key in ("floor/memory", "floor/sqlite-autocommit/100", "floor/sqlite-one-tx/100"):
        assert smoke["results"][key]["ops_per_s"] > 0, key
    ratios = smoke["floor_ratios"]["sqlite/service/plain/100"]
    assert ratios["one_tx"] > 0
    assert ratios["autocommit"] > 0
    assert smoke["floor_ratios"]["memory/service/plain/100"]["memory"] > 0


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("stored", STORED)
def test_bulk_is_measured(smoke: dict, adapter, stored) -> None:
    result = smoke["results"][f"{adapter}/service/bulk/{stored}"]
    assert result["calls"] > 0
    assert result["ops_per_s"] > 0
    assert result["runs_per_op"] == 100


def test_memory_scaling_and_targets(smoke: dict) -> None:
    assert smoke["memory"]["memory_bytes_per_run"] > 0
    for label in ("sqlite@100", "sqlite@200"):
        assert smoke["memory"]["sqlite"][label]["bytes_per_run"] > 0
    assert smoke["scaling"]["sqlite/service/plain"] > 0
    statuses = {t["measure"]: t["status"] for t in smoke["targets"]}
    assert len(statuses) == 12
    assert any(m.startswith("SQLite bulk create (100 per call)") for m in statuses)
    assert set(statuses.values()) <= {"PASS", "MISS", "SKIP"}
    # Prefect is never run in smoke mode.
    assert all(s == "SKIP" for m, s in statuses.items() if "Prefect" in m)
    assert smoke["meta"]["smoke"] is True
