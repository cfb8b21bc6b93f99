"""Parameters: the shallow merge over the deployment's defaults, and the enforcement switch."""

from __future__ import annotations

from collections.abc import Mapping

from flowrun_core.json_types import JSON


def merge_parameters(
    deployment_parameters: Mapping[str, JSON], request_parameters: Mapping[str, JSON]
) -> dict[str, JSON]:
    """Return a new dict: the deployment's defaults, shallowly updated by the request's.

    A request key replaces the deployment's value for that key completely (nested objects
    are not merged) and ``None`` is an ordinary value. Key order is the deployment's keys,
    then new request keys. Neither input is mutated. Values are shared with the inputs:
    hydration, which always follows, builds fresh containers.
    """
    merged = dict(deployment_parameters)
    merged.update(request_parameters)
    return merged


def effective_enforcement(
    request_flag: bool | None,
    deployment_flag: bool,
) -> bool:
    """The request's flag wins when it is not ``None``; otherwise the deployment's."""
    return deployment_flag if request_flag is None else request_flag
