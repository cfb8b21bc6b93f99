"""Bulk create: many requests for one deployment in one unit of work, never misreported.

Each item is created exactly as a single create would create it. An item that writes more
than its run (a new work queue, a parent task-run state, a fingerprint) runs in its own
savepoint, so a failure undoes that item alone; an item whose only write is the run's
insert needs none, because a create that raises writes nothing (the port's promise).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import attrs

from flowrun_core.bulk import BulkCreateResult, BulkItemOutcome, BulkStatus
from flowrun_core.errors import FlowRunError, TooManyFlowRuns
from flowrun_core.models import CreatedBy, Deployment, DeploymentFlowRunCreate
from flowrun_core.service.steps import CreateSteps

__all__ = ["create_many"]


class _RolledBack(Exception):
    """Raised inside an atomic bulk's transaction to undo it; carries the outcomes."""

    def __init__(self, outcomes: list[BulkItemOutcome]) -> None:
        super().__init__("atomic bulk create rolled back")
        self.outcomes = outcomes


def _roll_back_if_any_failed(outcomes: list[BulkItemOutcome], *, atomic: bool) -> None:
    if atomic and any(o.status is BulkStatus.FAILED for o in outcomes):
        raise _RolledBack(outcomes)


def create_many(
    steps: CreateSteps,
    deployment_id: UUID,
    requests: Sequence[DeploymentFlowRunCreate],
    *,
    atomic: bool,
    created_by: CreatedBy | None,
    flat: Sequence[bool] = (),
) -> BulkCreateResult:
    """Create every request's run of ``deployment_id`` in one unit of work.

    See :meth:`flowrun_core.service.FlowRunService.create_flow_runs_from_deployment`.
    ``flat[i]`` says request ``i`` is flat (see ``CreateSteps.create``); missing means no.
    """
    requests = list(requests)
    limit = steps.options.bulk_limit
    if len(requests) > limit:
        raise TooManyFlowRuns(limit)
    try:
        with steps.repository.transaction():
            deployment = steps.deployment(deployment_id)
            flow_tags = steps.flow_tags(deployment.flow_id)
            outcomes = [
                _item(
                    steps,
                    deployment,
                    index,
                    request,
                    created_by,
                    flow_tags=flow_tags,
                    flat=index < len(flat) and flat[index],
                )
                for index, request in enumerate(requests)
            ]
            _roll_back_if_any_failed(outcomes, atomic=atomic)
    except _RolledBack as rolled:
        return BulkCreateResult(
            outcomes=tuple(
                o
                if o.status is BulkStatus.FAILED
                else attrs.evolve(o, status=BulkStatus.ROLLED_BACK)
                for o in rolled.outcomes
            ),
            committed=False,
        )
    return BulkCreateResult(outcomes=tuple(outcomes))


def _item(
    steps: CreateSteps,
    deployment: Deployment,
    index: int,
    request: DeploymentFlowRunCreate,
    created_by: CreatedBy | None,
    *,
    flow_tags: tuple[str, ...],
    flat: bool,
) -> BulkItemOutcome:
    try:
        if steps.writes_more_than_the_run(request):
            with steps.repository.transaction():
                result = steps.create(
                    deployment, request, created_by, flow_tags=flow_tags, flat=flat
                )
        else:
            result = steps.create(deployment, request, created_by, flow_tags=flow_tags, flat=flat)
    except FlowRunError as exc:
        return BulkItemOutcome(index=index, status=BulkStatus.FAILED, error=exc)
    status = BulkStatus.CREATED if result.created else BulkStatus.REPLAYED
    return BulkItemOutcome(index=index, status=status, flow_run=result.value)
