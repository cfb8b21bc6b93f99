"""The fuzz harness for the wire façade: hostile worlds, hostile requests, one oracle.

Used by the CI slice (``tests/fuzz/test_fuzz_slice.py``) and by the campaign
(``bash scripts/fuzz.sh``). Nothing here is collected by pytest.

* :class:`World` seeds, through the public :class:`~flowrun_core.seeding.Seeder`, a store
  holding ordinary deployments and hostile ones (circular, remote, file, deep, huge and
  invalid schemas; jinja attacks among the default parameters), on the in-memory adapter,
  on SQLite, or on the in-memory adapter behind a fault injector.
* :func:`make_case` builds one request from a seeded ``random.Random``: arbitrary bytes,
  arbitrary JSON, invalid UTF-8, duplicate keys, deep nesting, huge strings and arrays,
  ``NaN`` and ``Infinity``, hostile values in every field and header, template attacks.
* :func:`check` runs one request under a watchdog and returns its outcome: the status code,
  or a description of what went wrong (an exception escaped, a non-JSON body, a status
  outside the allowed set, something half written, too slow).
* :class:`Pair` is one world seeded twice, in memory and on SQLite, with the same
  :class:`Repeatable` clock, id and name factories; :func:`check_pair` sends each request to
  both and also counts any difference between their answers (status or body bytes) as
  unexpected: the adapters must behave identically.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SQLiteRepository

from flowrun_core.errors import (
    StorageError,
    StorageFull,
    StorageLocked,
    StorageOperationalError,
    StorageReadOnly,
)
from flowrun_core.models import StateType
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import WireResponse, handle_create_flow_run
from flowrun_core.wire.response import encode_json, finite_json

ALLOWED = frozenset({200, 201, 400, 404, 409, 422})
"""Every status an input may get; 503 is allowed only while storage faults are injected."""

BUDGET_SECONDS = 5.0
"""The per-input time bound (generous: 1 MB inputs on a slow 2-core machine)."""

# --------------------------------------------------------------------------------------
# Hostile values
# --------------------------------------------------------------------------------------

HOSTILE_STRINGS = [
    "",
    " ",
    "'; DROP TABLE flow_runs; --",
    '" OR 1=1 --',
    'a"b`c[d]e',
    "%s ? :name $1 %(x)s",
    "nul\x00byte",
    "\x00",
    "emoji \U0001f600 and \U0001f9ea",
    "\U0010ffff",
    "\ud800",
    "\udfff lone low",
    "line\nbreak\ttab\r",
    "\\u0000 not an escape",
    "\u202e right-to-left",
    "{{ 7 * 7 }}",
    "{% for i in range(10) %}x{% endfor %}",
    "../../etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "a" * 1000,
    "default",
    "Late",
    "SCHEDULED",
    "00000000-0000-0000-0000-000000000000",
    "2030-01-01T00:00:00Z",
    "0.1.0",
]

JINJA_ATTACKS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ 'a' * 10**9 }}",
    "{{ 'a' * 1000000 * 1000 }}",
    "{{ [1] * 100000000 }}",
    "{{ 9 ** 9 ** 9 ** 9 }}",
    "{{ (2 ** 100000) ** 100 }}",
    "{{ 10 ** 1000000 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.center(10**9) }}",
    "{{ 'ab'.replace('', 'x' * 100000) }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ 'x' | indent(1000000000) }}",
    "{{ range(10**9) | list }}",
    "{{ range(100) | batch(10**9, 'x') | list }}",
    "{{ lipsum(10**6) }}",
    "{% for i in range(100) %}{% for j in range(100) %}{{ 'x' * 10000 }}{% endfor %}{% endfor %}",
    (
        "{% for a in range(3) %}{% for b in range(3) %}{% for c in range(3) %}x{% endfor %}"
        "{% endfor %}{% endfor %}"
    ),
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% macro f(n) %}{{ f(n) ~ f(n) }}{% endmacro %}{{ f(0) }}",
    "{% for x in [[1]] recursive %}{{ loop([[x]]) }}{% endfor %}",
    "{% set x = 'a' * 1000000 %}{{ x ~ x ~ x }}",
    (
        "{% set l = [] %}{% for i in range(100) %}{% for j in range(100) %}"
        "{{ l.append(i) }}{% endfor %}{% endfor %}"
    ),
    "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}",
    "{% raw %}" * 500,
    "{{ x.y.z.w }}{{ undefined_name }}",
    "{{ 1 / 0 }}",
    "{{ [].pop() }}",
    "{% for i in range(1000) %}x{% endfor %}",
    "{{ '%s' % (('x',) * 10**8) }}",
    "{{ namespace(x=1).__class__ }}",
    "{{ joiner.__class__ }}",
    "{% include 'x' %}",
    "{% extends 'x' %}",
    "{% import 'x' as y %}",
    "{{ 'x' * -1 }}",
    "{{ 1e308 * 10 }}",
    "{{ (1).to_bytes(10**9, 'big') }}",
    "{{ 'a\tb'.expandtabs(10**9) }}",
]


def deep_json_text(depth: int, opener: str = "[", leaf: str = "1") -> str:
    """``[[[…1…]]]`` (or objects with ``"a"`` keys) nested ``depth`` levels deep."""
    if opener == "{":
        return '{"a":' * depth + leaf + "}" * depth
    return "[" * depth + leaf + "]" * depth


def deep_value(depth: int) -> Any:
    """A Python list nested ``depth`` levels deep (built without recursion)."""
    root: list[Any] = []
    current = root
    for _ in range(depth - 1):
        child: list[Any] = []
        current.append(child)
        current = child
    return root


# --------------------------------------------------------------------------------------
# Worlds
# --------------------------------------------------------------------------------------


class InjectedFault(Exception):
    """Never raised: marks the fault-injecting world in outcomes."""


_FAULTS: tuple[Callable[[str], StorageError], ...] = (
    StorageLocked,
    StorageReadOnly,
    StorageFull,
    StorageOperationalError,
    StorageError,
)
_FAULTY_METHODS = frozenset(
    {
        "get_deployment",
        "get_variable",
        "get_work_queue",
        "get_work_pool",
        "get_work_queue_by_name",
        "list_work_queues",
        "get_infrastructure_document",
        "get_flow_run_by_idempotency_key",
        "create_flow_run",
        "create_work_queue",
        "set_task_run_state",
    }
)


class FaultyRepository:
    """Delegates to an in-memory repository; while armed, a call may raise a storage error.

    Faults are raised before the delegated call, after it (the write happened inside the
    unit of work, which must then be undone), or not at all.
    """

    def __init__(self, inner: InMemoryRepository, rng: random.Random, rate: float) -> None:
        self._inner = inner
        self._rng = rng
        self._rate = rate
        self.armed = False

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._inner.transaction()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name not in _FAULTY_METHODS:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.armed and self._rng.random() < self._rate:
                raise self._rng.choice(_FAULTS)(f"injected fault in {name}")
            result = target(*args, **kwargs)
            if self.armed and self._rng.random() < self._rate:
                raise self._rng.choice(_FAULTS)(f"injected fault after {name}")
            return result

        return call


@dataclass
class World:
    """A seeded store, the service over it, and the ids a request may name."""

    kind: str
    repository: Any
    service: FlowRunService
    deployment_ids: list[str]
    pool_ids: list[uuid.UUID]
    task_run_ids: list[str]
    document_ids: list[str]
    variable_names: list[str]
    faulty: FaultyRepository | None = None
    keys: list[str] = field(default_factory=lambda: [f"key-{i}" for i in range(8)])
    cleanup: Callable[[], None] | None = None

    def counts(self) -> tuple[int, int]:
        """Runs and work queues in the store (read without fault injection)."""
        repo = self.repository
        runs = repo.count_flow_runs()
        queues = sum(len(repo.list_work_queues(pool_id)) for pool_id in self.pool_ids)
        return runs, queues

    def close(self) -> None:
        self.repository.close()
        if self.cleanup is not None:
            self.cleanup()


POOL_TEMPLATE: dict[str, Any] = {
    "job_configuration": {"image": "{{ image }}", "cpu": "{{ cpu }}", "env": "{{ env }}"},
    "variables": {
        "type": "object",
        "properties": {
            "image": {"type": "string", "default": "python:3.11"},
            "cpu": {"type": "integer", "default": 1, "minimum": 0},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "pattern": {"type": "string", "pattern": "^[a-z]+$"},
        },
    },
}

ORDINARY_SCHEMA: dict[str, Any] = {
    "title": "Parameters",
    "type": "object",
    "properties": {
        "x": {"title": "x", "type": "integer", "position": 0},
        "y": {"title": "y", "type": "string", "default": "a", "position": 1},
        "z": {"title": "z", "type": "array", "items": {"type": "number"}},
    },
    "required": ["x"],
}


def _deep_schema(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def hostile_schemas() -> list[dict[str, Any]]:
    """Parameter schemas a deployment might carry, most of them hostile."""
    return [
        ORDINARY_SCHEMA,
        {"type": "object", "properties": {"a": {"$ref": "#"}}},
        {"$ref": "#"},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"type": "object", "properties": {"x": {"$ref": "http://169.254.169.254/schema.json"}}},
        {"type": "object", "properties": {"x": {"$ref": "file:///etc/passwd"}}},
        {"$ref": "https://json-schema.org/draft/2020-12/schema"},
        {"type": "object", "properties": {"x": {"$ref": "#/definitions/missing"}}},
        _deep_schema(40),
        _deep_schema(150),
        {
            "type": "object",
            "properties": {
                f"p{i}": {"type": "string", "description": "d" * 200} for i in range(6000)
            },
        },
        {"type": 5},
        {"type": "object", "properties": []},
        {"type": "object", "properties": {"x": 1}},
        {"type": "object", "required": "x", "properties": {"x": {"type": "string"}}},
        {"type": "object", "minProperties": -1},
        {"type": "object", "properties": {"x": {"pattern": "(unclosed"}}},
        {"definitions": {"B": {"block_type_slug": "b"}}},
        {"type": "object", "properties": {"x": {"type": "string", "maxLength": 3}}},
        {"allOf": [{"$ref": "#"}], "type": "object"},
        # jsonschema, referencing or re crash on these (Prefect: 500)
        {"type": "object", "properties": {"n": {"multipleOf": 0.5}, "m": {"multipleOf": 10**400}}},
        {"$id": "http://[bad", "properties": {"x": {"$ref": "x.json"}}},
        {"properties": {"x": {"$ref": "#/z"}}, "z": {"type": "nonsense", "pattern": "["}},
        {"properties": {"x": {"pattern": "a{4294967296}"}}},
    ]


def _deployment_parameters() -> list[dict[str, Any]]:
    return [
        {},
        {"x": 1, "y": "b"},
        {"t": {"__prefect_kind": "jinja", "template": JINJA_ATTACKS[0]}},
        {"t": {"__prefect_kind": "jinja", "template": "{% for i in range(100) %}x{% endfor %}"}},
        {"v": {"__prefect_kind": "workspace_variable", "variable_name": "v"}},
        {"v": {"__prefect_kind": "workspace_variable", "variable_name": "missing"}},
        {"j": {"__prefect_kind": "json", "value": deep_json_text(300)}},
        {"j": {"__prefect_kind": "json", "value": "{not json"}},
        {"d": deep_value(200)},
    ]


class Repeatable:
    """A clock, id factory and name factory whose sequences depend on ``seed`` alone.

    Two worlds built with equal seeds, sent the same requests, get the same ids, names and
    timestamps as long as the adapters under them behave alike, so their answers can be
    compared byte for byte. The clock starts at 2026-01-01 UTC and moves 1 ms per reading.
    """

    def __init__(self, seed: int) -> None:
        self._ids = random.Random(f"ids:{seed}")
        self._names = random.Random(f"names:{seed}")
        self._now = datetime(2026, 1, 1, tzinfo=UTC)

    def clock(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._ids.getrandbits(128), version=4)

    def new_name(self) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz"
        pick = self._names.choices
        return "".join(pick(letters, k=6)) + "-" + "".join(pick(letters, k=6))


def build_world(
    kind: str,
    *,
    path: Path | None = None,
    rng: random.Random | None = None,
    fault_rate: float = 0.1,
    repeatable: int | None = None,
    url: str | None = None,
) -> World:
    """Seed a world on ``kind``: ``"memory"``, ``"sqlite"`` (at ``path``), ``"faulty"``, or
    ``"postgres"`` (a fresh schema of the database at ``url``, dropped when the world closes).

    With ``repeatable``, the seeding and the service take their clock, ids and names from a
    :class:`Repeatable` of that seed instead of the real ones.
    """
    inner: Any
    faulty: FaultyRepository | None = None
    cleanup: Callable[[], None] | None = None
    if kind == "postgres":
        assert url is not None
        inner, cleanup = _postgres(url)
        repo = inner
    elif kind == "sqlite":
        assert path is not None
        inner = SQLiteRepository(path, busy_timeout=5)
        repo: Any = inner
    elif kind == "faulty":
        inner = InMemoryRepository()
        faulty = FaultyRepository(inner, rng or random.Random(0), fault_rate)
        repo = faulty
    else:
        inner = InMemoryRepository()
        repo = inner
    factories: dict[str, Any] = {}
    if repeatable is not None:
        same = Repeatable(repeatable)
        factories = {"clock": same.clock, "new_id": same.new_id, "new_name": same.new_name}
    seeder = Seeder(inner, **factories)
    flow = seeder.flow("fuzzed", labels={"team": "x"})
    pool = seeder.work_pool("pool", base_job_template=POOL_TEMPLATE, work_queues=["q1", "q2"])
    bare_pool = seeder.work_pool("bare")
    seeder.variable("v", {"nested": [1, 2, {"x": "y"}]})
    seeder.variable("s", "a string; DROP TABLE x; \x00 \U0001f600")
    seeder.variable("big", "b" * 4_998)  # the longest value Prefect stores: 5000 bytes of JSON
    seeder.variable("deep", deep_value(200))
    document = seeder.infrastructure_document("doc", {"image": "x"})
    parent = seeder.flow_run(flow=flow, name="parent")
    task_run = seeder.task_run(flow_run=parent, name="task")
    deployment_ids: list[str] = []
    params = _deployment_parameters()
    for index, schema in enumerate(hostile_schemas()):
        deployment = seeder.deployment(
            flow,
            f"schema-{index}",
            parameter_openapi_schema=schema,
            # Enforced by default; not sent, so the hostile defaults are stored unchecked,
            # as Prefect stores them when the field is left out.
            parameters=params[index % 2],
        )
        deployment_ids.append(str(deployment.id))
    for index, defaults in enumerate(params):
        deployment = seeder.deployment(
            flow,
            f"params-{index}",
            parameters=defaults,
            enforce_parameter_schema=False,
            work_pool_name="pool" if index % 2 else None,
        )
        deployment_ids.append(str(deployment.id))
    for name, extra in (
        ("pooled", {"work_pool_name": "pool", "work_queue_name": "q1", "tags": ["a", "b"]}),
        ("bare-pool", {"work_pool_name": "bare"}),
        ("queue-only", {"work_queue_name": "legacy"}),
        ("no-schema", {"has_parameter_schema": False}),
        ("paused", {"paused": True, "version": "1.0"}),
        ("doc", {"infrastructure_document_id": document.id}),
        ("jobvars", {"work_pool_name": "pool", "job_variables": {"image": "x", "cpu": 2}}),
    ):
        deployment = seeder.deployment(flow, name, **extra)
        deployment_ids.append(str(deployment.id))
    pools = [pool.id, bare_pool.id]
    default_pool = inner.get_work_pool_by_name("default-agent-pool")
    if default_pool is not None:
        pools.append(default_pool.id)
    return World(
        kind=kind,
        repository=repo,
        service=FlowRunService(repo, **factories),
        deployment_ids=deployment_ids,
        pool_ids=pools,
        task_run_ids=[str(task_run.id)],
        document_ids=[str(document.id)],
        variable_names=["v", "s", "big", "deep", "missing", "\x00", "'; --"],
        faulty=faulty,
        cleanup=cleanup,
    )


def _postgres(url: str) -> tuple[Any, Callable[[], None]]:
    """A PostgreSQL repository in a new schema, and how to drop that schema."""
    import psycopg  # noqa: PLC0415 - only campaigns against PostgreSQL need it
    from flowrun_adapters.postgres import PostgresRepository  # noqa: PLC0415

    schema = f"flowrun_fuzz_{uuid.uuid4().hex[:12]}"
    repository = PostgresRepository(url, schema=schema, pool_max=2)

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            statement = psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
            conn.execute(statement.format(psycopg.sql.Identifier(schema)))

    return repository, drop


# --------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------


@dataclass
class Case:
    """One request: the path segment, the raw body and the headers."""

    deployment_id: str
    body: bytes | None
    headers: dict[str, str]
    family: str


FIELDS = (
    "state",
    "name",
    "parameters",
    "enforce_parameter_schema",
    "context",
    "infrastructure_document_id",
    "empirical_policy",
    "tags",
    "idempotency_key",
    "labels",
    "parent_task_run_id",
    "work_queue_name",
    "job_variables",
)


def _scalar(rng: random.Random) -> Any:
    pick = rng.randrange(12)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, 1, -1, 2**31, -(2**63), 2**63, 2**64 + 1, 10**30, 7])
    if pick == 3:
        return rng.choice([0.5, -0.0, 1e308, 5e-324, math.nan, math.inf, -math.inf, 1.0])
    if pick <= 6:
        return rng.choice(HOSTILE_STRINGS)
    if pick == 7:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(8)))
    if pick == 8:
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if pick == 9:
        return rng.choice(["2030-01-01T00:00:00Z", "2030-13-45", "1e10", "-1", "now", "P1D"])
    return "".join(rng.choice("abc{}[]:,\"'\\ \x00") for _ in range(rng.randrange(10)))


def json_value(rng: random.Random, depth: int = 0, budget: list[int] | None = None) -> Any:
    """A random JSON value (NaN and infinities included), at most a few dozen nodes."""
    budget = budget if budget is not None else [rng.randrange(1, 40)]
    budget[0] -= 1
    if depth > 6 or budget[0] <= 0 or rng.random() < 0.45:
        return _scalar(rng)
    if rng.random() < 0.5:
        return [json_value(rng, depth + 1, budget) for _ in range(rng.randrange(4))]
    return {
        rng.choice(
            [*FIELDS, "type", "__prefect_kind", "value", "template", "x", _scalar_key(rng)]
        ): (json_value(rng, depth + 1, budget))
        for _ in range(rng.randrange(4))
    }


def _scalar_key(rng: random.Random) -> str:
    value = _scalar(rng)
    return value if isinstance(value, str) else str(value)


def placeholder(rng: random.Random, world: World) -> Any:
    """A ``__prefect_kind`` placeholder, often hostile."""
    pick = rng.randrange(7)
    if pick == 0:
        return {"__prefect_kind": "jinja", "template": rng.choice(JINJA_ATTACKS)}
    if pick == 1:
        return {"__prefect_kind": "jinja", "template": json_value(rng)}
    if pick == 2:
        doc = rng.choice(
            [deep_json_text(rng.choice([10, 255, 256, 300, 900, 5000])), "{bad", "1" * 5000, "NaN"]
        )
        return {"__prefect_kind": "json", "value": doc}
    if pick == 3:
        name = rng.choice([*world.variable_names, json_value(rng)])
        return {"__prefect_kind": "workspace_variable", "variable_name": name}
    if pick == 4:
        return {
            "__prefect_kind": rng.choice(["none", None, [], {}, "unknown", 1]),
            "value": json_value(rng),
        }
    if pick == 5:
        return {"__prefect_kind": "jinja"}
    inner = placeholder(rng, world) if rng.random() < 0.7 else json_value(rng)
    return {
        "__prefect_kind": rng.choice(["jinja", "json", "none"]),
        "template": inner,
        "value": inner,
    }


def valid_body(rng: random.Random, world: World) -> dict[str, Any]:
    """A body most of whose fields are well formed."""
    body: dict[str, Any] = {}
    if rng.random() < 0.5:
        body["parameters"] = {
            rng.choice(["x", "y", "z", "t", "a", "p1"]): rng.choice(
                [1, "s", [1.5], None, json_value(rng), placeholder(rng, world)]
            )
            for _ in range(rng.randrange(4))
        }
    if rng.random() < 0.3:
        body["name"] = rng.choice([*HOSTILE_STRINGS, None, ""])
    if rng.random() < 0.3:
        body["tags"] = rng.sample(HOSTILE_STRINGS, rng.randrange(4))
    if rng.random() < 0.3:
        body["idempotency_key"] = rng.choice([*world.keys, None, ""])
    if rng.random() < 0.2:
        body["labels"] = {
            rng.choice(HOSTILE_STRINGS): _scalar(rng) for _ in range(rng.randrange(3))
        }
    if rng.random() < 0.2:
        body["work_queue_name"] = rng.choice(["q1", "q2", "new", "q" * 300, "bad/name", None, ""])
    if rng.random() < 0.2:
        body["job_variables"] = rng.choice(
            [{"image": "y"}, {"cpu": "many"}, {"pattern": "ABC"}, {"env": {"A": 1}}, {}, None]
        )
    if rng.random() < 0.15:
        body["context"] = json_value(rng)
    if rng.random() < 0.15:
        body["enforce_parameter_schema"] = rng.choice([True, False, None, "yes", 1])
    if rng.random() < 0.1:
        body["parent_task_run_id"] = rng.choice([*world.task_run_ids, str(uuid.uuid4()), "x"])
    if rng.random() < 0.1:
        body["infrastructure_document_id"] = rng.choice([*world.document_ids, str(uuid.uuid4())])
    if rng.random() < 0.2:
        state: dict[str, Any] = {"type": rng.choice([t.value for t in StateType] + ["NOPE"])}
        if rng.random() < 0.5:
            moment = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**6))
            state["state_details"] = {
                "scheduled_time": rng.choice([moment.isoformat(), "2030-02-30", 1e20, -1])
            }
        if rng.random() < 0.3:
            state["name"] = rng.choice(HOSTILE_STRINGS)
        if rng.random() < 0.1:
            state["data"] = rng.choice([None, {"type": "unpersisted"}, 1])
        body["state"] = state
    if rng.random() < 0.15:
        body["empirical_policy"] = {
            rng.choice(
                ["retries", "retry_delay", "pause_keys", "retry_type", "max_retries"]
            ): _scalar(rng)
            for _ in range(rng.randrange(3))
        }
    return body


def hostile_field(rng: random.Random, world: World) -> dict[str, Any]:
    """A mostly valid body with one field given a hostile value."""
    body = valid_body(rng, world)
    name = rng.choice([*FIELDS, "extra", "__proto__", "", "\x00"])
    pick = rng.randrange(6)
    if pick == 0:
        body[name] = _scalar(rng)
    elif pick == 1:
        body[name] = json_value(rng)
    elif pick == 2:
        body[name] = rng.choice(HOSTILE_STRINGS)
    elif pick == 3:
        body[name] = [_scalar(rng) for _ in range(rng.randrange(5))]
    elif pick == 4:
        body[name] = {_scalar_key(rng): _scalar(rng) for _ in range(rng.randrange(5))}
    else:
        body[name] = placeholder(rng, world)
    return body


def _dumps(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            del buf[min(pos, len(buf) - 1)]
        elif op == 1:
            buf[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and buf:
            buf[min(pos, len(buf) - 1)] = rng.choice(b'{}[]",:\\0-eE.nNtfI\xff\xc3\x80')
        else:
            buf[pos:pos] = rng.choice(
                [b"NaN", b"-Infinity", b'"\\ud800"', b"\xed\xa0\x80", b"1e999"]
            )
    return bytes(buf)


def _huge(rng: random.Random, world: World) -> bytes:
    pick = rng.randrange(9)
    size = 1 << 20
    if pick == 0:
        return _dumps({"name": "n" * size})
    if pick == 1:
        return _dumps({"tags": ["t"] * rng.choice([1000, 100_000])})
    if pick == 2:
        return _dumps({"parameters": {"x": "p" * rng.choice([size // 2 - 20, size // 2 + 20])}})
    if pick == 3:
        return _dumps({"context": {"c": "c" * size}})
    if pick == 4:
        return _dumps({"labels": {f"k{i}": i for i in range(50_000)}})
    if pick == 5:
        return b'{"parameters": {"x": ' + b"9" * rng.choice([4300, 4301, 100_000]) + b"}}"
    if pick == 6:
        return _dumps({"idempotency_key": "k" * size})
    if pick == 7:
        return _dumps({"job_variables": {"image": "i" * size}})
    return _dumps({"parameters": {f"p{i}": i for i in range(20_000)}})


def _deep(rng: random.Random) -> bytes:
    depth = rng.choice([254, 255, 256, 257, 400, 990, 1000, 10_000, 100_000])
    opener = rng.choice("[{")
    where = rng.choice(["parameters", "context", "job_variables", "labels", "state", "x", None])
    inner = deep_json_text(depth, opener)
    if where is None:
        return inner.encode()
    if where in {"parameters", "context", "job_variables"}:
        return f'{{"{where}":{{"a":{inner}}}}}'.encode()
    return f'{{"{where}":{inner}}}'.encode()


def _duplicates(rng: random.Random, world: World) -> bytes:
    body = valid_body(rng, world)
    parts = [f"{json.dumps(k)}:{json.dumps(v, allow_nan=True)}" for k, v in body.items()]
    name = rng.choice([*FIELDS, "x"])
    for _ in range(rng.randrange(2, 4)):
        parts.insert(
            rng.randrange(len(parts) + 1),
            f"{json.dumps(name)}:{json.dumps(json_value(rng), allow_nan=True)}",
        )
    return ("{" + ",".join(parts) + "}").encode("utf-8", "surrogatepass")


def _invalid_utf8(rng: random.Random, world: World) -> bytes:
    data = _dumps(valid_body(rng, world) or {"name": "x"})
    bad = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"])
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + bad + data[pos:]


def _headers(rng: random.Random) -> dict[str, str]:
    headers: dict[str, str] = {}
    if rng.random() < 0.75:
        return headers
    names = [
        "x-prefect-api-version",
        "X-Prefect-Api-Version",
        "prefect-automation-id",
        "prefect-automation-name",
        "content-type",
        "Content-Type",
    ]
    for _ in range(rng.randrange(1, 4)):
        name = rng.choice(names)
        if "version" in name.lower():
            value = rng.choice(
                [
                    "0.8.4",
                    "0.7.9",
                    "1",
                    "a.b.c",
                    "0.8.0.1",
                    " 1. 2 .3",
                    "-1.-1.-1",
                    "1_0.0.0",
                    "",
                    "\udcff.1.1",
                    "9" * 5000 + ".0.0",
                    "٣.٣.٣",
                    "0.8.4\x00",
                ]
            )
        elif "automation-id" in name:
            value = rng.choice(
                [str(uuid.uuid4()), "", "not-a-uuid", "\udcff", "0" * 32, "{" + "0" * 32 + "}"]
            )
        elif "automation-name" in name:
            value = rng.choice(
                [
                    base64.b64encode("auto \U0001f600".encode()).decode(),
                    base64.b64encode(b"\xff\xfe").decode(),
                    "!!!",
                    "",
                    "\udcff",
                    "=" * 10,
                    base64.b64encode(b"x" * 100_000).decode(),
                ]
            )
        else:
            value = rng.choice(
                [
                    "application/json",
                    "text/plain",
                    "",
                    "application/x+json",
                    "application/json; charset=latin-1",
                    "\udcff",
                    "*/*",
                    "application/json; a=" + "b" * 10_000,
                    "multipart/form-data; boundary=x",
                ]
            )
        headers[name] = value
    return headers


def _path_id(rng: random.Random, world: World) -> str:
    pick = rng.random()
    if pick < 0.85:
        return rng.choice(world.deployment_ids)
    if pick < 0.9:
        return str(uuid.uuid4())
    if pick < 0.95:
        return rng.choice(world.deployment_ids).replace("-", "").upper()
    return rng.choice(["", "x", "../", "\x00", "0" * 33, str(uuid.uuid4()) + "\n", "\ud800"])


FAMILIES = (
    ("valid", 30),
    ("hostile-field", 25),
    ("json", 8),
    ("mutated", 10),
    ("bytes", 5),
    ("duplicates", 4),
    ("invalid-utf8", 4),
    ("deep", 3),
    ("huge", 1),
    ("empty", 2),
)
_FAMILY_NAMES = [name for name, _ in FAMILIES]
_FAMILY_WEIGHTS = [weight for _, weight in FAMILIES]


def make_case(rng: random.Random, world: World) -> Case:
    """One request of a random family, from ``rng`` alone (so a seed reproduces it)."""
    family = rng.choices(_FAMILY_NAMES, _FAMILY_WEIGHTS)[0]
    body: bytes | None
    if family == "valid":
        body = _dumps(valid_body(rng, world))
    elif family == "hostile-field":
        body = _dumps(hostile_field(rng, world))
    elif family == "json":
        body = _dumps(json_value(rng))
    elif family == "mutated":
        body = _mutate(_dumps(valid_body(rng, world)), rng)
    elif family == "bytes":
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    elif family == "duplicates":
        body = _duplicates(rng, world)
    elif family == "invalid-utf8":
        body = _invalid_utf8(rng, world)
    elif family == "deep":
        body = _deep(rng)
    elif family == "huge":
        body = _huge(rng, world)
    else:
        body = rng.choice([None, b"", b"null", b" ", b"{}", b"[]", b'""', b"0"])
    return Case(_path_id(rng, world), body, _headers(rng), family)


# --------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the watchdog in the main thread when an input runs past its budget."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Interrupt the main thread with :class:`Hang` after ``seconds`` (POSIX timers)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def fire(signum: int, frame: object) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _arm(world: World, armed: bool) -> None:
    if world.faulty is not None:
        world.faulty.armed = armed


def check(world: World, case: Case, *, budget: float = BUDGET_SECONDS) -> str:
    """Run ``case`` against ``world``; return its status code as text, or what went wrong.

    A good outcome is ``"200"``, ``"201"``, ``"400"``, ``"404"``, ``"409"``, ``"422"`` (and
    ``"503"`` in the fault-injecting world). Anything else starts with ``"UNEXPECTED"``.
    """
    return _run(world, case, budget)[0]


@dataclass
class Pair:
    """One world seeded on two adapters with equal :class:`Repeatable` factories."""

    left: World
    right: World

    @property
    def kind(self) -> str:
        """``memory=sqlite``: the adapters compared."""
        return f"{self.left.kind}={self.right.kind}"

    def close(self) -> None:
        self.left.close()
        self.right.close()


def build_pair(number: int, path: Path, against: str | None = None) -> Pair:
    """World ``number`` in memory and on an SQLite file at ``path``, with the same factories.

    ``against`` names a PostgreSQL database (a ``postgresql://`` URL) to pair the in-memory
    world with instead of SQLite.
    """
    right = (
        build_world("postgres", url=against, repeatable=number)
        if against
        else build_world("sqlite", path=path, repeatable=number)
    )
    return Pair(left=build_world("memory", repeatable=number), right=right)


def check_pair(pair: Pair, case: Case, *, budget: float = BUDGET_SECONDS) -> str:
    """Run ``case`` on both worlds of ``pair``; unexpected as :func:`check`, or if they differ.

    Both always get the request, so a difference in one case does not make the two stores
    drift apart for the next cases unless the adapters really disagree on what they wrote.
    """
    left, left_response = _run(pair.left, case, budget)
    right, right_response = _run(pair.right, case, budget)
    if left.startswith("UNEXPECTED"):
        return f"{left} (on {pair.left.kind})"
    if right.startswith("UNEXPECTED"):
        return f"{right} (on {pair.right.kind})"
    assert left_response is not None
    assert right_response is not None
    a, b = left_response.body, right_response.body
    if left_response.status != right_response.status or a != b:
        at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
        shown = slice(max(0, at - 60), at + 100)
        return (
            f"UNEXPECTED adapters differ at body byte {at}: "
            f"{pair.left.kind} {left_response.status} {a[shown]!r}; "
            f"{pair.right.kind} {right_response.status} {b[shown]!r}"
        )
    return left


def _run(world: World, case: Case, budget: float) -> tuple[str, WireResponse | None]:
    """:func:`check`'s outcome, with the response when the request was answered in time."""
    before = world.counts()
    started = time.perf_counter()
    response: WireResponse | None = None
    try:
        with watchdog(budget * 2):
            _arm(world, True)
            try:
                response = handle_create_flow_run(
                    world.service, case.deployment_id, case.body, case.headers
                )
                body = response.body
            finally:
                _arm(world, False)
    except Hang:
        return "UNEXPECTED hang", None
    except BaseException as exc:
        return f"UNEXPECTED exception {type(exc).__name__}: {str(exc)[:200]}", None
    elapsed = time.perf_counter() - started
    if elapsed > budget:
        return f"UNEXPECTED slow ({elapsed:.2f} s)", None
    status = response.status
    allowed = ALLOWED | {503} if world.faulty is not None else ALLOWED
    if status not in allowed:
        return f"UNEXPECTED status {status}: {body[:200]!r}", response
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        return f"UNEXPECTED non-JSON body ({exc}): {body[:200]!r}", response
    if parsed != finite_json(response.json):
        return "UNEXPECTED body differs from response.json", response
    if body != encode_json(response.json):
        # A run's body is written straight from the run (flow_run_body): byte for byte the
        # reference encoder's text.
        return "UNEXPECTED body is not encode_json(response.json)", response
    if response.content_type != "application/json":
        return "UNEXPECTED content type", response
    after = world.counts()
    runs, queues = after[0] - before[0], after[1] - before[1]
    if status >= 300 and (runs, queues) != (0, 0):
        return f"UNEXPECTED half written: {status} but runs +{runs}, queues +{queues}", response
    if status == 201 and (runs != 1 or queues not in {0, 1}):
        return f"UNEXPECTED 201 wrote runs +{runs}, queues +{queues}", response
    if status == 200 and (runs != 0 or queues not in {0, 1}):
        return f"UNEXPECTED 200 wrote runs +{runs}, queues +{queues}", response
    if status in {200, 201}:
        problem = _check_stored(world, parsed)
        if problem:
            return f"UNEXPECTED {problem}", response
    return str(status), response


def _check_stored(world: World, parsed: Mapping[str, Any]) -> str | None:
    run = world.repository.get_flow_run(uuid.UUID(parsed["id"]))
    if run is None:
        return "acknowledged run is not in the store"
    if run.name != parsed["name"] or run.idempotency_key != parsed["idempotency_key"]:
        return "stored run differs from the response"
    return None


def run_cases(
    world_factory: Callable[[int], World | Pair],
    seed: int,
    indices: range,
    *,
    reset_every: int = 2000,
    on_case: Callable[[int, Case, str], None] | None = None,
) -> dict[str, int]:
    """Run the cases ``indices`` of campaign ``seed``; return the count of each outcome.

    Case ``i`` is generated from ``random.Random(f"{seed}:{i}")`` and runs in world number
    ``i // reset_every`` (fresh worlds bound memory use), so any case can be replayed alone.
    """
    outcomes: dict[str, int] = {}
    world: World | Pair | None = None
    world_number = -1
    try:
        for index in indices:
            if index // reset_every != world_number:
                if world is not None:
                    world.close()
                world_number = index // reset_every
                world = world_factory(world_number)
            assert world is not None
            rng = random.Random(f"{seed}:{index}")
            if isinstance(world, Pair):
                case = make_case(rng, world.left)
                outcome = check_pair(world, case)
            else:
                case = make_case(rng, world)
                outcome = check(world, case)
            key = outcome if outcome.startswith("UNEXPECTED") else f"{world.kind} {outcome}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if on_case is not None:
                on_case(index, case, outcome)
    finally:
        if world is not None:
            world.close()
    return outcomes
