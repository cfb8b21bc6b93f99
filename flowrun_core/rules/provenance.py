"""Provenance: where each value of a new run comes from (for the dry-run ``plan``).

Five origins:

* ``deployment``: a deployment default (parameters, tags, labels, version, queue, pool,
  infrastructure document, and the flow id);
* ``request``: the caller's request (its body, or its automation headers for
  ``created_by``);
* ``system``: the labels every run gets (``prefect.flow.id``, ``prefect.deployment.id``);
* ``hydration``: a parameter whose value a ``__prefect_kind`` placeholder produced;
* ``generated``: made by the service: ids, timestamps, the run name slug, values derived
  from a default state, and Prefect's defaults for fields nobody set.

Values derived from the initial state (``state_type``, ``expected_start_time`` …) have the
origin of the state: ``request`` when the caller gave one, else ``generated``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from flowrun_core.json_types import JSON, same_json
from flowrun_core.models import DeploymentFlowRunCreate, FlowRun, WorkQueue
from flowrun_core.rules.tags_labels import DEPLOYMENT_ID_LABEL, FLOW_ID_LABEL

__all__ = ["Origin", "Provenance", "RunPlan", "provenance"]


class Origin(enum.Enum):
    """Where a value of a new run comes from."""

    DEPLOYMENT = "deployment"
    REQUEST = "request"
    SYSTEM = "system"
    HYDRATION = "hydration"
    GENERATED = "generated"


@attrs.frozen(kw_only=True)
class Provenance:
    """The origin of every field of a run, and of each parameter, label and tag.

    Attributes:
        fields: every ``FlowRun`` field name → its origin.
        parameters: each parameter key of the run → its origin.
        labels: each label key of the run → its origin.
        tags: each tag of the run → its origin (``request`` when the request named it).
    """

    fields: Mapping[str, Origin]
    parameters: Mapping[str, Origin]
    labels: Mapping[str, Origin]
    tags: Mapping[str, Origin]

    def as_json(self) -> dict[str, JSON]:
        """The provenance as JSON: origins by their value."""

        def plain(mapping: Mapping[str, Origin]) -> JSON:
            return {key: origin.value for key, origin in mapping.items()}

        return {
            "fields": plain(self.fields),
            "parameters": plain(self.parameters),
            "labels": plain(self.labels),
            "tags": plain(self.tags),
        }


@attrs.frozen(kw_only=True)
class RunPlan:
    """What ``create`` would do with a request, computed without writing anything.

    Attributes:
        flow_run: the run ``create`` would return: the new run, or on a replay the stored
            run that holds the key, unchanged.
        replay: ``True`` when ``create`` would return an existing run (``created=False``).
        provenance: where each value of the new run comes from. On a replay it describes
            the run this request would have built, not the stored one.
        new_work_queue: the queue ``create`` would make for a ``work_queue_name`` override
            that names no queue yet, else ``None``.
    """

    flow_run: FlowRun
    replay: bool
    provenance: Provenance
    new_work_queue: WorkQueue | None = None


def _given(value: object, default: object) -> Origin:
    return Origin.GENERATED if value == default else Origin.REQUEST


def provenance(
    request: DeploymentFlowRunCreate,
    run: FlowRun,
    *,
    merged_parameters: Mapping[str, JSON],
) -> Provenance:
    """The provenance of ``run``, which the service built from a deployment and ``request``.

    Args:
        request: the caller's request.
        run: the run the service built (before storing it).
        merged_parameters: the parameters after the merge and before hydration; a key
            whose hydrated value differs from it came from hydration.
    """
    default = DeploymentFlowRunCreate()
    state_origin = Origin.REQUEST if request.state is not None else Origin.GENERATED
    from_deployment = Origin.DEPLOYMENT
    override = bool(request.work_queue_name)
    queue_origin = Origin.REQUEST if override else from_deployment
    fields: dict[str, Origin] = dict.fromkeys(attrs.fields_dict(FlowRun), Origin.GENERATED)
    fields.update(
        flow_id=from_deployment,
        deployment_id=from_deployment,
        deployment_version=from_deployment,
        work_queue_id=queue_origin,
        work_queue_name=queue_origin,
        work_pool_id=from_deployment,
        work_pool_name=from_deployment,
        name=Origin.REQUEST if request.name else Origin.GENERATED,
        parameters=Origin.REQUEST if request.parameters else from_deployment,
        context=_given(request.context, default.context),
        empirical_policy=_given(request.empirical_policy, default.empirical_policy),
        tags=Origin.REQUEST if request.tags else from_deployment,
        labels=Origin.REQUEST if request.labels else Origin.SYSTEM,
        idempotency_key=_given(request.idempotency_key, None),
        parent_task_run_id=_given(request.parent_task_run_id, None),
        infrastructure_document_id=(
            Origin.REQUEST if request.infrastructure_document_id else from_deployment
        ),
        created_by=Origin.GENERATED if run.created_by is None else Origin.REQUEST,
        job_variables=_given(request.job_variables, default.job_variables),
        state=state_origin,
        state_type=state_origin,
        state_name=state_origin,
        expected_start_time=state_origin,
        next_scheduled_start_time=state_origin,
        start_time=state_origin,
        end_time=state_origin,
        run_count=state_origin,
    )
    parameters: dict[str, Origin] = {}
    for key, value in run.parameters.items():
        # Iterative, so parameters of any depth compare (``!=`` recurses).
        if key in merged_parameters and not same_json(merged_parameters[key], value):
            parameters[key] = Origin.HYDRATION
        elif key in request.parameters:
            parameters[key] = Origin.REQUEST
        else:
            parameters[key] = from_deployment
    if any(origin is Origin.HYDRATION for origin in parameters.values()):
        fields["parameters"] = Origin.HYDRATION
    request_labels = request.labels or {}
    labels: dict[str, Origin] = {}
    for key in run.labels:
        if key in request_labels:
            labels[key] = Origin.REQUEST
        elif key in {FLOW_ID_LABEL, DEPLOYMENT_ID_LABEL}:
            labels[key] = Origin.SYSTEM
        else:
            labels[key] = from_deployment
    requested_tags = set(request.tags)
    tags = {tag: Origin.REQUEST if tag in requested_tags else from_deployment for tag in run.tags}
    return Provenance(fields=fields, parameters=parameters, labels=labels, tags=tags)
