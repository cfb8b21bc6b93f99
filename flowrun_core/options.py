"""The service's options: everything beyond Prefect is opt-in, and the defaults are Prefect's."""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = [
    "BULK_CREATE_LIMIT",
    "IdempotencyPolicy",
    "IdempotencyScope",
    "ServiceOptions",
    "UnknownWorkQueuePolicy",
]

BULK_CREATE_LIMIT = 100
"""Prefect's limit on one bulk create (``BULK_CREATE_LIMIT``)."""


IdempotencyPolicy = Literal["return_existing", "strict"]
"""``return_existing`` (Prefect): a key hit returns the stored run, whatever the payload.
``strict``: a key hit with a different effective request raises ``IdempotencyKeyReused``."""

IdempotencyScope = Literal["flow", "deployment"]
"""``flow`` (Prefect): a key names at most one run per flow, of any of its deployments.
``deployment``: a key hit on a run of another deployment of the same flow is an error."""

UnknownWorkQueuePolicy = Literal["create", "reject"]
"""``create`` (Prefect): a ``work_queue_name`` naming no queue of the pool creates it.
``reject``: it raises ``UnknownWorkQueue`` instead."""


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        msg = f"{attribute.name} must be at least 1, not {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class ServiceOptions:
    """Opt-in behaviour beyond Prefect; the defaults behave exactly as Prefect 3.9.1.

    Attributes:
        idempotency: ``"return_existing"`` (default) or ``"strict"``. Strict stores the
            canonical fingerprint of the effective request (see
            :mod:`flowrun_core.rules.idempotency`) with every keyed run it creates, and a
            later request with the same key and a different effective request raises
            :class:`~flowrun_core.errors.IdempotencyKeyReused` listing the differing fields
            as JSON Pointers. A stored run without a fingerprint (created before strict mode
            was switched on) cannot be compared and is returned as in Prefect. Needs a
            repository with the :class:`~flowrun_core.ports.FingerprintStore` capability.
        idempotency_scope: ``"flow"`` (default) or ``"deployment"``. Storage keeps one run per
            ``(flow_id, idempotency_key)``, so a key cannot name two runs of one flow. With
            ``"deployment"`` a key hit on a run of *another* deployment of the same flow
            raises ``IdempotencyKeyReused`` (no run can be created under that key either)
            instead of returning the other deployment's run. Applies to both policies.
        unknown_work_queue: ``"create"`` (default) or ``"reject"``: what a
            ``work_queue_name`` that names no queue of the deployment's pool does.
        bulk_limit: the most requests one bulk create accepts (Prefect: 100).
    """

    idempotency: IdempotencyPolicy = attrs.field(
        default="return_existing", validator=attrs.validators.in_(("return_existing", "strict"))
    )
    idempotency_scope: IdempotencyScope = attrs.field(
        default="flow", validator=attrs.validators.in_(("flow", "deployment"))
    )
    unknown_work_queue: UnknownWorkQueuePolicy = attrs.field(
        default="create", validator=attrs.validators.in_(("create", "reject"))
    )
    bulk_limit: int = attrs.field(default=BULK_CREATE_LIMIT, validator=_positive)
