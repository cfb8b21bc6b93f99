"""Canonical fingerprints and JSON-Pointer diffs (strict idempotency's pure part)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core import DeploymentFlowRunCreate, StateCreate, StateDetails, StateType
from flowrun_core.rules.idempotency import (
    _extended,
    _plain,
    canonical_json,
    effective_request,
    fingerprint,
    json_pointer,
    pointer_diff,
)
from flowrun_core.testing.strategies import json_values

SAFE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs"])), children, max_size=4
        )
    ),
    max_leaves=20,
)


def test_canonical_json_sorts_keys_and_formats_numbers_as_rfc8785() -> None:
    assert (
        canonical_json({"b": 1, "a": [1.5, 1e21, 1e-7, "é"]}) == '{"a":[1.5,1e+21,1e-7,"é"],"b":1}'
    )
    assert canonical_json(1.0) == canonical_json(1) == "1"
    assert canonical_json(True) == "true"


def test_extensions_for_values_jcs_cannot_hold() -> None:
    assert canonical_json({"n": 2**60}) == '{"n":1152921504606846976}'
    assert canonical_json({"n": 2**60 + 1}) != canonical_json({"n": 2**60})
    assert canonical_json([math.nan, math.inf, -math.inf]) == "[NaN,Infinity,-Infinity]"
    text = canonical_json({"s": "\ud800"})
    text.encode("utf-8")  # never a lone surrogate in the stored text
    assert text != canonical_json({"s": "\\ud800"})


@given(SAFE)
def test_the_fallback_agrees_with_rfc8785_wherever_jcs_applies(value) -> None:
    assert _extended(value) == rfc8785.dumps(value).decode("utf-8")


@given(json_values())
def test_canonical_json_is_stable_and_parses_back(value) -> None:
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


def test_json_pointer_escapes_rfc6901() -> None:
    assert json_pointer(("parameters", "a/b", "c~d", 0)) == "/parameters/a~1b/c~0d/0"
    assert json_pointer(()) == ""


def test_pointer_diff_names_every_differing_leaf() -> None:
    before = {"parameters": {"x": 1, "y": [1, 2], "z": {"k": 1}}, "tags": ["a"], "name": None}
    after = {"parameters": {"x": 1.0, "y": [1, 3], "w": 1}, "tags": ["a", "b"], "name": None}
    assert pointer_diff(before, after) == (
        "/parameters/w",
        "/parameters/y/1",
        "/parameters/z",
        "/tags",
    )
    assert pointer_diff({"b": True}, {"b": 1}) == ("/b",)
    assert pointer_diff(before, before) == ()


@given(json_values(), json_values())
def test_pointer_diff_is_empty_exactly_when_canonical_forms_agree(a, b) -> None:
    assert (pointer_diff(a, b) == ()) == (canonical_json(a) == canonical_json(b))


def test_effective_request_normalises_what_makes_no_difference() -> None:
    base = fingerprint(DeploymentFlowRunCreate())
    assert fingerprint(DeploymentFlowRunCreate(parameters={}, labels={}, tags=())) == base
    assert fingerprint(DeploymentFlowRunCreate(idempotency_key="k")) == base
    assert fingerprint(DeploymentFlowRunCreate(tags=("b", "a", "a"))) == fingerprint(
        DeploymentFlowRunCreate(tags=("a", "b"))
    )
    assert fingerprint(DeploymentFlowRunCreate(job_variables=None)) != base
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    state = StateCreate(type=StateType.SCHEDULED, state_details=StateDetails(scheduled_time=moment))
    shifted = StateCreate(
        type=StateType.SCHEDULED,
        state_details=StateDetails(scheduled_time=moment.astimezone(timezone(timedelta(hours=2)))),
    )
    assert fingerprint(DeploymentFlowRunCreate(state=state)) == fingerprint(
        DeploymentFlowRunCreate(state=shifted)
    )
    document = effective_request(DeploymentFlowRunCreate(state=state))
    assert "idempotency_key" not in document
    assert document["state"]["state_details"]["scheduled_time"] == "2030-01-01T00:00:00+00:00"


def test_fingerprint_digest_is_sha256_of_the_canonical_text() -> None:
    found = fingerprint(DeploymentFlowRunCreate(parameters={"x": 1}))
    assert len(found.digest) == 64
    assert found.document == json.loads(found.canonical)


@pytest.mark.parametrize("bad", [object(), b"bytes"])
def test_unknown_values_cannot_be_fingerprinted(bad) -> None:
    with pytest.raises(TypeError):
        _plain(bad)
