"""Normalise replayed answers of ``POST /deployments/{id}/create_flow_run`` into compat results.

This module turns what a replayer saw (setup entity ids, stored deployments, raw HTTP answers
with the caller's clock read around each request, work pools and queues afterwards) into the
result-file structure of ``/work/shared/compat/README.md`` §2, normalised as §3 says:

* generated ids become placeholders (``<flow_id:etl>``, ``<flow_run_id:1>``, ``<uuid:3>``, ...),
  entered in the README's order: setup entities, pools and queues after the requests, new
  flow runs and states by first appearance, then any other UUID as the rewrite meets it;
* flow-run bodies get sorted ``tags`` / ``pause_keys``, ``<slug:N>`` names and signed
  ``estimated_*`` values;
* every string is rewritten: long strings become a length and hash, timestamps become
  ``<timestamp>`` unless the scenario wrote the same instant, UUIDs become placeholders
  unless the scenario wrote them;
* ``relations`` (§3.5) are computed on the raw body, with the per-request clock readings.

It also holds what both replayers (Prefect's oracle and flowrun-core's own) share: loading
scenario files, the body macros (``{{id:REF}}`` and the ``$..._repeat`` object), building the
HTTP request of a scenario request, and the strict comparison of two result files.

It uses the standard library only, so that it imports in any virtual environment.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

__all__ = [
    "ENTITY_KINDS",
    "IMPLEMENTATION_KEY",
    "JSON",
    "HttpRequest",
    "Literals",
    "RawResponse",
    "WorkPoolSnapshot",
    "build_http_request",
    "compare_results",
    "expand_body",
    "flat_ids",
    "is_flow_run_body",
    "load_scenarios",
    "normalise_result",
    "parse_timestamp",
    "relations",
    "scenario_literals",
]

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
"""Any JSON value as Python's :mod:`json` module produces it."""

IMPLEMENTATION_KEY = "oracle"
"""Name of the result file's implementation block (metadata, never compared)."""

ENTITY_KINDS = (
    "infrastructure_document",
    "flow",
    "work_pool",
    "variable",
    "deployment",
    "flow_run",
    "task_run",
)
"""Setup entity kinds in creation order; a kind's placeholder is ``<{kind}_id:REF>``."""

_REFERABLE_KINDS = ("infrastructure_document", "flow", "deployment", "flow_run", "task_run")

OBSERVED_DEPLOYMENT_KEYS = (
    "id",
    "flow_id",
    "version",
    "parameters",
    "tags",
    "labels",
    "parameter_openapi_schema",
    "enforce_parameter_schema",
    "work_pool_name",
    "work_queue_name",
    "work_queue_id",
    "job_variables",
    "infrastructure_document_id",
    "paused",
)
"""Keys of ``setup.observed.deployments.<ref>``, in result order."""

LONG_STRING_LIMIT = 2000
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_TIMESTAMP_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_SLUG_RE = re.compile(r"[a-z]+-[a-z]+", re.ASCII)
_ID_MACRO_RE = re.compile(r"\{\{id:([^{}]+)\}\}")
_TOLERANCE = timedelta(milliseconds=1)

_TIME_POSITION_PATHS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("created", ("created",)),
    ("updated", ("updated",)),
    ("expected_start_time", ("expected_start_time",)),
    ("next_scheduled_start_time", ("next_scheduled_start_time",)),
    ("start_time", ("start_time",)),
    ("end_time", ("end_time",)),
    ("state.timestamp", ("state", "timestamp")),
    ("state.state_details.scheduled_time", ("state", "state_details", "scheduled_time")),
)
_EQUALITIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("created_eq_updated", ("created",), ("updated",)),
    (
        "expected_start_time_eq_state_scheduled_time",
        ("expected_start_time",),
        ("state", "state_details", "scheduled_time"),
    ),
    ("expected_start_time_eq_state_timestamp", ("expected_start_time",), ("state", "timestamp")),
    (
        "next_scheduled_start_time_eq_expected_start_time",
        ("next_scheduled_start_time",),
        ("expected_start_time",),
    ),
    ("start_time_eq_state_timestamp", ("start_time",), ("state", "timestamp")),
    ("end_time_eq_state_timestamp", ("end_time",), ("state", "timestamp")),
    ("state_id_eq_state_dot_id", ("state_id",), ("state", "id")),
    ("state_flow_run_id_eq_id", ("state", "state_details", "flow_run_id"), ("id",)),
)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    """One request as a replayer sent it, and the answer it got.

    Attributes:
        request: The scenario's request object, exactly as written (macros not expanded).
        status_code: The HTTP status, or ``None`` when the request could not be sent.
        content_type: The ``content-type`` response header as sent, or ``None``.
        body_text: The raw response body decoded as UTF-8 (``None`` when not sent).
        t_before: The caller's UTC clock just before sending.
        t_after: The caller's UTC clock just after receiving the answer.
        error: Why the request could not be sent, or ``None``.
        traceback: An optional traceback to go with ``error``.
    """

    request: Mapping[str, JSON]
    status_code: int | None
    content_type: str | None
    body_text: str | None
    t_before: datetime
    t_after: datetime
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True)
class WorkPoolSnapshot:
    """A work pool that exists after the last request.

    Attributes:
        name: The pool's name.
        id: The pool's id.
        queues: Queue name to queue id, for every queue of the pool.
    """

    name: str
    id: str
    queues: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Literals:
    """What a scenario file wrote itself (README §3.1).

    Attributes:
        strings: Every string of the scenario, keys and values, at any depth.
        uuids: Every UUID-shaped substring of those strings, lower-cased.
        instants: Every one of those strings that is a timestamp, as an aware datetime.
    """

    strings: frozenset[str]
    uuids: frozenset[str]
    instants: tuple[datetime, ...]

    def is_literal_instant(self, instant: datetime) -> bool:
        """Return whether ``instant`` is the same instant as one the scenario wrote."""
        return any(instant == lit for lit in self.instants)


@dataclass(frozen=True)
class HttpRequest:
    """The HTTP request a scenario request stands for (relative to the API root).

    Attributes:
        method: Always ``POST``.
        path: For example ``/deployments/<id>/create_flow_run``.
        headers: Headers to send besides the client's standard ones.
        content: The body bytes, or ``None`` for no body at all.
    """

    method: str
    path: str
    headers: dict[str, str]
    content: bytes | None


# ---------------------------------------------------------------------------------------------
# Scenario helpers shared by the replayers
# ---------------------------------------------------------------------------------------------


def load_scenarios(path: str | Path) -> list[dict[str, JSON]]:
    """Read a scenario file: one scenario object, or ``{"scenarios": [...]}``.

    Args:
        path: The file to read.

    Returns:
        The scenario objects, in file order.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "scenarios" in data and "name" not in data:
        items = data["scenarios"]
        if not isinstance(items, list):
            raise TypeError(f"{path}: 'scenarios' must be a list")
        return [_as_object(item, str(path)) for item in items]
    return [_as_object(data, str(path))]


def _as_object(value: JSON, where: str) -> dict[str, JSON]:
    if not isinstance(value, dict):
        raise TypeError(f"{where}: a scenario must be a JSON object")
    return value


def flat_ids(setup_ids: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Map every ``{{id:REF}}``-referable ref to its id.

    Args:
        setup_ids: Entity kind (see :data:`ENTITY_KINDS`) to ``{ref: id}``.

    Returns:
        ``{ref: id}`` over infrastructure documents, flows, deployments, flow runs and task runs
        (work pools and variables cannot be referenced). An earlier kind wins a clash.
    """
    out: dict[str, str] = {}
    for kind in _REFERABLE_KINDS:
        for ref, ident in setup_ids.get(kind, {}).items():
            out.setdefault(ref, ident)
    return out


def expand_body(body: JSON, ids: Mapping[str, str]) -> JSON:
    """Apply the scenario body macros, returning a new tree.

    * A string that is exactly ``{{id:REF}}`` (as a value or as an object key) becomes the id
      of the setup entity ``REF``.
    * An object whose only keys are ``count`` (an integer N) and one key that starts with
      ``$`` and ends with ``_repeat`` (a string s) becomes s repeated N times.

    Args:
        body: The scenario's ``body`` value.
        ids: Ref to id, e.g. from :func:`flat_ids`.

    Returns:
        The expanded body.

    Raises:
        KeyError: A ``{{id:REF}}`` names no known entity.
    """
    if isinstance(body, str):
        return _expand_id(body, ids)
    if isinstance(body, list):
        return [expand_body(item, ids) for item in body]
    if isinstance(body, dict):
        repeated = _repeat_macro(body)
        if repeated is not None:
            return repeated
        return {_expand_id(key, ids): expand_body(value, ids) for key, value in body.items()}
    return body


def _expand_id(text: str, ids: Mapping[str, str]) -> str:
    match = _ID_MACRO_RE.fullmatch(text)
    if match is None:
        return text
    ref = match.group(1)
    if ref not in ids:
        raise KeyError(f"{{{{id:{ref}}}}} names no setup entity")
    return ids[ref]


def _repeat_macro(obj: Mapping[str, JSON]) -> str | None:
    if len(obj) != 2 or "count" not in obj:
        return None
    count = obj["count"]
    others = [k for k in obj if k != "count"]
    key = others[0]
    text = obj[key]
    if not (key.startswith("$") and key.endswith("_repeat")):
        return None
    if not isinstance(count, int) or isinstance(count, bool) or not isinstance(text, str):
        return None
    return text * count


def build_http_request(request: Mapping[str, JSON], ids: Mapping[str, str]) -> HttpRequest:
    """Turn a scenario request into the HTTP request to send (README §1.2).

    Args:
        request: The scenario request object.
        ids: Ref to id, e.g. from :func:`flat_ids`; deployment refs must be present.

    Returns:
        Method, path relative to the API root, extra headers and body bytes.

    Raises:
        KeyError: The request names an unknown deployment or entity.
        TypeError: The request object is malformed.
    """
    path_id = _path_id(request, ids)
    headers: dict[str, str] = {}
    raw_headers = request.get("headers")
    if isinstance(raw_headers, dict):
        for name, value in raw_headers.items():
            if not isinstance(value, str):
                raise TypeError(f"header {name!r} must be a string")
            headers[name] = value
    content: bytes | None
    if request.get("omit_body") is True:
        content = None
    elif "raw_body" in request:
        raw = request["raw_body"]
        if not isinstance(raw, str):
            raise TypeError("raw_body must be a string")
        content = raw.encode("utf-8")
        if not any(name.lower() == "content-type" for name in headers):
            headers["content-type"] = "application/json"
    else:
        body = expand_body(request.get("body", {}), ids)
        content = json.dumps(body).encode("utf-8")
        if not any(name.lower() == "content-type" for name in headers):
            headers["content-type"] = "application/json"
    return HttpRequest(
        method="POST",
        path=f"/deployments/{path_id}/create_flow_run",
        headers=headers,
        content=content,
    )


def _path_id(request: Mapping[str, JSON], ids: Mapping[str, str]) -> str:
    if "deployment_id" in request:
        raw = request["deployment_id"]
        if not isinstance(raw, str):
            raise TypeError("deployment_id must be a string")
        return raw
    ref = request.get("deployment")
    if not isinstance(ref, str):
        raise TypeError("a request needs 'deployment' or 'deployment_id'")
    ident = ids[ref]
    fmt = request.get("deployment_id_format", "canonical")
    if fmt in (None, "canonical"):
        return ident.lower()
    if fmt == "upper":
        return ident.upper()
    if fmt == "no_hyphens":
        return ident.lower().replace("-", "")
    raise TypeError(f"unknown deployment_id_format {fmt!r}")


# ---------------------------------------------------------------------------------------------
# Literals and timestamps
# ---------------------------------------------------------------------------------------------


def parse_timestamp(value: object) -> datetime | None:
    """Return the instant a timestamp string denotes, or ``None`` if it is not one (§3.4).

    Args:
        value: Any JSON value.

    Returns:
        An aware datetime (no offset means UTC), or ``None``.
    """
    if not isinstance(value, str) or _TIMESTAMP_RE.fullmatch(value) is None:
        return None
    text = value
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = text[:10] + "T" + text[11:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _iter_strings(value: JSON) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _iter_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _iter_strings(item)


def scenario_literals(scenario: Mapping[str, JSON]) -> Literals:
    """Collect the scenario's literal strings, UUIDs and instants (§3.1).

    Args:
        scenario: One scenario object, as in its file.

    Returns:
        The literals.
    """
    strings = frozenset(_iter_strings(dict(scenario)))
    uuids = frozenset(m.group(0).lower() for s in strings for m in _UUID_RE.finditer(s))
    instants = tuple(t for s in sorted(strings) if (t := parse_timestamp(s)) is not None)
    return Literals(strings=strings, uuids=uuids, instants=instants)


# ---------------------------------------------------------------------------------------------
# Placeholders and string rewrite
# ---------------------------------------------------------------------------------------------


def is_flow_run_body(body: JSON) -> bool:
    """Return whether a parsed body is a flow-run body: an object with ``id`` and ``flow_id``."""
    return isinstance(body, dict) and "id" in body and "flow_id" in body


class _Rewriter:
    """The placeholder table (§3.2) and the string rewrite (§3.4)."""

    def __init__(self, literals: Literals) -> None:
        self.literals = literals
        self.table: dict[str, str] = {}
        self.counters: dict[str, int] = {}

    def enter(self, ident: object, placeholder: str) -> None:
        if isinstance(ident, str):
            self.table.setdefault(ident.lower(), placeholder)

    def enter_numbered(self, ident: object, kind: str) -> None:
        if not isinstance(ident, str) or ident.lower() in self.table:
            return
        number = self.counters.get(kind, 0) + 1
        self.counters[kind] = number
        self.table[ident.lower()] = f"<{kind}:{number}>"

    def rewrite_string(self, text: str) -> str:
        if len(text) > LONG_STRING_LIMIT:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
            return f"<long_string len={len(text)} sha256={digest}>"
        instant = parse_timestamp(text)
        if instant is not None:
            return text if self.literals.is_literal_instant(instant) else "<timestamp>"
        return _UUID_RE.sub(self._replace_uuid, text)

    def _replace_uuid(self, match: re.Match[str]) -> str:
        found = match.group(0)
        key = found.lower()
        if key in self.literals.uuids:
            return found
        if key not in self.table:
            self.enter_numbered(key, "uuid")
        return self.table[key]

    def rewrite(self, value: JSON) -> JSON:
        if isinstance(value, str):
            return self.rewrite_string(value)
        if isinstance(value, list):
            return [self.rewrite(item) for item in value]
        if isinstance(value, dict):
            out: dict[str, JSON] = {}
            for key, item in value.items():
                new_key = self.rewrite_string(key)
                out[new_key] = self.rewrite(item)
            return out
        return value


def _sort_key(value: JSON) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _signed(value: JSON) -> JSON:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if value == 0:
        return value
    return "<positive>" if value > 0 else "<negative>"


def _adjust_flow_run_body(
    body: dict[str, JSON], literals: Literals, slugs: dict[str, str]
) -> dict[str, JSON]:
    out = dict(body)
    tags = out.get("tags")
    if isinstance(tags, list):
        out["tags"] = sorted(tags, key=_sort_key)
    policy = out.get("empirical_policy")
    if isinstance(policy, dict) and isinstance(policy.get("pause_keys"), list):
        policy = dict(policy)
        keys = policy["pause_keys"]
        assert isinstance(keys, list)
        policy["pause_keys"] = sorted(keys, key=_sort_key)
        out["empirical_policy"] = policy
    name = out.get("name")
    if isinstance(name, str) and name not in literals.strings:
        if name not in slugs:
            slugs[name] = f"<slug:{len(slugs) + 1}>"
        out["name"] = slugs[name]
    for key in ("estimated_start_time_delta", "estimated_run_time"):
        if key in out:
            out[key] = _signed(out[key])
    return out


# ---------------------------------------------------------------------------------------------
# Relations
# ---------------------------------------------------------------------------------------------

_MISSING = object()


def _get_path(body: Mapping[str, JSON], path: tuple[str, ...]) -> object:
    current: object = body
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _related(left: object, right: object) -> bool | None:
    if left is _MISSING or right is _MISSING or left is None or right is None:
        return None
    left_t, right_t = parse_timestamp(left), parse_timestamp(right)
    if left_t is not None and right_t is not None:
        return left_t == right_t
    return left == right


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _position(value: object, t_before: datetime, t_after: datetime) -> str | None:
    instant = parse_timestamp(value)
    if instant is None:
        return None
    if instant < _as_utc(t_before) - _TOLERANCE:
        return "before_request"
    if instant > _as_utc(t_after) + _TOLERANCE:
        return "after_request"
    return "during_request"


def relations(
    body: Mapping[str, JSON], literals: Literals, t_before: datetime, t_after: datetime
) -> dict[str, JSON]:
    """Compute §3.5 relations on a raw (not yet normalised) flow-run body.

    Args:
        body: The parsed answer.
        literals: The scenario's literals.
        t_before: Caller's clock just before sending.
        t_after: Caller's clock just after the answer.

    Returns:
        The ``relations`` object.
    """
    out: dict[str, JSON] = {
        name: _related(_get_path(body, left), _get_path(body, right))
        for name, left, right in _EQUALITIES
    }
    name = body.get("name")
    out["name_is_generated"] = isinstance(name, str) and name not in literals.strings
    out["name_matches_adjective_animal_slug"] = (
        isinstance(name, str) and _SLUG_RE.fullmatch(name) is not None
    )
    out["time_position"] = {
        label: _position(_get_path(body, path), t_before, t_after)
        for label, path in _TIME_POSITION_PATHS
    }
    return out


# ---------------------------------------------------------------------------------------------
# The result file
# ---------------------------------------------------------------------------------------------


def _parse_body(text: str | None) -> tuple[JSON, bool]:
    """Return (parsed body, parsed?)."""
    if text is None or text == "":
        return None, False
    try:
        return json.loads(text), True
    except ValueError:
        return None, False


def normalise_result(
    scenario: Mapping[str, JSON],
    setup_ids: Mapping[str, Mapping[str, str]],
    setup_observed_deployments: Mapping[str, Mapping[str, JSON]],
    responses: Sequence[RawResponse],
    *,
    pools_after: Sequence[WorkPoolSnapshot] = (),
    observe_work_queues: bool | None = None,
    implementation: str,
    version: str,
    setup_error: str | None = None,
    setup_traceback: str | None = None,
    harness_error: str | None = None,
) -> dict[str, JSON]:
    """Build one normalised result file (README §2 and §3).

    Args:
        scenario: The scenario object as in its file.
        setup_ids: Entity kind (see :data:`ENTITY_KINDS`) to ``{ref: id}``, each in creation
            order. Implicit flows are listed under their ref (= name).
        setup_observed_deployments: Deployment ref to the deployment as the implementation
            stored it (extra keys are ignored; see :data:`OBSERVED_DEPLOYMENT_KEYS`).
        responses: One per request, in request order (empty when the setup failed).
        pools_after: Every work pool with its queues after the last request.
        observe_work_queues: Whether to write ``observed_after_requests``; ``None`` reads the
            scenario's ``observe`` list.
        implementation: Name written in the implementation block, e.g. ``prefect-server``.
        version: Version written in the implementation block.
        setup_error: ``"<ExceptionType>: <message>"`` when creating a setup entity failed.
        setup_traceback: Optional traceback to go with ``setup_error``.
        harness_error: A text when the replay itself failed after the requests.

    Returns:
        The result object, ready for ``json.dumps``.
    """
    literals = scenario_literals(scenario)
    rewriter = _Rewriter(literals)
    if observe_work_queues is None:
        observe = scenario.get("observe")
        observe_work_queues = isinstance(observe, list) and "work_queues" in observe

    # §3.2 (1) setup entities, (2) pools and queues after the requests.
    for kind in ENTITY_KINDS:
        for ref, ident in setup_ids.get(kind, {}).items():
            rewriter.enter(ident, f"<{kind}_id:{ref}>")
    for pool in pools_after:
        rewriter.enter(pool.id, f"<work_pool_id:{pool.name}>")
        for queue_name, queue_id in pool.queues.items():
            rewriter.enter(queue_id, f"<work_queue_id:{pool.name}/{queue_name}>")

    # Parse, and (3) new flow runs and states by first appearance.
    parsed: list[tuple[JSON, bool]] = [_parse_body(r.body_text) for r in responses]
    for body, _ in parsed:
        if isinstance(body, dict) and is_flow_run_body(body):
            rewriter.enter_numbered(body.get("id"), "flow_run_id")
            rewriter.enter_numbered(body.get("state_id"), "state_id")
            state = body.get("state")
            if isinstance(state, dict):
                rewriter.enter_numbered(state.get("id"), "state_id")

    # §3.5 relations on raw bodies, §3.3 adjustments, §3.4 rewrite, in request order.
    slugs: dict[str, str] = {}
    entries: list[JSON] = []
    for index, (raw, (body, is_json)) in enumerate(zip(responses, parsed, strict=True)):
        label = raw.request.get("label")
        entry: dict[str, JSON] = {
            "index": index,
            "label": label if isinstance(label, str) else None,
            "request": copy.deepcopy(dict(raw.request)),
            "status_code": raw.status_code,
            "content_type": raw.content_type,
        }
        rel: JSON = None
        if isinstance(body, dict) and is_flow_run_body(body):
            if raw.status_code is not None and raw.status_code < 300:
                rel = relations(body, literals, raw.t_before, raw.t_after)
            body = _adjust_flow_run_body(body, literals, slugs)
        if is_json:
            entry["body"] = rewriter.rewrite(body)
        else:
            entry["body"] = None
            if raw.error is None and raw.body_text is not None:
                entry["body_text"] = rewriter.rewrite_string(raw.body_text)
        entry["relations"] = rel
        entry["error"] = raw.error
        if raw.traceback is not None:
            entry["traceback"] = raw.traceback
        entries.append(entry)

    setup: dict[str, JSON]
    if setup_error is not None:
        setup = {"ok": False, "error": setup_error}
        if setup_traceback is not None:
            setup["traceback"] = setup_traceback
    else:
        observed: dict[str, JSON] = {}
        for ref, deployment in setup_observed_deployments.items():
            projected = {
                k: copy.deepcopy(deployment[k]) for k in OBSERVED_DEPLOYMENT_KEYS if k in deployment
            }
            observed[ref] = rewriter.rewrite(projected)
        setup = {"ok": True, "error": None, "observed": {"deployments": observed}}

    result: dict[str, JSON] = {
        "scenario": scenario.get("name"),
        IMPLEMENTATION_KEY: {"implementation": implementation, "version": version},
        "setup": setup,
        "responses": entries,
        "harness_error": harness_error,
    }
    if observe_work_queues:
        result["observed_after_requests"] = {
            "work_queues": {
                pool.name: _str_list(sorted(pool.queues))
                for pool in sorted(pools_after, key=lambda p: p.name)
            }
        }
    return result


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------


def _str_list(items: list[str]) -> list[JSON]:
    return list[JSON](items)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= 200 else text[:197] + "..."


def _diff(expected: object, actual: object, path: str, out: list[str]) -> None:
    exp_type, act_type = _json_type(expected), _json_type(actual)
    if exp_type != act_type:
        out.append(
            f"{path}: expected {exp_type} {_short(expected)}, got {act_type} {_short(actual)}"
        )
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                out.append(f"{path}.{key}: missing (expected {_short(expected[key])})")
            else:
                _diff(expected[key], actual[key], f"{path}.{key}", out)
        out.extend(
            f"{path}.{key}: unexpected key (got {_short(actual[key])})"
            for key in actual
            if key not in expected
        )
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            out.append(f"{path}: expected {len(expected)} items, got {len(actual)}")
        for i, (exp_item, act_item) in enumerate(zip(expected, actual, strict=False)):
            _diff(exp_item, act_item, f"{path}[{i}]", out)
        return
    if isinstance(expected, float) and isinstance(actual, float):
        if expected == actual or (math.isnan(expected) and math.isnan(actual)):
            return
    elif expected == actual:
        return
    out.append(f"{path}: expected {_short(expected)}, got {_short(actual)}")


_QUIRK_STATUS = 500


def _refusal_free(setup: object) -> object:
    """A refused setup without its error text and traceback.

    They name the harness's own exception, request and code (``"SetupError: POST
    /deployments/ -> 422: ..."`` from the oracle, the seeder's exception here), so only the
    refusal itself is compared: ``ok`` is false on both sides and both give an error.
    """
    if not isinstance(setup, dict) or setup.get("ok") is not False:
        return setup
    error = setup.get("error")
    return {
        **{k: v for k, v in setup.items() if k not in ("error", "traceback")},
        "error": isinstance(error, str) and bool(error),
    }


def compare_results(
    expected: Mapping[str, Any], actual: Mapping[str, Any], *, quirks: bool = True
) -> list[str]:
    """Compare two result files strictly (README §4).

    JSON types count (``1``, ``1.0`` and ``true`` differ); object key order does not; the
    implementation block is skipped, and so is the text of a refused setup's error (only
    that both refused is compared). In a ``quirk_*`` scenario, a response recorded as a 500
    only requires the actual status to be in 400-499 (``index``, ``label`` and ``request``
    must still match).

    Args:
        expected: The recorded result (e.g. Prefect's).
        actual: The result to check.
        quirks: Apply the ``quirk_*`` rule; ``False`` compares those responses exactly too
            (to check a re-recording of Prefect itself).

    Returns:
        One line per difference; empty when they agree.
    """
    out: list[str] = []
    quirk = quirks and str(expected.get("scenario", "")).startswith("quirk_")
    keys = [k for k in expected if k not in (IMPLEMENTATION_KEY, "responses")]
    keys += [k for k in actual if k not in expected and k not in (IMPLEMENTATION_KEY, "responses")]
    for key in keys:
        if key not in actual:
            out.append(f"$.{key}: missing")
        elif key not in expected:
            out.append(f"$.{key}: unexpected key")
        elif key == "setup":
            _diff(_refusal_free(expected[key]), _refusal_free(actual[key]), "$.setup", out)
        else:
            _diff(expected[key], actual[key], f"$.{key}", out)
    exp_responses, act_responses = expected.get("responses"), actual.get("responses")
    if not isinstance(exp_responses, list) or not isinstance(act_responses, list):
        _diff(exp_responses, act_responses, "$.responses", out)
        return out
    if len(exp_responses) != len(act_responses):
        out.append(f"$.responses: expected {len(exp_responses)} items, got {len(act_responses)}")
    for i, (exp, act) in enumerate(zip(exp_responses, act_responses, strict=False)):
        path = f"$.responses[{i}]"
        if (
            quirk
            and isinstance(exp, dict)
            and isinstance(act, dict)
            and exp.get("status_code") == _QUIRK_STATUS
        ):
            for key in ("index", "label", "request"):
                _diff(exp.get(key), act.get(key), f"{path}.{key}", out)
            status = act.get("status_code")
            if not (isinstance(status, int) and 400 <= status < 500):
                out.append(
                    f"{path}.status_code: quirk: expected a 4xx instead of 500, got {status}"
                )
            continue
        _diff(exp, act, path, out)
    return out
