"""``flowrun register``: flows, work pools and queues, variables and deployments from files.

A file holds one object or a list of objects, in JSON or YAML. Each command registers a
whole file or nothing: the file is applied in one unit of work. Registration goes through
:class:`flowrun_core.seeding.Seeder`, so what is stored is what Prefect stores on creation
(a pool's ``default`` queue at priority 1, a deployment's labels and queue, ...).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Final
from uuid import UUID

import attrs
import click
import yaml

from flowrun_core.errors import BlockNotFound, CreationRefused, DuplicateEntity
from flowrun_core.json_types import JSON
from flowrun_core.models import LabelValue
from flowrun_core.ports import Repository
from flowrun_core.seeding import DeploymentFields, Seeder

from .app import get_state
from .lookup import deployments_named, flows_named, resolve_flow
from .output import CliError, ExitCode, dumps, style

__all__ = ["Registered", "load_objects", "register", "register_objects"]


@attrs.frozen(kw_only=True)
class Registered:
    """One registered (or already present) entity, as the command reports it."""

    kind: str
    name: str
    id: str
    created: bool = True
    extra: dict[str, JSON] = attrs.Factory(dict)

    def as_json(self) -> dict[str, JSON]:
        """The entity as ``--json`` prints it."""
        return {
            "kind": self.kind,
            "name": self.name,
            "id": self.id,
            "created": self.created,
            **self.extra,
        }


# -- reading files --------------------------------------------------------------------------


MAX_DOCUMENT_VALUES: Final = 1_000_000
"""Most values a registration file may hold once YAML aliases are expanded.

PyYAML shares an aliased node; copying it out for each alias could otherwise turn a small
file into billions of values (the "billion laughs"). A million is far past any real setup.
"""


def _json_value(value: object, where: str) -> JSON:
    """``value`` (from YAML or JSON) as plain JSON; YAML dates become ISO 8601 strings.

    Walks with an explicit stack, so any depth the parser read converts; a value that
    contains itself (a YAML alias to an enclosing node) or more than
    :data:`MAX_DOCUMENT_VALUES` values is refused.
    """
    budget = MAX_DOCUMENT_VALUES
    root: list[JSON] = [None]
    # (value, where, container, key): the converted value goes to container[key]. A
    # _LEAVE entry closes a container: its id leaves the set of those being converted.
    stack: list[tuple[object, str, object, object]] = [(value, where, root, 0)]
    open_ids: set[int] = set()
    while stack:
        item, here, into, key = stack.pop()
        if item is _LEAVE:
            open_ids.discard(key)
            continue
        budget -= 1
        if budget < 0:
            raise CliError(
                f"{where}: more than {MAX_DOCUMENT_VALUES:,} values once YAML aliases are "
                "expanded; refusing it.",
                ExitCode.INVALID_INPUT,
            )
        converted: JSON
        if item is None or isinstance(item, bool | int | float | str):
            converted = item
        elif isinstance(item, datetime | date | time):
            converted = item.isoformat()
        elif isinstance(item, list | dict):
            if id(item) in open_ids:
                raise CliError(
                    f"{here}: refers to itself (a YAML alias to an enclosing value).",
                    ExitCode.INVALID_INPUT,
                )
            open_ids.add(id(item))
            stack.append((_LEAVE, here, None, id(item)))
            if isinstance(item, list):
                converted = [None] * len(item)
                stack.extend((child, f"{here}[{i}]", converted, i) for i, child in enumerate(item))
            else:
                converted = {}
                for name, child in item.items():
                    if not isinstance(name, str):
                        raise CliError(
                            f"{here}: key {name!r} is not a string (quote it).",
                            ExitCode.INVALID_INPUT,
                        )
                    converted[name] = None  # keeps the file's key order
                    stack.append((child, f"{here}.{name}", converted, name))
        else:
            raise CliError(
                f"{here}: {type(item).__name__} values are not JSON.", ExitCode.INVALID_INPUT
            )
        into[key] = converted  # type: ignore[index]
    return root[0]


_LEAVE: Final = object()


def _parse(text: str, source: str) -> object:
    if source.endswith(".json"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CliError(f"{source}: not valid JSON: {exc}", ExitCode.INVALID_INPUT) from exc
        except RecursionError:
            raise CliError(_TOO_DEEP.format(source), ExitCode.INVALID_INPUT) from None
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise CliError(_TOO_DEEP.format(source), ExitCode.INVALID_INPUT) from None
    except yaml.YAMLError as exc:
        raise CliError(
            f"{source}: not valid YAML or JSON: {exc}".replace("\n", " "),
            ExitCode.INVALID_INPUT,
        ) from exc


_TOO_DEEP: Final = "{}: nested too deeply to read."


def read_source(source: str) -> str:
    """The text of ``source`` (a path, or ``-`` for standard input)."""
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CliError(f"File {source!r} not found.", ExitCode.NOT_FOUND) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"Cannot read {source!r}: {exc}", ExitCode.INVALID_INPUT) from exc


def load_document(source: str) -> JSON:
    """Read and parse ``source`` as JSON (``.json``) or YAML (anything else)."""
    return _json_value(_parse(read_source(source), source), source)


def load_objects(source: str) -> list[dict[str, JSON]]:
    """The objects ``source`` holds: one object, or a list of objects."""
    return _objects(load_document(source), source)


def _objects(document: JSON, where: str) -> list[dict[str, JSON]]:
    items = document if isinstance(document, list) else [document]
    objects: list[dict[str, JSON]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            at = where if not isinstance(document, list) else f"{where}[{index}]"
            raise CliError(
                f"{at}: expected an object (a mapping), got {_kind_of(item)}.",
                ExitCode.INVALID_INPUT,
            )
        objects.append(item)
    if not objects:
        raise CliError(f"{where}: holds no objects.", ExitCode.INVALID_INPUT)
    return objects


def _kind_of(value: JSON) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }[type(value)]


# -- checking fields ----------------------------------------------------------------------


class _Fields:
    """Typed access to one object's fields, with messages that say where the problem is."""

    def __init__(self, data: dict[str, JSON], where: str, allowed: Sequence[str]) -> None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise CliError(
                f"{where}: unknown field(s) {', '.join(map(repr, unknown))}.",
                ExitCode.INVALID_INPUT,
                details=[f"Known fields: {', '.join(allowed)}."],
            )
        self.data = data
        self.where = where

    def _bad(self, key: str, expected: str) -> CliError:
        return CliError(
            f"{self.where}: {key!r} must be {expected}, not {_kind_of(self.data[key])}.",
            ExitCode.INVALID_INPUT,
        )

    def has(self, key: str) -> bool:
        return key in self.data

    def name(self, key: str = "name") -> str:
        value = self.data.get(key)
        if key not in self.data:
            raise CliError(f"{self.where}: {key!r} is required.", ExitCode.INVALID_INPUT)
        if not isinstance(value, str) or not value:
            raise self._bad(key, "a non-empty string")
        return value

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._bad(key, "a string")

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(str(v) for v in value)
        raise self._bad(key, "a list of strings")

    def obj(self, key: str) -> dict[str, JSON] | None:
        value = self.data.get(key)
        if value is None or isinstance(value, dict):
            return value
        raise self._bad(key, "an object")

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.data.get(key, default)
        if isinstance(value, bool):
            return value
        raise self._bad(key, "true or false")

    def labels(self, key: str = "labels") -> dict[str, LabelValue]:
        value = self.obj(key) or {}
        labels: dict[str, LabelValue] = {}
        for label, item in value.items():
            if not isinstance(item, bool | int | float | str):
                raise CliError(
                    f"{self.where}: label {label!r} must be a string, number or boolean.",
                    ExitCode.INVALID_INPUT,
                )
            labels[label] = item
        return labels


# -- registering --------------------------------------------------------------------------


def _not_found(exc: LookupError) -> CliError:
    return CliError(str(exc.args[0]) if exc.args else str(exc), ExitCode.NOT_FOUND)


def register_flow(seeder: Seeder, data: dict[str, JSON], where: str) -> Registered:
    """A flow; an existing flow of the same name is kept (names are unique, as in Prefect)."""
    fields = _Fields(data, where, ("name", "tags", "labels"))
    name = fields.name()
    tags, labels = fields.texts("tags"), fields.labels()
    existing = flows_named(seeder.repository, name)
    if existing:
        return Registered(kind="flow", name=name, id=str(existing[0].id), created=False)
    flow = seeder.flow(name, tags=tags, labels=labels)
    return Registered(kind="flow", name=name, id=str(flow.id))


def _queue_list(repository: Repository, pool_id: UUID) -> list[JSON]:
    return [
        {"name": q.name, "priority": q.priority, "id": str(q.id)}
        for q in repository.list_work_queues(pool_id)
    ]


def register_work_pool(seeder: Seeder, data: dict[str, JSON], where: str) -> Registered:
    """A work pool with its ``default`` queue (priority 1) and the named queues in order."""
    fields = _Fields(data, where, ("name", "type", "base_job_template", "work_queues"))
    name = fields.name()
    pool_type = fields.text("type") or "process"
    template = fields.obj("base_job_template")
    queues = fields.texts("work_queues")
    if seeder.repository.get_work_pool_by_name(name) is not None:
        raise CliError(f"Work pool {name!r} is already registered.", ExitCode.CONFLICT)
    pool = seeder.work_pool(name, type=pool_type, base_job_template=template, work_queues=queues)
    return Registered(
        kind="work-pool",
        name=name,
        id=str(pool.id),
        extra={"work_queues": _queue_list(seeder.repository, pool.id)},
    )


def register_work_queue(seeder: Seeder, data: dict[str, JSON], where: str) -> Registered:
    """A queue in a pool, at the pool's lowest free priority; an existing one is kept."""
    fields = _Fields(data, where, ("name", "work_pool", "work_pool_name"))
    name = fields.name()
    pool_key = "work_pool" if fields.has("work_pool") else "work_pool_name"
    pool_name = fields.name(pool_key)
    pool = seeder.repository.get_work_pool_by_name(pool_name)
    if pool is None:
        raise CliError(f"Work pool {pool_name!r} not found.", ExitCode.NOT_FOUND)
    existing = seeder.repository.get_work_queue_by_name(pool.id, name)
    queue = existing or seeder.work_queue(pool_name, name)
    return Registered(
        kind="work-queue",
        name=f"{pool_name}/{name}",
        id=str(queue.id),
        created=existing is None,
        extra={"work_pool": pool_name, "priority": queue.priority},
    )


def register_variable(seeder: Seeder, data: dict[str, JSON], where: str) -> Registered:
    """A workspace variable (read by ``workspace_variable`` hydration)."""
    fields = _Fields(data, where, ("name", "value", "tags"))
    name = fields.name()
    if seeder.repository.get_variable(name) is not None:
        raise CliError(f"Variable {name!r} is already registered.", ExitCode.CONFLICT)
    variable = seeder.variable(name, data.get("value"), tags=fields.texts("tags"))
    return Registered(kind="variable", name=name, id=str(variable.id))


_DEPLOYMENT_FIELDS: Final = (
    "name",
    "flow",
    "flow_name",
    "version",
    "description",
    "parameters",
    "tags",
    "labels",
    "parameter_openapi_schema",
    "enforce_parameter_schema",
    "work_pool",
    "work_pool_name",
    "work_queue_name",
    "job_variables",
    "paused",
)


def register_deployment(seeder: Seeder, data: dict[str, JSON], where: str) -> Registered:
    """A deployment of a registered flow, named by ``flow`` (or ``flow_name``).

    The pool and queue are named by ``work_pool_name`` and ``work_queue_name``, or by a
    ``prefect.yaml``-style ``work_pool: {name, work_queue_name, job_variables}``.
    ``parameter_openapi_schema`` defaults to ``{}``; ``null`` stores no schema.
    """
    fields = _Fields(data, where, _DEPLOYMENT_FIELDS)
    name = fields.name()
    flow = resolve_flow(
        seeder.repository, fields.name("flow" if fields.has("flow") else "flow_name")
    )
    pool_name = fields.text("work_pool_name")
    queue_name = fields.text("work_queue_name")
    job_variables = fields.obj("job_variables")
    nested = fields.obj("work_pool")
    if nested is not None:
        pool = _Fields(nested, f"{where}.work_pool", ("name", "work_queue_name", "job_variables"))
        pool_name = pool.name()
        queue_name = pool.text("work_queue_name") or queue_name
        job_variables = {**(job_variables or {}), **(pool.obj("job_variables") or {})}
    if deployments_named(seeder.repository, name, flow.id):
        raise CliError(f"Deployment {flow.name}/{name} is already registered.", ExitCode.CONFLICT)
    no_schema = fields.has("parameter_openapi_schema") and data["parameter_openapi_schema"] is None
    given: DeploymentFields = {
        "parameters": fields.obj("parameters") or {},
        "tags": fields.texts("tags"),
        "labels": fields.labels(),
        "parameter_openapi_schema": fields.obj("parameter_openapi_schema"),
        "has_parameter_schema": not no_schema,
        "version": fields.text("version"),
        "description": fields.text("description"),
        "work_pool_name": pool_name,
        "work_queue_name": queue_name,
        "job_variables": job_variables or {},
        "paused": fields.flag("paused", default=False),
    }
    if fields.has("enforce_parameter_schema"):
        # As in Prefect, a file that asks for enforcement has its defaults checked.
        given["enforce_parameter_schema"] = fields.flag("enforce_parameter_schema", default=True)
    try:
        deployment = seeder.deployment(flow, name, **given)
    except LookupError as exc:
        raise _not_found(exc) from exc
    return Registered(
        kind="deployment",
        name=f"{flow.name}/{name}",
        id=str(deployment.id),
        extra={
            "work_pool_name": deployment.work_pool_name,
            "work_queue_name": deployment.work_queue_name,
        },
    )


Registrar = Callable[[Seeder, dict[str, JSON], str], Registered]

REGISTRARS: Final[Mapping[str, Registrar]] = {
    "flow": register_flow,
    "work-pool": register_work_pool,
    "work-queue": register_work_queue,
    "variable": register_variable,
    "deployment": register_deployment,
}
"""One registration function per ``flowrun register`` subcommand."""

BUNDLE_KEYS: Final = (
    ("variables", "variable"),
    ("work_pools", "work-pool"),
    ("work_queues", "work-queue"),
    ("flows", "flow"),
    ("deployments", "deployment"),
)
"""The sections of a ``flowrun register all`` file, in the order they are applied."""


def register_objects(
    repository: Repository, kind: str, objects: Sequence[dict[str, JSON]], source: str
) -> list[Registered]:
    """Register every object of one kind, all or nothing."""
    seeder = Seeder(repository)
    registrar = REGISTRARS[kind]
    done: list[Registered] = []
    with repository.transaction():
        for index, data in enumerate(objects):
            where = source if len(objects) == 1 else f"{source}[{index}]"
            try:
                done.append(registrar(seeder, data, where))
            except (CreationRefused, BlockNotFound) as exc:
                raise _refused(exc, where) from exc
    return done


def _refused(exc: CreationRefused | BlockNotFound, where: str) -> CliError:
    """What Prefect's creation route would refuse, as the command reports it."""
    if isinstance(exc, LookupError):
        code = ExitCode.NOT_FOUND
    elif isinstance(exc, DuplicateEntity):
        code = ExitCode.CONFLICT
    else:
        code = ExitCode.INVALID_INPUT
    return CliError(f"{where}: {exc.message}", code)


def register_bundle(repository: Repository, document: JSON, source: str) -> list[Registered]:
    """Register a file of sections (``flows:``, ``deployments:`` ...), all or nothing."""
    if not isinstance(document, dict):
        raise CliError(
            f"{source}: expected an object with sections "
            f"{', '.join(key for key, _ in BUNDLE_KEYS)}.",
            ExitCode.INVALID_INPUT,
        )
    known = {key for key, _ in BUNDLE_KEYS}
    unknown = sorted(set(document) - known)
    if unknown:
        raise CliError(
            f"{source}: unknown section(s) {', '.join(map(repr, unknown))}.",
            ExitCode.INVALID_INPUT,
            details=[f"Known sections: {', '.join(key for key, _ in BUNDLE_KEYS)}."],
        )
    done: list[Registered] = []
    with repository.transaction():
        for key, kind in BUNDLE_KEYS:
            if document.get(key) is not None:
                section = _objects(document[key], f"{source}.{key}")
                done.extend(register_objects(repository, kind, section, f"{source}.{key}"))
    return done


# -- the commands ---------------------------------------------------------------------------


def _describe(item: Registered) -> str:
    verb = "registered" if item.created else "already registered:"
    line = f"{verb} {item.kind} {style(repr(item.name), bold=True)}  id {item.id}"
    if item.kind == "work-pool":
        queues = item.extra.get("work_queues")
        if isinstance(queues, list):
            names = [
                f"{q['name']} (priority {q['priority']})" for q in queues if isinstance(q, dict)
            ]
            line += f"  queues: {', '.join(names)}"
    elif item.kind == "work-queue":
        line += f"  priority {item.extra.get('priority')}"
    elif item.kind == "deployment" and item.extra.get("work_pool_name"):
        line += f"  pool {item.extra['work_pool_name']!r}, queue {item.extra['work_queue_name']!r}"
    return line


def _report(items: Sequence[Registered], *, as_json: bool) -> None:
    if as_json:
        click.echo(dumps([item.as_json() for item in items], pretty=False))
        return
    for item in items:
        click.echo(_describe(item))


_JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print what was registered as JSON."
)
_FILE_ARGUMENT = click.argument("file", metavar="FILE")


@click.group()
def register() -> None:
    """Register flows, work pools and queues, variables and deployments from files.

    FILE is JSON (``.json``) or YAML (any other name; ``-`` reads standard input) and
    holds one object or a list of objects. A file is registered whole or not at all.
    Register flows and pools before the deployments that name them.

    \b
    Examples:
      flowrun register flow flows.yaml
      flowrun register work-pool pools.json
      flowrun register deployment deployments.yaml
      flowrun register all setup.yaml
    """  # noqa: D301 - click keeps lines after \b as written


def _kind_command(kind: str, summary: str, example: str) -> click.Command:
    @click.pass_context
    def command(ctx: click.Context, file: str, as_json: bool) -> None:
        state = get_state(ctx)
        state.json_output = as_json
        objects = load_objects(file)
        _report(register_objects(state.repository(), kind, objects, file), as_json=as_json)

    command.__doc__ = f"{summary}\n\n\b\nExample FILE (YAML):\n{example}"
    return register.command(kind)(_JSON_OPTION(_FILE_ARGUMENT(command)))


_kind_command(
    "flow",
    "Register flows (fields: name, tags, labels). An existing flow of that name is kept.",
    "  - name: etl\n    tags: [team-data]",
)
_kind_command(
    "work-pool",
    "Register work pools (fields: name, type, base_job_template, work_queues). Each pool "
    "gets a 'default' queue at priority 1; work_queues are added at the next free "
    "priorities.",
    "  name: docker-pool\n  type: docker\n  work_queues: [high-memory]",
)
_kind_command(
    "work-queue",
    "Register work queues (fields: name, work_pool) at the pool's lowest free priority.",
    "  name: backfill\n  work_pool: docker-pool",
)
_kind_command(
    "variable",
    "Register workspace variables (fields: name, value, tags), read by "
    "workspace_variable hydration.",
    "  name: bucket\n  value: s3://raw",
)
_kind_command(
    "deployment",
    "Register deployments (fields: name, flow, parameters, tags, labels, "
    "parameter_openapi_schema, enforce_parameter_schema, version, description, "
    "work_pool_name, work_queue_name, job_variables, paused). 'flow' names a registered "
    "flow; the schema defaults to {} (null stores none).",
    "  name: nightly\n  flow: etl\n  parameters: {source: s3://raw}\n"
    "  tags: [nightly]\n  work_pool_name: docker-pool",
)


@register.command("all")
@_FILE_ARGUMENT
@_JSON_OPTION
@click.pass_context
def register_all(ctx: click.Context, file: str, as_json: bool) -> None:
    """Register a file with sections: variables, work_pools, work_queues, flows, deployments.

    Sections are applied in that order, all or nothing.

    \b
    Example FILE (YAML):
      flows:
        - name: etl
      work_pools:
        - name: docker-pool
      deployments:
        - name: nightly
          flow: etl
          work_pool_name: docker-pool
    """  # noqa: D301 - click keeps lines after \b as written
    state = get_state(ctx)
    state.json_output = as_json
    _report(register_bundle(state.repository(), load_document(file), file), as_json=as_json)
