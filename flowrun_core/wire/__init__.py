"""The wire façade: request bytes in, Prefect's exact status code and JSON body out.

Mount :func:`handle_create_flow_run` under ``POST /deployments/{id}/create_flow_run`` in any
web framework: pass the raw path segment, the raw body (``None`` when the request had
none) and the request headers, and send back ``response.status``, ``response.body`` and
``content-type: application/json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from uuid import UUID

import attrs

from flowrun_core.errors import ErrorDetail, FlowRunError, InvalidHeader, InvalidRequest
from flowrun_core.json_types import JSON
from flowrun_core.service import FlowRunService
from flowrun_core.wire.headers import check_api_version, created_by_from_headers
from flowrun_core.wire.problems import problem_for, validation_envelope
from flowrun_core.wire.request import UnreadableBody, decode_create_request
from flowrun_core.wire.response import encode_flow_run, encode_json

__all__ = ["WireOptions", "WireResponse", "handle_create_flow_run"]

# Starlette's uuid path converter (as shipped with Prefect 3.9.1): 32 hex digits in either
# case, each of the four hyphens optional.
_PATH_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


@attrs.frozen(kw_only=True)
class WireOptions:
    """Opt-in behaviour beyond Prefect; the defaults answer exactly as Prefect 3.9.1.

    Attributes:
        include_validation_detail: also put the 422 items under ``detail``, so the body
            satisfies the OpenAPI ``HTTPValidationError`` schema (Prefect does not).
    """

    include_validation_detail: bool = False


@attrs.frozen(kw_only=True)
class WireResponse:
    """A status code and a JSON body."""

    status: int
    json: JSON

    @property
    def body(self) -> bytes:
        """The body as the bytes to send."""
        return encode_json(self.json)

    @property
    def content_type(self) -> str:
        """Always JSON."""
        return "application/json"


_NOT_FOUND = WireResponse(status=404, json={"detail": "Not Found"})


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def _parsed_body(body: bytes | None) -> JSON:
    """The body as Prefect echoes it in ``request_body`` (only used on the error path)."""
    if body is None:
        return None
    try:
        parsed: JSON = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")
    return parsed


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
    problems at once), then the service's rules. Nothing raises: every outcome is a
    :class:`WireResponse`.
    """
    options = options or WireOptions()
    if not _PATH_UUID.fullmatch(deployment_id):
        return _NOT_FOUND
    lowered = _lower(headers)
    try:
        check_api_version(lowered)
    except InvalidHeader as exc:
        return WireResponse(status=400, json={"detail": exc.message})
    created_by, header_errors = created_by_from_headers(lowered)
    try:
        request = decode_create_request(body, content_type=lowered.get("content-type"))
    except UnreadableBody as exc:
        return WireResponse(status=400, json={"detail": exc.message})
    except InvalidRequest as exc:
        return _invalid(tuple(header_errors) + exc.details, exc.request_body, options)
    if header_errors:
        return _invalid(tuple(header_errors), _parsed_body(body), options)
    try:
        result = service.create_flow_run_from_deployment(
            UUID(deployment_id), request, created_by=created_by
        )
    except FlowRunError as exc:
        status, payload = problem_for(exc)
        return WireResponse(status=status, json=payload)
    return WireResponse(
        status=201 if result.created else 200,
        json=encode_flow_run(result.value, now=service.clock()),
    )


def _invalid(
    details: tuple[ErrorDetail, ...], request_body: JSON, options: WireOptions
) -> WireResponse:
    return WireResponse(
        status=422,
        json=validation_envelope(
            details, request_body, include_detail=options.include_validation_detail
        ),
    )
