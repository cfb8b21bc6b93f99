"""The outcome of a bulk create: one entry per request, in request order, never misreported.

Prefect's bulk route reports ``CREATED`` for items whose shared transaction was later rolled
back. Here each item runs in its own savepoint, so an item's status says exactly what is
stored once the call returns:

* ``created``: a new run was stored;
* ``replayed``: the idempotency key named a stored run (an earlier one, or an earlier item
  of the same batch), returned unchanged;
* ``failed``: nothing of this item was stored; ``error`` is the exception a single create
  of the same request would raise;
* ``rolled_back``: atomic mode only: this item succeeded on its own, but another item
  failed, so nothing of the batch was stored. ``flow_run`` is the run it would have made
  or returned.
"""

from __future__ import annotations

import enum

import attrs

from flowrun_core.errors import FlowRunError
from flowrun_core.models import FlowRun

__all__ = ["BulkCreateResult", "BulkItemOutcome", "BulkStatus"]


class BulkStatus(enum.Enum):
    """What happened to one item of a bulk create."""

    CREATED = "created"
    REPLAYED = "replayed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


@attrs.frozen(kw_only=True)
class BulkItemOutcome:
    """One item's outcome.

    Attributes:
        index: the item's position in the request list.
        status: see :class:`BulkStatus`.
        flow_run: the run (``None`` when the item failed).
        error: the exception (only when the item failed).
    """

    index: int
    status: BulkStatus
    flow_run: FlowRun | None = None
    error: FlowRunError | None = None

    @property
    def stored(self) -> bool:
        """Whether ``flow_run`` is in the store after the call (created or replayed)."""
        return self.status in {BulkStatus.CREATED, BulkStatus.REPLAYED}


@attrs.frozen(kw_only=True)
class BulkCreateResult:
    """Every item's outcome, in request order.

    Attributes:
        outcomes: one per request.
        committed: ``False`` only in atomic mode when an item failed: nothing was stored.
    """

    outcomes: tuple[BulkItemOutcome, ...]
    committed: bool = True

    @property
    def failed(self) -> tuple[BulkItemOutcome, ...]:
        """The failed items."""
        return tuple(o for o in self.outcomes if o.status is BulkStatus.FAILED)
