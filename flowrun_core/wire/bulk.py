"""The bulk wire handler: ``POST /deployments/{id}/create_flow_run/bulk`` (spec §9).

The answer has the shape of Prefect's bulk route: always **200**
``{"results": [{"flow_run_id", "status", "error"}, …]}`` in request order, with ``CREATED``
for stored items (an idempotent replay counts as ``CREATED``, as in Prefect) and ``FAILED``
with Prefect's per-item error texts. Unlike Prefect's route, an item is reported
``CREATED`` only when its run is stored once the call returns: each item runs in its own
savepoint, so one item's failure never undoes or poisons another.

Checks before the items, in Prefect's order: the path id (404), ``X-Prefect-Api-Version``
(400), the body (422, every problem at once, ``loc`` ``["body", index, field, …]``), the
limit (400 ``"Cannot create more than 100 flow runs at once."``), then the deployment (404,
also for an empty list).

Differences from Prefect 3.9.1 (by design): work queues named by items are created by each
item inside its own savepoint (Prefect creates them all up front, even for items that
fail); an integrity error fails only its item, with the single endpoint's conflict text
(Prefect reports raw SQL and rolls back the whole batch while answering ``CREATED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Final

import cattrs

from flowrun_core import errors
from flowrun_core.bulk import BulkItemOutcome, BulkStatus
from flowrun_core.errors import ErrorDetail, FlowRunError, InvalidHeader
from flowrun_core.json_types import JSON
from flowrun_core.models import DeploymentFlowRunCreate
from flowrun_core.service import FlowRunService
from flowrun_core.wire._common import (
    NOT_FOUND,
    WireOptions,
    WireResponse,
    deep_body_guard,
    handler_body,
    invalid,
    lower,
    path_uuid,
    read_body,
)
from flowrun_core.wire.converter import error_details, make_wire_converter
from flowrun_core.wire.headers import check_api_version, created_by_from_headers
from flowrun_core.wire.problems import INTEGRITY_CONFLICT, problem_for
from flowrun_core.wire.request import crash_refusals
from flowrun_core.wire.response import encode_flow_run

__all__ = ["ROLLED_BACK", "bulk_error_text", "handle_bulk_create_flow_runs"]

ROLLED_BACK: Final = (
    "Not created: another item of this atomic batch failed, so the whole batch was rolled back."
)
"""The ``error`` of an item that succeeded alone but was undone with its atomic batch."""

_MODEL_TYPE_MSG: Final = "Input should be a valid dictionary or object to extract fields from"


@cache
def _converter() -> cattrs.Converter:
    return make_wire_converter()


def bulk_error_text(exc: FlowRunError, request: DeploymentFlowRunCreate) -> str:
    """The ``error`` text Prefect's bulk route gives an item that failed with ``exc``."""
    if isinstance(exc, errors.MissingParameterSchema):
        return "Parameter schema enforcement is enabled but deployment has no valid schema."
    if isinstance(exc, errors.ParameterValidationFailed):
        return f"Parameter validation failed: {exc.message}"
    if isinstance(exc, errors.CircularSchemaRef):
        return "Invalid schema: circular references detected."
    if isinstance(exc, errors.HydrationFailed):
        return exc.message
    if isinstance(exc, errors.WorkQueueWithoutPool):
        return (
            f"Cannot create flow run in work queue {request.work_queue_name} because "
            "deployment is not associated with a work pool."
        )
    if isinstance(exc, errors.StorageIntegrityError):
        return INTEGRITY_CONFLICT
    _status, body = problem_for(exc)
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return exc.message


def _parse(
    body: bytes | None, content_type: str | None, options: WireOptions
) -> JSON | WireResponse:
    """The body as JSON, or the 400/422 answer Prefect gives when it cannot be read."""
    read = read_body(body, content_type, options)
    if isinstance(read, WireResponse):
        return read
    if read is not None:
        return read.value
    if not body:
        return None
    return body.decode("utf-8", "replace")


def _decode_item(item: JSON, index: int) -> DeploymentFlowRunCreate | list[ErrorDetail]:
    loc: tuple[str | int, ...] = ("body", index)
    if type(item) is not dict:
        return [ErrorDetail(type="model_attributes_type", loc=loc, msg=_MODEL_TYPE_MSG, input=item)]
    try:
        request = _converter().structure(item, DeploymentFlowRunCreate)
    except RecursionError:
        message = "Value error, the request body is nested too deeply"
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error detail
        try:
            details = error_details(exc, loc, item)
        except RecursionError:
            details = []
        if details:
            return details
        message = f"Value error, {exc}"
    else:
        return crash_refusals(request, item, loc) or request
    return [ErrorDetail(type="value_error", loc=loc, msg=message, input=None, ctx={"error": {}})]


def _entry(
    outcome: BulkItemOutcome,
    request: DeploymentFlowRunCreate,
    service: FlowRunService,
    options: WireOptions,
) -> JSON:
    run = outcome.flow_run
    entry: dict[str, JSON]
    if outcome.stored and run is not None:
        entry = {"flow_run_id": str(run.id), "status": "CREATED", "error": None}
    elif outcome.status is BulkStatus.ROLLED_BACK:
        entry = {"flow_run_id": None, "status": "FAILED", "error": ROLLED_BACK}
    else:
        error = outcome.error
        text = "" if error is None else bulk_error_text(error, request)
        entry = {"flow_run_id": None, "status": "FAILED", "error": text}
    if options.bulk_outcomes:
        entry["outcome"] = outcome.status.value
        if outcome.stored and run is not None:
            entry["flow_run"] = encode_flow_run(run, now=service.clock())
        if outcome.error is not None:
            status, body = problem_for(
                outcome.error, include_validation_report=options.include_validation_report
            )
            entry["problem"] = {"status": status, "body": body}
    return entry


def handle_bulk_create_flow_runs(
    service: FlowRunService,
    deployment_id: str,
    body: bytes | None,
    headers: Mapping[str, str] | None = None,
    *,
    options: WireOptions | None = None,
) -> WireResponse:
    """Answer ``POST /deployments/{deployment_id}/create_flow_run/bulk`` (see module docs).

    The body is a JSON array of create-flow-run request objects. With
    ``options.bulk_atomic`` the batch is all or nothing; with ``options.bulk_outcomes``
    each result carries the richer outcome. Nothing the request holds raises: every outcome
    is a :class:`~flowrun_core.wire.WireResponse` (``TypeError`` is for the caller's own
    arguments, as for :func:`~flowrun_core.wire.handle_create_flow_run`).
    """
    options = options or WireOptions()
    body = handler_body(deployment_id, body, headers)
    with deep_body_guard(body):
        return _handle_bulk(service, deployment_id, body, headers, options)


def _handle_bulk(
    service: FlowRunService,
    deployment_id: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    options: WireOptions,
) -> WireResponse:
    target = path_uuid(deployment_id)
    if target is None:
        return NOT_FOUND
    lowered = lower(headers)
    # FastAPI parses a JSON body before the header checks run (see read_json_body).
    parsed = _parse(body, lowered.get("content-type"), options)
    if isinstance(parsed, WireResponse):
        return parsed
    try:
        check_api_version(lowered)
    except InvalidHeader as exc:
        return WireResponse(status=400, json={"detail": exc.message})
    created_by, header_errors = created_by_from_headers(lowered)
    problems: list[ErrorDetail] = list(header_errors)
    requests: list[DeploymentFlowRunCreate] = []
    if parsed is None:
        problems.append(
            ErrorDetail(type="missing", loc=("body",), msg="Field required", input=None)
        )
    elif not isinstance(parsed, list):
        problems.append(
            ErrorDetail(
                type="list_type", loc=("body",), msg="Input should be a valid list", input=parsed
            )
        )
    else:
        for index, item in enumerate(parsed):
            decoded = _decode_item(item, index)
            if isinstance(decoded, list):
                problems.extend(decoded)
            else:
                requests.append(decoded)
    if problems:
        return invalid(tuple(problems), parsed, options)
    try:
        result = service.create_flow_runs_from_deployment(
            target, requests, atomic=options.bulk_atomic, created_by=created_by
        )
    except FlowRunError as exc:
        status, payload = problem_for(exc)
        return WireResponse(status=status, json=payload)
    results: list[JSON] = [
        _entry(outcome, requests[outcome.index], service, options) for outcome in result.outcomes
    ]
    answer: dict[str, JSON] = {"results": results}
    if options.bulk_outcomes:
        answer["committed"] = result.committed
    return WireResponse(status=200, json=answer)
