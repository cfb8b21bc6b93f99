"""``flowrun run create|get|list`` against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flowrun_adapters.cli import ExitCode


def create(flowrun, *args: str) -> dict:
    result = flowrun("run", "create", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_defaults_come_from_the_deployment(flowrun, seeded: dict[str, str]) -> None:
    run = create(flowrun, "etl/nightly")
    assert run["deployment_id"] == seeded["etl/nightly"]
    assert run["flow_id"] == seeded["etl"]
    assert run["parameters"] == {"source": "s3://raw", "batch_size": 100}
    assert run["tags"] == ["etl", "nightly"]
    assert run["state_type"] == "SCHEDULED"
    assert (run["work_pool_name"], run["work_queue_name"]) == ("docker-pool", "default")


def test_human_output_says_created_then_replayed(flowrun, seeded: dict[str, str]) -> None:
    first = flowrun("run", "create", "etl/nightly", "-k", "once")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("created flow run '")
    assert "(201 Created)" in first.stdout.splitlines()[0]
    second = flowrun("run", "create", "etl/nightly", "-k", "once", "-p", "batch_size=7")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("replayed flow run '")
    assert "(200 OK)" in second.stdout.splitlines()[0]
    # The FlowRunResponse JSON follows the summary; it is the same run, unchanged.
    first_json = json.loads(first.stdout[first.stdout.index("\n{") :])
    second_json = json.loads(second.stdout[second.stdout.index("\n{") :])
    assert second_json["id"] == first_json["id"]
    assert second_json["parameters"]["batch_size"] == 100


def test_idempotent_replay_in_json(flowrun, seeded: dict[str, str]) -> None:
    first = create(flowrun, "etl/nightly", "--idempotency-key", "k")
    again = create(flowrun, seeded["etl/nightly"], "--idempotency-key", "k")
    assert again["id"] == first["id"]
    listed = json.loads(flowrun("run", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [first["id"]]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("batch_size=500", 500),
        ("batch_size=1.5", 1.5),
        ("flag=true", True),
        ('items=[1, "a"]', [1, "a"]),
        ('nested={"a": null}', {"a": None}),
        ('quoted="500"', "500"),
        ("word=lots", "lots"),
        ("empty=", ""),
        ("eq=a=b", "a=b"),
    ],
)
def test_params_are_json_when_they_parse(
    flowrun, seeded: dict[str, str], param: str, value: object
) -> None:
    run = create(flowrun, "etl/adhoc", "-p", param)
    key = param.split("=", 1)[0]
    assert run["parameters"] == {key: value}


def test_tags_state_name_and_queue_override(flowrun, seeded: dict[str, str]) -> None:
    run = create(
        flowrun,
        "etl/nightly",
        "--tag",
        "urgent",
        "-t",
        "etl",
        "--state",
        "running",
        "--name",
        "my-run",
        "--work-queue",
        "gpu",
    )
    assert run["tags"] == ["etl", "nightly", "urgent"]
    assert run["state_type"] == "RUNNING"
    assert run["name"] == "my-run"
    assert run["work_queue_name"] == "gpu"
    queues = json.loads(
        flowrun(
            "register",
            "work-queue",
            "-",
            "--json",
            input='{"name": "gpu", "work_pool": "docker-pool"}',
        ).stdout
    )
    assert (queues[0]["created"], queues[0]["priority"]) == (False, 3)  # default 1, backfill 2


def test_body_file_with_options_laid_over_it(
    flowrun, seeded: dict[str, str], tmp_path: Path
) -> None:
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps({"parameters": {"source": "gs://x"}, "tags": ["from-body"], "name": "b"})
    )
    run = create(flowrun, "etl/nightly", "--body", str(body), "-p", "batch_size=5", "-t", "cli")
    assert run["parameters"] == {"source": "gs://x", "batch_size": 5}
    assert run["tags"] == ["cli", "etl", "from-body", "nightly"]
    assert run["name"] == "b"


def test_body_file_alone_is_sent_untouched(flowrun, seeded: dict[str, str], tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"tags": [1], "surprise": true}')
    result = flowrun("run", "create", "etl/nightly", "--body", str(body), "--json")
    assert result.exit_code == ExitCode.INVALID_INPUT
    error = json.loads(result.stderr)["error"]
    assert error["status"] == 422
    assert error["response"]["exception_message"] == "Invalid request received."
    assert error["response"]["request_body"] == {"tags": [1], "surprise": True}
    human = flowrun("run", "create", "etl/nightly", "--body", str(body))
    assert human.stderr.splitlines() == [
        "error: Invalid request received.",
        "  body.tags.0: Input should be a valid string",
        "  body.surprise: Extra inputs are not permitted",
    ]


def test_body_must_be_an_object_to_combine_with_options(
    flowrun, seeded: dict[str, str], tmp_path: Path
) -> None:
    body = tmp_path / "body.json"
    body.write_text("[1, 2]")
    result = flowrun("run", "create", "etl/nightly", "--body", str(body), "-t", "x")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "must hold a JSON object" in result.stderr
    body.write_text("{not json")
    assert (
        flowrun("run", "create", "etl/nightly", "--body", str(body), "-t", "x").exit_code
        == ExitCode.INVALID_INPUT
    )


def test_schema_violation_is_a_conflict_with_prefects_message(
    flowrun, seeded: dict[str, str]
) -> None:
    result = flowrun("run", "create", "etl/nightly", "-p", "batch_size=lots")
    assert result.exit_code == ExitCode.CONFLICT
    assert result.stdout == ""
    assert result.stderr == (
        "error: Error creating flow run: Validation failed for field 'batch_size'. "
        "Failure reason: 'lots' is not of type 'integer'\n"
    )
    as_json = flowrun("run", "create", "etl/nightly", "-p", "batch_size=0", "--json")
    assert as_json.exit_code == ExitCode.CONFLICT
    error = json.loads(as_json.stderr)["error"]
    assert error == {
        "message": "Error creating flow run: Validation failed for field 'batch_size'. "
        "Failure reason: 0 is less than the minimum of 1",
        "category": "conflict",
        "exit_code": 5,
        "status": 409,
        "response": {"detail": error["message"]},
    }
    assert json.loads(flowrun("run", "list", "--json").stdout) == []


def test_queue_override_without_a_pool_is_invalid_input(flowrun, seeded: dict[str, str]) -> None:
    result = flowrun("run", "create", "etl/adhoc", "--work-queue", "q")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr.startswith(
        "error: Cannot create flow run in work queue q because deployment "
    )


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        ("etl/nope", ExitCode.NOT_FOUND),
        ("nope/nightly", ExitCode.NOT_FOUND),
        ("nightly-typo", ExitCode.NOT_FOUND),
        ("00000000-0000-4000-8000-000000000000", ExitCode.NOT_FOUND),
    ],
)
def test_unknown_deployments(flowrun, seeded: dict[str, str], reference: str, code: int) -> None:
    result = flowrun("run", "create", reference)
    assert result.exit_code == code
    assert result.stderr.startswith("error: ")


def test_an_unknown_id_gets_the_endpoints_answers(flowrun, seeded: dict[str, str]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    result = flowrun("run", "create", missing, "--json")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert json.loads(result.stderr)["error"]["response"] == {"detail": "Deployment not found"}
    # As over HTTP, the body is validated before the deployment is looked up.
    invalid = flowrun("run", "create", missing, "--body", "-", input='{"tags": "x"}')
    assert invalid.exit_code == ExitCode.INVALID_INPUT


def test_a_unique_deployment_name_is_enough(flowrun, seeded: dict[str, str]) -> None:
    assert create(flowrun, "nightly")["deployment_id"] == seeded["etl/nightly"]


def test_usage_errors(flowrun, seeded: dict[str, str]) -> None:
    assert flowrun("run", "create", "etl/nightly", "-p", "novalue").exit_code == ExitCode.USAGE
    assert (
        flowrun("run", "create", "etl/nightly", "--state", "SLEEPING").exit_code == ExitCode.USAGE
    )
    assert flowrun("run", "create").exit_code == ExitCode.USAGE
    assert flowrun("run", "list", "--limit", "0").exit_code == ExitCode.USAGE


def test_run_get(flowrun, seeded: dict[str, str]) -> None:
    run = create(flowrun, "etl/nightly", "-k", "key-1")
    result = flowrun("run", "get", run["id"], "--json")
    assert result.exit_code == 0
    got = json.loads(result.stdout)
    ignore = {"estimated_start_time_delta", "estimated_run_time"}
    assert {k: v for k, v in got.items() if k not in ignore} == {
        k: v for k, v in run.items() if k not in ignore
    }
    human = flowrun("run", "get", run["id"])
    assert human.exit_code == 0
    assert f"{run['id']}" in human.stdout
    assert "etl/nightly" in human.stdout
    assert "SCHEDULED (Scheduled)" in human.stdout
    assert "'key-1'" in human.stdout


def test_run_get_errors(flowrun, seeded: dict[str, str]) -> None:
    missing = flowrun("run", "get", "00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == ExitCode.NOT_FOUND
    not_an_id = flowrun("run", "get", "abc", "--json")
    assert not_an_id.exit_code == ExitCode.INVALID_INPUT
    assert (
        json.loads(not_an_id.stderr)["error"]["message"] == "'abc' is not a flow run id (a UUID)."
    )


def test_run_list_filters_and_table(flowrun, seeded: dict[str, str], tmp_path: Path) -> None:
    other_flow = tmp_path / "other.yaml"
    other_flow.write_text("flows: [{name: other}]\ndeployments: [{name: nightly, flow: other}]\n")
    assert flowrun("register", "all", str(other_flow)).exit_code == 0
    a = create(flowrun, "etl/nightly")
    b = create(flowrun, "etl/adhoc")
    c = create(flowrun, "other/nightly")

    def ids(*args: str) -> list[str]:
        result = flowrun("run", "list", *args, "--json")
        assert result.exit_code == 0, result.output
        return [r["id"] for r in json.loads(result.stdout)]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids("--flow", "etl") == [a["id"], b["id"]]
    assert ids("--deployment", "etl/nightly") == [a["id"]]
    assert ids("--deployment", seeded["etl/adhoc"]) == [b["id"]]
    assert ids("--flow", "other", "--deployment", "nightly") == [c["id"]]
    assert ids("--limit", "2") == [a["id"], b["id"]]
    # Past SQLite's integers: all of them (before, exit 6 "a value cannot be stored").
    assert ids("--limit", str(10**20)) == [a["id"], b["id"], c["id"]]
    ambiguous = flowrun("run", "list", "--deployment", "nightly")
    assert ambiguous.exit_code == ExitCode.CONFLICT
    assert "2 deployments match 'nightly'" in ambiguous.stderr
    assert flowrun("run", "list", "--flow", "nope").exit_code == ExitCode.NOT_FOUND

    table = flowrun("run", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STATE", "DEPLOYMENT", "CREATED"]
    assert len(table) == 4
    assert table[1].split()[:4] == [a["id"], a["name"], "SCHEDULED", "etl/nightly"]
    assert table[3].split()[3] == "other/nightly"


def test_run_list_empty(flowrun, seeded: dict[str, str]) -> None:
    result = flowrun("run", "list")
    assert (result.exit_code, result.stdout) == (0, "No flow runs.\n")


def test_a_param_too_deep_to_parse_is_text(flowrun, seeded: dict[str, str]) -> None:
    """As any value that does not parse as JSON; before: 'unexpected RecursionError'."""
    deep = "[" * 5000 + "]" * 5000
    run = create(flowrun, "etl/adhoc", "-p", f"x={deep}")
    assert run["parameters"] == {"x": deep}


def test_a_body_too_deep_to_combine_with_options_is_invalid_input(
    flowrun, seeded: dict[str, str], tmp_path: Path
) -> None:
    body = tmp_path / "deep.json"
    body.write_text('{"parameters": {"x": ' + "[" * 5000 + "]" * 5000 + "}}")
    result = flowrun("run", "create", "etl/adhoc", "--body", str(body), "-t", "x")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr == (
        f"error: --body {body}: not valid JSON (nested too deeply to read); it must be a JSON "
        "object to combine with options.\n"
    )
    # Without options the bytes go to the endpoint untouched, which answers 400 as Prefect.
    untouched = flowrun("run", "create", "etl/adhoc", "--body", str(body))
    assert untouched.exit_code == ExitCode.INVALID_INPUT
    assert "There was an error parsing the body" in untouched.stderr
