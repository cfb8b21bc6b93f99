"""The two request headers Prefect reads on this endpoint, with Prefect's exact answers.

* ``X-Prefect-Api-Version``: checked before the body; a bad value is a 400.
* ``prefect-automation-id`` / ``prefect-automation-name``: the run's ``created_by``. A
  non-UUID id is a 422 item reported together with the body's problems.

Header names are case-insensitive.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Final

from flowrun_core.errors import ErrorDetail, InvalidHeader
from flowrun_core.models import CreatedBy
from flowrun_core.wire.lax import WireProblem, parse_uuid

__all__ = ["MINIMUM_API_VERSION", "check_api_version", "created_by_from_headers"]

MINIMUM_API_VERSION: Final = (0, 8, 0)
"""The oldest client API version Prefect 3.9.1's server accepts."""

_API_VERSION: Final = "x-prefect-api-version"
_AUTOMATION_ID: Final = "prefect-automation-id"
_AUTOMATION_NAME: Final = "prefect-automation-name"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def check_api_version(headers: Mapping[str, str]) -> None:
    """Reject an ``X-Prefect-Api-Version`` that is malformed or older than 0.8.0.

    An absent or empty header passes. Each of the three dot-separated parts is read with
    Python's ``int`` (so surrounding whitespace, a sign or ``_`` separators are accepted).

    Raises:
        InvalidHeader: with Prefect's 400 ``detail`` text.
    """
    value = _header(headers, _API_VERSION)
    if not value:
        return
    try:
        major, minor, patch = (int(part) for part in value.split("."))
    except ValueError:
        raise InvalidHeader(
            "Invalid X-PREFECT-API-VERSION header format."
            f"Expected header in format 'x.y.z' but received {value}"
        ) from None
    if (major, minor, patch) < MINIMUM_API_VERSION:
        raise InvalidHeader(
            f"The request specified API version {value} but this server requires version "
            "0.8.0 or higher."
        )


def created_by_from_headers(
    headers: Mapping[str, str],
) -> tuple[CreatedBy | None, list[ErrorDetail]]:
    """The automation that created the run, and any header problems.

    ``created_by`` is set only when both headers are present and non-empty, the id is a
    UUID and the name is base64 (non-strict: other characters are dropped) of non-empty
    UTF-8. A present but non-UUID id gives a ``uuid_parsing`` item at
    ``("header", "prefect-automation-id")``, to be reported with the body's problems.
    """
    raw_id = _header(headers, _AUTOMATION_ID)
    if raw_id is None:
        return None, []
    try:
        automation_id = parse_uuid(raw_id)
    except WireProblem as exc:
        return None, [
            ErrorDetail(
                type=problem.type,
                loc=("header", _AUTOMATION_ID),
                msg=problem.msg,
                input=raw_id,
                ctx=problem.ctx,
            )
            for problem in exc.problems
        ]
    name = _header(headers, _AUTOMATION_NAME)
    if not name:
        return None, []
    try:
        display_value = base64.b64decode(name.encode("utf-8", "surrogateescape")).decode()
    except (ValueError, UnicodeError):
        return None, []
    if not display_value:
        return None, []
    return CreatedBy(id=automation_id, type="AUTOMATION", display_value=display_value), []
