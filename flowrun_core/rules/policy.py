"""The deprecated retry fields of a run's policy, copied as Prefect copies them.

Prefect fills ``retries`` from ``max_retries`` and ``retry_delay`` from
``retry_delay_seconds`` when the newer field is falsy and the older one is not zero. It does
so once on the raw request (the wire layer's job) and again when the endpoint builds the run
from the validated request (step 6), which is this rule. The second pass matters when a
value that was truthy as sent validated to zero (``"retries": "0"``); it also applies to a
policy a Python caller builds directly.
"""

from __future__ import annotations

import math

import attrs

from flowrun_core.errors import InvalidRetryDelay
from flowrun_core.json_types import TWO_TO_THE_63
from flowrun_core.models import FlowRunPolicy

__all__ = ["backfill_deprecated_fields"]


def backfill_deprecated_fields(policy: FlowRunPolicy) -> FlowRunPolicy:
    """``policy`` with ``retries`` and ``retry_delay`` filled from the deprecated fields.

    Raises :class:`~flowrun_core.errors.InvalidRetryDelay` when ``retry_delay_seconds``
    must be copied but is not a whole number within 64 bits (Prefect's integer validation
    fails there, inside the endpoint, with a 500).
    """
    retries, retry_delay = policy.retries, policy.retry_delay
    if not retries and policy.max_retries != 0:
        retries = policy.max_retries
    seconds = policy.retry_delay_seconds
    if not retry_delay and seconds != 0:
        if not (math.isfinite(seconds) and seconds.is_integer()) or not (
            -TWO_TO_THE_63 <= seconds < TWO_TO_THE_63
        ):
            msg = (
                "Error creating flow run: empirical_policy.retry_delay_seconds "
                f"{seconds!r} cannot fill retry_delay, which must be a whole number of "
                "seconds within 64 bits."
            )
            raise InvalidRetryDelay(msg)
        retry_delay = int(seconds)
    if (retries, retry_delay) == (policy.retries, policy.retry_delay):
        return policy
    return attrs.evolve(policy, retries=retries, retry_delay=retry_delay)
