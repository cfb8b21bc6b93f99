"""Finding flows and deployments by name, and resolving what the user typed.

People type names; the storage port lists flows and deployments by exact name
(``list_flows``, ``list_deployments``), and this module turns what was typed into one
entity or a clear error.
"""

from __future__ import annotations

from uuid import UUID

from flowrun_core.models import Deployment, Flow
from flowrun_core.ports import Repository

from .output import CliError, ExitCode

__all__ = [
    "deployment_label",
    "deployments_named",
    "flows_named",
    "parse_uuid",
    "resolve_deployment",
    "resolve_flow",
]


def flows_named(repository: Repository, name: str) -> list[Flow]:
    """Every stored flow called ``name``."""
    return list(repository.list_flows(name=name))


def deployments_named(
    repository: Repository, name: str, flow_id: UUID | None = None
) -> list[Deployment]:
    """Every stored deployment called ``name`` (of ``flow_id`` when given)."""
    return list(repository.list_deployments(name=name, flow_id=flow_id))


def parse_uuid(text: str) -> UUID | None:
    """``text`` as a UUID, or ``None`` when it is not one."""
    try:
        return UUID(text)
    except ValueError:
        return None


def resolve_flow(repository: Repository, name: str) -> Flow:
    """The one flow called ``name`` (or with this id).

    Raises:
        CliError: no such flow (not found), or several (conflict).
    """
    flow_id = parse_uuid(name)
    if flow_id is not None:
        flow = repository.get_flow(flow_id)
        if flow is None:
            raise CliError(f"Flow {name} not found.", ExitCode.NOT_FOUND)
        return flow
    found = flows_named(repository, name)
    if not found:
        raise CliError(
            f"Flow {name!r} not found.",
            ExitCode.NOT_FOUND,
            details=["Register it first: flowrun register flow FILE"],
        )
    if len(found) > 1:
        raise CliError(
            f"{len(found)} flows are called {name!r}; give the flow's id instead.",
            ExitCode.CONFLICT,
            details=[str(f.id) for f in found],
        )
    return found[0]


def deployment_label(repository: Repository, deployment: Deployment) -> str:
    """``flow-name/deployment-name`` as people type it."""
    flow = repository.get_flow(deployment.flow_id)
    flow_name = str(deployment.flow_id) if flow is None else flow.name
    return f"{flow_name}/{deployment.name}"


def resolve_deployment(
    repository: Repository, reference: str, *, flow: Flow | None = None
) -> Deployment:
    """The deployment ``reference`` names: an id, ``flow/deployment``, or a unique name.

    Raises:
        CliError: no such deployment (not found), or several match (conflict).
    """
    deployment_id = parse_uuid(reference)
    if deployment_id is not None:
        deployment = repository.get_deployment(deployment_id)
        if deployment is None:
            raise CliError(f"Deployment {reference} not found.", ExitCode.NOT_FOUND)
        return deployment
    flow_name, slash, name = reference.partition("/")
    if slash:
        flow = resolve_flow(repository, flow_name)
    else:
        name = reference
    found = deployments_named(repository, name, None if flow is None else flow.id)
    if not found:
        raise CliError(
            f"Deployment {reference!r} not found.",
            ExitCode.NOT_FOUND,
            details=["Give a deployment id or FLOW_NAME/DEPLOYMENT_NAME."],
        )
    if len(found) > 1:
        raise CliError(
            f"{len(found)} deployments match {reference!r}; give FLOW_NAME/DEPLOYMENT_NAME "
            "or an id.",
            ExitCode.CONFLICT,
            details=[f"{d.id}  {deployment_label(repository, d)}" for d in found],
        )
    return found[0]
