"""Seeder.deployment as Prefect's ``POST /deployments/``: create, or update in place.

The recorded scenarios ``setup_b16_deployment_upsert_*`` (tests/compat/extra) pin the same
behaviour against Prefect 3.9.1 itself.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from flowrun_adapters import open_repository
from flowrun_adapters.memory import InMemoryRepository

from flowrun_core import Deployment, DeploymentFlowRunCreate, FlowRunService, Seeder
from flowrun_core.errors import InvalidEntity, WorkPoolNotFound
from flowrun_core.ports import Repository
from flowrun_core.seeding import DeploymentFields


@pytest.fixture(params=["memory", "sqlite"])
def repo(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    url = "memory:" if request.param == "memory" else f"sqlite:///{tmp_path}/seed.db"
    repository = open_repository(url)
    yield repository
    repository.close()


FULL: DeploymentFields = {
    "version": "1.0",
    "description": "one",
    "tags": ["a", "b"],
    "labels": {"own": "x"},
    "parameters": {"x": 1},
    "parameter_openapi_schema": {"type": "object", "properties": {"x": {"type": "integer"}}},
    "enforce_parameter_schema": False,
    "job_variables": {"k": 1},
    "paused": True,
    "work_pool_name": "p",
    "work_queue_name": "q1",
}


def first_and_second(repo: Repository, **second: Any) -> tuple[Seeder, Deployment, Deployment]:
    seed = Seeder(repo)
    flow = seed.flow("f", labels={"fl": "1"})
    seed.work_pool("p", work_queues=["q1", "q2"])
    document = seed.infrastructure_document("doc")
    first = seed.deployment(flow, "dep", **FULL, infrastructure_document_id=document.id)
    return seed, first, seed.deployment(flow, "dep", **second)


def test_the_second_keeps_the_id_and_every_field_it_does_not_send(repo: Repository) -> None:
    _, first, second = first_and_second(repo, version="2.0")
    # Prefect writes parameters and labels on every call: {} and the recomputed labels.
    assert second == attrs.evolve(
        first,
        version="2.0",
        parameters={},
        labels={"fl": "1", "prefect.flow.id": str(first.flow_id)},
    )
    assert repo.list_deployments(flow_id=first.flow_id) == [second]
    assert repo.get_deployment(first.id) == second


@pytest.mark.parametrize(
    ("given", "changes"),
    [
        ({"tags": []}, {"tags": ()}),
        ({"labels": {"b": "2"}}, {}),
        ({"parameters": {"z": 3}}, {"parameters": {"z": 3}}),
        (
            {"parameter_openapi_schema": {}},
            {"parameter_openapi_schema": {"type": "object", "properties": {}}},
        ),
        ({"has_parameter_schema": False}, {"parameter_openapi_schema": None}),
        ({"enforce_parameter_schema": True}, {"enforce_parameter_schema": True}),
        ({"job_variables": {}}, {"job_variables": {}}),
        ({"paused": False}, {"paused": False}),
        ({"infrastructure_document_id": None}, {"infrastructure_document_id": None}),
        ({"work_pool_name": "p"}, {"work_queue_name": "default"}),
        ({"work_queue_name": "q2"}, {"work_queue_name": "q2"}),
        ({"work_pool_name": "p", "work_queue_name": "q2"}, {"work_queue_name": "q2"}),
    ],
)
def test_each_field_sent_replaces_the_stored_one(
    repo: Repository, given: dict[str, Any], changes: dict[str, Any]
) -> None:
    _, first, second = first_and_second(repo, **given)
    own = given.get("labels", {})
    always = {"parameters": {}, "labels": {"fl": "1", "prefect.flow.id": str(first.flow_id), **own}}
    expected = attrs.evolve(first, **{**always, **changes})
    if "work_queue_name" in changes:
        queue = repo.get_work_queue(second.work_queue_id)  # type: ignore[arg-type]
        assert queue is not None
        assert (queue.name, second.work_pool_name) == (changes["work_queue_name"], "p")
        expected = attrs.evolve(expected, work_queue_id=second.work_queue_id)
    assert second == expected
    assert repo.get_deployment(first.id) == second


def test_runs_are_created_from_the_updated_deployment(repo: Repository) -> None:
    _, first, second = first_and_second(repo, parameters={"z": 3}, tags=["t"])
    run = FlowRunService(repo).create_flow_run_from_deployment(first.id, DeploymentFlowRunCreate())
    assert run.value.parameters == {"z": 3}
    assert run.value.tags == ("t",)
    assert run.value.deployment_id == second.id == first.id


def test_a_deployment_of_another_flow_with_the_same_name_is_new(repo: Repository) -> None:
    seed = Seeder(repo)
    first = seed.deployment(seed.flow("f"), "dep", version="1.0")
    other = seed.deployment(seed.flow("g"), "dep")
    assert other.id != first.id
    assert (other.version, repo.get_deployment(first.id)) == (None, first)


class _NoUpdates:
    """The in-memory adapter seen through a wrapper without DeploymentUpdates."""

    def __init__(self) -> None:
        self._inner = InMemoryRepository()

    def __getattr__(self, name: str) -> Any:
        if name == "replace_deployment":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_without_the_capability_a_second_deployment_is_refused() -> None:
    repo = _NoUpdates()
    seed = Seeder(repo)  # type: ignore[arg-type]
    flow = seed.flow("f")
    first = seed.deployment(flow, "dep")
    with pytest.raises(TypeError, match="DeploymentUpdates"):
        seed.deployment(flow, "dep", version="2.0")
    assert repo.list_deployments() == [first]
    seed.deployment(flow, "other")  # a new name needs no update
    assert [d.name for d in repo.list_deployments()] == ["dep", "other"]


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize("field", ["parameters", "job_variables"])
def test_deployment_defaults_past_256_levels_are_refused(repo: Repository, field: str) -> None:
    """Prefect 3.9.1 answers POST /deployments/ with such a field 500 (observed: 256 levels
    201, 257 levels 500); before, the Seeder stored it and runs were made from it."""
    seed = Seeder(repo)
    flow = seed.flow("f")
    at_limit = seed.deployment(flow, "ok", **{field: {"x": _nested(255)}})  # type: ignore[misc]
    assert getattr(at_limit, field) == {"x": _nested(255)}
    with pytest.raises(InvalidEntity) as caught:
        seed.deployment(flow, "deep", **{field: {"x": _nested(256)}})  # type: ignore[misc]
    assert caught.value.message == f"deployment {field} nest more than 256 levels deep"
    assert caught.value.entity == "deployment"
    # An update is checked as a creation is, and changes nothing when refused.
    with pytest.raises(InvalidEntity):
        seed.deployment(flow, "ok", **{field: {"x": _nested(256)}})  # type: ignore[misc]
    assert [(d.name, getattr(d, field)) for d in repo.list_deployments()] == [
        ("ok", {"x": _nested(255)})
    ]
    # Checked last, as Prefect fails only after its other checks: an unknown pool first.
    with pytest.raises(WorkPoolNotFound):
        seed.deployment(
            flow,
            "deep",
            work_pool_name="nope",
            **{field: {"x": _nested(256)}},  # type: ignore[misc]
        )
