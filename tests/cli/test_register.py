"""``flowrun register``: JSON and YAML files, one object or a list, all or nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from uuid import UUID

import pytest
from flowrun_adapters import open_repository
from flowrun_adapters.cli import ExitCode
from flowrun_adapters.cli.app import repository_url


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_register_flows_from_json_and_yaml(flowrun, tmp_path: Path) -> None:
    one = flowrun("register", "flow", write(tmp_path, "f.json", '{"name": "etl", "tags": ["a"]}'))
    assert one.exit_code == 0, one.output
    assert one.stdout.startswith("registered flow 'etl'  id ")
    many = flowrun(
        "register",
        "flow",
        write(tmp_path, "f.yaml", "- name: ingest\n- name: report\n  labels: {team: data}\n"),
        "--json",
    )
    assert many.exit_code == 0, many.output
    items = json.loads(many.stdout)
    assert [(i["kind"], i["name"], i["created"]) for i in items] == [
        ("flow", "ingest", True),
        ("flow", "report", True),
    ]
    assert all(len(i["id"]) == 36 for i in items)


def test_an_existing_flow_is_kept(flowrun, tmp_path: Path) -> None:
    source = write(tmp_path, "f.yaml", "name: etl\n")
    first = json.loads(flowrun("register", "flow", source, "--json").stdout)[0]
    again = flowrun("register", "flow", source, "--json")
    assert again.exit_code == 0
    second = json.loads(again.stdout)[0]
    assert second == {**first, "created": False}
    assert flowrun("register", "flow", source).stdout.startswith("already registered: flow 'etl'")


def test_work_pool_gets_default_queue_then_named_queues(flowrun, tmp_path: Path) -> None:
    result = flowrun(
        "register",
        "work-pool",
        write(tmp_path, "p.yaml", "name: pool\ntype: docker\nwork_queues: [a, b]\n"),
        "--json",
    )
    assert result.exit_code == 0, result.output
    (pool,) = json.loads(result.stdout)
    assert [(q["name"], q["priority"]) for q in pool["work_queues"]] == [
        ("default", 1),
        ("a", 2),
        ("b", 3),
    ]
    queue = flowrun(
        "register", "work-queue", write(tmp_path, "q.yaml", "name: c\nwork_pool: pool\n"), "--json"
    )
    assert json.loads(queue.stdout)[0]["priority"] == 4
    again = flowrun(
        "register", "work-queue", write(tmp_path, "q2.yaml", "name: a\nwork_pool: pool\n")
    )
    assert again.stdout.startswith("already registered: work-queue 'pool/a'")
    duplicate = flowrun("register", "work-pool", write(tmp_path, "p2.yaml", "name: pool\n"))
    assert duplicate.exit_code == ExitCode.CONFLICT
    assert duplicate.stderr == "error: Work pool 'pool' is already registered.\n"


def test_variables(flowrun, tmp_path: Path, db: Path) -> None:
    source = write(
        tmp_path, "v.yaml", "- name: bucket\n  value: s3://raw\n- name: sizes\n  value: [1, 2]\n"
    )
    result = flowrun("register", "variable", source)
    assert result.exit_code == 0, result.output
    repo = open_repository(repository_url(str(db)))
    try:
        variable = repo.get_variable("sizes")
        assert variable is not None
        assert variable.value == [1, 2]
    finally:
        repo.close()
    assert flowrun("register", "variable", source).exit_code == ExitCode.CONFLICT


def test_deployment_references_flow_and_pool_by_name(
    flowrun, seeded: dict[str, str], db: Path
) -> None:
    repo = open_repository(repository_url(str(db)))
    try:
        nightly = repo.get_deployment(UUID(seeded["etl/nightly"]))
        adhoc = repo.get_deployment(UUID(seeded["etl/adhoc"]))
    finally:
        repo.close()
    assert nightly is not None
    assert adhoc is not None
    assert str(nightly.flow_id) == seeded["etl"]
    assert nightly.work_pool_name == "docker-pool"
    assert nightly.work_queue_name == "default"
    assert nightly.tags == ("nightly", "etl")
    assert nightly.parameters == {"source": "s3://raw", "batch_size": 100}
    assert nightly.labels["prefect.flow.id"] == seeded["etl"]
    assert adhoc.parameter_openapi_schema is None
    assert adhoc.work_queue_id is None


def test_prefect_yaml_style_work_pool(flowrun, seeded: dict[str, str], tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "d.yaml",
        "name: backfill\nflow: etl\nwork_pool:\n  name: docker-pool\n  work_queue_name: backfill\n"
        "  job_variables: {image: 'python:3.11'}\n",
    )
    result = flowrun("register", "deployment", source, "--json")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)
    assert (item["work_pool_name"], item["work_queue_name"]) == ("docker-pool", "backfill")


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("name: d\nflow: nope\n", ExitCode.NOT_FOUND, "error: Flow 'nope' not found.\n"),
        (
            "name: d\nflow: etl\nwork_pool_name: nope\n",
            ExitCode.NOT_FOUND,
            'error: Work pool "nope" not found.\n',
        ),
        (
            "name: nightly\nflow: etl\n",
            ExitCode.CONFLICT,
            "error: Deployment etl/nightly is already registered.\n",
        ),
        (
            "name: d\nflow: etl\nschedule: daily\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: unknown field(s) 'schedule'.\n",
        ),
        (
            "name: d\nflow: etl\ntags: nightly\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: 'tags' must be a list of strings, not a string.\n",
        ),
        (
            "name: d\nflow: etl\nparameters: [1]\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: 'parameters' must be an object, not a list.\n",
        ),
        (
            "name: d\nflow: etl\npaused: 'no'\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: 'paused' must be true or false, not a string.\n",
        ),
        ("flow: etl\n", ExitCode.INVALID_INPUT, "error: {src}: 'name' is required.\n"),
        (
            "- 3\n",
            ExitCode.INVALID_INPUT,
            "error: {src}[0]: expected an object (a mapping), got a number.\n",
        ),
        ("[]\n", ExitCode.INVALID_INPUT, "error: {src}: holds no objects.\n"),
        (
            "name: d\nflow: etl\nlabels: {x: [1]}\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: label 'x' must be a string, number or boolean.\n",
        ),
    ],
)
def test_bad_deployment_files(  # noqa: PLR0917 - fixtures and parameters
    flowrun, seeded: dict[str, str], tmp_path: Path, text: str, code: int, message: str
) -> None:
    source = write(tmp_path, "d.yaml", text)
    result = flowrun("register", "deployment", source)
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] + "\n" == message.format(src=source)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("kind", "text", "code", "message"),
    [
        (
            "flow",
            "name: a/b\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: flow name 'a/b': String should match pattern '^[^/%&><]+$'\n",
        ),
        (
            "work-pool",
            "name: prefect-pool\n",
            ExitCode.INVALID_INPUT,
            "error: {src}: Work pools starting with 'Prefect' are reserved for internal use.\n",
        ),
        (
            "work-pool",
            "name: p\nwork_queues: [q, q]\n",
            ExitCode.CONFLICT,
            "error: {src}: A work queue named 'q' already exists in work pool 'p'.\n",
        ),
        (
            "variable",
            "name: Answer\nvalue: 42\n",
            ExitCode.INVALID_INPUT,
            (
                "error: {src}: Variable name must only contain lowercase letters, numbers, and "
                "dashes or underscores.\n"
            ),
        ),
        (
            "deployment",
            (
                "name: d\nflow: etl\nenforce_parameter_schema: true\nparameters: {x: 1}\n"
                "parameter_openapi_schema: {properties: {x: {type: string}}}\n"
            ),
            ExitCode.INVALID_INPUT,
            (
                "error: {src}: Validation failed for field 'x'. Failure reason: 1 is not of type "
                "'string'\n"
            ),
        ),
    ],
)
def test_what_prefect_refuses_to_create_is_refused(  # noqa: PLR0917 - fixtures and parameters
    flowrun, seeded: dict[str, str], tmp_path: Path, kind: str, text: str, code: int, message: str
) -> None:
    source = write(tmp_path, "x.yaml", text)
    result = flowrun("register", kind, source)
    assert result.exit_code == code, result.output
    assert result.stderr.splitlines()[0] + "\n" == message.format(src=source)
    assert result.stdout == ""


def test_defaults_are_checked_only_when_the_file_asks_for_enforcement(
    flowrun, seeded: dict[str, str], tmp_path: Path
) -> None:
    schema = "parameter_openapi_schema: {properties: {x: {type: string}}}\n"
    source = write(tmp_path, "d.yaml", f"name: lax\nflow: etl\nparameters: {{x: 1}}\n{schema}")
    result = flowrun("register", "deployment", source)
    assert result.exit_code == 0, result.output


def test_a_file_is_registered_whole_or_not_at_all(flowrun, tmp_path: Path, db: Path) -> None:
    flowrun("register", "variable", write(tmp_path, "a.yaml", "name: taken\nvalue: 1\n"))
    source = write(tmp_path, "b.yaml", "- name: fresh\n- name: taken\n")
    result = flowrun("register", "variable", source)
    assert result.exit_code == ExitCode.CONFLICT
    repo = open_repository(repository_url(str(db)))
    try:
        assert repo.get_variable("fresh") is None
    finally:
        repo.close()


def test_unreadable_files(flowrun, tmp_path: Path) -> None:
    missing = flowrun("register", "flow", str(tmp_path / "missing.yaml"))
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert missing.stderr == f"error: File '{tmp_path / 'missing.yaml'}' not found.\n"
    bad_json = flowrun("register", "flow", write(tmp_path, "f.json", "{nope"), "--json")
    assert bad_json.exit_code == ExitCode.INVALID_INPUT
    assert json.loads(bad_json.stderr)["error"]["category"] == "invalid-input"
    bad_yaml = flowrun("register", "flow", write(tmp_path, "f.yaml", "name: [unclosed\n"))
    assert bad_yaml.exit_code == ExitCode.INVALID_INPUT
    assert "not valid YAML" in bad_yaml.stderr
    non_string_key = flowrun(
        "register", "variable", write(tmp_path, "v.yaml", "name: v\nvalue: {1: a}\n")
    )
    assert non_string_key.exit_code == ExitCode.INVALID_INPUT


def test_yaml_dates_become_strings(flowrun, tmp_path: Path, db: Path) -> None:
    result = flowrun(
        "register", "variable", write(tmp_path, "v.yaml", "name: day\nvalue: 2024-06-01\n")
    )
    assert result.exit_code == 0, result.output
    repo = open_repository(repository_url(str(db)))
    try:
        variable = repo.get_variable("day")
        assert variable is not None
        assert variable.value == "2024-06-01"
    finally:
        repo.close()


def test_standard_input(flowrun) -> None:
    result = flowrun("register", "flow", "-", "--json", input='{"name": "piped"}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["name"] == "piped"


def test_register_all_rejects_unknown_sections(flowrun, tmp_path: Path) -> None:
    result = flowrun("register", "all", write(tmp_path, "s.yaml", "flow:\n  - name: etl\n"))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "unknown section(s) 'flow'" in result.stderr
    not_a_mapping = flowrun("register", "all", write(tmp_path, "t.yaml", "- name: etl\n"))
    assert not_a_mapping.exit_code == ExitCode.INVALID_INPUT


# -- hostile files: deep, self-referring, alias bombs ----------------------------------------


def _deep_text(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_file_too_deep_to_parse_is_invalid_input(flowrun, tmp_path: Path, suffix: str) -> None:
    """Before: 'unexpected RecursionError' and exit 1."""
    source = tmp_path / f"deep{suffix}"
    source.write_text('{"flows": [{"name": "x", "tags": ' + _deep_text(5000) + "}]}")
    result = flowrun("register", "all", str(source))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr == f"error: {source}: nested too deeply to read.\n"


def test_a_deep_file_the_parser_reads_converts_without_recursion(flowrun, tmp_path: Path) -> None:
    """900 levels parse; the conversion used to recurse once per level and crash."""
    deeper = tmp_path / "deeper.json"
    deeper.write_text('{"flows": [{"name": "x", "tags": ' + _deep_text(900) + "}]}")
    result = flowrun("register", "all", str(deeper))
    # Read and converted: the refusal is the setup's own (tags must be strings).
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "must be a list of strings" in result.stderr


def test_a_yaml_alias_to_an_enclosing_node_is_refused(flowrun, tmp_path: Path) -> None:
    """Before: 'unexpected RecursionError' (the alias made the tree contain itself)."""
    source = tmp_path / "loop.yaml"
    source.write_text("flows: &x [{name: loop, tags: *x}]\n")
    result = flowrun("register", "all", str(source))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr == (
        f"error: {source}.flows[0].tags: refers to itself (a YAML alias to an enclosing value).\n"
    )


def test_a_yaml_alias_bomb_stops_at_the_value_budget(
    flowrun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each level repeats the one before nine times: 9**7 values from eight short lines.

    Before, every alias was copied out (4.8 million values, seconds and hundreds of MB;
    one more level, ten times that). The budget is lowered here to keep the test quick.
    """
    monkeypatch.setattr(sys.modules["flowrun_adapters.cli.register"], "MAX_DOCUMENT_VALUES", 10_000)
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [
        f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]" for level in range(1, 7)
    ]
    lines.append("flows: [{name: bomb, tags: *a6}]")
    source = tmp_path / "bomb.yaml"
    source.write_text("\n".join(lines) + "\n")
    result = flowrun("register", "all", str(source))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr == (
        f"error: {source}: more than 10,000 values once YAML aliases are expanded; refusing it.\n"
    )


def test_shared_yaml_aliases_within_the_budget_are_copied(
    flowrun, tmp_path: Path, db: Path
) -> None:
    source = tmp_path / "shared.yaml"
    source.write_text("flows: [{name: one, tags: &t [a, b]}, {name: two, tags: *t}]\n")
    assert flowrun("register", "all", str(source)).exit_code == 0
    repo = open_repository(repository_url(str(db)))
    try:
        assert {f.name: f.tags for f in repo.list_flows()} == {
            "one": ("a", "b"),
            "two": ("a", "b"),
        }
    finally:
        repo.close()
