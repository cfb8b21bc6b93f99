"""The dry run: what a create would do with a request, every rule run, nothing written."""

from __future__ import annotations

from uuid import UUID

from flowrun_core.models import CreatedBy, DeploymentFlowRunCreate
from flowrun_core.rules.provenance import RunPlan, provenance
from flowrun_core.service.request_check import too_deep
from flowrun_core.service.steps import CreateSteps

__all__ = ["plan_create"]


def plan_create(
    steps: CreateSteps,
    deployment_id: UUID,
    request: DeploymentFlowRunCreate,
    *,
    created_by: CreatedBy | None,
    flat: bool = False,
) -> RunPlan:
    """The run a create of ``request`` would return, with the provenance of its fields.

    See :meth:`flowrun_core.service.FlowRunService.plan`. The unit of work is opened only
    to read consistently; nothing is written in it. ``flat``: as for
    :meth:`~flowrun_core.service.steps.CreateSteps.create`.
    """
    repository = steps.repository
    with repository.transaction():
        deployment = steps.deployment(deployment_id)
        fingerprint = steps.fingerprint(request)
        built = steps.build(deployment, request, created_by, write=False)
        run = built.run
        found = provenance(request, run, merged_parameters=built.merged_parameters)
        key = request.idempotency_key
        existing = (
            None
            if key is None
            else repository.get_flow_run_by_idempotency_key(deployment.flow_id, key)
        )
        if existing is not None and key:
            steps.check_replay(deployment, request, existing, fingerprint)
            return RunPlan(
                flow_run=existing, replay=True, provenance=found, new_work_queue=built.new_queue
            )
        steps.check_insert(run, key_taken=existing is not None)
        deep = None if flat else too_deep(request)
        steps.check_event(run, unstorable=built.unstorable, too_deep=deep)
        return RunPlan(flow_run=run, replay=False, provenance=found, new_work_queue=built.new_queue)
