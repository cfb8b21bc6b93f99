"""What the wire handlers share: options, the response value, path and body helpers."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Final
from urllib.parse import unquote
from uuid import UUID

import attrs

from flowrun_core.errors import ErrorDetail, InvalidRequest
from flowrun_core.json_types import JSON
from flowrun_core.models import FlowRun
from flowrun_core.rules.stack_depth import collector_paused
from flowrun_core.wire.problems import validation_envelope
from flowrun_core.wire.request import JSONBody, UnreadableBody, read_json_body
from flowrun_core.wire.response import encode_flow_run, encode_json
from flowrun_core.wire.run_body import flow_run_body

__all__ = [
    "NOT_FOUND",
    "PATH_UUID",
    "WireOptions",
    "WireResponse",
    "deep_body_guard",
    "handler_body",
    "invalid",
    "lower",
    "parsed_body",
    "path_uuid",
    "read_body",
]

# Starlette's uuid path converter (as shipped with Prefect 3.9.1): 32 hex digits in either
# case, each of the four hyphens optional.
PATH_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


_FEW_OPENERS: Final = 100
"""Brackets and braces a body may hold and still be handled with the collector running."""


def handler_body(deployment_id: object, body: object, headers: object) -> bytes | None:
    """A handler's arguments checked: the body as ``bytes`` (or ``None``), else ``TypeError``.

    What the request holds is answered, never raised; these are the embedding code's own
    arguments. A ``bytearray`` or ``memoryview`` body is read as its bytes; a ``str`` body,
    a ``deployment_id`` that is not the path segment's text, or headers that are not a
    mapping of names to text are refused, naming what to pass instead.
    """
    if not isinstance(deployment_id, str):
        raise TypeError(
            f"deployment_id must be the path segment as str, not {type(deployment_id).__name__}"
        )
    if headers is not None and not isinstance(headers, Mapping):
        raise TypeError(
            f"headers must be a mapping of header names to values, not {type(headers).__name__}"
        )
    if headers:
        for name, value in headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(
                    f"headers must map str names to str values (decode bytes as latin-1), "
                    f"not {name!r}: {value!r}"
                )
    if body is None or type(body) is bytes:
        return body
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        raise TypeError("body must be the request's bytes, not str (use text.encode('utf-8'))")
    raise TypeError(f"body must be bytes or None, not {type(body).__name__}")


def deep_body_guard(body: bytes | None) -> AbstractContextManager[None]:
    """Pause the cyclic garbage collector while a body that may nest deeply is handled.

    Parsing, decoding and encoding such a body recurse once per level and may run into
    the recursion limit on purpose (Prefect answers it); a collection at that depth would run
    unrelated finalizers without stack (see :mod:`flowrun_core.rules.stack_depth`). A body
    nests no deeper than the ``[`` and ``{`` it holds, so one with few of them is handled
    with the collector running.
    """
    if body and body.count(b"[") + body.count(b"{") > _FEW_OPENERS:
        return collector_paused()
    return nullcontext()


@functools.lru_cache(maxsize=256)
def path_uuid(segment: str) -> UUID | None:
    """The id a ``{deployment_id}`` path segment names, or ``None`` (404 "Not Found").

    Starlette matches routes on the percent-decoded path, so ``%2D`` is a hyphen here too
    (recorded on 3.9.1); a segment that decodes to anything but a uuid matches no route.
    Remembered for the last 256 segments (a UUID is immutable): a service sees the same few
    deployments again and again, and parsing one costs more than the lookup.
    """
    text = unquote(segment) if "%" in segment else segment
    return UUID(text) if PATH_UUID.fullmatch(text) else None


@attrs.frozen(kw_only=True)
class WireOptions:
    """Opt-in behaviour beyond Prefect; the defaults answer exactly as Prefect 3.9.1.

    Service behaviour (strict idempotency, its scope, the unknown-queue policy, the bulk
    limit) is chosen with :class:`~flowrun_core.service.ServiceOptions` on the service; these
    options only shape the answers.

    Attributes:
        include_validation_detail: also put the 422 items under ``detail``, so the body
            satisfies the OpenAPI ``HTTPValidationError`` schema (Prefect does not).
        include_validation_report: add the complete parameter validation report to a 409
            "Validation failed" body, under ``violations``: every violation with its
            ``instance_path`` and ``schema_path`` (JSON Pointers), ``keyword`` and
            ``message``. ``detail`` stays Prefect's single message.
        bulk_atomic: bulk creates are all or nothing: if any item fails, nothing is stored
            and the items that would have succeeded answer ``FAILED`` (outcome
            ``rolled_back``).
        bulk_outcomes: bulk results also carry ``outcome`` (``created``, ``replayed``,
            ``failed``, ``rolled_back``), the ``flow_run`` for stored items, and for failed
            items the ``problem`` a single create answers (``status`` and ``body``); the
            body gets ``committed``.
    """

    include_validation_detail: bool = False
    include_validation_report: bool = False
    bulk_atomic: bool = False
    bulk_outcomes: bool = False


class WireResponse:
    """A status code and a JSON body; immutable.

    ``WireResponse(status=..., json=...)`` holds a JSON value and encodes it when ``body``
    is read. A handler answering with a flow run makes one with :meth:`for_flow_run`: its
    ``body`` is written straight from the run, and its ``json`` is only built if read. The
    two kinds compare equal, and answer the same, when status and JSON are equal.
    """

    __slots__ = ("_json", "_run", "status")

    status: int
    _json: JSON
    _run: tuple[FlowRun, datetime] | None
    """The run and the moment its response is built, for :meth:`for_flow_run`."""

    def __init__(self, *, status: int, json: JSON) -> None:
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "_json", json)
        object.__setattr__(self, "_run", None)

    @classmethod
    def for_flow_run(cls, status: int, run: FlowRun, *, now: datetime) -> WireResponse:
        """A response whose JSON is ``encode_flow_run(run, now=now)``, built on demand."""
        response = cls(status=status, json=None)
        object.__setattr__(response, "_run", (run, now))
        return response

    @property
    def json(self) -> JSON:
        """The body as a JSON value."""
        if self._run is None:
            return self._json
        run, now = self._run
        return encode_flow_run(run, now=now)

    @property
    def body(self) -> bytes:
        """The body as the bytes to send."""
        if self._run is None:
            return encode_json(self._json)
        run, now = self._run
        return flow_run_body(run, now=now)

    @property
    def content_type(self) -> str:
        """Always JSON."""
        return "application/json"

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WireResponse):
            return NotImplemented
        return self.status == other.status and self.json == other.json

    __hash__ = None  # type: ignore[assignment]  # equal by a JSON value, which may be a dict

    def __getstate__(self) -> tuple[int, JSON, tuple[FlowRun, datetime] | None]:
        return self.status, self._json, self._run

    def __setstate__(self, state: tuple[int, JSON, tuple[FlowRun, datetime] | None]) -> None:
        for name, value in zip(("status", "_json", "_run"), state, strict=True):
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"WireResponse(status={self.status!r}, json={self.json!r})"


NOT_FOUND = WireResponse(status=404, json={"detail": "Not Found"})


def lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers by lower-case name; of two spellings of one name, the first is kept.

    As Starlette's ``Headers.get``, which Prefect reads them with (its ``items()`` also
    yields every repeated header, so a repeat is ignored here too).
    """
    if not headers:
        return {}
    return {k.lower(): v for k, v in reversed(list(headers.items()))}


def parsed_body(body: bytes | None) -> JSON:
    """The body as Prefect echoes it in ``request_body`` (only used on the error path)."""
    if body is None:
        return None
    try:
        parsed: JSON = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace")
    return parsed


def invalid(
    details: tuple[ErrorDetail, ...], request_body: JSON, options: WireOptions
) -> WireResponse:
    return WireResponse(
        status=422,
        json=validation_envelope(
            details, request_body, include_detail=options.include_validation_detail
        ),
    )


def read_body(
    body: bytes | None, content_type: str | None, options: WireOptions
) -> JSONBody | WireResponse | None:
    """:func:`~flowrun_core.wire.request.read_json_body`, with its failures as answers.

    A body that is not JSON gets Prefect's 422 ``json_invalid`` (alone), bytes that cannot
    be scanned its 400; ``None`` when the body is not read as JSON at this point.
    """
    try:
        return read_json_body(body, content_type=content_type)
    except UnreadableBody as exc:
        return WireResponse(status=400, json={"detail": exc.message})
    except InvalidRequest as exc:
        return invalid(exc.details, exc.request_body, options)
