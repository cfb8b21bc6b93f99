"""The root group: help everywhere, exit codes, the store option, error output."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowrun_adapters.cli import ExitCode, cli, main
from flowrun_adapters.cli.output import CliError, exit_code_for_status, format_time, table

from flowrun_core.wire import WireResponse

COMMANDS = [
    [],
    ["register"],
    ["register", "flow"],
    ["register", "work-pool"],
    ["register", "work-queue"],
    ["register", "variable"],
    ["register", "deployment"],
    ["register", "all"],
    ["run"],
    ["run", "create"],
    ["run", "get"],
    ["run", "list"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "flowrun")
def test_help_everywhere_with_examples(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: flowrun")
    assert "Example" in result.stdout
    # --help never opens (or creates) the store.
    assert not (tmp_path / "flowrun.db").exists()


def test_root_help_documents_every_exit_code(runner: CliRunner) -> None:
    text = runner.invoke(cli, ["--help"]).stdout
    for phrase in [
        "0 ok",
        "1 unexpected",
        "2 usage",
        "3 not found",
        "4 invalid input",
        "5 conflict",
        "6 storage unavailable",
        "FLOWRUN_DB",
        "error: <message>",
    ]:
        assert phrase in text
    doc = __import__("flowrun_adapters.cli", fromlist=["__doc__"]).__doc__
    assert doc is not None
    for code in ExitCode:
        assert f"{code.value}  " in doc


def test_exit_code_values_are_pinned() -> None:
    assert [(c.name, c.value) for c in ExitCode] == [
        ("OK", 0),
        ("UNEXPECTED", 1),
        ("USAGE", 2),
        ("NOT_FOUND", 3),
        ("INVALID_INPUT", 4),
        ("CONFLICT", 5),
        ("STORAGE_UNAVAILABLE", 6),
    ]


@pytest.mark.parametrize(
    ("status", "code"),
    [(200, 0), (201, 0), (400, 4), (404, 3), (409, 5), (422, 4), (500, 1), (503, 6)],
)
def test_statuses_map_to_exit_codes(status: int, code: int) -> None:
    assert exit_code_for_status(status) == code


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("flowrun, version ")


def test_unknown_command_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["frobnicate"])
    assert result.exit_code == ExitCode.USAGE


def test_default_store_is_flowrun_db_in_the_working_directory(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWRUN_DB", raising=False)
    (tmp_path / "f.json").write_text('{"name": "etl"}')
    result = runner.invoke(cli, ["register", "flow", "f.json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "flowrun.db").stat().st_size > 0


def test_flowrun_db_environment_variable(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    flow_file = tmp_path / "f.json"
    flow_file.write_text('{"name": "etl"}')
    result = runner.invoke(
        cli, ["register", "flow", str(flow_file)], env={"FLOWRUN_DB": str(target)}
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["run", "list", "--flow", "etl"], env={"FLOWRUN_DB": str(target)})
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.strip() == "No flow runs."


def test_memory_store(runner: CliRunner, tmp_path: Path) -> None:
    flow_file = tmp_path / "f.yaml"
    flow_file.write_text("name: etl\n")
    result = runner.invoke(cli, ["--db", "memory:", "register", "flow", str(flow_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["name"] == "etl"


def test_bad_store_url_is_invalid_input(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", "sqlite://somehost/x.db", "run", "list"])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr.startswith("error: --db")


def test_a_file_that_is_not_a_database_is_storage_unavailable(
    runner: CliRunner, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not an SQLite database\n" * 200)
    result = runner.invoke(cli, ["--db", str(junk), "run", "list"])
    assert result.exit_code == ExitCode.STORAGE_UNAVAILABLE
    assert result.stderr.startswith("error: ")
    assert "junk.db" in result.stderr


def test_a_locked_store_is_storage_unavailable(flowrun, seeded: dict[str, str], db: Path) -> None:
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        result = flowrun("--db", f"sqlite:///{db}?busy_timeout=0", "run", "create", "etl/nightly")
        as_json = flowrun(
            "--db", f"sqlite:///{db}?busy_timeout=0", "run", "create", "etl/nightly", "--json"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == ExitCode.STORAGE_UNAVAILABLE, result.output
    assert result.stderr.startswith("error: Service Unavailable")
    payload = json.loads(as_json.stderr)
    assert payload["error"]["status"] == 503
    assert payload["error"]["category"] == "storage-unavailable"
    assert as_json.stdout == ""


def test_unexpected_errors_exit_1(
    flowrun, seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> WireResponse:
        raise RuntimeError("kaput")

    monkeypatch.setattr("flowrun_adapters.cli.runs.handle_create_flow_run", boom)
    result = flowrun("run", "create", "etl/nightly")
    assert result.exit_code == ExitCode.UNEXPECTED
    assert result.stderr == "error: unexpected RuntimeError: kaput\n"


def test_a_500_answer_exits_1(
    flowrun, seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def internal(*args: object, **kwargs: object) -> WireResponse:
        return WireResponse(status=500, json={"exception_message": "Internal Server Error"})

    monkeypatch.setattr("flowrun_adapters.cli.runs.handle_create_flow_run", internal)
    result = flowrun("run", "create", "etl/nightly", "--json")
    assert result.exit_code == ExitCode.UNEXPECTED
    assert json.loads(result.stderr)["error"]["message"] == "Internal Server Error"


def test_error_json_shape() -> None:
    error = CliError("nope", ExitCode.NOT_FOUND, details=["hint"])
    assert error.exit_code == 3
    assert error.as_payload() == {
        "error": {"message": "nope", "category": "not-found", "exit_code": 3, "details": ["hint"]}
    }


def test_no_color_and_terminals(runner: CliRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    coloured = runner.invoke(
        cli, ["--db", "memory:", "register", "flow", missing], color=True, env={"NO_COLOR": ""}
    )
    plain = runner.invoke(
        cli, ["--db", "memory:", "register", "flow", missing], color=True, env={"NO_COLOR": "1"}
    )
    not_a_tty = runner.invoke(
        cli, ["--db", "memory:", "register", "flow", missing], env={"NO_COLOR": ""}
    )
    assert "\x1b[" in coloured.stderr
    assert "\x1b[" not in plain.stderr
    assert "\x1b[" not in not_a_tty.stderr
    assert plain.stderr.startswith("error: File ")
    assert plain.exit_code == coloured.exit_code == ExitCode.NOT_FOUND


def test_table_and_time_formatting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert table(["A", "BB"], [["xyz", "1"], ["q", "22"]]) == "A    BB\nxyz  1\nq    22"
    assert format_time("2024-06-01T12:00:05.123456+02:00") == "2024-06-01 10:00:05Z"
    assert format_time(None) == "-"
    assert format_time("not a time") == "not a time"


def test_main_is_the_console_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "flowrun, version" in capsys.readouterr().out


def test_installed_command_runs_in_a_subprocess(tmp_path: Path) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "flowrun_adapters.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert help_text.returncode == 0, help_text.stderr
    assert "Exit codes" in help_text.stdout
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowrun_adapters.cli",
            "--db",
            str(tmp_path / "s.db"),
            "run",
            "get",
            "00000000-0000-4000-8000-000000000000",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert missing.returncode == ExitCode.NOT_FOUND
    assert missing.stderr == "error: Flow run 00000000-0000-4000-8000-000000000000 not found.\n"
