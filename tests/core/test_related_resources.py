"""Prefect's event limit: a new run's first state-change event names at most 100 resources.

Prefect 3.9.1 answers 500 and stores nothing past the limit (recorded in
``tests/compat/extra``: ``quirk_b10_related_limit_*``); here the create is refused with
``TooManyRelatedResources`` (422 on the wire), after the rules and the insert's own
integrity checks, and an idempotent replay is never refused.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from flowrun_adapters import open_repository
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core import (
    CreatedBy,
    DeploymentFlowRunCreate,
    FlowRunService,
    Seeder,
    StorageIntegrityError,
    TooManyRelatedResources,
)
from flowrun_core.models import FlowRun
from flowrun_core.ports import Repository
from flowrun_core.rules.related_resources import MAX_RELATED_RESOURCES, related_resource_count
from flowrun_core.wire import handle_bulk_create_flow_runs, handle_create_flow_run

NOW_ID = uuid.UUID(int=1)


def tags(count: int, prefix: str = "t") -> list[str]:
    return [f"{prefix}{index:03d}" for index in range(count)]


@pytest.fixture(params=["memory", "sqlite"])
def repo(request: pytest.FixtureRequest, tmp_path) -> Repository:
    url = "memory:" if request.param == "memory" else f"sqlite:///{tmp_path}/runs.db"
    repository = open_repository(url)
    yield repository
    repository.close()


def run_with(**fields: object) -> FlowRun:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    base = {"id": NOW_ID, "name": "r", "flow_id": uuid.UUID(int=2)}
    return FlowRun(created=moment, updated=moment, **{**base, **fields})


def test_the_count_names_each_kind_of_resource() -> None:
    assert related_resource_count(run_with(), flow_tags=()) == 2  # flow and deployment
    assert related_resource_count(run_with(work_queue_id=uuid.uuid4()), flow_tags=()) == 3
    full = run_with(
        work_queue_id=uuid.uuid4(),
        work_pool_id=uuid.uuid4(),
        parent_task_run_id=uuid.uuid4(),
        created_by=CreatedBy(id=uuid.uuid4(), type="AUTOMATION", display_value="a"),
        tags=("a", "b"),
    )
    assert related_resource_count(full, flow_tags=("b", "c")) == 2 + 4 + 3
    # Only automations and deployments are named as creators.
    other = run_with(created_by=CreatedBy(type="USER"))
    assert related_resource_count(other, flow_tags=()) == 2


@given(
    run_tags=st.sets(st.text(max_size=3), max_size=20),
    flow_tags=st.lists(st.text(max_size=3), max_size=20),
)
def test_tags_count_once_however_many_places_hold_them(
    run_tags: set[str], flow_tags: list[str]
) -> None:
    run = run_with(tags=tuple(sorted(run_tags)))
    assert related_resource_count(run, flow_tags=flow_tags) == 2 + len(run_tags | set(flow_tags))


def world(repo: Repository, *, flow_tags: int = 0, deployment_tags: int = 0, pool: bool = False):
    seed = Seeder(repo)
    flow = seed.flow("f", tags=tags(flow_tags, "f"))
    if pool:
        seed.work_pool("p")
    deployment = seed.deployment(
        flow,
        "d",
        tags=tags(deployment_tags, "d"),
        work_pool_name="p" if pool else None,
        enforce_parameter_schema=False,
    )
    return FlowRunService(repo), deployment, flow


def test_exactly_the_limit_is_created_one_more_is_refused_and_nothing_is_stored(
    repo: Repository,
) -> None:
    service, deployment, flow = world(repo, flow_tags=2, deployment_tags=1)
    # flow + deployment + 2 flow tags + 1 deployment tag = 5; 95 request tags reach 100.
    made = service.create_flow_run_from_deployment(
        deployment.id, DeploymentFlowRunCreate(tags=tuple(tags(95)))
    )
    assert made.created
    with pytest.raises(TooManyRelatedResources) as refused:
        service.create_flow_run_from_deployment(
            deployment.id, DeploymentFlowRunCreate(tags=tuple(tags(96)), idempotency_key="k")
        )
    assert refused.value.count == MAX_RELATED_RESOURCES + 1
    assert "101 related resources" in refused.value.message
    assert [run.id for run in repo.list_flow_runs(flow_id=flow.id)] == [made.value.id]
    assert repo.get_flow_run_by_idempotency_key(flow.id, "k") is None


def test_the_queue_and_pool_count_and_a_queue_made_by_a_refused_create_is_undone(
    repo: Repository,
) -> None:
    service, deployment, _ = world(repo, pool=True)
    pool_id = repo.get_work_queue(deployment.work_queue_id).work_pool_id  # type: ignore[arg-type, union-attr]
    queues_before = [queue.name for queue in repo.list_work_queues(pool_id)]
    # flow + deployment + queue + pool + 97 tags = 101.
    with pytest.raises(TooManyRelatedResources):
        service.create_flow_run_from_deployment(
            deployment.id,
            DeploymentFlowRunCreate(tags=tuple(tags(97)), work_queue_name="fresh"),
        )
    assert [queue.name for queue in repo.list_work_queues(pool_id)] == queues_before
    assert service.create_flow_run_from_deployment(
        deployment.id, DeploymentFlowRunCreate(tags=tuple(tags(96)))
    ).created


def test_the_creating_automation_counts(repo: Repository) -> None:
    service, deployment, _ = world(repo)
    automation = CreatedBy(id=uuid.uuid4(), type="AUTOMATION", display_value="auto")
    request = DeploymentFlowRunCreate(tags=tuple(tags(98)))
    assert service.create_flow_run_from_deployment(deployment.id, request).created
    with pytest.raises(TooManyRelatedResources):
        service.create_flow_run_from_deployment(deployment.id, request, created_by=automation)


def test_an_idempotent_replay_is_never_refused(repo: Repository) -> None:
    service, deployment, flow = world(repo)
    first = service.create_flow_run_from_deployment(
        deployment.id, DeploymentFlowRunCreate(tags=tuple(tags(98)), idempotency_key="k")
    )
    # 99 request tags would make 101 resources, but a replay sets no state: no event.
    again = service.create_flow_run_from_deployment(
        deployment.id, DeploymentFlowRunCreate(tags=tuple(tags(99)), idempotency_key="k")
    )
    assert first.created
    assert not again.created
    assert again.value.id == first.value.id
    assert again.value.tags == first.value.tags
    assert len(repo.list_flow_runs(flow_id=flow.id)) == 1


def test_an_integrity_error_of_the_insert_answers_first(repo: Repository) -> None:
    service, deployment, _ = world(repo)
    request = DeploymentFlowRunCreate(
        tags=tuple(tags(120)), infrastructure_document_id=uuid.uuid4()
    )
    with pytest.raises(StorageIntegrityError):
        service.create_flow_run_from_deployment(deployment.id, request)


def test_plan_refuses_what_create_refuses(repo: Repository) -> None:
    service, deployment, flow = world(repo, flow_tags=99)
    request = DeploymentFlowRunCreate()  # flow + deployment + 99 flow tags = 101
    with pytest.raises(TooManyRelatedResources):
        service.plan(deployment.id, request)
    with pytest.raises(TooManyRelatedResources):
        service.create_flow_run_from_deployment(deployment.id, request)
    assert repo.list_flow_runs(flow_id=flow.id) == []


def test_the_wire_answers_422_and_a_bulk_fails_only_that_item(repo: Repository) -> None:
    service, deployment, flow = world(repo, deployment_tags=98)
    response = handle_create_flow_run(
        service,
        str(deployment.id),
        json.dumps({"tags": ["extra"]}).encode(),
        {"content-type": "application/json"},
    )
    assert response.status == 422
    assert "101 related resources" in response.json["detail"]  # type: ignore[index, call-overload]
    bulk = handle_bulk_create_flow_runs(
        service,
        str(deployment.id),
        json.dumps([{}, {"tags": ["extra"]}]).encode(),
        {"content-type": "application/json"},
    )
    results = bulk.json["results"]  # type: ignore[index, call-overload]
    assert [item["status"] for item in results] == ["CREATED", "FAILED"]
    assert "101 related resources" in results[1]["error"]
    assert [run.id for run in repo.list_flow_runs(flow_id=flow.id)] == [
        uuid.UUID(results[0]["flow_run_id"])
    ]


def test_a_bulk_counts_the_flows_tags_for_every_item(repo: Repository) -> None:
    # A bulk reads the flow once for all its items: its tags still count for each of them.
    service, deployment, flow = world(repo, flow_tags=50)
    at_the_limit = DeploymentFlowRunCreate(tags=tuple(tags(48)))  # 2 + 50 + 48 = 100
    shared = DeploymentFlowRunCreate(tags=(*tags(48), "f000"))  # a flow tag counts once
    one_more = DeploymentFlowRunCreate(tags=(*tags(48), "extra"))  # 101
    result = service.create_flow_runs_from_deployment(
        deployment.id, [at_the_limit, one_more, shared, one_more]
    )
    assert [outcome.status.value for outcome in result.outcomes] == [
        "created",
        "failed",
        "created",
        "failed",
    ]
    assert isinstance(result.outcomes[1].error, TooManyRelatedResources)
    assert len(repo.list_flow_runs(flow_id=flow.id)) == 2
