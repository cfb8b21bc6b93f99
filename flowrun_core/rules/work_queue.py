"""Work-queue override: who may override, and the priority of an auto-created queue."""

from __future__ import annotations

import re
from collections.abc import Iterable
from uuid import UUID

from flowrun_core.errors import InvalidWorkQueueName, WorkQueueWithoutPool

_QUEUE_NAME = re.compile(r"^[^/%&><]+$")


def require_pool_for_override(
    *, work_queue_name: str, deployment_id: UUID, deployment_work_queue_id: UUID | None
) -> None:
    """Raise ``WorkQueueWithoutPool`` unless the deployment has a work queue row (and pool)."""
    if deployment_work_queue_id is None:
        raise WorkQueueWithoutPool(
            f"Cannot create flow run in work queue {work_queue_name} because deployment "
            f"{deployment_id} is not associated with a work pool. Please remove "
            "work_pool_name and try again."
        )


def check_new_queue_name(name: str) -> None:
    """Refuse a name Prefect cannot create (Prefect answers 500; we raise a clear error)."""
    if not _QUEUE_NAME.match(name):
        raise InvalidWorkQueueName(
            f"Cannot create work queue {name!r}: a work queue name may not contain "
            "'/', '%', '&', '>' or '<'."
        )


def lowest_free_priority(existing: Iterable[int]) -> int:
    """The first gap in the pool's sorted priorities, counting from 1; else ``max + 1``."""
    priorities = sorted(existing)
    for index, priority in enumerate(priorities):
        if priority != index + 1:
            return index + 1
    return len(priorities) + 1
