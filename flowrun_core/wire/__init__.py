"""The wire façade: request bytes in, Prefect's exact status code and JSON body out.

Mount :func:`handle_create_flow_run` under ``POST /deployments/{id}/create_flow_run`` in any
web framework: pass the path segment (raw or already percent-decoded: it is decoded as
Starlette decodes the path, so ``%2D`` reads as a hyphen), the raw body (``None`` when the
request had none) and the request headers, and send back ``response.status``,
``response.body`` and ``content-type: application/json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from uuid import UUID

from flowrun_core.errors import (
    FlowRunError,
    InvalidHeader,
    InvalidRequest,
    NestedTooDeep,
    StorageValueError,
)
from flowrun_core.json_types import JSON
from flowrun_core.models import CreatedBy, DeploymentFlowRunCreate, WorkQueue
from flowrun_core.service import FlowRunService
from flowrun_core.wire._common import (
    NOT_FOUND,
    WireOptions,
    WireResponse,
    deep_body_guard,
    handler_body,
    invalid,
    lower,
    parsed_body,
    path_uuid,
    read_body,
)
from flowrun_core.wire.bulk import handle_bulk_create_flow_runs
from flowrun_core.wire.headers import check_api_version, created_by_from_headers
from flowrun_core.wire.problems import problem_for
from flowrun_core.wire.request import (
    UnreadableBody,
    UnstorableValue,
    decode_create_request,
)
from flowrun_core.wire.response import encode_flow_run

__all__ = [
    "WireOptions",
    "WireResponse",
    "handle_bulk_create_flow_runs",
    "handle_create_flow_run",
    "handle_plan_flow_run",
]


def _decode(
    service: FlowRunService,
    deployment_id: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    options: WireOptions,
) -> WireResponse | tuple[UUID, DeploymentFlowRunCreate, CreatedBy | None]:
    """The checks before the service, in Prefect's order: an answer, or the decoded call."""
    target = path_uuid(deployment_id)
    if target is None:
        return NOT_FOUND
    lowered = lower(headers)
    content_type = lowered.get("content-type")
    # FastAPI parses a JSON body before the header checks run: a body that is not JSON is
    # answered first, and alone (header problems are not reported with it).
    read = read_body(body, content_type, options)
    if isinstance(read, WireResponse):
        return read
    try:
        check_api_version(lowered)
    except InvalidHeader as exc:
        return WireResponse(status=400, json={"detail": exc.message})
    created_by, header_errors = created_by_from_headers(lowered)
    try:
        request = decode_create_request(body, content_type=content_type, read=read)
    except UnreadableBody as exc:
        return WireResponse(status=400, json={"detail": exc.message})
    except UnstorableValue as exc:
        if header_errors:  # Prefect's validation accepted the body: the headers come alone
            return invalid(tuple(header_errors), exc.request_body, options)
        earlier = _before_the_crash(service, target, exc, created_by, options)
        if isinstance(earlier, WireResponse):
            return earlier
        if earlier:  # Prefect returns the stored run
            return target, exc.request, created_by
        return invalid(exc.details, exc.request_body, options)
    except InvalidRequest as exc:
        return invalid(tuple(header_errors) + exc.details, exc.request_body, options)
    if header_errors:
        # Prefect echoes the body as its validation left it (deprecated policy fields
        # back-filled in place), as decoding just did to the parsed value.
        echoed = read.value if read is not None else parsed_body(body)
        return invalid(tuple(header_errors), echoed, options)
    return target, request, created_by


def _before_the_crash(
    service: FlowRunService,
    deployment_id: UUID,
    exc: UnstorableValue,
    created_by: CreatedBy | None,
    options: WireOptions,
) -> WireResponse | bool:
    """What Prefect answers before it crashes on a value it cannot store.

    Prefect accepts such a body, runs its rules and only then fails (500). So an unknown
    deployment is a 404, and every rule that fails first answers as Prefect does (for deep
    JSON, a schema check that recurses too deeply is its circular-reference 422). Returns
    that answer; ``True`` when the idempotency key names a stored run and the value does
    not stop Prefect returning it (the caller replays it); ``False`` when nothing answers
    first (the caller refuses the value with a 422). The dry run writes nothing.
    """
    try:
        replay = service.plan(deployment_id, exc.request, created_by=created_by).replay
    except NestedTooDeep:
        # The service's own refusal of what ``exc`` refuses: nothing answered before it.
        return False
    except StorageValueError as error:
        if not exc.replayable:
            # The store could not even look up the bound text (a queue name, a key; the
            # shipped adapters find nothing instead, see Repository): that is where Prefect
            # fails on it, so the value is refused here, not "unavailable".
            return False
        return _problem(error, options)
    except FlowRunError as error:  # DeploymentNotFound included: 404
        return _problem(error, options)
    return replay and exc.replayable


def _problem(exc: FlowRunError, options: WireOptions) -> WireResponse:
    status, payload = problem_for(exc, include_validation_report=options.include_validation_report)
    return WireResponse(status=status, json=payload)


def handle_create_flow_run(
    service: FlowRunService,
    deployment_id: str,
    body: bytes | None,
    headers: Mapping[str, str] | None = None,
    *,
    options: WireOptions | None = None,
) -> WireResponse:
    """Answer ``POST /deployments/{deployment_id}/create_flow_run`` as Prefect 3.9.1 does.

    Returns 201 with the new run, 200 with the run an idempotency key named, or the
    error status and body of the first check that fails, in Prefect's order: the path id
    (404), ``X-Prefect-Api-Version`` (400), the body and automation headers (422, all
    problems at once), then the service's rules. Nothing the request holds raises: every
    outcome is a :class:`WireResponse`. ``TypeError`` is for the caller's own arguments: a
    ``str`` body (pass its bytes; a ``bytearray`` or ``memoryview`` is read as bytes), a
    ``deployment_id`` that is not text, headers that are not a mapping of text to text.
    """
    return _answer(
        service, deployment_id, body, headers, options=options or WireOptions(), respond=_created
    )


def _created(
    service: FlowRunService,
    target: UUID,
    request: DeploymentFlowRunCreate,
    created_by: CreatedBy | None,
) -> WireResponse:
    result = service.create_flow_run_from_deployment(target, request, created_by=created_by)
    return WireResponse.for_flow_run(
        201 if result.created else 200, result.value, now=service.clock()
    )


_Respond = Callable[[FlowRunService, UUID, DeploymentFlowRunCreate, CreatedBy | None], WireResponse]


def _answer(
    service: FlowRunService,
    deployment_id: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    *,
    options: WireOptions,
    respond: _Respond,
) -> WireResponse:
    """Decode the request as Prefect does, then ``respond``; a rule's refusal is its problem."""
    body = handler_body(deployment_id, body, headers)
    with deep_body_guard(body):
        decoded = _decode(service, deployment_id, body, headers, options)
        if isinstance(decoded, WireResponse):
            return decoded
        try:
            return respond(service, *decoded)
        except FlowRunError as exc:
            return _problem(exc, options)


def _queue_json(queue: WorkQueue | None) -> JSON:
    if queue is None:
        return None
    return {
        "id": str(queue.id),
        "name": queue.name,
        "work_pool_id": str(queue.work_pool_id),
        "priority": queue.priority,
    }


def handle_plan_flow_run(
    service: FlowRunService,
    deployment_id: str,
    body: bytes | None,
    headers: Mapping[str, str] | None = None,
    *,
    options: WireOptions | None = None,
) -> WireResponse:
    """A dry run of :func:`handle_create_flow_run` (beyond Prefect): nothing is written.

    Takes the same request and answers the same errors. On success: 200 with
    ``{"flow_run": FlowRunResponse, "replay": bool, "provenance": {"fields": …,
    "parameters": …, "labels": …, "tags": …}, "new_work_queue": {…} | null}``, where each
    provenance value is ``deployment``, ``request``, ``system``, ``hydration`` or
    ``generated`` (see :meth:`~flowrun_core.service.FlowRunService.plan`).
    """
    return _answer(
        service, deployment_id, body, headers, options=options or WireOptions(), respond=_planned
    )


def _planned(
    service: FlowRunService,
    target: UUID,
    request: DeploymentFlowRunCreate,
    created_by: CreatedBy | None,
) -> WireResponse:
    plan = service.plan(target, request, created_by=created_by)
    return WireResponse(
        status=200,
        json={
            "flow_run": encode_flow_run(plan.flow_run, now=service.clock()),
            "replay": plan.replay,
            "provenance": plan.provenance.as_json(),
            "new_work_queue": _queue_json(plan.new_work_queue),
        },
    )
