"""No garbage collection runs near the recursion limit while a request is answered.

A collection triggered at the bottom of a stack that is already at the limit runs the
finalizers of unrelated garbage there; they fail for want of stack and are reported to
``sys.unraisablehook`` (under pytest, as errors of whichever test is running). So the
recursive fast paths stop well short of the limit and hand deep trees to iterative walks,
and a recursion that runs into the limit on purpose (a Jinja macro calling itself, as in
Prefect) does so with the collector paused.

Each case runs with the collector made to collect on every allocation, and records the
stack depth of every collection that starts.
"""

from __future__ import annotations

import gc
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flowrun_adapters.memory import InMemoryRepository

from flowrun_core.errors import InvalidEntity
from flowrun_core.json_types import JSON, copy_json
from flowrun_core.models import Variable
from flowrun_core.rules.creation import check_enforced_parameters
from flowrun_core.rules.schema_preprocess import plain_copy
from flowrun_core.rules.stack_depth import frames_below
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import handle_create_flow_run
from flowrun_core.wire.response import finite_json

HEADROOM = 200
"""Frames that must stay free under every collection: plenty for any finalizer."""


class Watch:
    def __init__(self) -> None:
        self.depths: list[int] = []
        self.unraisable: list[str] = []

    def deepest(self) -> int:
        return max(self.depths, default=0)


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watch]:
    seen = Watch()

    def on_collection(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            seen.depths.append(frames_below())

    def on_unraisable(args: Any) -> None:
        seen.unraisable.append(f"{args.exc_type.__name__} in {type(args.object).__name__}")

    gc.collect()
    monkeypatch.setattr(sys, "unraisablehook", on_unraisable)
    thresholds = gc.get_threshold()
    gc.callbacks.append(on_collection)
    gc.set_threshold(1, 1, 1)
    try:
        yield seen
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(on_collection)


def assert_collections_kept_clear_of_the_limit(seen: Watch) -> None:
    assert seen.unraisable == []
    assert seen.depths, "the collector never ran: the watch is broken"
    assert seen.deepest() <= sys.getrecursionlimit() - HEADROOM


def nested(levels: int) -> JSON:
    value: JSON = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("copy", [copy_json, plain_copy, finite_json])
def test_deep_trees_are_copied_without_nearing_the_limit(
    watch: Watch, copy: Callable[[JSON], JSON]
) -> None:
    deep = nested(3 * sys.getrecursionlimit())
    copied = copy(deep)
    assert_collections_kept_clear_of_the_limit(watch)
    for _ in range(3 * sys.getrecursionlimit()):  # == would recurse
        assert isinstance(copied, list)
        assert isinstance(deep, list)
        assert copied is not deep
        assert len(copied) == 1
        copied, deep = copied[0], deep[0]
    assert copied == deep == 1


@pytest.fixture
def post() -> Callable[[dict[str, JSON]], dict[str, Any]]:
    repo = InMemoryRepository()
    seeder = Seeder(repo)
    deployment = seeder.deployment(seeder.flow("deep"), "d")
    # Deeper than Prefect's variable route accepts, so written past the Seeder.
    value = nested(600)
    repo.add_variable(Variable(id=uuid.uuid4(), name="deep", value=value, tags=()))
    service = FlowRunService(repo)

    def send(body: dict[str, JSON]) -> dict[str, Any]:
        response = handle_create_flow_run(service, str(deployment.id), json.dumps(body).encode())
        assert isinstance(response.json, dict)
        return {"status": response.status, **response.json}

    return send


def test_a_deep_stored_variable_is_hydrated_without_nearing_the_limit(
    watch: Watch, post: Callable[[dict[str, JSON]], dict[str, Any]]
) -> None:
    placeholder = {"__prefect_kind": "workspace_variable", "variable_name": "deep"}
    answer = post({"parameters": {"v": placeholder}})
    assert_collections_kept_clear_of_the_limit(watch)
    assert answer == {
        "status": 400,
        "detail": "Error hydrating flow run parameters: "
        "The hydrated parameters are nested too deeply.",
    }


def test_a_macro_recursing_to_the_limit_renders_with_the_collector_paused(
    watch: Watch, post: Callable[[dict[str, JSON]], dict[str, Any]]
) -> None:
    template = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    answer = post({"parameters": {"v": {"__prefect_kind": "jinja", "template": template}}})
    assert_collections_kept_clear_of_the_limit(watch)
    assert answer["status"] == 400
    assert "RecursionError('maximum recursion depth exceeded')" in answer["detail"]
    assert gc.isenabled()


def test_a_self_referencing_schema_is_refused_with_the_collector_paused(watch: Watch) -> None:
    with pytest.raises(InvalidEntity, match="references never end"):
        check_enforced_parameters({"a": 1}, {"$ref": "#"})
    assert_collections_kept_clear_of_the_limit(watch)
    assert gc.isenabled()
