"""The compiled fast path of schema enforcement: it may only ever accept what jsonschema accepts.

The law: whenever :func:`compile_fast_check` returns a check, the check's answer equals the
reference validator's ``is_valid`` (Draft 2020-12, no format checker, as Prefect runs it) on
every instance, accept and reject alike. The only disagreements allowed are "fast says
invalid, reference says valid" on the documented cases (instances that are not plain JSON,
too deep, or where jsonschema's sort-based ``uniqueItems`` meets a NaN); they cost time only.

Budgets: each property runs ``5 x`` the active profile's ``max_examples`` (150 in the dev
profile, 300 under CI); ``HYPOTHESIS_PROFILE=thorough`` gives 5,000.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from typing import Any

import fastjsonschema
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, SchemaError
from referencing import Registry

from flowrun_core.errors import ParameterValidationFailed
from flowrun_core.rules import fast_schema as fast_schema_module
from flowrun_core.rules import schema as schema_module
from flowrun_core.rules.fast_schema import (
    MAX_INSTANCE_DEPTH,
    SUPPORTED_KEYWORDS,
    UNSUPPORTED_KEYWORDS,
    compile_fast_check,
    fast_path_obstacle,
)
from flowrun_core.rules.schema import preprocess_schema, validate_parameters, validation_report
from flowrun_core.testing.strategies import (
    invalid_parameters,
    parameter_schemas,
)

BUDGET = settings(max_examples=settings.default.max_examples * 5, deadline=None)

NAN = float("nan")
INF = float("inf")


def reference(schema: dict[str, Any]) -> Any:
    """The validator the reference path runs (schema.py's Draft 2020-12 class, no formats)."""
    return schema_module._Validator(schema, registry=Registry())


def check_schema_ok(schema: Any) -> bool:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(has_nan(v) for v in value)
    return False


def has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(has_non_finite(v) for v in value)
    return False


def assert_agrees(schema: dict[str, Any], fast: Any, instance: Any) -> None:
    before = copy.deepcopy(instance) if not has_nan(instance) else None
    expected = reference(schema).is_valid(instance)
    got = fast(instance)
    if before is not None:
        assert instance == before, "the fast check modified the instance"
    event(f"reference says {'valid' if expected else 'invalid'}")
    if got:
        assert expected, f"fast path accepted what jsonschema rejects: {instance!r} / {schema!r}"
    elif expected:
        # A false negative only costs time, and only these are known (the compiled checks
        # leave non-finite numbers to the reference).
        assert has_non_finite(instance) or depth(instance) > MAX_INSTANCE_DEPTH, (
            f"unexpected false negative: {instance!r} / {schema!r}"
        )


# ------------------------------------------------------------------------------------------
# Strategies: hostile instances and schemas made of the supported keywords.
# ------------------------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "", "a b", "$ref", 'x"y', "\\", "é", "{a}", "1", "id"])

FINITE_VALUES: list[Any] = [
    0,
    1,
    -1,
    2,
    1.0,
    0.0,
    -0.0,
    1.5,
    True,
    False,
    None,
    "",
    "a",
    "ab",
    "abc",
    "\U0001f600",
    "a\n",
    2**53,
    2**53 + 1,
    float(2**53),
    2**64,
    -(2**64),
    10**30,
    1e308,
    -1e308,
    5e-324,
]
FINITE_SCALARS = st.sampled_from(FINITE_VALUES)
HOSTILE_SCALARS = st.sampled_from([*FINITE_VALUES, NAN, INF, -INF])

INSTANCES = st.recursive(
    HOSTILE_SCALARS | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=10,
)

DATA = st.recursive(
    FINITE_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=2),
    max_leaves=3,
)

TYPES = ["array", "boolean", "integer", "null", "number", "object", "string"]
NUMBERS = st.sampled_from([0, 1, -1, 2, 1.5, 0.5, -0.5, 2**53, 10**30, 1e300])
COUNTS = st.integers(min_value=0, max_value=3) | st.just(2.0)
PATTERNS = st.sampled_from(["a", "^a", "^[a-z]+", "\\d", "^\\w*\\Z", "(?!a)", "b|^", "\\n"])


def leaf_fragments() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries({"type": st.sampled_from(TYPES)}),
        st.fixed_dictionaries(
            {"type": st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True)}
        ),
        st.fixed_dictionaries({"enum": st.lists(DATA, min_size=1, max_size=4)}),
        st.fixed_dictionaries({"const": DATA}),
        st.dictionaries(
            st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
            NUMBERS,
            min_size=1,
            max_size=2,
        ),
        st.dictionaries(
            st.sampled_from(
                [
                    "minLength",
                    "maxLength",
                    "minItems",
                    "maxItems",
                    "minProperties",
                    "maxProperties",
                ]
            ),
            COUNTS,
            min_size=1,
            max_size=2,
        ),
        st.fixed_dictionaries({"uniqueItems": st.booleans()}),
        st.fixed_dictionaries({"pattern": PATTERNS}),
        st.fixed_dictionaries({"format": st.sampled_from(["uuid", "date-time", "email"])}),
        st.fixed_dictionaries({"required": st.lists(KEYS, max_size=3, unique=True)}),
        st.fixed_dictionaries(
            {"title": st.just("T"), "default": DATA, "position": st.integers(0, 3)}
        ),
    )


@functools.cache
def subschemas(refs: tuple[str, ...]) -> st.SearchStrategy[Any]:
    ref_nodes: st.SearchStrategy[Any] = (
        st.sampled_from(refs).map(lambda name: {"$ref": f"#/definitions/{name}"})
        if refs
        else st.nothing()
    )

    def merged(fragments: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
        def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for part in parts:
                out.update(part)
            return out

        return st.lists(fragments, min_size=1, max_size=4).map(merge)

    def extend(child: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        composite = st.one_of(
            st.fixed_dictionaries({"properties": st.dictionaries(KEYS, child, max_size=3)}),
            st.fixed_dictionaries({"additionalProperties": child}),
            st.fixed_dictionaries({"items": child}),
            st.builds(
                lambda k, v: {k: v},
                st.sampled_from(["allOf", "anyOf", "oneOf"]),
                st.lists(child, min_size=1, max_size=3),
            ),
            st.fixed_dictionaries({"not": child}),
        )
        return merged(leaf_fragments() | composite) | ref_nodes

    base = st.booleans() | merged(leaf_fragments()) | ref_nodes | st.builds(dict)
    return st.recursive(base, extend, max_leaves=6)


def as_object(node: Any) -> dict[str, Any]:
    """Prefect's preprocessing needs object schemas where it walks (it crashes on booleans)."""
    return node if isinstance(node, dict) else {"allOf": [node]}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A root schema, often Prefect-shaped, with up to three acyclic definitions."""
    names = draw(
        st.lists(st.sampled_from(["Cfg", "Model", "Inner", "model_"]), max_size=3, unique=True)
    )
    definitions: dict[str, Any] = {}
    for index in reversed(range(len(names))):
        definitions[names[index]] = as_object(draw(subschemas(tuple(names[index + 1 :]))))
    if draw(st.booleans()):
        root: dict[str, Any] = {
            "title": "Parameters",
            "type": "object",
            "properties": draw(
                st.dictionaries(KEYS, subschemas(tuple(names)).map(as_object), max_size=4)
            ),
        }
        root["required"] = draw(st.lists(st.sampled_from([*root["properties"], "a"]), unique=True))
    else:
        root = as_object(draw(subschemas(tuple(names))))
    if definitions:
        root["definitions"] = definitions
    return root


@st.composite
def prepared_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A document after Prefect's preprocessing that passes the 2020-12 meta-schema."""
    document = draw(documents())
    try:
        prepared = preprocess_schema(document, allow_none_with_default=draw(st.booleans()))
    except Exception:
        assume(False)
        raise
    assume(check_schema_ok(prepared))
    return prepared


# ------------------------------------------------------------------------------------------
# The law.
# ------------------------------------------------------------------------------------------


@BUDGET
@given(prepared_documents(), st.lists(INSTANCES, min_size=1, max_size=8))
def test_fast_check_agrees_with_jsonschema_on_generated_schemas(
    schema: dict[str, Any], instances: list[Any]
) -> None:
    fast = compile_fast_check(schema)
    obstacle = fast_path_obstacle(schema)
    if fast is not None:
        event("fast path")
    else:
        event(f"no fast path: {obstacle or 'fastjsonschema cannot compile it'}")
    if fast is None:
        return
    for instance in instances:
        assert_agrees(schema, fast, instance)


@BUDGET
@given(parameter_schemas())
def test_prefect_style_schemas_get_a_fast_path_that_accepts_their_parameters(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    schema, parameters = case
    prepared = preprocess_schema(schema, allow_none_with_default=False)
    assert fast_path_obstacle(prepared) is None
    fast = compile_fast_check(prepared)
    assert fast is not None
    assert fast(parameters) is True
    assert reference(prepared).is_valid(parameters)


@BUDGET
@given(invalid_parameters())
def test_prefect_style_invalid_parameters_are_rejected_by_the_fast_check(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    schema, parameters = case
    prepared = preprocess_schema(schema, allow_none_with_default=False)
    fast = compile_fast_check(prepared)
    assert fast is not None
    assert fast(parameters) is False
    assert not reference(prepared).is_valid(parameters)


@BUDGET
@given(parameter_schemas(), st.dictionaries(KEYS | st.sampled_from(["x", "a_b"]), INSTANCES))
def test_prefect_style_schemas_agree_on_hostile_parameters(
    case: tuple[dict[str, Any], dict[str, Any]], extra: dict[str, Any]
) -> None:
    schema, parameters = case
    prepared = preprocess_schema(schema, allow_none_with_default=False)
    fast = compile_fast_check(prepared)
    assert fast is not None
    names = list(schema["properties"])
    hostile = {**parameters, **{names[i % len(names)]: v for i, v in enumerate(extra.values())}}
    assert_agrees(prepared, fast, hostile)
    assert_agrees(prepared, fast, {**parameters, **extra})


# ------------------------------------------------------------------------------------------
# Tricky semantics, pinned.
# ------------------------------------------------------------------------------------------

AGREEMENT_CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"type": "integer"}, True, False),
    ({"type": "integer"}, 1.0, True),
    ({"type": "integer"}, 1.5, False),
    ({"type": "integer"}, 2**80, True),
    ({"type": "integer"}, 1e300, True),
    ({"type": "integer"}, INF, False),
    ({"type": "integer"}, NAN, False),
    ({"type": "number"}, False, False),
    ({"type": "number"}, NAN, True),
    ({"type": ["integer", "boolean"]}, True, True),
    ({"type": "array"}, [], True),
    ({"type": "object"}, [], False),
    ({"enum": [1]}, True, False),
    ({"enum": [1]}, 1.0, True),
    ({"enum": [True]}, 1, False),
    ({"enum": [0]}, False, False),
    ({"enum": [[1, {"a": 0}]]}, [1.0, {"a": False}], False),
    ({"enum": [[1, {"a": 0}]]}, [1.0, {"a": 0.0}], True),
    ({"enum": [{}]}, [], False),
    ({"const": None}, False, False),
    ({"const": 2**53 + 1}, float(2**53), False),
    ({"const": 1.0}, 1, True),
    ({"uniqueItems": True}, [1, True], True),
    ({"uniqueItems": True}, [1, 1.0], False),
    ({"uniqueItems": True}, [0, False], True),
    ({"uniqueItems": True}, [[1], [True]], True),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}], False),
    ({"uniqueItems": True}, [{"a": 1}, {"a": True}], True),
    ({"maxLength": 1}, "\U0001f600", True),
    ({"minLength": 2}, "\U0001f600", False),
    ({"minimum": 0.5}, 2**80, True),
    ({"maximum": 2**53}, float(2**53) + 2, False),
    ({"exclusiveMinimum": 0}, 0, False),
    ({"exclusiveMinimum": 0}, -0.0, False),
    ({"minimum": 0}, True, True),
    ({"required": ["a"]}, [1], True),
    ({"required": ["a"]}, "a", True),
    ({"properties": {"a": {"type": "string"}}}, {"a": 1}, False),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": 1}, False),
    ({"properties": {"a-b": {"type": "string"}, "ab": {"type": "integer"}}}, {"a-b": "x"}, True),
    ({"properties": {'x"y': {"type": "string"}}}, {'x"y': 1}, False),
    ({"properties": {"{a}": {"const": 1}}}, {"{a}": 2}, False),
    ({"pattern": "^a"}, "ba", False),
    ({"pattern": "a"}, "ba", True),
    ({"format": "uuid"}, "not a uuid", True),
    ({"not": {}}, 1, False),
    ({"not": {"title": "annotation only"}}, 1, False),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, False),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1.5, True),
    ({"items": False}, [], True),
    ({"items": False}, [1], False),
    ({"properties": {"a": {"default": 5}}}, {}, True),
]


@pytest.mark.parametrize(("schema", "instance", "valid"), AGREEMENT_CASES)
def test_tricky_semantics_agree(schema: dict[str, Any], instance: Any, valid: bool) -> None:
    assert reference(schema).is_valid(instance) is valid  # the case itself is right
    fast = compile_fast_check(schema)
    assert fast is not None, fast_path_obstacle(schema)
    if has_non_finite(instance):  # left to the reference: never accepted by the fast path
        assert fast(instance) is False
    else:
        assert fast(instance) is valid


def test_defaults_are_never_filled_in() -> None:
    fast = compile_fast_check({"properties": {"a": {"type": "integer", "default": 5}}})
    assert fast is not None
    instance: dict[str, Any] = {}
    assert fast(instance) is True
    assert instance == {}


@pytest.mark.parametrize(
    "instance",
    [
        {"a": (1, 2)},
        {"a": [1, (2,)]},
        {1: "non-string key"},
        {"a": {1, 2}},
        {"a": b"bytes"},
        {"a": complex(1, 0)},
    ],
)
def test_not_plain_json_is_left_to_the_reference(instance: Any) -> None:
    fast = compile_fast_check({"properties": {"a": {}}})
    assert fast is not None
    assert fast(instance) is False


def test_too_deep_instances_are_left_to_the_reference() -> None:
    fast = compile_fast_check({"type": "array"})
    assert fast is not None
    nested: Any = []
    for _ in range(MAX_INSTANCE_DEPTH):
        nested = [nested]
    assert fast(nested) is False
    assert fast(nested[0]) is True


INJECTIONS = [
    '"); raise SystemExit("injected") #',
    "'); raise SystemExit('injected') #",
    '"""\nraise SystemExit("injected")\n"""',
    '\\" + raise SystemExit() + "',
    "{name}{0}{variable}}",
    "a\nb\r\u2028\x00",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_hostile_strings_in_the_schema_stay_data(text: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            text: {"enum": [text, [text], {text: text}]},
            "k": {"const": {text: [text]}},
            "p": {"pattern": "^" + re.escape(text[:4])},
            "n": {"properties": {text: {"type": "integer"}}, "required": [text]},
        },
        "required": [text],
        "additionalProperties": {"not": {"const": text}},
    }
    fast = compile_fast_check(schema)
    assert fast is not None, fast_path_obstacle(schema)
    for instance in [
        {text: text},
        {text: [text]},
        {text: {text: text}},
        {text: "x"},
        {},
        {text: text, "k": {text: [text]}, "n": {text: 1}, "p": text},
        {text: text, "n": {text: "1"}},
        {text: text, "other": text},
        {text: text, "other": 1},
        {text: text, "p": "zz"},
    ]:
        assert fast(instance) is reference(schema).is_valid(instance), instance


def test_remote_references_are_never_fetched() -> None:
    handlers = fast_schema_module._NO_REMOTE
    assert "http" in handlers
    assert "file" in handlers
    with pytest.raises(Exception, match="never resolved"):
        handlers["https"]("https://example.invalid/schema.json")


BLOCK_SCHEMA: dict[str, Any] = {
    "properties": {"b": {"$ref": "#/definitions/Blk"}},
    "definitions": {
        "Blk": {
            "block_type_slug": "s3",
            "secret_fields": ["k"],
            "title": "Blk",
            "type": "object",
            "properties": {"k": {"type": "string", "format": "password", "writeOnly": True}},
            "required": ["k"],
        }
    },
}


@pytest.mark.parametrize(
    "parameters",
    [
        {"b": {"k": "x"}},
        {"b": {"$ref": "not-a-uuid"}},
        {"b": {"$ref": {"block_document_id": "x"}}},
        {"b": {"$ref": {}}},
        {"b": {"$ref": 1}},
        {"b": {}},
        {"b": None},
    ],
)
def test_block_schemas_get_a_fast_path_that_agrees(parameters: dict[str, Any]) -> None:
    prepared = preprocess_schema(BLOCK_SCHEMA, allow_none_with_default=False)
    fast = compile_fast_check(prepared)
    assert fast is not None, fast_path_obstacle(prepared)
    assert fast(parameters) is reference(prepared).is_valid(parameters)


def test_schema_argument_is_not_modified() -> None:
    schema = {
        "properties": {"a": {"$ref": "#/definitions/A"}},
        "definitions": {"A": {"type": "integer"}},
    }
    before = copy.deepcopy(schema)
    assert compile_fast_check(schema) is not None
    assert schema == before


# ------------------------------------------------------------------------------------------
# What gets no fast path.
# ------------------------------------------------------------------------------------------

EXCLUDED: list[tuple[str, dict[str, Any], str]] = [
    ("prefixItems", {"prefixItems": [{"type": "integer"}]}, "'prefixItems'"),
    ("items as a list", {"items": [{"type": "integer"}]}, "'items'"),
    ("$defs", {"$defs": {"A": {}}, "$ref": "#/$defs/A"}, "'$defs'"),
    ("$defs ref", {"properties": {"a": {"$ref": "#/$defs/A"}}}, "not '#/definitions/<name>'"),
    ("dependentRequired", {"dependentRequired": {"a": ["b"]}}, "'dependentRequired'"),
    ("dependentSchemas", {"dependentSchemas": {"a": {}}}, "'dependentSchemas'"),
    ("dependencies", {"dependencies": {"a": ["b"]}}, "'dependencies'"),
    ("unevaluatedProperties", {"unevaluatedProperties": False}, "'unevaluatedProperties'"),
    ("unevaluatedItems", {"unevaluatedItems": False}, "'unevaluatedItems'"),
    ("if", {"if": {"type": "string"}, "then": {"minLength": 1}}, "'if'"),
    ("then alone", {"then": {"minLength": 1}}, "'then'"),
    ("contains", {"contains": {"type": "string"}}, "'contains'"),
    ("minContains", {"minContains": 1}, "'minContains'"),
    ("multipleOf", {"multipleOf": 0.1}, "'multipleOf'"),
    ("patternProperties", {"patternProperties": {"^a": {}}}, "'patternProperties'"),
    ("propertyNames", {"propertyNames": {"maxLength": 1}}, "'propertyNames'"),
    ("additionalItems", {"additionalItems": False}, "'additionalItems'"),
    ("contentEncoding", {"contentEncoding": "base64"}, "'contentEncoding'"),
    ("contentMediaType", {"contentMediaType": "application/json"}, "'contentMediaType'"),
    ("$dynamicRef", {"$dynamicRef": "#meta"}, "'$dynamicRef'"),
    ("$schema at the root", {"$schema": "http://json-schema.org/draft-04/schema#"}, "'$schema'"),
    ("$schema nested", {"properties": {"a": {"$schema": "x", "type": "integer"}}}, "'$schema'"),
    ("$id", {"properties": {"a": {"$id": "http://x/", "type": "integer"}}}, "'$id'"),
    ("$anchor", {"properties": {"a": {"$anchor": "x"}}}, "'$anchor'"),
    ("id as an identifier", {"properties": {"a": {"id": "http://x/"}}}, "'id'"),
    ("$id inside data", {"default": {"$id": "http://x/"}}, "'$id'"),
    ("nested definitions", {"properties": {"a": {"definitions": {}}}}, "'definitions'"),
    (
        "$ref sibling",
        {"$ref": "#/definitions/A", "type": "string", "definitions": {"A": {}}},
        "beside",
    ),
    (
        "$ref sibling minimum",
        {"allOf": [{"$ref": "#/definitions/A", "minimum": 1}], "definitions": {"A": {}}},
        "beside",
    ),
    ("remote ref", {"$ref": "http://127.0.0.1:9/schema.json"}, "not '#/definitions/<name>'"),
    ("root ref", {"properties": {"a": {"$ref": "#"}}}, "not '#/definitions/<name>'"),
    ("unresolvable ref", {"$ref": "#/definitions/Missing", "definitions": {}}, "does not resolve"),
    (
        "escaped ref",
        {"$ref": "#/definitions/A~1B", "definitions": {"A/B": {}}},
        "not '#/definitions/<name>'",
    ),
    (
        "direct cycle",
        {"$ref": "#/definitions/A", "definitions": {"A": {"$ref": "#/definitions/A"}}},
        "cycle",
    ),
    (
        "indirect cycle",
        {
            "properties": {"a": {"$ref": "#/definitions/A"}},
            "definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}},
        },
        "cycle",
    ),
    (
        "recursive model",
        {
            "$ref": "#/definitions/N",
            "definitions": {"N": {"properties": {"c": {"$ref": "#/definitions/N"}}}},
        },
        "cycle",
    ),
    (
        "function name clash",
        {
            "allOf": [{"$ref": "#/definitions/Model"}, {"$ref": "#/definitions/model_"}],
            "definitions": {"Model": {}, "model_": {}},
        },
        "share one compiled function",
    ),
    ("pattern with $", {"pattern": "^a$"}, "'$'"),
    ("pattern not Python", {"pattern": "\\p{L}"}, "not a Python regular expression"),
    ("NaN const", {"const": NAN}, "non-finite"),
    ("infinite enum", {"enum": [1, [INF]]}, "non-finite"),
    ("infinite minimum", {"minimum": -INF}, "not a finite number"),
    ("boolean minimum", {"minimum": True}, "not a finite number"),
    ("fractional count", {"minLength": 1.5}, "non-negative integer"),
    ("unknown type", {"type": "date"}, "known type names"),
    ("repeated required", {"required": ["a", "a"]}, "repeats"),
    ("empty anyOf", {"anyOf": []}, "non-empty array"),
    ("string subschema", {"properties": {"a": "integer"}}, "not an object or a boolean"),
]


@pytest.mark.parametrize(
    ("schema", "reason"), [(s, r) for _, s, r in EXCLUDED], ids=[i for i, _, _ in EXCLUDED]
)
def test_excluded_schemas_get_no_fast_path(schema: dict[str, Any], reason: str) -> None:
    obstacle = fast_path_obstacle(schema)
    assert obstacle is not None
    assert reason in obstacle
    assert compile_fast_check(schema) is None


def test_too_deep_schemas_get_no_fast_path() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(70):
        schema = {"not": {"not": schema}}
    assert "deeper than" in (fast_path_obstacle(schema) or "")
    chain = {f"D{i}": {"allOf": [{"$ref": f"#/definitions/D{i + 1}"}]} for i in range(40)}
    chain["D40"] = {}
    deep_refs = {"$ref": "#/definitions/D0", "definitions": chain}
    assert "deeper than" in (fast_path_obstacle(deep_refs) or "")


def test_an_uncompilable_schema_gets_no_fast_path() -> None:
    # fastjsonschema refuses a required property that additionalProperties forbids; a
    # `pattern` keeps jsonschema-rs out, so no compiled check is left.
    schema = {
        "required": ["a"],
        "additionalProperties": False,
        "properties": {"b": {"pattern": "x"}},
    }
    assert fast_path_obstacle(schema) is None
    assert compile_fast_check(schema) is None
    assert not reference(schema).is_valid({"a": 1})


def test_jsonschema_rs_judges_what_fastjsonschema_will_not_compile() -> None:
    schema = {"required": ["a"], "additionalProperties": False}
    fast = compile_fast_check(schema)
    assert fast is not None
    for instance in ({"a": 1}, {}, {"b": 1}, []):
        assert fast(instance) is reference(schema).is_valid(instance)


def test_schemas_with_a_pattern_take_fastjsonschema_and_others_jsonschema_rs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rust's regular expressions differ from Python's; only fastjsonschema runs ``re``."""
    built: list[Any] = []
    real = fast_schema_module.jsonschema_rs.Draft202012Validator

    def recording(schema: Any, **options: Any) -> Any:
        built.append(schema)
        return real(schema, **options)

    monkeypatch.setattr(fast_schema_module.jsonschema_rs, "Draft202012Validator", recording)
    plain = compile_fast_check({"properties": {"a": {"type": "string"}}})
    assert plain is not None
    assert len(built) == 1
    patterned = compile_fast_check({"properties": {"a": {"type": "string", "pattern": "^x"}}})
    assert patterned is not None
    assert len(built) == 1  # not built by jsonschema-rs
    assert patterned({"a": "xy"}) is True
    assert patterned({"a": "yx"}) is False


def test_annotations_and_unknown_keywords_keep_the_fast_path() -> None:
    schema = {
        "title": "Parameters",
        "description": "d",
        "position": 0,
        "block_type_slug": "s3",
        "secret_fields": ["x"],
        "examples": [{"id": "http://x/"}],
        "default": {"id": "http://x/", "$ref": "http://x/"},
        "deprecated": True,
        "readOnly": False,
        "$comment": "c",
        "x-anything": {"type": "string"},
        "type": "object",
        "properties": {"id": {"type": "string", "format": "uuid"}},
    }
    assert fast_path_obstacle(schema) is None
    fast = compile_fast_check(schema)
    assert fast is not None
    assert fast({"id": "x"}) is True
    assert fast({"id": 1}) is False


def test_every_keyword_either_library_knows_is_classified() -> None:
    generator = fastjsonschema.draft07.CodeGeneratorDraft07({})
    fast_keywords = set(generator._json_keywords_to_function) | {"$ref", "definitions", "id"}
    reference_keywords = set(Draft202012Validator.VALIDATORS)
    known = SUPPORTED_KEYWORDS | UNSUPPORTED_KEYWORDS | {"id"}
    assert fast_keywords | reference_keywords <= known
    assert not SUPPORTED_KEYWORDS & UNSUPPORTED_KEYWORDS


# ------------------------------------------------------------------------------------------
# Integration with schema.py: valid parameters skip jsonschema, errors still come from it.
# ------------------------------------------------------------------------------------------

SCHEMA: dict[str, Any] = {
    "title": "Parameters",
    "type": "object",
    "properties": {
        "name": {"title": "name", "position": 0, "type": "string"},
        "n": {"title": "n", "position": 1, "type": "integer", "minimum": 0},
        "color": {"title": "color", "position": 2, "enum": ["red", "green"], "type": "string"},
        "tags": {
            "title": "tags",
            "position": 3,
            "type": "array",
            "items": {"type": "string"},
            "default": [],
        },
        "cfg": {"title": "cfg", "position": 4, "allOf": [{"$ref": "#/definitions/Cfg"}]},
    },
    "required": ["name", "n"],
    "definitions": {
        "Cfg": {
            "title": "Cfg",
            "type": "object",
            "properties": {"depth": {"title": "Depth", "type": "integer"}},
            "required": ["depth"],
        }
    },
}


def test_valid_parameters_never_reach_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    schema_module._CACHE.clear()

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the reference path ran")

    validate_parameters({"name": "x", "n": 0}, SCHEMA)  # build and cache outside the patch
    monkeypatch.setattr(schema_module, "_run", boom)
    validate_parameters({"name": "x", "n": 1.0, "cfg": {"depth": 2}, "tags": ["a"]}, SCHEMA)
    assert validation_report({"name": "y", "n": 3, "color": "red"}, SCHEMA) == ()
    with pytest.raises(AssertionError, match="the reference path ran"):
        validate_parameters({"name": "x", "n": True}, SCHEMA)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"name": "x", "n": -1},
            "Validation failed for field 'n'. Failure reason: -1 is less than the minimum of 0",
        ),
        (
            {"name": "x", "n": True},
            "Validation failed for field 'n'. Failure reason: True is not of type 'integer'",
        ),
        (
            {"name": "x", "n": 1, "cfg": {}},
            "Validation failed for field 'cfg'. Failure reason: 'depth' is a required property",
        ),
        ({"n": 1}, "Validation failed. Failure reason: 'name' is a required property"),
    ],
)
def test_rejections_still_carry_prefects_message(parameters: Any, message: str) -> None:
    schema_module._CACHE.clear()
    with pytest.raises(ParameterValidationFailed) as info:
        validate_parameters(parameters, SCHEMA)
    assert info.value.message == message


def test_the_cached_schema_carries_a_fast_check() -> None:
    schema_module._CACHE.clear()
    validate_parameters({"name": "x", "n": 0}, SCHEMA)
    compiled = [v for v in schema_module._CACHE._data.values() if v.validator is not None]
    assert len(compiled) == 1
    assert compiled[0].fast_check is not None


class PanicException(BaseException):
    """Stands in for pyo3's ``PanicException``: what a panic inside Rust raises."""


class _PanickingValidator:
    def __init__(self, schema: Any, **options: Any) -> None:
        self.is_valid = self._panic

    @staticmethod
    def _panic(instance: Any) -> bool:
        raise PanicException("a panic inside jsonschema-rs")


def test_a_rust_panic_leaves_the_instance_to_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        fast_schema_module.jsonschema_rs, "Draft202012Validator", _PanickingValidator
    )
    fast = compile_fast_check({"type": "object"})
    assert fast is not None
    assert fast({}) is False


def test_a_rust_panic_while_compiling_falls_back_to_fastjsonschema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def panic(*args: Any, **kwargs: Any) -> None:
        raise PanicException("a panic inside jsonschema-rs")

    monkeypatch.setattr(fast_schema_module.jsonschema_rs, "Draft202012Validator", panic)
    fast = compile_fast_check({"type": "object"})
    assert fast is not None  # fastjsonschema's
    assert fast({}) is True
    assert fast([]) is False


def test_other_base_exceptions_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupting:
        def __init__(self, schema: Any, **options: Any) -> None:
            self.is_valid = self._interrupt

        @staticmethod
        def _interrupt(instance: Any) -> bool:
            raise KeyboardInterrupt

    monkeypatch.setattr(fast_schema_module.jsonschema_rs, "Draft202012Validator", Interrupting)
    fast = compile_fast_check({"type": "object"})
    assert fast is not None
    with pytest.raises(KeyboardInterrupt):
        fast({})
