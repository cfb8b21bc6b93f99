"""Everything flowrun-core raises on purpose.

Each exception also subclasses the matching builtin (``LookupError``, ``ValueError``) so
plain ``except`` clauses keep working. Exceptions carry messages, never HTTP status codes:
the status table lives in ``flowrun_core.wire.problems``.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from flowrun_core.json_types import JSON


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """One request-validation problem in pydantic v2's shape, as Prefect clients parse it.

    ``ctx`` is ``None`` when pydantic sends no ``ctx`` key.
    """

    type: str
    loc: tuple[str | int, ...]
    msg: str
    input: JSON
    ctx: dict[str, JSON] | None = None


@attrs.frozen(kw_only=True)
class SchemaViolation:
    """One parameter-schema violation of a complete validation report.

    ``instance_path`` and ``schema_path`` are JSON Pointers (RFC 6901).
    """

    instance_path: str
    schema_path: str
    keyword: str
    message: str


class FlowRunError(Exception):
    """Base of everything flowrun-core raises on purpose."""

    @property
    def message(self) -> str:
        """The human-readable message (the first argument)."""
        return str(self.args[0]) if self.args else ""


class InvalidRequest(FlowRunError, ValueError):
    """The request (body or headers) failed validation; ``details`` lists every problem."""

    def __init__(
        self, details: tuple[ErrorDetail, ...] | list[ErrorDetail], request_body: JSON = None
    ) -> None:
        super().__init__("Invalid request received.")
        self.details = tuple(details)
        self.request_body = request_body


class NestedTooDeep(InvalidRequest):
    """``parameters``, ``context``, ``job_variables`` or a state's ``data`` nests too deep.

    Deeper than :data:`~flowrun_core.rules.hydration.MAX_JSON_DEPTH` levels: Prefect stores
    such a run, then cannot serialize its answer (500). The service raises this where
    Prefect fails, after its rules; ``details`` are the items of the wire's 422.
    """


class InvalidHeader(FlowRunError, ValueError):
    """A header that Prefect checks before the body (``X-Prefect-Api-Version``) is bad."""


class DeploymentNotFound(FlowRunError, LookupError):
    """No deployment has the requested id."""

    def __init__(self, message: str = "Deployment not found") -> None:
        super().__init__(message)


class HydrationFailed(FlowRunError, ValueError):
    """A ``__prefect_kind`` placeholder could not be hydrated; the message is Prefect's."""


class MissingParameterSchema(FlowRunError, ValueError):
    """Enforcement is on but the deployment's parameter schema is not an object."""

    def __init__(
        self,
        message: str = (
            "Cannot update parameters because parameter schema enforcement is enabled and "
            "the deployment does not have a valid parameter schema."
        ),
    ) -> None:
        super().__init__(message)


class ParameterValidationFailed(FlowRunError, ValueError):
    """The merged parameters violate the schema.

    ``message`` is Prefect's single best-match text; ``violations`` is the complete report
    (every violation, with JSON Pointers), computed on demand by the rules.
    """

    def __init__(self, message: str, violations: tuple[SchemaViolation, ...] = ()) -> None:
        super().__init__(message)
        self.violations = violations


class CircularSchemaRef(FlowRunError, ValueError):
    """Validation followed a ``$ref`` cycle that never consumes the instance."""

    def __init__(
        self, message: str = "Unable to validate schema with circular references."
    ) -> None:
        super().__init__(message)


class InvalidParameterSchema(FlowRunError, ValueError):
    """The deployment's parameter schema is not valid Draft 2020-12 (Prefect answers 500).

    The message starts with ``"Invalid schema: "``, as the wire layer's 422 detail does.
    """


class JobVariablesInvalid(FlowRunError, ValueError):
    """The merged job variables fail the work pool's variables schema."""


class InvalidJobVariablesSchema(FlowRunError, ValueError):
    """The work pool's ``variables`` schema is itself invalid."""


class BlockNotFound(FlowRunError, LookupError):
    """A pool variable default references a missing or malformed block document."""

    def __init__(self, message: str = "Block not found.") -> None:
        super().__init__(message)


class WorkQueueWithoutPool(FlowRunError, ValueError):
    """A work queue override was asked of a deployment that has no work pool."""


class InvalidWorkQueueName(FlowRunError, ValueError):
    """A work queue that must be created has a name Prefect forbids (Prefect answers 500)."""


class InvalidStateData(FlowRunError, ValueError):
    """``state.data`` was given (Prefect crashes with 500 and creates nothing)."""


class TooManyRelatedResources(FlowRunError, ValueError):
    """The run's first state-change event would name too many related resources.

    Prefect emits ``prefect.flow-run.{state}`` inside the create; its events allow at most
    100 related resources, so Prefect answers 500 and creates nothing. ``count`` is how
    many the event would have had.
    """

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


class InvalidRetryDelay(FlowRunError, ValueError):
    """``retry_delay_seconds`` must fill ``retry_delay`` but is not a whole 64-bit number.

    Prefect copies it when it builds the run (after the work-queue override, before the
    insert, on an idempotent repeat too), and its integer validation fails there: 500.
    """


class ScheduledTimeOutOfRange(FlowRunError, ValueError):
    """The run's scheduled time has no UTC equivalent (it falls outside years 1 to 9999 there).

    Prefect stores a run's start times in UTC; converting such a time fails once the run is
    inserted, and nothing is stored (Prefect answers 201 for the missing run without an
    idempotency key, 503 with one). ``value`` is the time as given.
    """

    def __init__(self, message: str, value: datetime) -> None:
        super().__init__(message)
        self.value = value


class IdempotencyKeyReused(FlowRunError, ValueError):
    """Strict idempotency: the key was used before with a different payload.

    ``differences`` lists the JSON Pointers of the fields that differ.
    """

    def __init__(self, message: str, differences: tuple[str, ...]) -> None:
        super().__init__(message)
        self.differences = differences


class UnknownWorkQueue(FlowRunError, LookupError):
    """The work queue policy is ``reject`` and the named queue does not exist."""


class TooManyFlowRuns(FlowRunError, ValueError):
    """A bulk create asked for more runs than the service's limit (Prefect's is 100)."""

    def __init__(self, limit: int = 100) -> None:
        super().__init__(f"Cannot create more than {limit} flow runs at once.")
        self.limit = limit


class CreationRefused(FlowRunError, ValueError):
    """Registering a flow, pool, queue, variable, document or deployment was refused.

    Raised by :class:`~flowrun_core.seeding.Seeder` where Prefect's own creation route
    (``POST /flows/``, ``/work_pools/``, ``/variables/``, ``/deployments/``, ...) refuses
    the entity; nothing was written. ``entity`` names the kind (``"flow"``, ``"work pool"``,
    ``"work queue"``, ``"variable"``, ``"block document"``, ``"deployment"``).
    """

    def __init__(self, message: str, *, entity: str) -> None:
        super().__init__(message)
        self.entity = entity


class InvalidEntity(CreationRefused):
    """A field of the entity breaks one of Prefect's creation rules (a 422 there)."""


class DuplicateEntity(CreationRefused):
    """An entity with this name already exists where names are unique (a 409 there)."""


class ReservedName(CreationRefused):
    """The name is reserved for Prefect's internal use (a 403 there)."""


class WorkPoolNotFound(CreationRefused, LookupError):
    """The named work pool does not exist (a 404 there)."""


class StorageError(FlowRunError):
    """A storage adapter failed; adapters raise only these for driver failures."""


class StorageIntegrityError(StorageError):
    """A unique or foreign-key constraint was violated; nothing was written."""


class StorageValueError(StorageError):
    """The store cannot represent a value it was given; nothing was written.

    A string with a lone surrogate, an integer beyond the store's range: the value, not the
    store, is at fault, and retrying does not help.
    """


class StorageOperationalError(StorageError):
    """The store could not do the work now (locked, read-only, full); retrying may help."""


class StorageLocked(StorageOperationalError):
    """Another writer held the lock past the busy timeout."""


class StorageReadOnly(StorageOperationalError):
    """The store cannot be written (read-only file or directory)."""


class StorageFull(StorageOperationalError):
    """The store ran out of space (disk full or ``max_page_count`` reached)."""


class StorageCorrupt(StorageError):
    """The store's file is not a valid database or is damaged."""


class StorageSchemaError(StorageError):
    """The store's schema is from a newer version of flowrun-core, or unknown."""


class StorageClosed(StorageError):
    """The repository was used after it was closed."""


class StorageUnavailable(StorageOperationalError):
    """The store's server cannot be reached (refused, down, restarting); retrying may help."""


class StorageTimeout(StorageOperationalError):
    """A statement ran past the store's statement timeout and was cancelled; nothing was written."""


class StorageAccessDenied(StorageError):
    """The store refused the credentials, or the named database or role does not exist."""
