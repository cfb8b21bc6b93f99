"""The in-memory adapter passes the shipped storage contract."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import attrs
import pytest
from flowrun_adapters.memory import _PLAIN_FIELDS, InMemoryRepository

from flowrun_core.testing import RepositoryContract
from flowrun_core.testing.contract import make_run, seed_world


class TestInMemoryRepository(RepositoryContract[InMemoryRepository]):
    def make_repository(self) -> closing[InMemoryRepository]:
        return closing(InMemoryRepository())

    def raw_flow_run_count(self, repo: InMemoryRepository) -> int:
        return len(repo._runs)


# -- runs whose JSON ``marshal`` refuses are kept as deep copies ---------------------------


class _Params(dict[str, Any]):
    """A dict subclass: ``marshal`` refuses it."""


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"n": [value]}
    return value


def _levels(value: Any) -> int:
    """How many ``{"n": [...]}`` levels ``value`` holds (``==`` would recurse too deep)."""
    levels = 0
    while value != {}:
        value = value["n"][0]
        levels += 1
    return levels


MARSHAL_NESTING_LIMIT = 2000
_STATE_INDEX = _PLAIN_FIELDS.index("state")


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param(_Params(x=[1], y={"z": 2}), id="dict-subclass"),
        pytest.param(
            {"x": [1], "deep": _deep(MARSHAL_NESTING_LIMIT // 2 + 1)},
            id="past-marshal-nesting-limit",
        ),
        pytest.param({"x": [1], "tuple": (1, 2)}, id="tuple"),
    ],
)
def test_runs_marshal_refuses_round_trip_and_stay_unshared(parameters: dict[str, Any]) -> None:
    repo = InMemoryRepository()
    world = seed_world(repo)
    run = make_run(world.flow.id, parameters=parameters)
    repo.create_flow_run(run)
    parameters["x"].append(2)  # the caller's value changes after the insert
    first = repo.get_flow_run(run.id)
    assert first is not None
    assert first.parameters["x"] == [1]
    first.parameters["x"].append(3)  # and a reader's copy changes
    second = repo.get_flow_run(run.id)
    assert second is not None
    assert second.parameters["x"] == [1]
    assert second.parameters.keys() == parameters.keys()
    if "deep" in parameters:
        assert _levels(second.parameters["deep"]) == _levels(parameters["deep"])
    else:
        assert {k: v for k, v in second.parameters.items() if k != "x"} == {
            k: v for k, v in parameters.items() if k != "x"
        }
    assert second.context == run.context
    assert second.labels == run.labels


# -- a run's state is shared only while it holds no container ------------------------------


@pytest.mark.parametrize("where", ["data", "run_input_keyset"])
def test_a_state_holding_a_container_is_copied_on_insert(where: str) -> None:
    repo = InMemoryRepository()
    world = seed_world(repo)
    run = make_run(world.flow.id)
    assert run.state is not None
    box: list[Any] = [1]
    if where == "data":
        state = attrs.evolve(run.state, data=box)
    else:
        details = attrs.evolve(run.state.state_details, run_input_keyset={"k": box})
        state = attrs.evolve(run.state, state_details=details)
    run = attrs.evolve(run, state=state)
    repo.create_flow_run(run)
    box.append(2)  # the caller's container changes after the insert
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    assert stored.state is not None
    found = (
        stored.state.data if where == "data" else stored.state.state_details.run_input_keyset["k"]  # type: ignore[index]
    )
    assert found == [1]


def test_a_state_without_containers_is_kept_as_given() -> None:
    repo = InMemoryRepository()
    world = seed_world(repo)
    run = make_run(world.flow.id)
    repo.create_flow_run(run)
    assert repo._runs[run.id][_STATE_INDEX] is run.state


def test_a_state_without_details_is_stored_and_read_back() -> None:
    """Not a valid model value, but the store must not crash on it (nothing to copy)."""
    repo = InMemoryRepository()
    world = seed_world(repo)
    run = make_run(world.flow.id)
    assert run.state is not None
    run = attrs.evolve(run, state=attrs.evolve(run.state, state_details=None))
    repo.create_flow_run(run)
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    assert stored.state is not None
    assert stored.state.state_details is None
