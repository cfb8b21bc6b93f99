"""The related resources of a new run's first state-change event (Prefect's event limit).

Inside the create, Prefect sets the run's first state and emits the event
``prefect.flow-run.{state name}``. Its related resources are the flow, the deployment, the
run's work queue and that queue's pool, the parent task run, one ``prefect.tag.{tag}`` per
distinct tag of the run, its flow and its deployment, and the creator (an automation). An
event may name at most :data:`MAX_RELATED_RESOURCES` (Prefect's
``PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES``); past that, building the event fails, and
Prefect 3.9.1 answers 500 with nothing stored. This library refuses such a create instead
(:class:`~flowrun_core.errors.TooManyRelatedResources`). An idempotent replay sets no state,
so the limit never applies to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from flowrun_core.errors import TooManyRelatedResources
from flowrun_core.models import FlowRun

__all__ = ["MAX_RELATED_RESOURCES", "check_related_resources", "related_resource_count"]

MAX_RELATED_RESOURCES: Final = 100
"""Prefect's default ``PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES``."""

_CREATOR_TYPES: Final = frozenset({"AUTOMATION", "DEPLOYMENT"})


def related_resource_count(run: FlowRun, *, flow_tags: Iterable[str]) -> int:
    """How many related resources the event for ``run``'s first state names.

    ``run.tags`` already hold the deployment's tags (the union of spec §7); a parent task
    run is counted when named (the insert refuses one that does not exist).
    """
    count = 2  # the flow and the deployment
    count += run.work_queue_id is not None
    count += run.work_pool_id is not None
    count += run.parent_task_run_id is not None
    created_by = run.created_by
    count += created_by is not None and created_by.type in _CREATOR_TYPES
    return count + len({*run.tags, *flow_tags})


def check_related_resources(run: FlowRun, *, flow_tags: Iterable[str]) -> None:
    """Raise ``TooManyRelatedResources`` when the event would name more than the limit."""
    count = related_resource_count(run, flow_tags=flow_tags)
    if count > MAX_RELATED_RESOURCES:
        raise TooManyRelatedResources(
            f"The flow run was not created: its first state-change event would name {count} "
            f"related resources (the flow, the deployment, its work queue and pool, a parent "
            f"task run, the creating automation and every distinct tag of the run and its "
            f"flow), and events allow at most {MAX_RELATED_RESOURCES}. Use fewer tags.",
            count,
        )
