"""flowrun-core: Prefect 3.9.1's "Create Flow Run From Deployment", in process.

The public API is re-exported here. The wire layer (bytes in, status and JSON out) is
:mod:`flowrun_core.wire`; storage adapters live in the ``flowrun_adapters`` package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowrun_core.errors import (
    BlockNotFound,
    CircularSchemaRef,
    CreationRefused,
    DeploymentNotFound,
    DuplicateEntity,
    ErrorDetail,
    FlowRunError,
    HydrationFailed,
    IdempotencyKeyReused,
    InvalidEntity,
    InvalidHeader,
    InvalidJobVariablesSchema,
    InvalidParameterSchema,
    InvalidRequest,
    InvalidRetryDelay,
    InvalidStateData,
    InvalidWorkQueueName,
    JobVariablesInvalid,
    MissingParameterSchema,
    NestedTooDeep,
    ParameterValidationFailed,
    ReservedName,
    ScheduledTimeOutOfRange,
    SchemaViolation,
    StorageAccessDenied,
    StorageClosed,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIntegrityError,
    StorageLocked,
    StorageOperationalError,
    StorageReadOnly,
    StorageSchemaError,
    StorageTimeout,
    StorageUnavailable,
    StorageValueError,
    TooManyFlowRuns,
    TooManyRelatedResources,
    UnknownWorkQueue,
    WorkPoolNotFound,
    WorkQueueWithoutPool,
)
from flowrun_core.models import (
    JSON,
    Created,
    CreatedBy,
    Deployment,
    DeploymentFlowRunCreate,
    Flow,
    FlowRun,
    FlowRunPolicy,
    InfrastructureDocument,
    State,
    StateCreate,
    StateDetails,
    StateType,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)
from flowrun_core.ports import (
    Clock,
    CreationLookups,
    DeploymentUpdates,
    FingerprintStore,
    IdFactory,
    NameFactory,
    Repository,
    SharedDeploymentReads,
    SharedFlowReads,
)
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService, ServiceOptions

if TYPE_CHECKING:
    __version__: str

__all__ = [
    "JSON",
    "BlockNotFound",
    "CircularSchemaRef",
    "Clock",
    "Created",
    "CreatedBy",
    "CreationLookups",
    "CreationRefused",
    "Deployment",
    "DeploymentFlowRunCreate",
    "DeploymentNotFound",
    "DeploymentUpdates",
    "DuplicateEntity",
    "ErrorDetail",
    "FingerprintStore",
    "Flow",
    "FlowRun",
    "FlowRunError",
    "FlowRunPolicy",
    "FlowRunService",
    "HydrationFailed",
    "IdFactory",
    "IdempotencyKeyReused",
    "InfrastructureDocument",
    "InvalidEntity",
    "InvalidHeader",
    "InvalidJobVariablesSchema",
    "InvalidParameterSchema",
    "InvalidRequest",
    "InvalidRetryDelay",
    "InvalidStateData",
    "InvalidWorkQueueName",
    "JobVariablesInvalid",
    "MissingParameterSchema",
    "NameFactory",
    "NestedTooDeep",
    "ParameterValidationFailed",
    "Repository",
    "ReservedName",
    "ScheduledTimeOutOfRange",
    "SchemaViolation",
    "Seeder",
    "ServiceOptions",
    "SharedDeploymentReads",
    "SharedFlowReads",
    "State",
    "StateCreate",
    "StateDetails",
    "StateType",
    "StorageAccessDenied",
    "StorageClosed",
    "StorageCorrupt",
    "StorageError",
    "StorageFull",
    "StorageIntegrityError",
    "StorageLocked",
    "StorageOperationalError",
    "StorageReadOnly",
    "StorageSchemaError",
    "StorageTimeout",
    "StorageUnavailable",
    "StorageValueError",
    "TaskRun",
    "TooManyFlowRuns",
    "TooManyRelatedResources",
    "UnknownWorkQueue",
    "Variable",
    "WorkPool",
    "WorkPoolNotFound",
    "WorkQueue",
    "WorkQueueWithoutPool",
]


def __getattr__(name: str) -> str:
    """Serve ``__version__`` lazily from the installed distribution's metadata."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return version("flowrun-core")
        except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
            from flowrun_core._version import __version__  # noqa: PLC0415

            return __version__
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
