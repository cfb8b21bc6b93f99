"""Tags (a set union) and labels (deployment, then system, then request)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from flowrun_core.models import LabelValue

FLOW_ID_LABEL = "prefect.flow.id"
DEPLOYMENT_ID_LABEL = "prefect.deployment.id"


def union_tags(deployment_tags: Iterable[str], request_tags: Iterable[str]) -> tuple[str, ...]:
    """The set union of both tag lists, sorted (Prefect's order is undefined)."""
    return tuple(sorted({*deployment_tags, *request_tags}))


def run_labels(
    *,
    deployment_labels: Mapping[str, LabelValue] | None,
    flow_id: UUID,
    deployment_id: UUID,
    request_labels: Mapping[str, LabelValue] | None,
) -> dict[str, LabelValue]:
    """Right-biased merge: deployment labels, then the two system labels, then the request's.

    The request wins over everything, system labels included. Key order follows the first
    appearance of each key.
    """
    labels: dict[str, LabelValue] = dict(deployment_labels or {})
    labels[FLOW_ID_LABEL] = str(flow_id)
    labels[DEPLOYMENT_ID_LABEL] = str(deployment_id)
    labels.update(request_labels or {})
    return labels


def deployment_labels(
    *,
    flow_labels: Mapping[str, LabelValue] | None,
    flow_id: UUID,
    own_labels: Mapping[str, LabelValue] | None,
) -> dict[str, LabelValue]:
    """The labels Prefect stores on a new deployment: flow's, ``prefect.flow.id``, then its own."""
    labels: dict[str, LabelValue] = dict(flow_labels or {})
    labels[FLOW_ID_LABEL] = str(flow_id)
    labels.update(own_labels or {})
    return labels
