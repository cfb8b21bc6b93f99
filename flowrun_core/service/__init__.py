"""The service layer: Prefect's create-flow-run-from-deployment over the storage port.

* :mod:`~flowrun_core.service.flow_run_service`: :class:`FlowRunService`, the public API;
* :mod:`~flowrun_core.service.steps`: one create, rule by rule, in Prefect's order;
* :mod:`~flowrun_core.service.bulk_create`: many creates in one unit of work;
* :mod:`~flowrun_core.service.plan`: the dry run.

The options are re-exported here, where they have always been importable from.
"""

from flowrun_core.options import (
    BULK_CREATE_LIMIT,
    IdempotencyPolicy,
    IdempotencyScope,
    ServiceOptions,
    UnknownWorkQueuePolicy,
)
from flowrun_core.service.flow_run_service import FlowRunService

__all__ = [
    "BULK_CREATE_LIMIT",
    "FlowRunService",
    "IdempotencyPolicy",
    "IdempotencyScope",
    "ServiceOptions",
    "UnknownWorkQueuePolicy",
]
