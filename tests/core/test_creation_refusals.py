"""Seeder refuses what Prefect's creation routes refuse, and writes nothing then.

The recorded scenarios ``setup_b18_refused_*`` (tests/compat/extra) pin the same refusals
against Prefect 3.9.1 itself; these tests pin the messages, the exception types and that a
refusal leaves the store as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flowrun_adapters import open_repository
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core import (
    BlockNotFound,
    CreationRefused,
    DuplicateEntity,
    InvalidEntity,
    ReservedName,
    Seeder,
    WorkPoolNotFound,
)
from flowrun_core.ports import Repository
from flowrun_core.rules.creation import (
    VARIABLE_VALUE_MAX_LENGTH,
    check_base_job_template,
    check_enforced_parameters,
    check_variable,
)


@pytest.fixture(params=["memory", "sqlite"])
def repo(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Repository]:
    url = "memory:" if request.param == "memory" else f"sqlite:///{tmp_path}/seed.db"
    repository = open_repository(url)
    yield repository
    repository.close()


def template(job_configuration: Any, variables: Any) -> dict[str, Any]:
    return {"job_configuration": job_configuration, "variables": variables}


INTEGER_X = {"type": "object", "properties": {"x": {"type": "integer"}}}


@pytest.mark.parametrize("name", ["", "a/b", "a%b", "a&b", "a>b", "a<b"])
def test_a_flow_name_prefect_forbids_is_refused(repo: Repository, name: str) -> None:
    with pytest.raises(InvalidEntity, match="String should match pattern") as caught:
        Seeder(repo).flow(name)
    assert caught.value.entity == "flow"
    assert repo.list_flows(name=name) == []


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("", InvalidEntity, "name cannot be an empty string"),
        (" '\" ", InvalidEntity, "name cannot be an empty string"),
        ("a/b", InvalidEntity, "String should match pattern"),
        ("Prefect-pool", ReservedName, "reserved for internal use"),
        ("prefectx", ReservedName, "reserved for internal use"),
    ],
)
def test_a_work_pool_name_prefect_forbids_is_refused(
    repo: Repository, name: str, error: type[CreationRefused], message: str
) -> None:
    with pytest.raises(error, match=message):
        Seeder(repo).work_pool(name)
    assert repo.get_work_pool_by_name(name) is None


@pytest.mark.parametrize("name", ["my prefect", "a\nb", "x" * 300])
def test_other_work_pool_names_are_accepted(repo: Repository, name: str) -> None:
    assert Seeder(repo).work_pool(name).name == name


def test_a_second_pool_of_the_same_name_is_a_duplicate(repo: Repository) -> None:
    seed = Seeder(repo)
    first = seed.work_pool("p", work_queues=["a"])
    with pytest.raises(DuplicateEntity, match=r"^A work pool with this name already exists\.$"):
        seed.work_pool("p", work_queues=["b"])
    assert repo.get_work_pool_by_name("p") == first
    assert [q.name for q in repo.list_work_queues(first.id)] == ["default", "a"]


@pytest.mark.parametrize("queues", [["default"], ["q", "q"], ["q", "a/b"], [""]])
def test_a_refused_queue_leaves_no_pool_behind(repo: Repository, queues: list[str]) -> None:
    with pytest.raises(CreationRefused) as caught:
        Seeder(repo).work_pool("p", work_queues=queues)
    assert caught.value.entity == "work queue"
    assert repo.get_work_pool_by_name("p") is None


@pytest.mark.parametrize(
    ("base_job_template", "message"),
    [
        ({"variables": INTEGER_X}, "must contain both a `job_configuration` key"),
        ({"job_configuration": {"a": 1}, "variables": {}}, "must contain both"),
        (template(["{{ x }}"], INTEGER_X), "must be objects"),
        (template({"a": 1}, [1]), "must be objects"),
        (template({"a": 1}, {"properties": [1]}), "`properties`"),
        (
            template({"a": "{{ y }}", "b": {"c": ["{{z}}", "{{ x }}"]}}, INTEGER_X),
            "undeclared variable\\(s\\): y, z\\.",
        ),
        (
            template({"a": "{{ x }}"}, {"properties": {"x": {"type": "nope"}}}),
            "'nope' is not valid under any of the given schemas",
        ),
        (
            template({"a": "{{ x }}"}, {"properties": {"x": {"type": "integer", "default": "s"}}}),
            (
                r"^Validation failed for work pool's job variable defaults: Validation failed "
                r"for field 'x'\. Failure reason: 's' is not valid under any of the given schemas$"
            ),
        ),
    ],
)
def test_a_template_prefect_refuses_is_refused(
    repo: Repository, base_job_template: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidEntity, match=message):
        Seeder(repo).work_pool("p", base_job_template=base_job_template)
    assert repo.get_work_pool_by_name("p") is None


def test_a_template_may_leave_required_variables_without_defaults(repo: Repository) -> None:
    variables = {**INTEGER_X, "required": ["x"]}
    pool = Seeder(repo).work_pool("p", base_job_template=template({"a": "{{ x }}"}, variables))
    assert pool.base_job_template["variables"] == variables


def test_placeholders_are_read_from_escaped_json_text() -> None:
    # Prefect reads the placeholders of each value's JSON text, with non-ASCII escaped, so
    # a non-ASCII name is never found, and a key can hold one.
    check_base_job_template(template({"a": "{{ é }}"}, INTEGER_X))
    with pytest.raises(InvalidEntity, match="undeclared variable\\(s\\): k\\."):
        check_base_job_template(template({"a": {"{{ k }}": 1}}, INTEGER_X))


def test_a_default_naming_a_missing_block_document_is_not_found(repo: Repository) -> None:
    reference = {"$ref": {"block_document_id": str(uuid.uuid4())}}
    variables = {"properties": {"x": {"type": "object", "default": reference}}}
    with pytest.raises(BlockNotFound):
        Seeder(repo).work_pool("p", base_job_template=template({"a": "{{ x }}"}, variables))
    assert repo.get_work_pool_by_name("p") is None


def test_a_default_naming_a_block_document_is_checked_as_its_data(repo: Repository) -> None:
    seed = Seeder(repo)
    document = seed.infrastructure_document("doc", {"image": "python"})
    reference = {"$ref": {"block_document_id": str(document.id)}}
    good = {"properties": {"x": {"type": "object", "default": reference}}}
    seed.work_pool("good", base_job_template=template({"a": "{{ x }}"}, good))
    bad = {"properties": {"x": {"type": "string", "default": reference}}}
    with pytest.raises(InvalidEntity, match="job variable defaults"):
        seed.work_pool("bad", base_job_template=template({"a": "{{ x }}"}, bad))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("A", "must only contain lowercase letters, numbers, and dashes or underscores"),
        ("my var", "must only contain lowercase letters"),
        ("a" * 256, "at most 255 characters"),
    ],
)
def test_a_variable_name_prefect_forbids_is_refused(
    repo: Repository, name: str, message: str
) -> None:
    with pytest.raises(InvalidEntity, match=message):
        Seeder(repo).variable(name, 1)
    assert repo.get_variable(name) is None


@pytest.mark.parametrize("name", ["", "abc\n", "a" * 255, "a-b_c9"])
def test_variable_names_prefect_accepts(repo: Repository, name: str) -> None:
    # Prefect's check is re.match with "$", which also matches before a final newline.
    assert Seeder(repo).variable(name, 1).name == name


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (2**64 - 1, True),
        (2**64, False),
        (-(2**63), True),
        (-(2**63) - 1, False),
        ("x" * (VARIABLE_VALUE_MAX_LENGTH - 2), True),
        ("x" * (VARIABLE_VALUE_MAX_LENGTH - 1), False),
        ("é" * 2499, True),  # 5000 bytes
        ("é" * 2500, False),  # 5002 bytes, 2502 characters
        ("\ud800", False),
        ({"a": [float("nan"), float("inf")]}, True),  # written as nulls
        (json.loads("[" * 254 + "]" * 254), True),
        (json.loads("[" * 255 + "]" * 255), False),
        (json.loads('{"a":' * 253 + "{}" + "}" * 253), True),
        (json.loads('{"a":' * 254 + "{}" + "}" * 254), False),
    ],
)
def test_variable_values_prefect_can_write(value: Any, *, accepted: bool) -> None:
    if accepted:
        check_variable("v", value)
    else:
        with pytest.raises(InvalidEntity, match="Variable value must be"):
            check_variable("v", value)


@given(st.text(max_size=VARIABLE_VALUE_MAX_LENGTH))
def test_a_string_value_is_limited_by_its_compact_json_bytes(text: str) -> None:
    try:
        size = len(json.dumps(text, ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError:
        size = None
    if size is not None and size <= VARIABLE_VALUE_MAX_LENGTH:
        check_variable("v", text)
    else:
        with pytest.raises(InvalidEntity):
            check_variable("v", text)


def test_a_second_variable_of_the_same_name_is_a_duplicate(repo: Repository) -> None:
    seed = Seeder(repo)
    seed.variable("v", 1)
    with pytest.raises(DuplicateEntity, match=r"^A variable with the name 'v' already exists\.$"):
        seed.variable("v", 2)
    variable = repo.get_variable("v")
    assert variable is not None
    assert variable.value == 1


@pytest.mark.parametrize("name", ["My Doc", "a_b", "a/b"])
def test_a_block_document_name_prefect_forbids_is_refused(name: str) -> None:
    repository = open_repository("memory:")
    with pytest.raises(InvalidEntity, match="Block document name must only contain"):
        Seeder(repository).infrastructure_document(name)


@pytest.mark.parametrize("name", ["a/b", "a%b", "a&b", "a<b", "a>b"])
def test_a_deployment_name_with_a_forbidden_character_is_refused(
    repo: Repository, name: str
) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    with pytest.raises(InvalidEntity, match="must not contain any of"):
        seed.deployment(flow, name)
    assert repo.list_deployments(name=name, flow_id=flow.id) == []


@pytest.mark.parametrize("name", ["", " ", "a\nb", "x" * 300])
def test_deployment_names_prefect_accepts(repo: Repository, name: str) -> None:
    seed = Seeder(repo)
    assert seed.deployment(seed.flow("f"), name).name == name


SCHEMA = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}


@pytest.mark.parametrize(
    ("parameters", "schema", "message"),
    [
        ({"x": 1}, SCHEMA, "^Validation failed for field 'x'. Failure reason: 1 is not of type"),
        ({"x": None}, {"properties": {"x": {"type": "string", "default": None}}}, "None is not"),
        (
            {"x": {"a": 1}},
            {
                "properties": {"x": {"$ref": "#/definitions/M"}},
                "definitions": {"M": {"properties": {"a": {"type": "string"}}}},
            },
            "field 'x.a'",
        ),
        ({}, {"type": "nope"}, "^The provided schema is not a valid json schema. Schema error:"),
        ({"x": 1}, {"properties": {"x": {"$ref": "#/nowhere"}}}, r"^Validation failed\. Failure"),
        ({"x": 1}, {"allOf": [{"required": ["y"]}]}, "'y' is a required property"),
        # jsonschema or re crash (Prefect: 500)
        (
            {"n": 1.5},
            {"properties": {"n": {"multipleOf": 10**400}}},
            r"^Unable to validate the parameters \(OverflowError: int too large",
        ),
        (
            {},
            {"properties": {"a": {"pattern": "a{4294967296}"}}},
            r"^Unable to validate the parameters \(OverflowError: the repetition number",
        ),
        (  # only the check of the whole schema meets it: a property named required goes first
            {},
            {"properties": {"required": {"pattern": "a{4294967296}"}}},
            r"^The provided schema cannot be checked \(OverflowError: the repetition number",
        ),
    ],
)
def test_enforced_defaults_that_fail_the_schema_are_refused(
    parameters: dict[str, Any], schema: dict[str, Any], message: str | None
) -> None:
    check_enforced_parameters({}, None)  # no schema, nothing to check
    with pytest.raises(InvalidEntity, match=message):
        check_enforced_parameters(parameters, schema)


@pytest.mark.parametrize(
    ("parameters", "schema"),
    [
        ({}, SCHEMA),  # required is removed
        ({"required": 1}, {"properties": {"required": {"type": "string"}}}),  # ... by key
        ({"x": 1}, {}),
    ],
)
def test_enforced_defaults_prefect_accepts(parameters: dict[str, Any], schema: Any) -> None:
    check_enforced_parameters(parameters, schema)


def test_enforcement_checks_defaults_only_when_asked(repo: Repository) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    lax = seed.deployment(flow, "lax", parameters={"x": 1}, parameter_openapi_schema=SCHEMA)
    assert lax.enforce_parameter_schema  # the default, not asked for: nothing is checked
    given: dict[str, Any] = {"parameters": {"x": 1}, "parameter_openapi_schema": SCHEMA}
    seed.deployment(flow, "off", **given, enforce_parameter_schema=False)
    with pytest.raises(InvalidEntity, match="Failure reason: 1 is not of type 'string'"):
        seed.deployment(flow, "on", **given, enforce_parameter_schema=True)
    assert repo.list_deployments(name="on", flow_id=flow.id) == []


def test_deployment_job_variables_are_checked_against_the_pool(repo: Repository) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    variables = {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "string"}},
        "required": ["y"],
        "additionalProperties": False,
    }
    seed.work_pool("p", base_job_template=template({"a": "{{ x }}", "b": "{{ y }}"}, variables))
    seed.deployment(flow, "ok", work_pool_name="p", job_variables={"x": 1})  # y may come later
    with pytest.raises(InvalidEntity, match=r"^Error creating deployment: Validation failed for "):
        seed.deployment(flow, "bad", work_pool_name="p", job_variables={"x": "s"})
    with pytest.raises(InvalidEntity, match="Additional properties are not allowed"):
        seed.deployment(flow, "extra", work_pool_name="p", job_variables={"z": 1})
    assert repo.list_deployments(name="bad", flow_id=flow.id) == []


def test_the_default_agent_pool_skips_the_job_variable_check(repo: Repository) -> None:
    seed = Seeder(repo)
    variables = {"type": "object", "properties": {"x": {"type": "integer"}}}
    seed.work_pool("default-agent-pool", base_job_template=template({"a": "{{ x }}"}, variables))
    deployment = seed.deployment(
        seed.flow("f"), "d", work_pool_name="default-agent-pool", job_variables={"x": "s"}
    )
    assert deployment.job_variables == {"x": "s"}


@pytest.mark.parametrize("pool", ["nope", "default-agent-pool"])
def test_a_missing_pool_is_not_found(repo: Repository, pool: str) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    with pytest.raises(WorkPoolNotFound, match=f'^Work pool "{pool}" not found.$') as caught:
        seed.deployment(flow, "d", work_pool_name=pool, work_queue_name="q")
    assert isinstance(caught.value, LookupError)
    assert repo.get_work_pool_by_name(pool) is None
    assert repo.list_deployments(name="d", flow_id=flow.id) == []


def test_values_of_a_type_prefect_refuses_are_refused(repo: Repository) -> None:
    # The Seeder is typed; these are what an untyped caller (a JSON file, a harness) sends.
    seed = Seeder(repo)
    bad: Any = [1]
    with pytest.raises(InvalidEntity, match="flow tags must be strings, not int"):
        seed.flow("f", tags=bad)
    with pytest.raises(InvalidEntity, match="flow label 'a' must be a string, number or boolean"):
        seed.flow("f", labels={"a": bad})
    with pytest.raises(InvalidEntity, match="work pool type must be a string, not int"):
        seed.work_pool("p", type=bad[0])
    with pytest.raises(InvalidEntity, match="variable tags must be strings"):
        seed.variable("v", 1, tags=bad)
    with pytest.raises(InvalidEntity, match="flow tags must be a list of strings, not str"):
        seed.flow("f", tags="ab")
    flow = seed.flow("f")
    for fields, message in (
        ({"tags": bad}, "deployment tags must be strings"),
        ({"labels": {"a": None}}, "deployment label 'a' must be a string, number or boolean"),
        ({"version": 1}, "deployment version must be a string, not int"),
        ({"parameters": bad}, "deployment parameters must be an object, not list"),
        ({"job_variables": bad}, "deployment job_variables must be an object"),
        ({"parameter_openapi_schema": bad}, "deployment parameter_openapi_schema must be"),
    ):
        with pytest.raises(InvalidEntity, match=message):
            seed.deployment(flow, "d", **fields)
    for run_fields, message in (
        ({"tags": bad}, "flow run tags must be strings"),
        ({"labels": {"a": bad}}, "flow run label 'a'"),
        ({"parameters": bad}, "flow run parameters must be an object"),
    ):
        with pytest.raises(InvalidEntity, match=message):
            seed.flow_run(flow=flow, **run_fields)
    assert repo.list_deployments(name="d", flow_id=flow.id) == []
    assert repo.count_flow_runs() == 0
    assert repo.get_work_pool_by_name("p") is None


# -- found by random setups (audit batch 19a) ----------------------------------------------


def test_an_empty_queue_name_without_a_pool_is_stored_as_given(repo: Repository) -> None:
    seed = Seeder(repo)
    deployment = seed.deployment(seed.flow("f"), "d", work_queue_name="")
    assert (deployment.work_queue_name, deployment.work_queue_id) == ("", None)
    assert seed.deployment(seed.flow("f"), "e").work_queue_name is None


@pytest.mark.parametrize(
    "second",
    [{"work_pool_name": None}, {"work_queue_name": None}, {"work_queue_name": ""}],
)
def test_an_update_with_an_empty_pool_or_queue_keeps_the_bound_queue(
    repo: Repository, second: dict[str, Any]
) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    seed.work_pool("p", work_queues=["q1"])
    first = seed.deployment(flow, "d", work_pool_name="p", work_queue_name="q1")
    updated = seed.deployment(flow, "d", **second)
    assert (updated.work_pool_name, updated.work_queue_name, updated.work_queue_id) == (
        "p",
        "q1",
        first.work_queue_id,
    )


def test_an_update_replaces_an_unbound_queue_name(repo: Repository) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    seed.deployment(flow, "d", work_queue_name="")
    assert seed.deployment(flow, "d", work_queue_name=None).work_queue_name is None


def test_a_setup_run_reads_its_deployment_as_stored_now(repo: Repository) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    first = seed.deployment(flow, "d", labels={"a": "1"})
    seed.deployment(flow, "d", labels={"b": "2"})
    run = seed.flow_run(deployment=first)
    assert run.labels.get("b") == "2"
    assert "a" not in run.labels


@pytest.mark.parametrize(
    ("given", "stored"),
    [(1, True), (0, False), ("yes", True), ("no", False), ("TRUE", True), ("off", False)],
)
def test_deployment_flags_are_read_as_prefect_reads_booleans(
    repo: Repository, given: Any, stored: bool
) -> None:
    seed = Seeder(repo)
    deployment = seed.deployment(seed.flow("f"), "d", paused=given, enforce_parameter_schema=given)
    assert deployment.paused is stored
    assert deployment.enforce_parameter_schema is stored


def test_a_flag_is_checked_by_its_truth_but_stored_as_read(repo: Repository) -> None:
    # Prefect checks the defaults when the raw value is truthy ("no" is), then stores false.
    seed = Seeder(repo)
    schema = {"properties": {"x": {"type": "integer"}}}
    flow = seed.flow("f")
    with pytest.raises(InvalidEntity, match="is not of type 'integer'"):
        seed.deployment(
            flow,
            "d",
            parameters={"x": "s"},
            parameter_openapi_schema=schema,
            enforce_parameter_schema="no",  # type: ignore[typeddict-item]
        )
    stored = seed.deployment(flow, "d", enforce_parameter_schema="no")  # type: ignore[typeddict-item]
    assert stored.enforce_parameter_schema is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"parameters": None}, "deployment parameters must be an object, not null"),
        ({"job_variables": None}, "deployment job_variables must be an object, not null"),
        ({"paused": None}, "deployment flag None is not a boolean"),
        ({"enforce_parameter_schema": "maybe"}, "deployment flag 'maybe' is not a boolean"),
        ({"tags": "ab"}, "deployment tags must be a list of strings, not str"),
    ],
)
def test_nulls_and_strings_prefect_refuses_are_refused(
    repo: Repository, fields: dict[str, Any], message: str
) -> None:
    seed = Seeder(repo)
    flow = seed.flow("f")
    with pytest.raises(InvalidEntity, match=message):
        seed.deployment(flow, "d", **fields)
    assert repo.list_deployments(name="d", flow_id=flow.id) == []


def test_a_setup_run_with_null_parameters_is_refused(repo: Repository) -> None:
    seed = Seeder(repo)
    with pytest.raises(InvalidEntity, match="flow run parameters must be an object, not null"):
        seed.flow_run(flow=seed.flow("f"), parameters=None)  # type: ignore[arg-type]
    assert repo.count_flow_runs() == 0


def test_a_block_document_needs_a_name_unless_it_is_anonymous(repo: Repository) -> None:
    seed = Seeder(repo)
    with pytest.raises(InvalidEntity, match=r"^Names must be provided for block documents\.$"):
        seed.infrastructure_document("")
    assert seed.infrastructure_document("", is_anonymous=True).name == ""


def test_create_work_queue_refuses_what_work_queue_returns(repo: Repository) -> None:
    seed = Seeder(repo)
    seed.work_pool("p")
    queue = seed.create_work_queue("p", "q")
    assert queue.priority == 2
    assert seed.work_queue("p", "q") == queue  # get or create
    for name in ("q", "default"):
        with pytest.raises(DuplicateEntity, match=f"A work queue named '{name}' already exists"):
            seed.create_work_queue("p", name)
    with pytest.raises(WorkPoolNotFound):
        seed.create_work_queue("nope", "q")
