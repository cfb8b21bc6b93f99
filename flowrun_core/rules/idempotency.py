"""Strict idempotency: the canonical fingerprint of a request, and JSON-Pointer diffs.

**The effective request** is the decoded ``DeploymentFlowRunCreate`` (what the body
*means*, not its bytes), with the idempotency key left out and nothing the service
generates put in:

* every field is present, with its default when the body omitted it, so ``{}`` and
  ``{"parameters": {}}`` are the same request;
* values are as decoded: a falsy ``name`` is "no name", datetimes are converted to UTC,
  UUIDs are lower-case text, enums are their values;
* ``tags`` are a sorted set and ``empirical_policy.pause_keys`` a sorted list (the run keeps
  only their union), ``labels: null`` equals ``labels: {}`` (both add nothing);
* a SCHEDULED ``state`` without ``scheduled_time`` keeps ``null`` there: the "now" the
  service fills in is generated, so a retry a second later is the same request;
* the deployment id is **not** part of it (the scope decides what a key hit on another
  deployment means), and neither is ``created_by`` (it comes from headers).

The fingerprint is that document as canonical JSON in the style of RFC 8785 (JSON
Canonicalization Scheme), produced by the ``rfc8785`` package. Two extensions cover values
JCS cannot represent but Python's ``json`` reads: integers beyond ±(2**53 - 1) are written
exactly (JCS would round them through a double, making different integers equal), and
``NaN``/``Infinity``/``-Infinity`` are written as Python's ``json`` writes them. Neither can
be confused with any JCS output. Strings holding lone surrogates are written with ASCII
escapes. As in JCS, numbers compare by value: ``1`` and ``1.0`` are the same.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

import attrs
import rfc8785

from flowrun_core.json_types import JSON
from flowrun_core.models import DeploymentFlowRunCreate

__all__ = [
    "Fingerprint",
    "canonical_json",
    "effective_request",
    "fingerprint",
    "json_pointer",
    "pointer_diff",
]

_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> JSON:
    """An attrs value (or container of them) as plain JSON, by the rules above."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    msg = f"cannot fingerprint a {type(value).__name__}"
    raise TypeError(msg)


def effective_request(request: DeploymentFlowRunCreate) -> dict[str, JSON]:
    """The document a strict-idempotency fingerprint covers (see the module docstring)."""
    document = _plain(request)
    assert isinstance(document, dict)  # noqa: S101 - an attrs instance becomes an object
    del document["idempotency_key"]
    document["name"] = request.name or None
    document["tags"] = [*sorted(set(request.tags))]
    if request.labels is None:
        document["labels"] = {}
    return document


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _extended(value: JSON) -> str:
    """Canonical JSON by the same rules as ``rfc8785``, plus the two documented extensions."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: _utf16_key(item[0]))
        return "{" + ",".join(f"{_extended(k)}:{_extended(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_extended(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if abs(value) > _SAFE_INT else rfc8785.dumps(value).decode()
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    try:
        return rfc8785.dumps(value).decode("utf-8")
    except rfc8785.CanonicalizationError:  # a string with a lone surrogate
        return json.dumps(value)


def canonical_json(value: JSON) -> str:
    """``value`` as canonical JSON text (RFC 8785, with the module's two extensions)."""
    try:
        return rfc8785.dumps(value).decode("utf-8")
    except rfc8785.CanonicalizationError:
        return _extended(value)


@attrs.frozen(kw_only=True)
class Fingerprint:
    """The canonical effective request that strict idempotency stores with a keyed run.

    Attributes:
        canonical: the canonical JSON text; this is what adapters store and compare.
    """

    canonical: str

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the canonical text, hex: a short name for logs and messages."""
        return hashlib.sha256(self.canonical.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def document(self) -> JSON:
        """The effective request, parsed back from the canonical text."""
        parsed: JSON = json.loads(self.canonical)
        return parsed


def fingerprint(request: DeploymentFlowRunCreate) -> Fingerprint:
    """The fingerprint of ``request``'s effective request."""
    return Fingerprint(canonical=canonical_json(effective_request(request)))


def json_pointer(path: tuple[str | int, ...]) -> str:
    """The RFC 6901 JSON Pointer of ``path`` (``~`` is ``~0``, ``/`` is ``~1``)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def pointer_diff(before: JSON, after: JSON) -> tuple[str, ...]:
    """JSON Pointers of every place where ``after`` differs from ``before``, sorted.

    Objects are compared key by key (a key on one side only is reported at its own
    pointer); lists of equal length item by item; anything else, including lists of
    different lengths, as a whole at its pointer. Scalars compare by canonical JSON, so
    ``1`` equals ``1.0`` and ``True`` does not equal ``1``. Equal values give ``()``.
    """
    found: list[str] = []
    _diff(before, after, (), found)
    return tuple(sorted(found))


def _diff(before: JSON, after: JSON, path: tuple[str | int, ...], found: list[str]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            if key not in before or key not in after:
                found.append(json_pointer((*path, key)))
            else:
                _diff(before[key], after[key], (*path, key), found)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (left, right) in enumerate(zip(before, after, strict=True)):
            _diff(left, right, (*path, index), found)
        return
    if canonical_json(before) != canonical_json(after):
        found.append(json_pointer(path))
