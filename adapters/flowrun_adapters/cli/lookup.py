"""Finding flows and deployments by name, and resolving what the user typed.

The storage port looks flows and deployments up by id only. People type names, so the
command line needs two more reads. A storage adapter may offer them as the optional
:class:`NameLookup` capability; for the two adapters shipped with flowrun-core that do not
(yet), this module reads them itself, in one place, so the rest of the CLI only sees
:func:`flows_named` and :func:`deployments_named`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable
from uuid import UUID

from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SQLiteRepository
from flowrun_adapters.sqlite import rows as sqlite_rows
from flowrun_core.models import Deployment, Flow
from flowrun_core.ports import Repository

from .output import CliError, ExitCode

__all__ = [
    "NameLookup",
    "deployment_label",
    "deployments_named",
    "flows_named",
    "parse_uuid",
    "resolve_deployment",
    "resolve_flow",
]


@runtime_checkable
class NameLookup(Protocol):
    """**Protocol**: optional storage capability: flows and deployments by exact name."""

    def get_flows_by_name(self, name: str, /) -> Sequence[Flow]:
        """Every flow with this name, in creation order."""
        ...

    def get_deployments_by_name(
        self, name: str, /, flow_id: UUID | None = None
    ) -> Sequence[Deployment]:
        """Every deployment with this name (of this flow, if given), in creation order."""
        ...


_SQLITE_FLOWS = sqlite_rows.select_sql(
    "flows", sqlite_rows.FLOW_COLUMNS, "WHERE name = ? ORDER BY rowid"
)
_SQLITE_DEPLOYMENTS = sqlite_rows.select_sql(
    "deployments", sqlite_rows.DEPLOYMENT_COLUMNS, "WHERE name = ? ORDER BY rowid"
)
_SQLITE_FLOW_DEPLOYMENTS = sqlite_rows.select_sql(
    "deployments", sqlite_rows.DEPLOYMENT_COLUMNS, "WHERE name = ? AND flow_id = ? ORDER BY rowid"
)


def _no_lookup(repository: Repository) -> CliError:
    return CliError(
        f"{type(repository).__name__} cannot look flows and deployments up by name; "
        "use ids instead.",
        ExitCode.INVALID_INPUT,
    )


def flows_named(repository: Repository, name: str) -> list[Flow]:
    """Every stored flow called ``name``."""
    if isinstance(repository, NameLookup):
        return list(repository.get_flows_by_name(name))
    if isinstance(repository, SQLiteRepository):
        # The adapter's own statement runner: same connection, lock and error translation.
        return repository._all(_SQLITE_FLOWS, (name,), sqlite_rows.flow_from_row)  # noqa: SLF001
    if isinstance(repository, InMemoryRepository):
        with repository._lock:  # noqa: SLF001 - the reference model has no name index
            ids = [f.id for f in repository._flows.values() if f.name == name]  # noqa: SLF001
        return [f for f in map(repository.get_flow, ids) if f is not None]
    raise _no_lookup(repository)


def deployments_named(
    repository: Repository, name: str, flow_id: UUID | None = None
) -> list[Deployment]:
    """Every stored deployment called ``name`` (of ``flow_id`` when given)."""
    if isinstance(repository, NameLookup):
        return list(repository.get_deployments_by_name(name, flow_id))
    if isinstance(repository, SQLiteRepository):
        if flow_id is None:
            return repository._all(  # noqa: SLF001 - see flows_named
                _SQLITE_DEPLOYMENTS, (name,), sqlite_rows.deployment_from_row
            )
        return repository._all(  # noqa: SLF001 - see flows_named
            _SQLITE_FLOW_DEPLOYMENTS, (name, str(flow_id)), sqlite_rows.deployment_from_row
        )
    if isinstance(repository, InMemoryRepository):
        with repository._lock:  # noqa: SLF001 - see flows_named
            ids = [
                d.id
                for d in repository._deployments.values()  # noqa: SLF001 - see flows_named
                if d.name == name and (flow_id is None or d.flow_id == flow_id)
            ]
        return [d for d in map(repository.get_deployment, ids) if d is not None]
    raise _no_lookup(repository)


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
