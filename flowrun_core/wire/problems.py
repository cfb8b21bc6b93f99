"""The one table from outcomes to Prefect's status codes and bodies.

Exceptions carry messages only; this module decides the HTTP status and the JSON body,
and a parametrized test pins every row. Where Prefect answers 500 to client input, the row
gives a 4xx and says so.
"""

from __future__ import annotations

from collections.abc import Callable

from flowrun_core import errors
from flowrun_core.json_types import JSON
from flowrun_core.wire.response import as_read_back

__all__ = [
    "INTEGRITY_CONFLICT",
    "problem_for",
    "validation_envelope",
    "violation_json",
]

INTEGRITY_CONFLICT = (
    "Data integrity conflict. This usually means a unique or foreign key constraint was "
    "violated. See server logs for details."
)


def _detail(prefix: str = "") -> Callable[[errors.FlowRunError], JSON]:
    def body(exc: errors.FlowRunError) -> JSON:
        return {"detail": f"{prefix}{exc.message}"}

    return body


def _fixed(body: JSON) -> Callable[[errors.FlowRunError], JSON]:
    return lambda _exc: body


def _key_reused(exc: errors.FlowRunError) -> JSON:
    differences: list[JSON] = list(getattr(exc, "differences", ()))
    return {"detail": exc.message, "differences": differences}


# Most specific classes first: the first row whose class matches wins.
_TABLE: tuple[tuple[type[errors.FlowRunError], int, Callable[[errors.FlowRunError], JSON]], ...] = (
    (errors.DeploymentNotFound, 404, _detail()),
    (errors.InvalidHeader, 400, _detail()),
    (errors.HydrationFailed, 400, _detail("Error hydrating flow run parameters: ")),
    (errors.MissingParameterSchema, 409, _detail("Error updating deployment: ")),
    (errors.ParameterValidationFailed, 409, _detail("Error creating flow run: ")),
    (errors.CircularSchemaRef, 422, _detail("Invalid schema: ")),
    # Prefect: 500. A schema that is not valid Draft 2020-12 cannot be enforced.
    (errors.InvalidParameterSchema, 422, _detail()),  # its message has the prefix
    (errors.JobVariablesInvalid, 422, _detail("Error creating flow run: ")),
    (errors.InvalidJobVariablesSchema, 422, _detail("Invalid schema: ")),
    (errors.BlockNotFound, 404, _detail()),
    (errors.WorkQueueWithoutPool, 400, _detail()),
    # Prefect: 500 (its queue-name pattern fails outside request validation).
    (errors.InvalidWorkQueueName, 422, _detail()),
    # Prefect: 500 (reading the result artifact crashes; nothing is created).
    (errors.InvalidStateData, 422, _detail()),
    # Prefect: 500 (its state-change event refuses more than 100 related resources, and
    # the create is rolled back).
    (errors.TooManyRelatedResources, 422, _detail()),
    # Prefect: 500 (building the run, its integer validation of the copied delay fails).
    (errors.InvalidRetryDelay, 422, _detail()),
    # Prefect: 201 for a run it did not store (no key), or 503 (a key); nothing is stored.
    (errors.ScheduledTimeOutOfRange, 422, _detail()),
    # Beyond Prefect (opt-in). A reused key is a semantic error in the body (the IETF
    # Idempotency-Key draft: 422 for a key reused with a different payload).
    (errors.IdempotencyKeyReused, 422, _key_reused),
    # Beyond Prefect (opt-in): the deployment exists (so not 404, which clients read as
    # "deployment not found"); the body names a queue that does not exist: a semantic
    # error in an otherwise valid request, like the job-variable rows above.
    (errors.UnknownWorkQueue, 422, _detail()),
    # Prefect's bulk route: checked before the deployment is looked up.
    (errors.TooManyFlowRuns, 400, _detail()),
    (errors.StorageIntegrityError, 409, _fixed({"detail": INTEGRITY_CONFLICT})),
    (errors.StorageOperationalError, 503, _fixed({"exception_message": "Service Unavailable"})),
    (errors.StorageError, 503, _fixed({"exception_message": "Service Unavailable"})),
)


def problem_for(
    exc: errors.FlowRunError, *, include_validation_report: bool = False
) -> tuple[int, JSON]:
    """The status code and JSON body Prefect answers for ``exc``.

    Args:
        exc: the exception a request ended with.
        include_validation_report: for ``ParameterValidationFailed``, add the complete
            report under ``"violations"`` (opt-in; ``detail`` is unchanged).
    """
    if isinstance(exc, errors.InvalidRequest):
        return 422, validation_envelope(exc.details, exc.request_body)
    for kind, status, body in _TABLE:
        if isinstance(exc, kind):
            payload = body(exc)
            if (
                include_validation_report
                and isinstance(exc, errors.ParameterValidationFailed)
                and isinstance(payload, dict)
            ):
                payload["violations"] = [violation_json(v) for v in exc.violations]
            return status, as_read_back(payload)
    return 500, {"exception_message": "Internal Server Error"}


def violation_json(violation: errors.SchemaViolation) -> JSON:
    """One item of a complete validation report (JSON Pointers per RFC 6901)."""
    return {
        "instance_path": violation.instance_path,
        "schema_path": violation.schema_path,
        "keyword": violation.keyword,
        "message": violation.message,
    }


def detail_json(detail: errors.ErrorDetail) -> dict[str, JSON]:
    """One pydantic-shaped error item, with ``ctx`` only when pydantic sends one."""
    item: dict[str, JSON] = {
        "type": detail.type,
        "loc": list(detail.loc),
        "msg": detail.msg,
        "input": detail.input,
    }
    if detail.ctx is not None:
        item["ctx"] = detail.ctx
    return item


def validation_envelope(
    details: tuple[errors.ErrorDetail, ...],
    request_body: JSON,
    *,
    include_detail: bool = False,
) -> dict[str, JSON]:
    """Prefect's 422 body; ``include_detail`` adds FastAPI's ``detail`` key (opt-in)."""
    items: list[JSON] = [detail_json(d) for d in details]
    envelope: dict[str, JSON] = {
        "exception_message": "Invalid request received.",
        "exception_detail": items,
        "request_body": request_body,
    }
    if include_detail:
        envelope["detail"] = list(items)
    # It echoes the request, whose strings may hold surrogates (see as_read_back).
    read_back = as_read_back(envelope)
    assert isinstance(read_back, dict)  # noqa: S101 - a dict reads back as a dict
    return read_back
