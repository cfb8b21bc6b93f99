"""Decode the body of ``POST /deployments/{id}/create_flow_run`` exactly as Prefect 3.9.1 does.

The bytes go through Python's :mod:`json` (so ``NaN``, ``Infinity`` and repeated keys behave
as in Prefect), then through the wire converter. Every problem is reported at once, in
pydantic's shape and order, as :class:`~flowrun_core.errors.InvalidRequest`.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from functools import cache
from typing import Final, TypeVar

import attrs
import cattrs

from flowrun_core.errors import ErrorDetail, InvalidRequest
from flowrun_core.json_types import JSON
from flowrun_core.models import DeploymentFlowRunCreate
from flowrun_core.rules.hydration import (
    MAX_JSON_DEPTH,
    first_unencodable_string,
    json_depth_exceeds,
    nested_too_deep,
)
from flowrun_core.wire.converter import error_details, make_wire_converter
from flowrun_core.wire.lax import fails_after_validation

__all__ = [
    "UNREADABLE_BODY",
    "JSONBody",
    "UnreadableBody",
    "UnstorableValue",
    "crash_refusals",
    "decode_create_request",
    "read_json_body",
]

UNREADABLE_BODY: Final = "There was an error parsing the body"
"""Prefect's 400 ``detail`` when the body cannot be read as JSON at all."""

_MODEL_TYPE_MSG: Final = "Input should be a valid dictionary or object to extract fields from"
_FREE_JSON_FIELDS: Final = ("parameters", "context", "job_variables")
_UNICODE_MSG: Final = "Input should be a valid string, unable to parse raw data as a unicode string"
_V = TypeVar("_V")
# A lone surrogate comes from a \uD800-\uDFFF escape or from its raw (CESU-8) bytes.
_MAYBE_SURROGATE: Final = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


class UnreadableBody(InvalidRequest):
    """The body cannot even be scanned as JSON (invalid UTF-8, too deep, huge integers).

    Prefect answers **400** ``{"detail": "There was an error parsing the body"}`` for these
    (FastAPI's catch-all around ``request.json()``), not 422; ``details`` still holds one
    ``json_invalid`` item for callers that treat this as any other invalid request.
    """

    def __init__(self, details: list[ErrorDetail], request_body: JSON = None) -> None:
        super().__init__(details, request_body)
        self.args = (UNREADABLE_BODY,)


class UnstorableValue(InvalidRequest):
    """The body holds a value Prefect cannot create a run with (it answers 500).

    Prefect's request validation accepts these, so they are never reported beside other
    body or header errors. Prefect runs its rules and only then fails; the façade answers
    whatever those rules answer first (404, hydration, schema enforcement, job variables,
    an integrity conflict, …), then 422. ``request`` is the decoded request those rules run
    on. When the idempotency key names a stored run, Prefect returns it (200) unless the
    value sits in a column written even then (``replayable=False``).

    The values: ``state.data`` other than null or an unpersisted-result marker, a date-time
    in the state's details with an offset of a day or more, a non-finite
    ``retry_delay_seconds``, a lone surrogate, JSON nested more than :data:`MAX_JSON_DEPTH`
    levels, a state name longer than :data:`MAX_STATE_NAME` characters, and a non-finite
    label value under a truthy idempotency key.
    """

    def __init__(
        self,
        details: list[ErrorDetail],
        request_body: JSON = None,
        *,
        request: DeploymentFlowRunCreate,
        replayable: bool = True,
    ) -> None:
        super().__init__(details, request_body)
        self.request = request
        self.replayable = replayable


@cache
def _converter() -> cattrs.Converter:
    return make_wire_converter()


def _is_json_content_type(content_type: str | None) -> bool:
    """FastAPI's rule: no header means JSON; else ``application/json`` or ``*+json``."""
    if content_type is None or content_type == "application/json":
        return True
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _as_text(body: bytes) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body.decode("utf-8", "replace")


def _invalid_body(value: JSON) -> InvalidRequest:
    detail = ErrorDetail(
        type="model_attributes_type", loc=("body",), msg=_MODEL_TYPE_MSG, input=value
    )
    return InvalidRequest([detail], value)


def _parse_json(body: bytes) -> JSON:
    try:
        return json.loads(body)  # type: ignore[no-any-return]
    except json.JSONDecodeError as exc:
        detail = ErrorDetail(
            type="json_invalid",
            loc=("body", exc.pos),
            msg="JSON decode error",
            input={},
            ctx={"error": exc.msg},
        )
        raise InvalidRequest([detail], exc.doc) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        # UnicodeDecodeError, too-long integers, too-deep nesting: Prefect answers 400.
        detail = ErrorDetail(
            type="json_invalid",
            loc=("body",),
            msg="JSON decode error",
            input={},
            ctx={"error": type(exc).__name__},
        )
        raise UnreadableBody([detail], _as_text(body)) from None


@attrs.frozen
class JSONBody:
    """A request body parsed as JSON (``value`` may be ``None``: the body was ``null``)."""

    value: JSON


def read_json_body(body: bytes | None, *, content_type: str | None = None) -> JSONBody | None:
    """Parse the body as FastAPI does, before any header is checked.

    FastAPI reads a JSON body before it runs the route's dependencies (Prefect's header
    checks among them), so a body that is not valid JSON is answered first, and alone: 422
    ``json_invalid``, or 400 for bytes that cannot be scanned at all. ``None`` when FastAPI
    leaves the body unread at that point: it is empty, or its content type is not JSON.

    Raises:
        InvalidRequest: the body is not valid JSON (one ``json_invalid`` item).
        UnreadableBody: the bytes cannot be scanned (invalid UTF-8, huge integers, …).
    """
    if not body or not _is_json_content_type(content_type):
        return None
    return JSONBody(_parse_json(body))


def decode_create_request(
    body: bytes | None, *, content_type: str | None = None, read: JSONBody | None = None
) -> DeploymentFlowRunCreate:
    """Decode and validate a create-flow-run request body.

    Args:
        body: The raw request body; ``None`` or ``b""`` means no body.
        content_type: The ``Content-Type`` header, or ``None`` when the request had none
            (Prefect then reads the body as JSON).
        read: the body as :func:`read_json_body` already parsed it, if it did.

    Returns:
        The request as a domain value. ``name`` is ``None`` when a slug must be generated;
        a caller-supplied state keeps ``name=None`` and no ``scheduled_time`` when none was
        given (the service applies Prefect's defaults).

    Raises:
        InvalidRequest: for every problem, all reported at once, with Prefect's ``type``,
            ``loc``, ``msg``, ``input`` and ``ctx``; ``request_body`` is the parsed body (or
            the text when it was not JSON). :class:`UnreadableBody` (a subclass) when the
            bytes cannot be scanned at all. Nothing else is raised, whatever the bytes.
    """
    if not body:
        missing = ErrorDetail(type="missing", loc=("body",), msg="Field required", input=None)
        raise InvalidRequest([missing], None)
    if read is not None:  # already read as JSON, content type included
        parsed = read.value
    elif _is_json_content_type(content_type):
        parsed = _parse_json(body)
    else:
        raise _invalid_body(_as_text(body))
    if parsed is None:
        missing = ErrorDetail(type="missing", loc=("body",), msg="Field required", input=None)
        raise InvalidRequest([missing], None)
    if type(parsed) is not dict:
        raise _invalid_body(parsed)
    try:
        request = _converter().structure(parsed, DeploymentFlowRunCreate)
    except RecursionError:
        detail = ErrorDetail(
            type="value_error",
            loc=("body",),
            msg="Value error, the request body is nested too deeply",
            input=None,
            ctx={"error": {}},
        )
        raise InvalidRequest([detail], None) from None
    except Exception as exc:  # noqa: BLE001 - every failure becomes an InvalidRequest
        try:
            details = error_details(exc, ("body",), parsed)
        except RecursionError:
            details = []
        if not details:
            details = [
                ErrorDetail(
                    type="value_error",
                    loc=("body",),
                    msg=f"Value error, {exc}",
                    input=None,
                    ctx={"error": {}},
                )
            ]
        raise InvalidRequest(details, parsed) from None
    request = _refuse_lone_surrogates(body, request, parsed)
    refused = crash_refusals(request, parsed)
    if refused:
        raise UnstorableValue(refused, parsed, request=request)
    _refuse_deep_values(body, request, parsed)
    _refuse_long_state_names(request, parsed)
    _refuse_non_finite_labels(request, parsed)
    return request


MAX_STATE_NAME: Final = 1007
"""Longest state name Prefect can create a run with.

Prefect emits an event named ``prefect.flow-run.{state name}`` inside the create's
transaction; event names are capped at 1024 characters, so a longer state name makes the
whole create fail (500, recorded on 3.9.1: 1007 characters pass, 1008 fail).
"""


def _refuse_long_state_names(request: DeploymentFlowRunCreate, parsed: JSON) -> None:
    """Refuse a state name Prefect cannot emit its event for (422, after the rules)."""
    state = request.state
    if state is None or state.name is None or len(state.name) <= MAX_STATE_NAME:
        return
    detail = ErrorDetail(
        type="string_too_long",
        loc=("body", "state", "name"),
        msg=f"String should have at most {MAX_STATE_NAME} characters",
        input=state.name,
        ctx={"max_length": MAX_STATE_NAME},
    )
    raise UnstorableValue([detail], parsed, request=request)


_DATETIME_DETAILS: Final = ("scheduled_time", "cache_expiration", "pause_timeout")
"""The state details Prefect reads as date-times, in its field order."""

_STATE_DATA_MSG: Final = (
    'Value error, state data cannot be set when creating a flow run; send null or {"type": '
    '"unpersisted"}'
)


def crash_refusals(
    request: DeploymentFlowRunCreate, parsed: JSON, loc: tuple[str | int, ...] = ("body",)
) -> list[ErrorDetail]:
    """What to refuse (422) in a valid body on which Prefect crashes after validating it.

    Checked only once every field has passed, because Prefect's 422 for an invalid body
    never mentions these: ``state.data`` other than ``null`` or an unpersisted-result
    marker, a date-time in the state's details whose offset is a day or more (Prefect keeps
    it, then fails when it reads it), and a non-finite ``retry_delay_seconds`` (Prefect
    stores it, then cannot serialize its answer). ``loc`` is where the request sits in the
    body.
    """
    state = parsed.get("state") if type(parsed) is dict else None
    data = state.get("data") if type(state) is dict else None
    if data is not None and not (type(data) is dict and data.get("type") == "unpersisted"):
        return [
            ErrorDetail(
                type="value_error",
                loc=(*loc, "state", "data"),
                msg=_STATE_DATA_MSG,
                input=data,
                ctx={"error": {}},
            )
        ]
    details = state.get("state_details") if type(state) is dict else None
    if type(details) is dict:
        for field in _DATETIME_DETAILS:
            message = fails_after_validation(details.get(field))
            if message is not None:
                return [
                    ErrorDetail(
                        type="value_error",
                        loc=(*loc, "state", "state_details", field),
                        msg=message,
                        input=details[field],
                        ctx={"error": {}},
                    )
                ]
    if not math.isfinite(request.empirical_policy.retry_delay_seconds):
        return [
            ErrorDetail(
                type="finite_number",
                loc=(*loc, "empirical_policy", "retry_delay_seconds"),
                msg="Input should be a finite number",
                input=None,
            )
        ]
    return []


def _refuse_lone_surrogates(
    body: bytes, request: DeploymentFlowRunCreate, parsed: JSON
) -> DeploymentFlowRunCreate:
    r"""Refuse a value holding a string UTF-8 cannot encode (422, ``string_unicode``).

    Prefect accepts it and fails when it writes it (500). A JSON field (parameters, tags,
    labels, context, job variables, the state) is only written for a new run, so a key that
    names a stored run still replays; the run's name, its idempotency key and a work-queue
    name are bound as SQL values before that, so they fail even then.

    Only what Prefect keeps is looked at: a field it drops (an unknown key of
    ``empirical_policy`` or of the state's details) may hold anything. A top-level key of
    ``parameters``, ``context``, ``labels`` or ``job_variables`` is not refused: Prefect's
    validation spells each lone surrogate in it as three U+FFFD, and so does this function
    (the returned request). Only bodies whose bytes could spell a lone surrogate are walked:
    UTF-8 ones with a ``\uD800``-``\uDFFF`` escape or raw surrogate bytes, and any body
    in UTF-16 or UTF-32 (which :mod:`json` reads too).
    """
    if _MAYBE_SURROGATE.search(body) is None and b"\x00" not in body[:4]:
        return request
    request = _with_lossy_keys(request)
    path = first_unencodable_string(_kept_values(request))
    if path is None:
        return request
    bound = (request.name, request.idempotency_key, request.work_queue_name)
    replayable = all(text is None or _encodable(text) for text in bound)
    detail = ErrorDetail(type="string_unicode", loc=("body", *path), msg=_UNICODE_MSG, input=None)
    raise UnstorableValue([detail], parsed, request=request, replayable=replayable)


def _lossy(key: str) -> str:
    """``key`` with each lone surrogate spelled as three U+FFFD, as Prefect's validation does."""
    if _encodable(key):
        return key
    return key.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _lossy_keys(mapping: dict[str, _V]) -> dict[str, _V]:
    if all(_encodable(key) for key in mapping):
        return mapping
    return {_lossy(key): value for key, value in mapping.items()}


def _with_lossy_keys(request: DeploymentFlowRunCreate) -> DeploymentFlowRunCreate:
    """``request`` with its free-form objects' top-level keys spelled as Prefect keeps them."""
    labels, job_variables = request.labels, request.job_variables
    return attrs.evolve(
        request,
        parameters=_lossy_keys(request.parameters),
        context=_lossy_keys(request.context),
        labels=None if labels is None else _lossy_keys(labels),
        job_variables=None if job_variables is None else _lossy_keys(job_variables),
    )


def _kept_values(request: DeploymentFlowRunCreate) -> dict[str, object]:
    """The request's values that Prefect keeps and writes, by field, in the body's order."""
    state = request.state
    return {
        "state": None
        if state is None
        else {
            "name": state.name,
            "message": state.message,
            "data": state.data,
            "state_details": attrs.asdict(state.state_details),
        },
        "name": request.name,
        "parameters": request.parameters,
        "context": request.context,
        "empirical_policy": {"pause_keys": sorted(request.empirical_policy.pause_keys or ())},
        "tags": list(request.tags),
        "idempotency_key": request.idempotency_key,
        "labels": request.labels,
        "work_queue_name": request.work_queue_name,
        "job_variables": request.job_variables,
    }


def _encodable(text: str) -> bool:
    return first_unencodable_string(text) is None


def _refuse_non_finite_labels(request: DeploymentFlowRunCreate, parsed: JSON) -> None:
    """Refuse ``NaN`` or ``Infinity`` as a label value under a truthy idempotency key (422).

    Prefect's keyed insert stores such a value as JSON ``null`` and reads the row back, and a
    null label value fails its model (500, nothing stored). Without a key the run is
    created (the value is answered as ``null``); a key naming a stored run replays it.
    """
    if not request.idempotency_key or not request.labels:
        return
    details = [
        ErrorDetail(
            type="finite_number",
            loc=("body", "labels", key),
            msg="Input should be a finite number",
            input=None,
        )
        for key, value in request.labels.items()
        if type(value) is float and not math.isfinite(value)
    ]
    if details:
        raise UnstorableValue(details, parsed, request=request)


def _refuse_deep_values(body: bytes, request: DeploymentFlowRunCreate, parsed: JSON) -> None:
    """Refuse free-form JSON fields nested deeper than :data:`MAX_JSON_DEPTH` (422).

    Prefect stores such a value and then answers 500 (its response cannot be serialized).
    A body with few brackets cannot be that deep, so ordinary requests skip the walk.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    details = [
        nested_too_deep(("body", name))
        for name in _FREE_JSON_FIELDS
        if json_depth_exceeds(getattr(request, name), MAX_JSON_DEPTH)
    ]
    if details:
        raise UnstorableValue(details, parsed, request=request)
