"""Hypothesis strategies for flowrun-core's inputs.

Each strategy states what it guarantees in its docstring. They generate values, never
touch storage, and are deterministic under hypothesis's own seeding.
"""

from __future__ import annotations

import json
import string
from typing import Any

from attrs import frozen as attrs_frozen
from hypothesis import strategies as st

from flowrun_core.models import StateCreate, StateType

__all__ = [
    "ParameterSpec",
    "flow_run_create_bodies",
    "flow_run_creates",
    "hostile_text",
    "idempotency_keys",
    "invalid_flow_run_creates",
    "invalid_parameters",
    "json_objects",
    "json_scalars",
    "json_values",
    "label_values",
    "parameter_schemas",
    "parameter_specs",
    "schema_for",
    "states",
    "valid_parameters",
    "work_pool_templates",
]

_HOSTILE = [
    "",
    " ",
    "'; DROP TABLE flow_runs; --",
    '" OR 1=1 --',
    "%_\\",
    "\x00",
    "a\x00b",
    "\u2028",
    "\U0001f600",
    "\U0001f9ea\U0001f525",
    "\ud7ff\ue000",
    "null",
    "{{ 1 + 1 }}",
]


def hostile_text(max_size: int = 20) -> st.SearchStrategy[str]:
    """Strings that break naive storage: SQL metacharacters, NUL, non-BMP emoji, and any text.

    Guarantees: valid Python ``str`` values (no lone surrogates, so they encode as UTF-8).
    """
    return st.sampled_from(_HOSTILE) | st.text(
        alphabet=st.characters(exclude_categories=["Cs"]), max_size=max_size
    )


def json_scalars(*, allow_nan: bool = False) -> st.SearchStrategy[Any]:
    """``None``, booleans, integers (64-bit and beyond), floats and strings.

    Guarantees: every value survives ``json.dumps``/``json.loads`` with its type; no NaN or
    infinity unless ``allow_nan``.
    """
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=allow_nan, allow_infinity=allow_nan)
        | hostile_text()
    )


def json_values(*, allow_nan: bool = False, max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON tree of lists and string-keyed objects over :func:`json_scalars`."""
    return st.recursive(
        json_scalars(allow_nan=allow_nan),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(hostile_text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def json_objects(*, allow_nan: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object (``dict[str, JSON]``) of up to five keys."""
    return st.dictionaries(hostile_text(max_size=8), json_values(allow_nan=allow_nan), max_size=5)


def label_values() -> st.SearchStrategy[bool | int | float | str]:
    """A label value Prefect accepts: a strict bool, an int, a finite float or a string."""
    return (
        st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | hostile_text()
    )


def idempotency_keys() -> st.SearchStrategy[str | None]:
    """``None``, ``""`` or a short key drawn from a small alphabet so that keys repeat."""
    return (
        st.none()
        | st.just("")
        | st.text(alphabet=string.ascii_lowercase[:3], min_size=1, max_size=2)
    )


# -- parameter schemas of the kinds Prefect generates ---------------------------------------
#
# hypothesis-jsonschema would be the library for instances of a schema, but 0.23.1 fails
# against current hypothesis ("'many' object has no attribute 'more'"). So schemas are
# generated from small parameter specs, and instances from the same specs, which also lets
# us generate *invalid* instances with a known reason.

_SCALARS: dict[str, tuple[dict[str, Any], st.SearchStrategy[Any]]] = {
    "integer": ({"type": "integer"}, st.integers(min_value=-(10**6), max_value=10**6)),
    "number": ({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False, width=32)),
    "string": ({"type": "string"}, st.text(max_size=8)),
    "boolean": ({"type": "boolean"}, st.booleans()),
}
_WRONG: dict[str, Any] = {"integer": "x", "number": "x", "string": 1, "boolean": "x"}


@attrs_frozen(kw_only=True)
class ParameterSpec:
    """One parameter of a generated flow signature.

    ``kind`` is ``integer``, ``number``, ``string``, ``boolean``, ``enum``, ``array``,
    ``optional`` (``Optional[int]`` as Prefect writes it: ``anyOf`` with null, default
    ``None``), ``model`` (a nested object reached through ``definitions`` and ``$ref``) or
    ``union`` (``int | str``).
    """

    name: str
    kind: str
    required: bool
    choices: tuple[str, ...] = ()


def _property_schema(spec: ParameterSpec, position: int) -> dict[str, Any]:
    base: dict[str, Any] = {"title": spec.name.title(), "position": position}
    if spec.kind in _SCALARS:
        base.update(_SCALARS[spec.kind][0])
    elif spec.kind == "enum":
        base.update({"enum": list(spec.choices), "type": "string"})
    elif spec.kind == "array":
        base.update({"type": "array", "items": {"type": "integer"}})
    elif spec.kind == "optional":
        base.update({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None})
    elif spec.kind == "model":
        base.update({"allOf": [{"$ref": "#/definitions/Model"}]})
    else:  # union
        base.update({"anyOf": [{"type": "integer"}, {"type": "string"}]})
    return base


_MODEL = {
    "title": "Model",
    "type": "object",
    "properties": {
        "depth": {"title": "Depth", "type": "integer"},
        "label": {"title": "Label", "type": "string", "default": "x"},
    },
    "required": ["depth"],
}


def _value_for(spec: ParameterSpec) -> st.SearchStrategy[Any]:
    if spec.kind in _SCALARS:
        return _SCALARS[spec.kind][1]
    if spec.kind == "enum":
        return st.sampled_from(spec.choices)
    if spec.kind == "array":
        return st.lists(st.integers(min_value=-100, max_value=100), max_size=3)
    if spec.kind == "optional":
        return st.none() | st.integers(min_value=-100, max_value=100)
    if spec.kind == "model":
        return st.fixed_dictionaries(
            {"depth": st.integers(min_value=0, max_value=9)},
            optional={"label": st.text(max_size=4)},
        )
    return st.integers(min_value=-100, max_value=100) | st.text(max_size=4)


def _wrong_value_for(spec: ParameterSpec) -> Any:
    if spec.kind in _WRONG:
        return _WRONG[spec.kind]
    if spec.kind == "enum":
        return "not-a-choice"
    if spec.kind == "array":
        return ["not-an-integer"]
    if spec.kind == "optional":
        return "not-an-integer"
    if spec.kind == "model":
        return {"label": "missing depth"}
    return [1.5]


_NAMES = st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True)


@st.composite
def parameter_specs(draw: st.DrawFn, *, max_parameters: int = 5) -> tuple[ParameterSpec, ...]:
    """A flow signature: up to ``max_parameters`` uniquely named, typed parameters."""
    names = draw(st.lists(_NAMES, min_size=1, max_size=max_parameters, unique=True))
    specs = []
    for name in names:
        kind = draw(st.sampled_from([*_SCALARS, "enum", "array", "optional", "model", "union"]))
        choices: tuple[str, ...] = ()
        if kind == "enum":
            choices = tuple(
                draw(st.lists(st.sampled_from(["red", "green", "blue"]), min_size=1, unique=True))
            )
        required = kind != "optional" and draw(st.booleans())
        specs.append(ParameterSpec(name=name, kind=kind, required=required, choices=choices))
    return tuple(specs)


def schema_for(specs: tuple[ParameterSpec, ...]) -> dict[str, Any]:
    """The parameter schema Prefect generates for ``specs`` (``definitions``, not ``$defs``)."""
    schema: dict[str, Any] = {
        "title": "Parameters",
        "type": "object",
        "properties": {s.name: _property_schema(s, i) for i, s in enumerate(specs)},
        "required": [s.name for s in specs if s.required],
    }
    if any(s.kind == "model" for s in specs):
        schema["definitions"] = {"Model": _MODEL}
    return schema


@st.composite
def valid_parameters(
    draw: st.DrawFn, specs: tuple[ParameterSpec, ...], *, include_optional: bool = True
) -> dict[str, Any]:
    """Parameters that satisfy ``schema_for(specs)``: every required one, some optional ones."""
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.required or (include_optional and draw(st.booleans())):
            values[spec.name] = draw(_value_for(spec))
    return values


@st.composite
def parameter_schemas(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(schema, parameters)``: a Prefect-style schema and parameters valid against it.

    Guarantees: the schema is valid Draft 2020-12; the parameters satisfy it after Prefect's
    preprocessing; every required parameter is present.
    """
    specs = draw(parameter_specs())
    return schema_for(specs), draw(valid_parameters(specs))


@st.composite
def invalid_parameters(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(schema, parameters)`` where the parameters violate the schema.

    Guarantees: exactly one parameter is wrong (a wrong type, a missing required one, a bad
    enum choice, ...), so enforcement rejects them with a 409.
    """
    specs = draw(parameter_specs())
    values = draw(valid_parameters(specs))
    target = draw(st.sampled_from(specs))
    required = [s for s in specs if s.required]
    drop_one = draw(st.booleans())
    if required and drop_one:
        values.pop(draw(st.sampled_from(required)).name, None)
    else:
        values[target.name] = _wrong_value_for(target)
    return schema_for(specs), values


# -- requests --------------------------------------------------------------------------------


def states() -> st.SearchStrategy[StateCreate]:
    """A caller-supplied initial state: any of the nine types, with or without a name."""
    return st.builds(
        StateCreate,
        type=st.sampled_from(list(StateType)),
        name=st.none() | st.text(max_size=8),
        message=st.none() | st.text(max_size=8),
    )


_REQUEST_FIELDS = {
    "name": st.text(min_size=1, max_size=12),
    "tags": st.lists(st.text(max_size=6), max_size=3),
    "idempotency_key": st.text(alphabet="abc", min_size=1, max_size=3),
    "labels": st.dictionaries(st.text(max_size=5), label_values(), max_size=3),
    "context": json_objects(),
    "enforce_parameter_schema": st.booleans(),
}


@st.composite
def flow_run_create_bodies(
    draw: st.DrawFn, parameters: st.SearchStrategy[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A valid ``DeploymentFlowRunCreate`` JSON body (as a ``dict``).

    Guarantees: the wire decoder accepts it. Each field is present or not at random; the
    ``state`` is one of the nine types with a JSON-friendly shape.
    """
    body: dict[str, Any] = {}
    for key, strategy in _REQUEST_FIELDS.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    if parameters is not None:
        body["parameters"] = draw(parameters)
    if draw(st.booleans()):
        body["state"] = {"type": draw(st.sampled_from([t.value for t in StateType]))}
    return body


def flow_run_creates(
    parameters: st.SearchStrategy[dict[str, Any]] | None = None,
) -> st.SearchStrategy[bytes]:
    """A valid body as the raw JSON bytes a client sends."""
    return flow_run_create_bodies(parameters).map(lambda body: json.dumps(body).encode())


_INVALID_BODIES: list[tuple[Any, str]] = [
    ({"tags": [1]}, "string_type"),
    ({"tags": None}, "list_type"),
    ({"parameters": None}, "dict_type"),
    ({"context": []}, "dict_type"),
    ({"unknown": 1}, "extra_forbidden"),
    ({"state": {"type": "NOPE"}}, "enum"),
    ({"state": {}}, "missing"),
    ({"state": {"type": "RUNNING", "id": 1}}, "extra_forbidden"),
    ({"labels": {"k": None}}, "bool_type"),
    ({"idempotency_key": 7}, "string_type"),
    ({"name": 1}, "string_type"),
    ({"infrastructure_document_id": "nope"}, "uuid_parsing"),
    ({"enforce_parameter_schema": "maybe"}, "bool_parsing"),
    ([], "model_attributes_type"),
]


@st.composite
def invalid_flow_run_creates(draw: st.DrawFn) -> tuple[bytes, int, str]:
    """``(body bytes, status, first error type)`` of a body Prefect rejects with a 422.

    Guarantees: the decoder rejects it; the first ``exception_detail`` item has ``type``.
    """
    body, kind = draw(st.sampled_from(_INVALID_BODIES))
    if isinstance(body, dict) and draw(st.booleans()):
        body = {**draw(flow_run_create_bodies()), **body}
    return json.dumps(body).encode(), 422, kind


def work_pool_templates() -> st.SearchStrategy[dict[str, Any]]:
    """A ``base_job_template`` with a ``variables`` schema of optional, defaulted variables.

    Guarantees: any subset of its variables with values of the declared types validates.
    """
    return st.builds(
        lambda image, cpu: {
            "job_configuration": {"image": "{{ image }}", "cpu": "{{ cpu }}"},
            "variables": {
                "type": "object",
                "properties": {
                    "image": {"type": "string", "default": image},
                    "cpu": {"type": "integer", "default": cpu},
                },
            },
        },
        st.text(min_size=1, max_size=8),
        st.integers(min_value=1, max_value=64),
    )
