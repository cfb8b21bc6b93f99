"""Parameter-schema enforcement (spec §5): examples pinned to Prefect 3.9.1's texts, and laws.

Every expected message below was produced by Prefect 3.9.1's own
``prefect.utilities.schema_tools.validation.validate`` (jsonschema 4.26.0, referencing 0.37.0).
"""

from __future__ import annotations

import copy
import json
import socket
import sys
import uuid
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry

from flowrun_core.errors import (
    CircularSchemaRef,
    InvalidParameterSchema,
    ParameterValidationFailed,
    SchemaViolation,
)
from flowrun_core.json_types import same_json
from flowrun_core.rules import schema as schema_module
from flowrun_core.rules.schema import (
    MAX_SCHEMA_DEPTH,
    find_violations,
    preprocess_schema,
    remove_required,
    schema_problem,
    validate_instance,
    validate_parameters,
    validation_report,
)

# The schema Prefect 3.9.1's `parameter_schema` generates for
# def f(x: int, name: str = "a", items: list[int] = [], color: Literal["red","green"] = "red",
#       cfg: Optional[Cfg] = None, maybe: Optional[int] = None, pair: tuple[int, str] = (1, "a"))
# with Cfg(BaseModel): depth: int; label: str = "x"   (model_dump_for_openapi()).
SPEC_SCHEMA: dict[str, Any] = json.loads(
    """
{"title": "Parameters", "type": "object", "properties": {
  "x": {"position": 0, "title": "x", "type": "integer"},
  "name": {"default": "a", "position": 1, "title": "name", "type": "string"},
  "items": {"default": [], "items": {"type": "integer"}, "position": 2, "title": "items",
            "type": "array"},
  "color": {"default": "red", "enum": ["red", "green"], "position": 3, "title": "color",
            "type": "string"},
  "cfg": {"anyOf": [{"$ref": "#/definitions/Cfg"}, {"type": "null"}], "default": null,
          "position": 4, "title": "cfg"},
  "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": null, "position": 5,
            "title": "maybe"},
  "pair": {"default": [1, "a"], "maxItems": 2, "minItems": 2, "position": 6,
           "prefixItems": [{"type": "integer"}, {"type": "string"}], "title": "pair",
           "type": "array"}},
 "required": ["x"],
 "definitions": {"Cfg": {"properties": {"depth": {"title": "Depth", "type": "integer"},
                                        "label": {"default": "x", "title": "Label",
                                                  "type": "string"}},
                         "required": ["depth"], "title": "Cfg", "type": "object"}}}
"""
)

BLOCK_SCHEMA: dict[str, Any] = {
    "properties": {"b": {"$ref": "#/definitions/Blk"}},
    "definitions": {
        "Blk": {
            "block_type_slug": "s3",
            "title": "Blk",
            "type": "object",
            "properties": {"k": {"type": "string"}},
            "required": ["k"],
        }
    },
}

CIRCULAR_SCHEMA: dict[str, Any] = {
    "properties": {"a": {"$ref": "#/definitions/A"}},
    "definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}},
}

NODE_SCHEMA: dict[str, Any] = {
    "properties": {"n": {"$ref": "#/definitions/Node"}},
    "definitions": {
        "Node": {
            "type": "object",
            "properties": {
                "child": {"anyOf": [{"$ref": "#/definitions/Node"}, {"type": "null"}]},
                "v": {"type": "integer"},
            },
        }
    },
}


def failure(parameters: Any, schema: Any) -> str:
    with pytest.raises(ParameterValidationFailed) as info:
        validate_parameters(parameters, schema)
    return info.value.message


def one_property(name: str, subschema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"properties": {name: subschema}, "required": [name] if required else []}


# ------------------------------------------------------------------------------------------
# §5.4: the message table.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "Validation failed. Failure reason: 'x' is a required property"),
        (
            {"x": "1"},
            "Validation failed for field 'x'. Failure reason: '1' is not of type 'integer'",
        ),
        (
            {"x": None},
            "Validation failed for field 'x'. Failure reason: None is not of type 'integer'",
        ),
        (
            {"x": 1, "name": None},
            "Validation failed for field 'name'. Failure reason: None is not of type 'string'",
        ),
        (
            {"x": 1, "color": "blue"},
            "Validation failed for field 'color'. Failure reason: 'blue' is not one of ['red', 'green']",
        ),
        (
            {"x": 1, "items": [1, "b"]},
            "Validation failed for field 'items[1]'. Failure reason: 'b' is not of type 'integer'",
        ),
        (
            {"x": 1, "cfg": {"label": "q"}},
            "Validation failed for field 'cfg'. Failure reason: 'depth' is a required property",
        ),
        (
            {"x": 1, "cfg": {"depth": "deep"}},
            "Validation failed for field 'cfg.depth'. Failure reason: 'deep' is not of type 'integer'",
        ),
        (
            {"x": 1, "maybe": "s"},
            "Validation failed for field 'maybe'. Failure reason: 's' is not valid under any of the given schemas",
        ),
        (
            {"x": 1, "pair": [1, 2]},
            "Validation failed for field 'pair[1]'. Failure reason: 2 is not of type 'string'",
        ),
        (
            {"x": 1, "pair": [1, "a", 3]},
            "Validation failed for field 'pair'. Failure reason: [1, 'a', 3] is too long",
        ),
        (
            {"x": True},
            "Validation failed for field 'x'. Failure reason: True is not of type 'integer'",
        ),
        (
            {"x": 1, "cfg": {"depth": 1, "label": None}},
            "Validation failed for field 'cfg.label'. Failure reason: None is not of type 'string'",
        ),
    ],
)
def test_spec_table_messages(parameters: dict[str, Any], message: str) -> None:
    assert failure(parameters, SPEC_SCHEMA) == message


@pytest.mark.parametrize(
    "parameters",
    [
        {"x": 1},
        {"x": 1.0},  # jsonschema's "integer" accepts 1.0
        {"x": 1, "cfg": None},
        {"x": 1, "maybe": None},
        {"x": 1, "extra": object.__name__},  # no additionalProperties: extras pass
        {"x": 1, "cfg": {"depth": 2}, "pair": [1, "a"], "items": [1, 2], "color": "green"},
    ],
)
def test_spec_schema_accepts(parameters: dict[str, Any]) -> None:
    validate_parameters(parameters, SPEC_SCHEMA)


@pytest.mark.parametrize(
    ("parameters", "schema", "message"),
    [
        (
            {"my-key": "x"},
            one_property("my-key", {"type": "integer"}),
            "Validation failed for field \"$['my-key']\". Failure reason: 'x' is not of type 'integer'",
        ),
        (
            {"it's": "x"},
            one_property("it's", {"type": "integer"}),
            "Validation failed for field \"$['it\\\\'s']\". Failure reason: 'x' is not of type 'integer'",
        ),
        (
            {"zzz": 1},
            {"properties": {}, "additionalProperties": False},
            "Validation failed. Failure reason: Additional properties are not allowed ('zzz' was unexpected)",
        ),
        (
            {"n": 0},
            one_property("n", {"type": "integer", "minimum": 5}),
            "Validation failed for field 'n'. Failure reason: 0 is less than the minimum of 5",
        ),
        (
            {"o": {"l": [{"v": "x"}]}},
            one_property(
                "o",
                {
                    "type": "object",
                    "properties": {
                        "l": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"v": {"type": "integer"}},
                                "required": ["v"],
                            },
                        }
                    },
                },
            ),
            "Validation failed for field 'o.l[0].v'. Failure reason: 'x' is not of type 'integer'",
        ),
        (
            {"a": [1, 1]},
            one_property("a", {"uniqueItems": True}),
            "Validation failed for field 'a'. Failure reason: [1, 1] has non-unique elements",
        ),
        (
            {"k": 1},
            one_property("k", {"$ref": "https://json-schema.org/draft/2020-12/schema"}),
            "Validation failed for field 'k'. Failure reason: 1 is not of type 'object', 'boolean'",
        ),
    ],
)
def test_message_format_examples(parameters: Any, schema: Any, message: str) -> None:
    assert failure(parameters, schema) == message


def test_field_with_a_quote_is_double_quoted_with_escaped_quote() -> None:
    message = failure({"it's": "x"}, one_property("it's", {"type": "integer"}))
    assert message.startswith("Validation failed for field \"$['it\\\\'s']\".")


# ------------------------------------------------------------------------------------------
# §5.3: best_match ordering.
# ------------------------------------------------------------------------------------------


def test_rule_1_shortest_path_wins() -> None:
    assert (
        failure({"cfg": {"depth": "x"}}, SPEC_SCHEMA)
        == "Validation failed. Failure reason: 'x' is a required property"
    )


def test_rule_2_greatest_path_wins_at_equal_depth() -> None:
    schema = {
        "properties": {k: {"type": "integer"} for k in "abc"},
        "required": ["a", "b", "c"],
    }
    assert (
        failure({"a": "x", "b": "x", "c": "x"}, schema)
        == "Validation failed for field 'c'. Failure reason: 'x' is not of type 'integer'"
    )


@pytest.mark.parametrize(
    "subschema",
    [
        {"type": "string", "allOf": [{"type": "integer", "minimum": 10}]},
        {"allOf": [{"type": "integer", "minimum": 10}], "type": "string"},
    ],
)
def test_rule_3_type_mismatch_wins_whatever_the_keyword_order(subschema: Any) -> None:
    assert (
        failure({"v": 3}, one_property("v", subschema))
        == "Validation failed for field 'v'. Failure reason: 3 is not of type 'string'"
    )


@pytest.mark.parametrize(("required", "first"), [(["a", "b", "c", "d"], "a"), (["b", "a"], "b")])
def test_rule_4_first_produced_error_wins(required: list[str], first: str) -> None:
    assert (
        failure({"v": "x"}, {"required": required})
        == f"Validation failed. Failure reason: '{first}' is a required property"
    )


@pytest.mark.parametrize(
    ("parameters", "schema", "message"),
    [
        (
            {"opt": "z"},
            {"properties": {"opt": {"type": "integer"}}},
            "Validation failed for field 'opt'. Failure reason: 'z' is not valid under any of the given schemas",
        ),
        (
            {"v": 3},
            {
                "properties": {
                    "v": {"anyOf": [{"type": "integer", "minimum": 10}, {"type": "null"}]}
                }
            },
            "Validation failed for field 'v'. Failure reason: 3 is less than the minimum of 10",
        ),
        (
            {"x": 1, "cfg": {"label": "q"}},
            SPEC_SCHEMA,
            "Validation failed for field 'cfg'. Failure reason: 'depth' is a required property",
        ),
    ],
)
def test_rule_5_descent_into_context(parameters: Any, schema: Any, message: str) -> None:
    assert failure(parameters, schema) == message


# ------------------------------------------------------------------------------------------
# Preprocessing: null fix, tuple fix, definitions, block definitions.
# ------------------------------------------------------------------------------------------


def _fixed(subschema: dict[str, Any], *, required: bool = False, allow: bool = False) -> Any:
    schema = {"properties": {"p": subschema}, "required": ["p"] if required else []}
    return preprocess_schema(schema, allow_none_with_default=allow)["properties"]["p"]  # type: ignore[index, call-overload]


def test_null_fix_rewrites_an_optional_typed_property_without_default() -> None:
    assert _fixed({"type": "integer", "title": "P"}) == {
        "title": "P",
        "anyOf": [{"type": "integer"}, {"type": "null"}],
    }


@pytest.mark.parametrize(
    ("subschema", "required", "allow"),
    [
        ({"type": "integer"}, True, False),  # required
        ({"title": "no type"}, False, False),  # no `type`
        ({"type": "null"}, False, False),  # type is null
        ({"type": "integer", "default": 1}, False, False),  # has a default
        ({"type": "integer", "default": 1}, True, True),  # required, even when allowing
    ],
)
def test_null_fix_conditions_that_leave_the_property_alone(
    subschema: dict[str, Any], required: bool, allow: bool
) -> None:
    assert _fixed(subschema, required=required, allow=allow) == subschema


def test_allow_none_with_default_drops_the_default_condition() -> None:
    assert _fixed({"type": "integer", "default": 1}, allow=True) == {
        "default": 1,
        "anyOf": [{"type": "integer"}, {"type": "null"}],
    }


def test_null_fix_keeps_a_type_list_as_one_branch() -> None:
    assert _fixed({"type": ["string", "integer"]}) == {
        "anyOf": [{"type": ["string", "integer"]}, {"type": "null"}]
    }


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"s": None}, None),  # optional, no default: null accepted
        (
            {"s": "x"},
            "Validation failed for field 's'. Failure reason: 'x' is not valid under any of the given schemas",
        ),
    ],
)
def test_null_fix_observed_through_validation(parameters: Any, message: str | None) -> None:
    schema = {"properties": {"s": {"type": "integer"}}}
    if message is None:
        validate_parameters(parameters, schema)
    else:
        assert failure(parameters, schema) == message


def test_a_default_forbids_null() -> None:
    schema = {"properties": {"s": {"type": "integer", "default": 1}}}
    assert (
        failure({"s": "x"}, schema)
        == "Validation failed for field 's'. Failure reason: 'x' is not of type 'integer'"
    )


def test_nested_properties_use_their_own_required_list_the_3_9_1_behaviour() -> None:
    # HEAD's bug would check `q` against the nested required list and let null through.
    schema = {
        "properties": {
            "o": {"type": "object", "properties": {"z": {"type": "integer"}}},
            "q": {"type": "integer"},
        },
        "required": ["q"],
    }
    assert (
        failure({"q": None}, schema)
        == "Validation failed for field 'q'. Failure reason: None is not of type 'integer'"
    )


def test_nested_properties_are_null_fixed() -> None:
    schema = one_property(
        "a", {"type": "object", "properties": {"b": {"type": "string"}}}, required=False
    )
    validate_parameters({"a": {"b": None}}, schema)
    assert (
        failure({"a": {"b": 1}}, schema)
        == "Validation failed for field 'a.b'. Failure reason: 1 is not valid under any of the given schemas"
    )


def test_tuple_fix_moves_items_to_prefix_items() -> None:
    assert _fixed(
        {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}, required=True
    ) == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
    }
    schema = one_property(
        "t", {"type": "array", "items": [{"type": "integer"}, {"type": "string"}]}
    )
    assert (
        failure({"t": [1, 2]}, schema)
        == "Validation failed for field 't[1]'. Failure reason: 2 is not of type 'string'"
    )


def test_tuple_fix_replaces_an_empty_prefix_items_but_not_a_full_one() -> None:
    assert (
        failure(
            {"s": [1, 2]},
            one_property("s", {"type": "array", "items": [{"type": "string"}], "prefixItems": []}),
        )
        == "Validation failed for field 's[0]'. Failure reason: 1 is not of type 'string'"
    )
    with pytest.raises(InvalidParameterSchema) as info:
        validate_parameters(
            {},
            one_property(
                "s",
                {
                    "type": "array",
                    "items": [{"type": "integer"}],
                    "prefixItems": [{"type": "string"}],
                },
            ),
        )
    assert (
        info.value.message
        == "Invalid schema: [{'type': 'integer'}] is not of type 'object', 'boolean'"
    )


def test_tuple_fix_reaches_definitions_but_not_items_of_items() -> None:
    schema = {
        "properties": {"d": {"$ref": "#/definitions/D"}},
        "definitions": {
            "D": {
                "type": "object",
                "properties": {"k": {"type": "array", "items": [{"type": "integer"}]}},
            }
        },
    }
    assert (
        failure({"d": {"k": "x"}}, schema)
        == "Validation failed for field 'd.k'. Failure reason: 'x' is not valid under any of the given schemas"
    )


def test_definitions_are_preprocessed_but_defs_are_not() -> None:
    model = {"type": "object", "properties": {"k": {"type": "string"}}}
    with_definitions = {
        "properties": {"b": {"$ref": "#/definitions/M"}},
        "definitions": {"M": model},
    }
    with_defs = {"properties": {"b": {"$ref": "#/$defs/M"}}, "$defs": {"M": model}}
    validate_parameters({"b": {"k": None}}, with_definitions)
    assert (
        failure({"b": {"k": None}}, with_defs)
        == "Validation failed for field 'b.k'. Failure reason: None is not of type 'string'"
    )


def test_block_definitions_accept_a_reference() -> None:
    pre = preprocess_schema(BLOCK_SCHEMA, allow_none_with_default=False)
    wrapped = pre["definitions"]["Blk"]  # type: ignore[index, call-overload]
    assert wrapped["oneOf"][0]["block_type_slug"] == "s3"
    assert wrapped["oneOf"][1] == {
        "type": "object",
        "properties": {
            "$ref": {
                "oneOf": [
                    {"type": "string", "format": "uuid"},
                    {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "minProperties": 1,
                    },
                ]
            }
        },
        "required": ["$ref"],
    }
    validate_parameters({"b": {"$ref": "6f8b3c6e-1b2a-4c2a-9d1e-1234567890ab"}}, BLOCK_SCHEMA)
    validate_parameters({"b": {"$ref": "not a uuid: format is not checked"}}, BLOCK_SCHEMA)
    validate_parameters({"b": {"$ref": {"block_document_id": "x"}}}, BLOCK_SCHEMA)
    validate_parameters({"b": {"k": "value"}}, BLOCK_SCHEMA)
    assert (
        failure({"b": {"$ref": {}}}, BLOCK_SCHEMA)
        == "Validation failed for field \"b['$ref']\". Failure reason: {} should be non-empty"
    )
    assert (
        failure({"b": {"k": 1}}, BLOCK_SCHEMA)
        == "Validation failed for field 'b.k'. Failure reason: 1 is not of type 'string'"
    )


def test_a_block_definition_replaces_the_definition_named_by_its_title() -> None:
    # "Other" is invalid, but the block definition titled "Other" replaces it first.
    schema = {
        "properties": {"k": {"type": "integer", "default": 1}},
        "definitions": {
            "Blk": {"block_type_slug": "x", "title": "Other", "type": "object"},
            "Other": {"type": "nonsense"},
        },
    }
    assert (
        failure({"k": "s"}, schema)
        == "Validation failed for field 'k'. Failure reason: 's' is not of type 'integer'"
    )


# ------------------------------------------------------------------------------------------
# The validator: Draft 2020-12 whatever `$schema` says, no format checking, references.
# ------------------------------------------------------------------------------------------


def test_format_is_not_checked() -> None:
    schema = one_property("d", {"type": "string", "format": "date-time"})
    validate_parameters({"d": "not a date"}, schema)


def test_dollar_schema_is_ignored() -> None:
    # Draft 4 would refuse 1.0 as an integer; Draft 2020-12 accepts it.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    validate_parameters({"n": 1.0}, draft4)
    # ...and the schema is checked against the 2020-12 meta-schema, not Draft 4's.
    draft4["properties"]["n"]["exclusiveMinimum"] = True
    with pytest.raises(InvalidParameterSchema) as info:
        validate_parameters({"n": 1}, draft4)
    assert info.value.message == "Invalid schema: True is not of type 'number'"


def test_a_nested_dollar_schema_is_honoured_as_jsonschema_does() -> None:
    # Only the root's `$schema` is ignored: a subschema's switches jsonschema's dialect.
    schema = {
        "properties": {
            "n": {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"}
        },
        "required": ["n"],
    }
    assert (
        failure({"n": 1.0}, schema)
        == "Validation failed for field 'n'. Failure reason: 1.0 is not of type 'integer'"
    )


def test_a_cycle_through_a_subschema_with_its_own_dollar_schema_is_still_circular() -> None:
    schema = {
        "properties": {"a": {"$ref": "#/definitions/A"}},
        "definitions": {
            "A": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": "#/definitions/B",
            },
            "B": {"$ref": "#/definitions/A"},
        },
    }
    with pytest.raises(CircularSchemaRef):
        validate_parameters({"a": 1}, schema)


def test_additional_properties_errors_are_reported_in_instance_order() -> None:
    schema = {"properties": {"e": {"type": "object", "additionalProperties": {"type": "string"}}}}
    parameters = {"e": {"p": 1, "q": "x", "r": 2, "s": 3}}
    assert (
        failure(parameters, schema)
        == "Validation failed for field 'e.s'. Failure reason: 3 is not of type 'string'"
    )
    assert [v.instance_path for v in validation_report(parameters, schema)] == [
        "/e/p",
        "/e/r",
        "/e/s",
    ]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_remote_refs_are_never_fetched(no_network: list[object]) -> None:
    schema = one_property("a", {"$ref": "http://127.0.0.1:9/schema.json"})
    assert (
        failure({"a": 1}, schema)
        == "Validation failed. Failure reason: Unresolvable: http://127.0.0.1:9/schema.json"
    )
    assert no_network == []


def test_file_refs_are_never_read(no_network: list[object], tmp_path: Any) -> None:
    target = tmp_path / "s.json"
    target.write_text('{"type": "string"}')
    schema = one_property("a", {"$ref": target.as_uri()})
    assert (
        failure({"a": 1}, schema)
        == f"Validation failed. Failure reason: Unresolvable: {target.as_uri()}"
    )


def test_missing_local_pointer_message_embeds_the_preprocessed_schema() -> None:
    schema = {"properties": {"a": {"$ref": "#/definitions/Missing"}}}
    assert failure({"a": 1}, schema) == (
        "Validation failed. Failure reason: PointerToNowhere: '/definitions/Missing' does not "
        "exist within {'properties': {'a': {'$ref': '#/definitions/Missing'}}}"
    )


def test_an_unresolvable_ref_that_is_not_reached_passes() -> None:
    validate_parameters({}, {"properties": {"a": {"$ref": "#/definitions/Missing"}}})


def test_an_unresolvable_ref_with_a_base_uri() -> None:
    schema = {"$id": "https://example.com/root.json", "properties": {"k": {"$ref": "other.json"}}}
    assert (
        failure({"k": {}}, schema) == "Validation failed. Failure reason: Unresolvable: other.json"
    )


def test_an_unresolvable_dynamic_ref() -> None:
    schema = {"properties": {"k": {"$dynamicRef": "#meta"}}}
    assert failure({"k": {}}, schema) == (
        "Validation failed. Failure reason: NoSuchAnchor: 'meta' does not exist within "
        "{'properties': {'k': {'$dynamicRef': '#meta'}}}"
    )


# ------------------------------------------------------------------------------------------
# Circular references.
# ------------------------------------------------------------------------------------------


def test_a_cycle_reached_with_a_value_is_circular() -> None:
    with pytest.raises(CircularSchemaRef) as info:
        validate_parameters({"a": 1}, CIRCULAR_SCHEMA)
    assert info.value.message == "Unable to validate schema with circular references."


def test_a_cycle_that_is_not_reached_passes() -> None:
    validate_parameters({}, CIRCULAR_SCHEMA)


def test_a_self_recursive_model_with_a_finite_instance_validates() -> None:
    validate_parameters({"n": {"child": {"child": {"child": None, "v": 1}}}}, NODE_SCHEMA)
    assert failure({"n": {"child": {"child": {"child": None, "v": "x"}}}}, NODE_SCHEMA) == (
        "Validation failed for field 'n.child.child.v'. Failure reason: 'x' is not valid under any of the given schemas"
    )


@pytest.mark.parametrize(
    ("value", "circular"),
    [(1, False), ("s", True)],
)
def test_a_cycle_behind_any_of_is_reached_only_when_the_first_branch_fails(
    value: object, circular: bool
) -> None:
    schema = {
        "properties": {"k": {"anyOf": [{"type": "integer"}, {"$ref": "#/definitions/A"}]}},
        "definitions": {"A": {"$ref": "#/definitions/A"}},
    }
    if circular:
        with pytest.raises(CircularSchemaRef):
            validate_parameters({"k": value}, schema)
    else:
        validate_parameters({"k": value}, schema)


@pytest.mark.parametrize(("value", "circular"), [("x", False), (1, True)])
def test_a_cycle_inside_not_is_cut_short_by_the_first_error(value: object, circular: bool) -> None:
    schema = {
        "properties": {"k": {"not": {"$ref": "#/definitions/A"}}},
        "definitions": {"A": {"type": "integer", "allOf": [{"$ref": "#/definitions/A"}]}},
    }
    if circular:
        with pytest.raises(CircularSchemaRef):
            validate_parameters({"k": value}, schema)
    else:
        validate_parameters({"k": value}, schema)


@pytest.mark.parametrize(("value", "circular"), [(5, False), ("x", True)])
def test_a_cycle_re_entered_under_not_ends_at_an_earlier_error(
    value: object, circular: bool
) -> None:
    """Recorded on 3.9.1: the outer ``$ref`` reports the type error, and ``not`` re-enters the
    same ``$ref`` lazily, stopping at that same first error; only a string loops forever."""
    schema = {
        "properties": {"a": {"$ref": "#/definitions/X"}},
        "definitions": {
            "X": {"$ref": "#/definitions/R"},
            "R": {"type": "string", "not": {"$ref": "#/definitions/X"}},
        },
    }
    if circular:
        with pytest.raises(CircularSchemaRef):
            validate_parameters({"a": value}, schema)
    else:
        with pytest.raises(ParameterValidationFailed) as caught:
            validate_parameters({"a": value}, schema)
        assert "5 is not of type 'string'" in str(caught.value)


def test_a_recursion_error_is_circular_and_leaves_the_interpreter_usable() -> None:
    # unevaluatedProperties walks $ref itself: a real RecursionError, as every cycle is.
    schema = {
        "unevaluatedProperties": False,
        "$ref": "#/$defs/A",
        "$defs": {"A": {"$ref": "#/$defs/A"}},
    }
    limit = sys.getrecursionlimit()
    with pytest.raises(CircularSchemaRef):
        validate_parameters({"x": 1}, schema)
    assert sys.getrecursionlimit() == limit
    validate_parameters({"n": {"child": None}}, NODE_SCHEMA)


def test_a_circular_schema_is_circular_on_every_call() -> None:
    for _ in range(3):
        with pytest.raises(CircularSchemaRef):
            validate_parameters({"a": 1}, CIRCULAR_SCHEMA)


# ------------------------------------------------------------------------------------------
# Invalid schemas (Prefect: 500).
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "nonsense"},
            "Invalid schema: 'nonsense' is not valid under any of the given schemas",
        ),
        ({"properties": {}, "required": "abc"}, "Invalid schema: 'abc' is not of type 'array'"),
        (
            one_property("a", {"type": "string", "pattern": "[unclosed"}),
            "Invalid schema: '[unclosed' is not a 'regex'",
        ),
        (
            {"properties": {"a": True}},
            "Invalid schema: the property schema at '/properties/a' must be an object",
        ),
        ({"properties": [1]}, "Invalid schema: 'properties' at '/properties' must be an object"),
        (
            {"definitions": {"A": True}},
            "Invalid schema: the definition at '/definitions/A' must be an object",
        ),
        ({"definitions": []}, "Invalid schema: 'definitions' must be an object"),
        (
            {"properties": {"a": {"type": "string"}}, "required": None},
            "Invalid schema: the value at '/required' must be an array",
        ),
        (
            {"definitions": {"B": {"block_type_slug": "x"}}},
            "Invalid schema: the block definition at '/definitions/B' must have a string 'title'",
        ),
        (
            {"properties": {"o": {"type": "object", "properties": {"x": True}}}},
            "Invalid schema: the property schema at '/properties/o/properties/x' must be an object",
        ),
    ],
)
def test_invalid_schemas(schema: Any, message: str) -> None:
    with pytest.raises(InvalidParameterSchema) as info:
        validate_parameters({}, schema)
    assert info.value.message == message


def _nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def _not_chain(levels: int) -> dict[str, Any]:
    inner: Any = {"type": "integer"}
    for _ in range(levels):
        inner = {"not": inner}
    return {"type": "object", "properties": {"a": inner}}


def _at_stack_depth(frames: int, call: Any) -> Any:
    return call() if frames <= 0 else _at_stack_depth(frames - 1, call)


@pytest.mark.parametrize("caller_frames", [0, 300])
def test_subschemas_nest_as_deep_as_prefect_checks_them_whoever_calls(caller_frames: int) -> None:
    # Recorded on Prefect 3.9.1 (schema_b9_deep_not_chain_117/118): 117 nested `not` are
    # checked, 118 exhaust its stack and are "circular". The caller's own depth (a test
    # runner, a web framework) does not move the threshold.
    _at_stack_depth(caller_frames, lambda: validate_parameters({"a": "x"}, _not_chain(117)))
    with pytest.raises(CircularSchemaRef):
        _at_stack_depth(caller_frames, lambda: validate_parameters({"a": "x"}, _not_chain(118)))


def test_data_nested_in_a_schema_is_not_schema_depth() -> None:
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    schema = {"type": "object", "properties": {"a": {"type": "integer", "default": deep}}}
    validate_parameters({"a": 1}, schema)
    with pytest.raises(ParameterValidationFailed):
        validate_parameters({"a": "x"}, schema)


def test_past_the_depth_bound_a_schema_is_circular_as_in_prefect() -> None:
    deep: Any = 1
    for _ in range(MAX_SCHEMA_DEPTH):
        deep = [deep]
    with pytest.raises(CircularSchemaRef):
        validate_parameters({}, {"type": "object", "default": deep})


def test_a_very_deep_schema_does_not_blow_the_stack() -> None:
    with pytest.raises(CircularSchemaRef):
        validate_parameters({}, _nested(5000))


def test_size_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_module, "MAX_SCHEMA_SIZE", 50)
    with pytest.raises(InvalidParameterSchema) as info:
        validate_parameters({}, {"description": "x" * 60})
    assert info.value.message == "Invalid schema: larger than 50 characters of JSON"


def test_not_json() -> None:
    with pytest.raises(InvalidParameterSchema) as info:
        validate_parameters({}, {"const": {1, 2}})  # type: ignore[dict-item]
    assert info.value.message.startswith("Invalid schema: not a JSON document")


def test_schema_problem() -> None:
    assert schema_problem({"type": "object"}) is None
    assert schema_problem(True) is None
    assert schema_problem([1]) == "[1] is not of type 'object', 'boolean'"
    assert (
        schema_problem({"type": "nonsense"})
        == "'nonsense' is not valid under any of the given schemas"
    )
    # No preprocessing: a boolean property schema is fine for check_schema.
    assert schema_problem({"properties": {"a": True}}) is None
    with pytest.raises(CircularSchemaRef):
        schema_problem(_nested(MAX_SCHEMA_DEPTH))


# ------------------------------------------------------------------------------------------
# The complete validation report.
# ------------------------------------------------------------------------------------------


def test_validation_report_lists_every_violation_sorted() -> None:
    report = validation_report({"x": "1", "color": "blue", "items": [1, "b", "c"]}, SPEC_SCHEMA)
    assert report == (
        SchemaViolation(
            instance_path="/color",
            schema_path="/properties/color/enum",
            keyword="enum",
            message="'blue' is not one of ['red', 'green']",
        ),
        SchemaViolation(
            instance_path="/items/1",
            schema_path="/properties/items/items/type",
            keyword="type",
            message="'b' is not of type 'integer'",
        ),
        SchemaViolation(
            instance_path="/items/2",
            schema_path="/properties/items/items/type",
            keyword="type",
            message="'c' is not of type 'integer'",
        ),
        SchemaViolation(
            instance_path="/x",
            schema_path="/properties/x/type",
            keyword="type",
            message="'1' is not of type 'integer'",
        ),
    )


def test_validation_report_sorts_indices_numerically_and_escapes_pointers() -> None:
    schema = {"properties": {"a/b~": {"type": "array", "items": {"type": "integer"}}}}
    items = ["x"] * 11
    report = validation_report({"a/b~": items}, schema)
    assert [v.instance_path for v in report] == [f"/a~1b~0/{i}" for i in range(11)]


def test_validation_report_is_empty_when_valid_and_matches_the_exception() -> None:
    assert validation_report({"x": 1}, SPEC_SCHEMA) == ()
    parameters = {"cfg": {"depth": "x"}, "pair": [1]}
    with pytest.raises(ParameterValidationFailed) as info:
        validate_parameters(parameters, SPEC_SCHEMA)
    assert info.value.violations == validation_report(parameters, SPEC_SCHEMA)
    assert {v.keyword for v in info.value.violations} == {"required", "minItems", "anyOf"}


def test_validation_report_of_an_unresolvable_ref() -> None:
    schema = one_property("a", {"$ref": "#/definitions/Missing"})
    (violation,) = validation_report({"a": 1}, schema)
    assert violation.keyword == "$ref"
    assert violation.message.startswith("PointerToNowhere: '/definitions/Missing'")


def test_validation_report_of_a_false_schema() -> None:
    (violation,) = validation_report({"a": 1}, {"properties": {"a": {"not": {}}, "b": {}}})
    assert violation.keyword == "not"
    (violation,) = validation_report({"a": 1}, {"additionalProperties": False})
    assert violation.keyword == "additionalProperties"
    (violation,) = validation_report(
        {"a": 1}, {"items": False, "properties": {"a": {"allOf": [False]}}}
    )
    assert (violation.keyword, violation.schema_path) == ("false", "/properties/a/allOf")


# ------------------------------------------------------------------------------------------
# Helpers used by the job-variables rule.
# ------------------------------------------------------------------------------------------


def test_remove_required_descends_objects_only() -> None:
    schema = {
        "required": ["a"],
        "properties": {"required": {"type": "integer"}, "o": {"required": ["z"]}},
        "allOf": [{"required": ["kept-inside-a-list"]}],
    }
    assert remove_required(schema) == {
        "properties": {"o": {}},
        "allOf": [{"required": ["kept-inside-a-list"]}],
    }


def test_validate_instance_flags() -> None:
    schema = {
        "properties": {"cpu": {"type": "integer", "default": 1}, "image": {"type": "string"}},
        "required": ["image"],
    }
    validate_instance({"cpu": None, "image": "x"}, schema, allow_none_with_default=True)
    with pytest.raises(ParameterValidationFailed):
        validate_instance({"cpu": None, "image": "x"}, schema)
    validate_instance({}, schema, ignore_required=True)


@pytest.mark.parametrize(
    ("fmt", "value", "valid"),
    [
        ("date-time", "2024-01-01T00:00:00Z", True),
        ("date-time", "2024-01-01t00:00:00.5+01:00", True),
        ("date-time", "2024-02-30T00:00:00Z", False),
        ("date-time", "0000-01-01T00:00:00Z", False),
        ("date-time", "not a date", False),
        ("time", "12:00:00Z", True),
        ("time", "25:00:00Z", False),
        ("json-pointer", "", True),
        ("json-pointer", "/a~0b~1", True),
        ("json-pointer", "a/b", False),
        ("json-pointer", "/a~2", False),
        ("relative-json-pointer", "1/a", True),
        ("relative-json-pointer", "0#", True),
        ("relative-json-pointer", "10", True),
        ("relative-json-pointer", "100", False),  # jsonschema 4.26 refuses a digit after a 0
        ("relative-json-pointer", "", False),
        ("relative-json-pointer", "/a", False),
        ("uuid", "nope", False),
        ("email", "nope", False),
        ("ipv4", "1.2.3", False),
        ("date", "2024-02-30", False),
        ("hostname", "not checked in Prefect's environment!", True),
        ("uri", "not checked either", True),
    ],
)
def test_find_violations_checks_prefect_formats(fmt: str, value: str, valid: bool) -> None:
    schema = {"properties": {"f": {"type": "string", "format": fmt}}}
    assert (
        find_violations({"f": value}, schema, ignore_required=True, check_formats=True) == ()
    ) is valid
    assert find_violations({"f": value}, schema, ignore_required=True, check_formats=False) == ()


def test_find_violations_does_not_preprocess_and_can_ignore_required() -> None:
    schema = {"properties": {"a": {"type": "integer"}}, "required": ["b"]}
    (violation,) = find_violations({"a": None}, schema, ignore_required=True, check_formats=False)
    assert violation.message == "None is not of type 'integer'"
    assert (
        len(find_violations({"a": None}, schema, ignore_required=False, check_formats=False)) == 2
    )


def test_find_violations_raises_on_an_unresolvable_ref() -> None:
    with pytest.raises(ParameterValidationFailed) as info:
        find_violations(
            {"a": 1},
            one_property("a", {"$ref": "#/nowhere"}),
            ignore_required=True,
            check_formats=True,
        )
    assert info.value.message.startswith(
        "Validation failed. Failure reason: PointerToNowhere: '/nowhere'"
    )


# ------------------------------------------------------------------------------------------
# Laws: the cache changes nothing, and nothing passed in is modified.
# ------------------------------------------------------------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers(-5, 20) | st.sampled_from(["a", "red", "", "1"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["depth", "label", "x", "k"]), inner, max_size=3)
    ),
    max_leaves=8,
)
spec_parameters = st.dictionaries(
    st.sampled_from([*SPEC_SCHEMA["properties"], "extra"]), json_values, max_size=5
)


def reference_message(parameters: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """Prefect's pipeline rebuilt from scratch, with no cache: preprocess, check, best_match."""
    prepared = preprocess_schema(schema, allow_none_with_default=False)
    Draft202012Validator.check_schema(prepared)
    error = best_match(Draft202012Validator(prepared, registry=Registry()).iter_errors(parameters))
    if error is None:
        return None
    field = "" if error.json_path == "$" else f" for field {error.json_path.replace('$.', '')!r}"
    return f"Validation failed{field}. Failure reason: {error.message}"


def outcome(parameters: dict[str, Any], schema: dict[str, Any]) -> str | None:
    try:
        validate_parameters(parameters, schema)
    except ParameterValidationFailed as exc:
        return exc.message
    return None


@given(spec_parameters)
def test_cached_validator_agrees_with_a_fresh_pipeline(parameters: dict[str, Any]) -> None:
    warm = outcome(parameters, SPEC_SCHEMA)
    schema_module._CACHE.clear()
    cold = outcome(parameters, SPEC_SCHEMA)
    assert warm == cold == reference_message(parameters, SPEC_SCHEMA)


@given(spec_parameters, st.booleans())
def test_inputs_are_never_mutated(parameters: dict[str, Any], node: bool) -> None:
    schema = NODE_SCHEMA if node else SPEC_SCHEMA
    schema_before = copy.deepcopy(schema)
    parameters_before = copy.deepcopy(parameters)
    outcome(parameters, schema)
    validation_report(parameters, schema)
    assert parameters == parameters_before
    assert schema == schema_before
    assert json.dumps(schema) == json.dumps(schema_before)  # key order too


def test_preprocess_schema_does_not_mutate_its_argument() -> None:
    before = copy.deepcopy(BLOCK_SCHEMA)
    preprocess_schema(BLOCK_SCHEMA, allow_none_with_default=True)
    assert json.dumps(BLOCK_SCHEMA) == json.dumps(before)


def test_key_order_is_part_of_the_cache_key() -> None:
    first = {"required": ["a", "b"]}
    second = {"required": ["b", "a"]}
    assert failure({}, first).endswith("'a' is a required property")
    assert failure({}, second).endswith("'b' is a required property")
    ab = {"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
    ba = {"properties": {"b": {"type": "integer"}, "a": {"type": "integer"}}}
    assert (
        len(validation_report({"a": "x", "b": "x"}, ab))
        == len(validation_report({"a": "x", "b": "x"}, ba))
        == 2
    )


def test_mappings_that_are_not_dicts_are_accepted() -> None:
    validate_parameters(MappingProxyType({"x": 1}), MappingProxyType(SPEC_SCHEMA))
    assert (
        failure(MappingProxyType({}), MappingProxyType(SPEC_SCHEMA))
        == "Validation failed. Failure reason: 'x' is a required property"
    )


def test_a_remembered_schema_is_never_used_for_a_changed_one() -> None:
    validate = validate_parameters
    loose = {"type": "object", "properties": {"x": {"type": "integer"}}}
    strict = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    validate({"x": 1}, loose, schema_id="dep-1")
    validate({"x": 1}, loose, schema_id="dep-1")  # the remembered path
    with pytest.raises(ParameterValidationFailed) as info:
        validate({"x": 1}, strict, schema_id="dep-1")  # same id, new schema
    assert info.value.message == (
        "Validation failed for field 'x'. Failure reason: 1 is not of type 'string'"
    )
    with pytest.raises(ParameterValidationFailed):
        validate({"x": "a"}, loose, schema_id="dep-1")


SELF_RECURSIVE = {
    "type": "object",
    "properties": {"n": {"$ref": "#/definitions/N"}},
    "definitions": {
        "N": {
            "anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#/definitions/N"}}]
        }
    },
}


def _arrays(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_a_deep_instance_runs_out_of_stack_about_where_prefect_does() -> None:
    # Recorded on 3.9.1 (validation_b2_deep_instances_threshold): 140 nested arrays
    # validate, 170 are reported as circular. The cycle guard is one generator per $ref, as
    # jsonschema's own $ref is.
    validate_parameters({"n": _arrays(140)}, SELF_RECURSIVE)
    with pytest.raises(CircularSchemaRef):
        validate_parameters({"n": _arrays(170)}, SELF_RECURSIVE)


_RECURSIVE_ANY_OF = {
    "type": "object",
    "properties": {"p": {"$ref": "#/definitions/N"}},
    "definitions": {
        "N": {
            "anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#/definitions/N"}}]
        }
    },
}


@pytest.mark.parametrize("caller_frames", [0, 40, 300])
@pytest.mark.parametrize("leaf", [1, "x"])
def test_a_deep_instance_runs_out_of_stack_at_prefects_level_whoever_calls(
    caller_frames: int, leaf: object
) -> None:
    # Recorded on 3.9.1 (schema_b16_recursive_instance_anyof_items_ok / _bad): 158 levels
    # are checked (valid, or a 409), 159 exhaust Prefect's stack (422 circular references).
    def deepest(levels: int) -> object:
        value = leaf
        for _ in range(levels):
            value = [value]
        return {"p": value}

    def validate(levels: int) -> None:
        _at_stack_depth(
            caller_frames, lambda: validate_parameters(deepest(levels), _RECURSIVE_ANY_OF)
        )

    if leaf == 1:
        validate(158)
    else:
        with pytest.raises(ParameterValidationFailed):
            validate(158)
    with pytest.raises(CircularSchemaRef):
        validate(159)


def test_a_remembered_schema_is_not_reused_for_one_equal_only_by_python_equality() -> None:
    # `{"const": 1} == {"const": True}` in Python; the remembered accept check of the first
    # must not answer for the second under the same schema id.
    schema_id = uuid.uuid4()
    validate_parameters({"a": 1}, {"properties": {"a": {"const": 1}}}, schema_id=schema_id)
    with pytest.raises(ParameterValidationFailed, match="True was expected"):
        validate_parameters({"a": 1}, {"properties": {"a": {"const": True}}}, schema_id=schema_id)
    with pytest.raises(ParameterValidationFailed, match=r"1\.0 was expected"):
        validate_parameters({"a": True}, {"properties": {"a": {"const": 1.0}}}, schema_id=schema_id)


_json_trees = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.sampled_from([0.0, 1.0, -0.0])
    | st.text("ab", max_size=1),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text("ab", max_size=1), inner, max_size=2)
    ),
    max_leaves=6,
)


def _signless_zeros(value: Any) -> Any:
    """``value`` with ``-0.0`` as ``0.0``: equal numbers, which ``json.dumps`` tells apart."""
    if isinstance(value, dict):
        return {key: _signless_zeros(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_signless_zeros(item) for item in value]
    return value + 0.0 if type(value) is float else value


@given(_json_trees, _json_trees)
def test_same_json_is_equality_with_scalar_types(left: Any, right: Any) -> None:
    typed = json.dumps(_signless_zeros(left), sort_keys=True) == json.dumps(
        _signless_zeros(right), sort_keys=True
    )
    assert same_json(left, right) == typed
    assert same_json(left, copy.deepcopy(left))


# Prefect 3.9.1 answers 500 to each of these: jsonschema, referencing or ``re`` raise an
# ordinary Python exception while the schema is checked or applied (audit batch 21a).
_CRASHES_WHEN_APPLIED = [
    # multipleOf's float arithmetic on numbers it cannot convert
    ({"properties": {"n": {"multipleOf": 0.5}}}, {"n": float("inf")}, "OverflowError"),
    ({"properties": {"n": {"multipleOf": 0.5}}}, {"n": float("nan")}, "ValueError"),
    ({"properties": {"n": {"multipleOf": 0.1}}}, {"n": 10**400}, "OverflowError"),
    ({"properties": {"n": {"multipleOf": 10**400}}}, {"n": 1.5}, "OverflowError"),
    # a $ref resolved against a base URI that does not parse
    ({"$id": "http://[bad", "properties": {"a": {"$ref": "x.json"}}}, {"a": 1}, "ValueError"),
    ({"properties": {"a": {"$id": "http://[bad", "$ref": "y.json"}}}, {"a": 1}, "ValueError"),
    # a $ref into a place the meta-schema never checks, holding a malformed schema
    (
        {"properties": {"a": {"$ref": "#/x"}}, "x": {"type": "nonsense"}},
        {"a": 1},
        "UnknownType",
    ),
    ({"properties": {"a": {"$ref": "#/x"}}, "x": {"pattern": "["}}, {"a": "s"}, "error"),
    (
        {"properties": {"a": {"$ref": "#/x"}}, "x": {"multipleOf": 0}},
        {"a": 3},
        "ZeroDivisionError",
    ),
    (
        {
            "properties": {
                "a": {"$ref": "#/properties/b/default"},
                "b": {"default": {"type": "nonsense"}},
            }
        },
        {"a": 1},
        "UnknownType",
    ),
]


@pytest.mark.parametrize(("schema", "parameters", "crash"), _CRASHES_WHEN_APPLIED)
def test_a_schema_that_crashes_jsonschema_is_an_invalid_schema(
    schema: dict[str, Any], parameters: dict[str, Any], crash: str
) -> None:
    for check in (validate_parameters, validation_report):
        with pytest.raises(InvalidParameterSchema) as info:
            check(parameters, schema)
        message = info.value.message
        assert message.startswith(
            f"Invalid schema: the parameters cannot be checked against it ({crash}: "
        )
        assert "\n" not in message


def test_a_crash_whose_message_cannot_be_printed_is_still_an_invalid_schema() -> None:
    # jsonschema's UnknownType message pretty-prints the instance: 900 nested lists (what a
    # json placeholder may hydrate to) exhaust the stack while it is printed (fuzz seed 48).
    schema = {"properties": {"a": {"$ref": "#/x"}}, "x": {"type": "nonsense"}}
    deep: Any = []
    for _ in range(900):
        deep = [deep]
    for check in (validate_parameters, validation_report):
        with pytest.raises(InvalidParameterSchema) as info:
            check({"a": deep}, schema)
        assert info.value.message == (
            "Invalid schema: the parameters cannot be checked against it (UnknownType (its "
            "message could not be rendered: RecursionError))"
        )


@pytest.mark.parametrize("pattern", ["a{4294967296}", "a{1,4294967295}"])
def test_a_pattern_the_meta_schema_check_crashes_on_is_an_invalid_schema(pattern: str) -> None:
    # The meta-schema's regex format check calls re.compile, which raises OverflowError.
    for schema in (
        {"properties": {"a": {"pattern": pattern}}},
        {"patternProperties": {pattern: {}}},
    ):
        with pytest.raises(InvalidParameterSchema) as info:
            validate_parameters({}, schema)
        assert info.value.message == (
            "Invalid schema: the meta-schema check failed "
            "(OverflowError: the repetition number is too large)"
        )
