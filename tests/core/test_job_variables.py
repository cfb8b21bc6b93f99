"""Job variables against the work pool's template (spec §8.2).

Expected texts were produced by Prefect 3.9.1's
``validate_job_variables_for_deployment_flow_run`` (with the block lookup stubbed).
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.errors import (
    BlockNotFound,
    CircularSchemaRef,
    InvalidJobVariablesSchema,
    JobVariablesInvalid,
)
from flowrun_core.json_types import JSON
from flowrun_core.rules.job_variables import validate_job_variables

BLOCK_ID = UUID("6f8b3c6e-1b2a-4c2a-9d1e-1234567890ab")

POOL: dict[str, Any] = {
    "job_configuration": {"image": "{{ image }}"},
    "variables": {
        "type": "object",
        "properties": {
            "image": {"type": "string"},
            "cpu": {"type": "integer", "default": 1},
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["image"],
    },
}


class Blocks:
    def __init__(self, documents: dict[UUID, dict[str, JSON]] | None = None) -> None:
        self.documents = documents or {}
        self.calls: list[UUID] = []

    def __call__(self, document_id: UUID) -> dict[str, JSON] | None:
        self.calls.append(document_id)
        return self.documents.get(document_id)


def check(
    template: Any,
    request: Any = None,
    deployment: Any = None,
    blocks: Blocks | None = None,
) -> None:
    validate_job_variables(
        base_job_template=template,
        deployment_job_variables=deployment,
        request_job_variables=request,
        resolve_block=blocks or Blocks(),
    )


def invalid(
    template: Any, request: Any = None, deployment: Any = None, blocks: Blocks | None = None
) -> str:
    with pytest.raises(JobVariablesInvalid) as info:
        check(template, request, deployment, blocks)
    return info.value.message


# ------------------------------------------------------------------------------------------
# The §8.2 example table.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_variables", "message"),
    [
        (None, "Validation failed. Failure reason: 'image' is a required property"),
        ({}, "Validation failed. Failure reason: 'image' is a required property"),
        ({"cpu": "many"}, "Validation failed. Failure reason: 'image' is a required property"),
        (
            {"image": "x", "cpu": "many"},
            "Validation failed for field 'cpu'. Failure reason: 'many' is not valid under any of the given schemas",
        ),
        (
            {"image": None},
            "Validation failed for field 'image'. Failure reason: None is not of type 'string'",
        ),
        (
            {"image": "x", "mode": "zzz"},
            "Validation failed for field 'mode'. Failure reason: 'zzz' is not one of ['a', 'b']",
        ),
        (
            # The null fix adds a null branch, but `enum` still refuses None.
            {"image": "x", "mode": None},
            "Validation failed for field 'mode'. Failure reason: None is not one of ['a', 'b']",
        ),
        (
            {"image": "x", "env": {"A": 1}},
            "Validation failed for field 'env.A'. Failure reason: 1 is not of type 'string'",
        ),
    ],
)
def test_spec_table_failures(request_variables: Any, message: str) -> None:
    assert invalid(POOL, request_variables) == message


@pytest.mark.parametrize(
    "request_variables",
    [
        {"image": "x", "cpu": None},  # null fix with allow_none_with_default
        {"image": "x", "unknown": 1},  # extra variables are allowed
        {"image": "x", "env": None},
    ],
)
def test_spec_table_accepted(request_variables: Any) -> None:
    check(POOL, request_variables)


def test_layers_merge_with_the_request_winning() -> None:
    check(POOL, None, {"image": "from deployment"})
    assert (
        invalid(POOL, {"image": 3}, {"image": "from deployment"})
        == "Validation failed for field 'image'. Failure reason: 3 is not of type 'string'"
    )
    check(POOL, {"image": "x"}, {"image": 3})


# ------------------------------------------------------------------------------------------
# When the check is skipped, and invalid variables schemas.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [{}, {"job_configuration": {}}, {"variables": {}}, {"variables": None}, {"variables": []}],
)
def test_skipped_without_variables(template: Any) -> None:
    check(template, {"anything": object.__name__})


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"type": "nonsense"}, "'nonsense' is not valid under any of the given schemas"),
        ([1], "[1] is not of type 'object', 'boolean'"),
        ({"properties": {"a": {"pattern": "[x"}}}, "'[x' is not a 'regex'"),
        # Prefect answers 500 for these two:
        (True, "the variables schema must be an object"),
        ({"properties": {"a": True}}, "the schema of job variable 'a' must be an object"),
        (
            {"properties": {"o": {"type": "object", "properties": {"x": True}}}},
            "the property schema at '/properties/o/properties/x' must be an object",
        ),
    ],
)
def test_invalid_variables_schema(variables: Any, message: str) -> None:
    with pytest.raises(InvalidJobVariablesSchema) as info:
        check({"variables": variables})
    assert info.value.message == message


# ------------------------------------------------------------------------------------------
# Defaults.
# ------------------------------------------------------------------------------------------


def test_a_default_satisfies_required() -> None:
    pool = {
        "variables": {
            "properties": {"image": {"type": "string", "default": "img"}},
            "required": ["image"],
        }
    }
    check(pool)


def test_an_invalid_default_is_dropped_and_required_is_then_ignored() -> None:
    pool = {
        "variables": {
            "properties": {"image": {"type": "string"}, "cpu": {"type": "integer", "default": "x"}},
            "required": ["image"],
        }
    }
    check(pool)  # `image` is missing but required is ignored
    assert (
        invalid(pool, {"cpu": "y"})
        == "Validation failed for field 'cpu'. Failure reason: 'y' is not valid under any of the given schemas"
    )


def test_a_null_default_is_checked_without_preprocessing() -> None:
    # {"a": None} fails the raw schema, so the default is dropped and required is ignored.
    pool = {
        "variables": {
            "properties": {"a": {"type": "integer", "default": None}, "image": {"type": "string"}},
            "required": ["image"],
        }
    }
    check(pool)


@pytest.mark.parametrize(
    ("fmt", "default", "dropped"),
    [
        ("date-time", "not a date", True),
        ("date-time", "2024-01-01T00:00:00Z", False),
        ("time", "25:00:00Z", True),
        ("time", "12:00:00Z", False),
        ("json-pointer", "a/b", True),
        ("relative-json-pointer", "100", True),
        ("relative-json-pointer", "1/a", False),
        ("uuid", "nope", True),
        ("email", "nope", True),
        ("date", "2024-02-30", True),
        ("idn-hostname", "-bad-", True),
        ("idn-hostname", "a..b", True),
        ("idn-hostname", "bücher.example", False),
        ("hostname", "-bad-", False),  # not checked in Prefect's environment
        ("uri", "not a uri", False),  # nor this
    ],
)
def test_defaults_are_format_checked(fmt: str, default: str, dropped: bool) -> None:
    pool = {
        "variables": {
            "properties": {
                "image": {"type": "string"},
                "f": {"type": "string", "format": fmt, "default": default},
            },
            "required": ["image"],
        }
    }
    if dropped:
        check(pool)
    else:
        assert invalid(pool) == "Validation failed. Failure reason: 'image' is a required property"


def test_the_default_check_removes_a_property_named_required() -> None:
    # Prefect strips every "required" key, including this property, so its bad default passes
    # its own check, nothing is dropped, and `image` stays required.
    pool = {
        "variables": {
            "properties": {
                "required": {"type": "integer", "default": "x"},
                "image": {"type": "string"},
            },
            "required": ["image"],
        }
    }
    assert invalid(pool) == "Validation failed. Failure reason: 'image' is a required property"


# ------------------------------------------------------------------------------------------
# Block references in defaults.
# ------------------------------------------------------------------------------------------


def block_pool(default: Any) -> dict[str, Any]:
    return {
        "variables": {
            "properties": {
                "infra": {
                    "type": "object",
                    "properties": {"cpu": {"type": "integer"}},
                    "default": default,
                }
            },
            "required": ["infra"],
        }
    }


@pytest.mark.parametrize(
    "raw_id",
    [str(BLOCK_ID), str(BLOCK_ID).upper(), BLOCK_ID.hex, f"{{{BLOCK_ID}}}", f"urn:uuid:{BLOCK_ID}"],
)
def test_a_block_default_becomes_the_document_data(raw_id: str) -> None:
    blocks = Blocks({BLOCK_ID: {"cpu": 2}})
    check(block_pool({"$ref": {"block_document_id": raw_id}}), blocks=blocks)
    assert blocks.calls == [BLOCK_ID]


def test_block_data_is_validated_like_any_default() -> None:
    # Invalid block data is dropped; required is then ignored.
    check(
        block_pool({"$ref": {"block_document_id": str(BLOCK_ID)}}),
        blocks=Blocks({BLOCK_ID: {"cpu": "x"}}),
    )


@pytest.mark.parametrize("reference", [{}, {"block_document_id": None}, {"other": 1}])
def test_a_block_reference_without_an_id_is_skipped(reference: Any) -> None:
    blocks = Blocks()
    assert (
        invalid(block_pool({"$ref": reference}), blocks=blocks)
        == "Validation failed. Failure reason: 'infra' is a required property"
    )
    assert blocks.calls == []


@pytest.mark.parametrize(
    "reference",
    [
        {"block_document_id": "not-a-uuid"},
        {"block_document_id": "11111111-1111-1111-1111-111111111111"},  # missing document
        # Prefect answers 500 for these:
        "a string",
        {"block_document_id": 5},
        {"block_document_id": ["x"]},
    ],
)
def test_block_not_found(reference: Any) -> None:
    with pytest.raises(BlockNotFound) as info:
        check(block_pool({"$ref": reference}), blocks=Blocks({BLOCK_ID: {"cpu": 2}}))
    assert info.value.message == "Block not found."


def test_block_lookups_happen_in_property_order() -> None:
    pool = {
        "variables": {
            "properties": {
                "bad": {"type": "integer", "default": {"$ref": {"block_document_id": "nope"}}},
                "later": {
                    "type": "object",
                    "default": {"$ref": {"block_document_id": str(BLOCK_ID)}},
                },
            }
        }
    }
    blocks = Blocks({BLOCK_ID: {}})
    with pytest.raises(BlockNotFound):
        check(pool, blocks=blocks)
    assert blocks.calls == []


# ------------------------------------------------------------------------------------------
# References.
# ------------------------------------------------------------------------------------------

CIRCULAR = {
    "properties": {"a": {"$ref": "#/definitions/A"}},
    "definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}},
}


def test_circular_refs() -> None:
    check({"variables": CIRCULAR})
    with pytest.raises(CircularSchemaRef):
        check({"variables": CIRCULAR}, {"a": 1})
    with_default = copy.deepcopy(CIRCULAR)
    with_default["properties"]["a"]["default"] = 1
    with pytest.raises(CircularSchemaRef):
        check({"variables": with_default})


def test_unresolvable_refs_fail_validation() -> None:
    missing = "Validation failed. Failure reason: PointerToNowhere: '/definitions/Missing' does not exist within "
    pool = {"variables": {"properties": {"a": {"$ref": "#/definitions/Missing"}}}}
    assert invalid(pool, {"a": 1}) == missing + repr(pool["variables"])
    # Reached while checking a default, before the merge.
    with_default = {
        "variables": {"properties": {"a": {"$ref": "#/definitions/Missing", "default": 1}}}
    }
    assert invalid(with_default).startswith(missing)


# ------------------------------------------------------------------------------------------
# Laws.
# ------------------------------------------------------------------------------------------

values = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["a", "b", "x", ""])
variables = st.dictionaries(
    st.sampled_from(["image", "cpu", "mode", "env", "other"]),
    values | st.dictionaries(st.sampled_from(["A", "B"]), values, max_size=2),
    max_size=4,
)


@given(variables, variables)
def test_nothing_passed_in_is_mutated(deployment: dict[str, Any], request: dict[str, Any]) -> None:
    template = copy.deepcopy(POOL)
    template["variables"]["properties"]["infra"] = {
        "type": "object",
        "default": {"$ref": {"block_document_id": str(BLOCK_ID)}},
    }
    block_data: dict[str, JSON] = {"nested": {"k": [1, 2]}}
    snapshot = json.dumps([template, deployment, request, block_data])
    with contextlib.suppress(JobVariablesInvalid):
        check(template, request, deployment, Blocks({BLOCK_ID: block_data}))
    assert json.dumps([template, deployment, request, block_data]) == snapshot


@given(variables)
def test_request_only_outcome_equals_deployment_only_outcome(layer: dict[str, Any]) -> None:
    # Both layers are shallow updates over the defaults: one layer alone gives one answer.
    def outcome(request: Any, deployment: Any) -> str | None:
        try:
            check(POOL, request, deployment)
        except JobVariablesInvalid as exc:
            return exc.message
        return None

    assert outcome(layer, None) == outcome(None, layer)


def test_a_default_prefects_format_checker_crashes_on_is_an_invalid_schema() -> None:
    # Recorded on 3.9.1 (quirk_b13_s8_2_default_relative_json_pointer_superscript_500):
    # jsonschema's relative-json-pointer check calls int() on a superscript digit; Prefect 500.
    pool = {
        "variables": {
            "properties": {
                "f": {"type": "string", "format": "relative-json-pointer", "default": "²1"}
            }
        }
    }
    with pytest.raises(
        InvalidJobVariablesSchema, match="cannot be checked as a relative-json-pointer"
    ):
        check(pool)
