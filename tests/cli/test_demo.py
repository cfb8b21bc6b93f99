"""``flowrun demo``: runs to completion on a fresh file and explains every step."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowrun_adapters.cli import ExitCode, cli

STEPS = [
    "Step 1 of 5: defaults are inferred from the deployment",
    "Step 2 of 5: tags are unioned",
    "Step 3 of 5: the parameter schema rejects bad parameters",
    "Step 4 of 5: an idempotency key replays the first run",
    "Step 5 of 5: a work-queue override",
]


def test_demo_walks_through_every_step(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "demo.db"
    result = runner.invoke(cli, ["demo", "--db", str(target)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    positions = [out.index(step) for step in STEPS]
    assert positions == sorted(positions)
    # Each step explains itself before it shows a result.
    for step, nxt in zip(STEPS, [*STEPS[1:], "Done"], strict=True):
        section = out[out.index(step) : out.index(nxt)]
        assert section.index("$ flowrun run create") < section.index("->")
    assert '"batch_size":100' in out
    assert "etl, nightly, urgent" in out
    assert (
        "409 Conflict: Error creating flow run: Validation failed for field 'batch_size'. "
        "Failure reason: 'lots' is not of type 'integer'"
    ) in out
    created = re.search(
        r"201 Created: run '[^']+'  id (\S+)\n.*\n.*200 OK \(replayed\): run '[^']+'  id (\S+)", out
    )
    assert created is not None
    assert created.group(1) == created.group(2)
    assert "high-memory (3)" in out
    assert "\x1b[" not in out

    # The file is a real store that the other commands can read afterwards.
    listed = runner.invoke(cli, ["--db", str(target), "run", "list", "--json"])
    assert listed.exit_code == 0
    runs = json.loads(listed.stdout)
    assert len(runs) == 4
    assert {r["work_queue_name"] for r in runs} == {"default", "high-memory"}


def test_demo_refuses_a_non_empty_file_unless_forced(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "precious.db"
    target.write_text("keep me")
    refused = runner.invoke(cli, ["demo", "--db", str(target)])
    assert refused.exit_code == ExitCode.CONFLICT
    assert refused.stderr.startswith(f"error: {target} already exists and is not empty")
    assert target.read_text() == "keep me"
    forced = runner.invoke(cli, ["demo", "--db", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "Step 5 of 5" in forced.stdout


def test_demo_twice_on_the_same_file_needs_force(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "demo.db"
    assert runner.invoke(cli, ["demo", "--db", str(target)]).exit_code == 0
    assert runner.invoke(cli, ["demo", "--db", str(target)]).exit_code == ExitCode.CONFLICT
    assert runner.invoke(cli, ["demo", "--db", str(target), "--force"]).exit_code == 0


def test_demo_defaults_to_a_temporary_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    store = re.search(r"Store: (\S+) \(a fresh SQLite file\)", result.stdout)
    assert store is not None
    assert Path(store.group(1)).is_relative_to(tmp_path / "tmp")
    assert Path(store.group(1)).stat().st_size > 0
    assert not (tmp_path / "flowrun.db").exists()


def test_demo_uses_the_groups_db_when_given(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "group.db"
    result = runner.invoke(cli, ["--db", str(target), "demo"])
    assert result.exit_code == 0, result.output
    assert str(target) in result.stdout
    assert target.stat().st_size > 0


def test_demo_in_memory(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["demo", "--db", "memory:"])
    assert result.exit_code == 0, result.output
    assert "Step 5 of 5" in result.stdout


def test_demo_colours_only_when_allowed(runner: CliRunner) -> None:
    coloured = runner.invoke(cli, ["demo", "--db", "memory:"], color=True, env={"NO_COLOR": ""})
    plain = runner.invoke(cli, ["demo", "--db", "memory:"], color=True, env={"NO_COLOR": "1"})
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" not in plain.stdout
