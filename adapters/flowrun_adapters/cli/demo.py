"""``flowrun demo``: the main rules of create-flow-run, one step at a time, on a fresh store."""

from __future__ import annotations

import json
import shlex
import tempfile
import textwrap
from pathlib import Path
from typing import Final

import attrs
import click

from flowrun_adapters import open_repository
from flowrun_core.json_types import JSON
from flowrun_core.ports import Repository
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.wire import WireResponse, handle_create_flow_run

from .app import AppState, repository_url
from .output import CliError, ExitCode, dumps, style
from .runs import JSON_HEADERS

__all__ = ["demo", "run_demo"]

FLOW: Final = "etl"
DEPLOYMENT: Final = "nightly"
POOL: Final = "demo-pool"
SCHEMA: Final[dict[str, JSON]] = {
    "type": "object",
    "properties": {
        "source": {"type": "string"},
        "batch_size": {"type": "integer", "minimum": 1, "default": 100},
    },
    "required": ["source"],
}
PARAMETERS: Final[dict[str, JSON]] = {"source": "s3://raw/events", "batch_size": 100}
TAGS: Final = ("etl", "nightly")
STEPS: Final = 5
_WIDTH: Final = 80


@attrs.define
class _Narrator:
    """Writes the demo: headings, plain-words paragraphs, commands and results."""

    step: int = 0

    def heading(self, title: str) -> None:
        click.echo()
        click.echo(style(title, bold=True))

    def next_step(self, title: str) -> None:
        self.step += 1
        self.heading(f"Step {self.step} of {STEPS}: {title}")

    def say(self, text: str) -> None:
        click.echo(textwrap.fill(text, _WIDTH, initial_indent="  ", subsequent_indent="  "))

    def command(self, text: str) -> None:
        click.echo("  " + style(f"$ {text}", fg="cyan"))

    def result(self, text: str, *, ok: bool = True) -> None:
        mark = style("->", fg="green" if ok else "red", bold=True)
        click.echo(f"  {mark} {text}")

    def field(self, label: str, value: str) -> None:
        click.echo(f"       {label.ljust(12)}{value}")


class _Demo:
    """The five steps, against one store, through the endpoint's own code."""

    def __init__(self, repository: Repository, narrator: _Narrator) -> None:
        self.repository = repository
        self.say = narrator
        self.service = FlowRunService(repository)
        self.deployment_id = ""

    def post(self, body: dict[str, JSON], expected: int) -> dict[str, JSON]:
        response = handle_create_flow_run(
            self.service, self.deployment_id, json.dumps(body).encode(), JSON_HEADERS
        )
        return _expect(response, expected)

    def setup(self) -> None:
        seed = Seeder(self.repository)
        seed.work_pool(POOL, work_queues=["backfill"])
        flow = seed.flow(FLOW)
        deployment = seed.deployment(
            flow,
            DEPLOYMENT,
            parameters=PARAMETERS,
            tags=TAGS,
            parameter_openapi_schema=SCHEMA,
            enforce_parameter_schema=True,
            work_pool_name=POOL,
        )
        self.deployment_id = str(deployment.id)
        s = self.say
        s.heading("Setting the scene")
        s.say(
            "A flow run is always created from a deployment: a flow plus the settings to "
            "run it with. We register one, as `flowrun register` would:"
        )
        s.field("work pool", f"{POOL!r} with queues 'default' (priority 1), 'backfill' (2)")
        s.field("flow", repr(FLOW))
        s.field("deployment", f"'{FLOW}/{DEPLOYMENT}'  id {deployment.id}")
        s.field("  defaults", dumps(PARAMETERS, pretty=False))
        s.field("  tags", ", ".join(TAGS))
        s.field("  schema", "source: text (required); batch_size: whole number >= 1")
        s.field("  queue", f"{POOL} / default")

    def defaults(self) -> None:
        s = self.say
        s.next_step("defaults are inferred from the deployment")
        s.say(
            "A request may leave everything out. What it leaves out comes from the "
            "deployment: its default parameters, its tags, its work pool and queue. The "
            "run starts SCHEDULED, for now, and gets a generated name."
        )
        s.command(f"flowrun run create {FLOW}/{DEPLOYMENT}")
        run = self.post({}, 201)
        s.result(f"201 Created: run {run['name']!r}  id {run['id']}")
        s.field("parameters", dumps(run["parameters"], pretty=False))
        s.field("tags", _tags(run))
        s.field("state", f"{run['state_type']} ({run['state_name']})")
        s.field("queue", f"{run['work_pool_name']} / {run['work_queue_name']}")

    def tags(self) -> None:
        s = self.say
        s.next_step("tags are unioned")
        s.say(
            "Tags on the request are added to the deployment's tags, never instead of "
            "them; a tag on both appears once. Parameters work differently: a request "
            "value replaces the default of the same name, the other defaults stay."
        )
        s.command(
            f"flowrun run create {FLOW}/{DEPLOYMENT} --tag urgent --tag etl -p batch_size=250"
        )
        run = self.post({"tags": ["urgent", "etl"], "parameters": {"batch_size": 250}}, 201)
        s.result(f"201 Created: run {run['name']!r}")
        s.field("tags", f"{_tags(run)}   (deployment: {', '.join(TAGS)}; request: urgent, etl)")
        s.field("parameters", dumps(run["parameters"], pretty=False))

    def schema(self) -> None:
        s = self.say
        s.next_step("the parameter schema rejects bad parameters")
        s.say(
            "This deployment enforces its parameter schema: batch_size must be a whole "
            "number. A request with a bad value is refused with 409 Conflict and "
            "Prefect's own message, and nothing is stored."
        )
        before = self.repository.count_flow_runs()
        s.command(f"flowrun run create {FLOW}/{DEPLOYMENT} -p batch_size=lots")
        answer = self.post({"parameters": {"batch_size": "lots"}}, 409)
        s.result(f"409 Conflict: {answer.get('detail')}", ok=False)
        after = self.repository.count_flow_runs()
        s.field("stored runs", f"{after} before and after (no run was created)")
        if before != after:
            raise CliError(
                "the demo expected the rejected request to store nothing.", ExitCode.UNEXPECTED
            )

    def replay(self) -> None:
        s = self.say
        s.next_step("an idempotency key replays the first run")
        key = "nightly-2024-06-01"
        s.say(
            "A client that may retry sends an idempotency key. The first request with a "
            "key creates the run (201); any later request of the same flow with the same "
            "key gets that same run back (200) and creates nothing, even if the rest of "
            "the request differs."
        )
        s.command(f"flowrun run create {FLOW}/{DEPLOYMENT} -k {key} -p batch_size=500")
        first = self.post({"idempotency_key": key, "parameters": {"batch_size": 500}}, 201)
        s.result(f"201 Created: run {first['name']!r}  id {first['id']}")
        s.command(f"flowrun run create {FLOW}/{DEPLOYMENT} -k {key} -p batch_size=999")
        again = self.post({"idempotency_key": key, "parameters": {"batch_size": 999}}, 200)
        s.result(f"200 OK (replayed): run {again['name']!r}  id {again['id']}")
        same = "the same run" if again["id"] == first["id"] else "A DIFFERENT RUN"
        s.field("same id?", f"yes, {same}" if again["id"] == first["id"] else same)
        s.field("parameters", f"{dumps(again['parameters'], pretty=False)} (the first request's)")
        if again["id"] != first["id"]:
            raise CliError(
                "the demo expected the replay to return the first run.", ExitCode.UNEXPECTED
            )

    def queue(self) -> None:
        s = self.say
        s.next_step("a work-queue override")
        s.say(
            "A request may send the run to another queue of the deployment's work pool. "
            "If the queue does not exist yet, it is created, at the lowest free priority "
            "of the pool: 'default' has 1 and 'backfill' has 2, so 'high-memory' gets 3."
        )
        s.command(f"flowrun run create {FLOW}/{DEPLOYMENT} --work-queue high-memory")
        run = self.post({"work_queue_name": "high-memory"}, 201)
        s.result(f"201 Created: run {run['name']!r} in queue {run['work_queue_name']!r}")
        pool = self.repository.get_work_pool_by_name(POOL)
        if pool is not None:
            queues = ", ".join(
                f"{q.name} ({q.priority})" for q in self.repository.list_work_queues(pool.id)
            )
            s.field("pool queues", f"{queues}   (name (priority))")


def _tags(run: dict[str, JSON]) -> str:
    tags = run.get("tags")
    return ", ".join(map(str, tags)) if isinstance(tags, list) else "-"


def _expect(response: WireResponse, expected: int) -> dict[str, JSON]:
    if response.status != expected or not isinstance(response.json, dict):
        raise CliError(
            f"the demo expected {expected} but the endpoint answered {response.status}.",
            ExitCode.UNEXPECTED,
            details=[dumps(response.json, pretty=False)],
        )
    return response.json


def run_demo(repository: Repository, where: str) -> None:
    """Walk through the five rules on ``repository`` (which should be empty)."""
    narrator = _Narrator()
    click.echo(
        style("flowrun demo: creating flow runs from a deployment, as Prefect does", bold=True)
    )
    click.echo(f"  Store: {where}")
    steps = _Demo(repository, narrator)
    steps.setup()
    steps.defaults()
    steps.tags()
    steps.schema()
    steps.replay()
    steps.queue()
    narrator.heading("Done")
    count = repository.count_flow_runs()
    narrator.say(
        f"The store now holds {count} flow runs. Every request above went through the "
        "same code as Prefect's POST /deployments/{id}/create_flow_run, so the status "
        "codes and messages are the endpoint's."
    )


def _prepare_file(path: Path, *, force: bool) -> None:
    if path.is_dir():
        raise CliError(f"{path} is a directory; give a file path.", ExitCode.INVALID_INPUT)
    if path.exists() and path.stat().st_size > 0 and not force:
        raise CliError(
            f"{path} already exists and is not empty; the demo needs a fresh file.",
            ExitCode.CONFLICT,
            details=["Pass --force to replace it, or choose another --db."],
        )
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)


@click.command()
@click.option(
    "--db",
    "db_path",
    metavar="PATH",
    help="The SQLite file to create (default: a new temporary file). 'memory:' keeps "
    "everything in memory.",
)
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.pass_context
def demo(ctx: click.Context, db_path: str | None, force: bool) -> None:
    """Walk through the main rules on a fresh store, explaining each step.

    Shows: defaults inferred from the deployment, tags unioned, the parameter schema
    rejecting bad parameters (409), an idempotent replay (201 then 200, same run), and a
    work-queue override creating a queue at the lowest free priority.

    The demo never touches your ./flowrun.db: it uses its own --db (or the group's --db
    when given on the command line), else a new temporary file, and refuses to overwrite
    a non-empty file unless --force is given.

    \b
    Examples:
      flowrun demo
      flowrun demo --db demo.db --force
      flowrun --db demo.db run list      # look around afterwards
    """  # noqa: D301 - click keeps lines after \b as written
    state = ctx.find_object(AppState)
    if db_path is None and ctx.parent is not None and state is not None:
        source = ctx.parent.get_parameter_source("db")
        if source is click.core.ParameterSource.COMMANDLINE:
            db_path = state.db
    if db_path is None:
        db_path = str(Path(tempfile.mkdtemp(prefix="flowrun-demo-")) / "flowrun-demo.db")
    is_url = db_path.startswith(("memory:", "sqlite:"))
    where = db_path
    if not is_url:
        path = Path(db_path)
        _prepare_file(path, force=force)
        where = f"{path.resolve()} (a fresh SQLite file)"
    repository = open_repository(repository_url(db_path))
    try:
        run_demo(repository, where)
    finally:
        repository.close()
    if not is_url:
        click.echo(
            "  Look around: " + style(f"flowrun --db {shlex.quote(db_path)} run list", fg="cyan")
        )
