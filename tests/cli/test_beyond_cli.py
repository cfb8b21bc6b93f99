"""The command line's opt-in flags: --plan, --strict-idempotency, --reject-unknown-queue,
--validation-report, and ``flowrun run bulk``."""

from __future__ import annotations

import json
from pathlib import Path


def test_plan_writes_nothing(flowrun, seeded) -> None:
    result = flowrun("run", "create", "etl/nightly", "-p", "batch_size=5", "--plan")
    assert result.exit_code == 0, result.output
    assert "would create flow run" in result.output
    assert "request" in result.output
    listed = flowrun("run", "list", "--json")
    assert json.loads(listed.output) == []
    as_json = flowrun("run", "create", "etl/nightly", "--plan", "--json")
    assert json.loads(as_json.output)["provenance"]["parameters"]["source"] == "deployment"


def test_strict_idempotency_flag(flowrun, seeded) -> None:
    assert (
        flowrun("run", "create", "etl/nightly", "-k", "k1", "--strict-idempotency").exit_code == 0
    )
    again = flowrun(
        "run", "create", "etl/nightly", "-k", "k1", "-p", "batch_size=7", "--strict-idempotency"
    )
    assert again.exit_code == 4
    assert "/parameters/batch_size" in again.output
    lax = flowrun("run", "create", "etl/nightly", "-k", "k1", "-p", "batch_size=7")
    assert lax.exit_code == 0
    assert "replayed" in lax.output


def test_reject_unknown_queue_and_validation_report(flowrun, seeded) -> None:
    rejected = flowrun("run", "create", "etl/nightly", "-q", "nope", "--reject-unknown-queue")
    assert rejected.exit_code == 4
    assert "does not exist in work pool 'docker-pool'" in rejected.output
    report = flowrun(
        "run",
        "create",
        "etl/nightly",
        "-p",
        "batch_size=0",
        "-p",
        "source=1",
        "--validation-report",
    )
    assert report.exit_code == 5
    assert "/batch_size" in report.output
    assert "/source" in report.output


def test_bulk_command(flowrun, seeded, tmp_path: Path) -> None:
    requests = tmp_path / "requests.json"
    requests.write_text(
        json.dumps([{"parameters": {"batch_size": 2}}, {"parameters": {"batch_size": 0}}])
    )
    result = flowrun("run", "bulk", "etl/nightly", str(requests))
    assert result.exit_code == 4
    assert "created" in result.output
    assert "1 of 2 stored; batch committed" in result.output
    atomic = flowrun("run", "bulk", "etl/nightly", str(requests), "--atomic", "--json")
    assert atomic.exit_code == 4
    answer = json.loads(atomic.output.splitlines()[0])
    assert answer["committed"] is False
    requests.write_text(json.dumps([{"parameters": {"batch_size": 2}}]))
    ok = flowrun("run", "bulk", "etl/nightly", str(requests))
    assert ok.exit_code == 0, ok.output
    assert len(json.loads(flowrun("run", "list", "--json").output)) == 2
