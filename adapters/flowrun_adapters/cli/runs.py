"""``flowrun run``: create a run from a deployment through the endpoint, read and list runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import click

from flowrun_core.json_types import JSON
from flowrun_core.models import FlowRun, StateType
from flowrun_core.ports import Repository
from flowrun_core.service import FlowRunService, ServiceOptions
from flowrun_core.wire import (
    WireOptions,
    WireResponse,
    handle_bulk_create_flow_runs,
    handle_create_flow_run,
    handle_plan_flow_run,
)
from flowrun_core.wire.response import encode_flow_run

from .app import get_state
from .lookup import deployment_label, parse_uuid, resolve_deployment, resolve_flow
from .output import CliError, ExitCode, dumps, exit_code_for_status, format_time, style, table
from .register import read_source

__all__ = ["build_body", "error_for_response", "parse_param", "run", "service_options"]

JSON_HEADERS: Final = {"content-type": "application/json"}
"""The headers the command line sends with every request."""

_REASONS: Final = {200: "OK", 201: "Created"}


def parse_param(text: str) -> tuple[str, JSON]:
    """``key=value``: the value is JSON when it parses as JSON, else the text itself."""
    key, eq, raw = text.partition("=")
    if not eq or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got {text!r}", param_hint="--param")
    try:
        value: JSON = json.loads(raw)
    except (ValueError, RecursionError):  # too deep for the parser: text, like any non-JSON
        value = raw
    return key, value


def _merge_body(
    base: dict[str, JSON],
    *,
    params: Sequence[tuple[str, JSON]],
    tags: Sequence[str],
    name: str | None,
    idempotency_key: str | None,
    state: str | None,
    work_queue: str | None,
) -> dict[str, JSON]:
    body = dict(base)
    if params:
        current = body.get("parameters", {})
        if not isinstance(current, dict):
            raise CliError(
                "--body: 'parameters' must be an object to add --param values to it.",
                ExitCode.INVALID_INPUT,
            )
        body["parameters"] = {**current, **dict(params)}
    if tags:
        current_tags = body.get("tags", [])
        if not isinstance(current_tags, list):
            raise CliError(
                "--body: 'tags' must be a list to add --tag values to it.", ExitCode.INVALID_INPUT
            )
        body["tags"] = [*current_tags, *(t for t in dict.fromkeys(tags) if t not in current_tags)]
    if name is not None:
        body["name"] = name
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    if state is not None:
        current_state = body.get("state")
        body["state"] = {
            **(current_state if isinstance(current_state, dict) else {}),
            "type": state,
        }
    if work_queue is not None:
        body["work_queue_name"] = work_queue
    return body


def build_body(
    body_source: str | None,
    *,
    params: Sequence[tuple[str, JSON]] = (),
    tags: Sequence[str] = (),
    name: str | None = None,
    idempotency_key: str | None = None,
    state: str | None = None,
    work_queue: str | None = None,
) -> bytes:
    """The request body bytes: ``--body`` as given, with the options laid over it.

    Without options the ``--body`` bytes are sent untouched, so the endpoint judges them
    exactly as it would over HTTP. With options, ``--body`` must hold a JSON object.
    """
    raw = None if body_source is None else read_source(body_source)
    has_options = bool(
        params or tags or name is not None or idempotency_key is not None or state or work_queue
    )
    if raw is not None and not has_options:
        return raw.encode("utf-8")
    base: JSON = {}
    if raw is not None:
        try:
            base = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply to read" if isinstance(exc, RecursionError) else exc
            raise CliError(
                f"--body {body_source}: not valid JSON ({reason}); it must be a JSON object "
                "to combine with options.",
                ExitCode.INVALID_INPUT,
            ) from None
        if not isinstance(base, dict):
            raise CliError(
                f"--body {body_source}: must hold a JSON object to combine with options.",
                ExitCode.INVALID_INPUT,
            )
    assert isinstance(base, dict)  # noqa: S101 - narrowed above
    body = _merge_body(
        base,
        params=params,
        tags=tags,
        name=name,
        idempotency_key=idempotency_key,
        state=state,
        work_queue=work_queue,
    )
    return json.dumps(body).encode("utf-8")


def _loc(loc: JSON) -> str:
    if isinstance(loc, list):
        return ".".join(str(part) for part in loc)
    return str(loc)


def service_options(
    *,
    strict_idempotency: bool = False,
    idempotency_scope: str = "flow",
    reject_unknown_queue: bool = False,
) -> ServiceOptions:
    """The service options the command-line flags ask for (the defaults are Prefect's)."""
    return ServiceOptions(
        idempotency="strict" if strict_idempotency else "return_existing",
        idempotency_scope="deployment" if idempotency_scope == "deployment" else "flow",
        unknown_work_queue="reject" if reject_unknown_queue else "create",
    )


def error_for_response(response: WireResponse) -> CliError:
    """The endpoint's error answer as a categorised CLI error, with Prefect's message."""
    body = response.json
    message = f"HTTP {response.status}"
    details: list[str] = []
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            message = detail
        elif isinstance(body.get("exception_message"), str):
            message = str(body["exception_message"])
        problems = body.get("exception_detail")
        if isinstance(problems, list):
            details.extend(
                f"{_loc(problem.get('loc'))}: {problem.get('msg')}"
                for problem in problems
                if isinstance(problem, dict)
            )
        violations = body.get("violations")
        if isinstance(violations, list):
            details.extend(
                f"{violation.get('instance_path') or '/'}: {violation.get('message')} "
                f"(schema {violation.get('schema_path') or '/'})"
                for violation in violations
                if isinstance(violation, dict)
            )
        differences = body.get("differences")
        if isinstance(differences, list) and differences:
            details.append("differing fields: " + ", ".join(map(str, differences)))
    if response.status == 503:  # noqa: PLR2004 - the endpoint's status
        details.append("The store is busy or cannot be written; try again.")
    return CliError(
        message,
        exit_code_for_status(response.status),
        details=details,
        status=response.status,
        response=body,
    )


def _run_json(service: FlowRunService, run: FlowRun) -> dict[str, JSON]:
    return encode_flow_run(run, now=service.clock())


# -- human-readable output ------------------------------------------------------------------


def _field(label: str, value: str) -> str:
    return f"  {style(label.ljust(17), dim=True)}{value}"


def describe_run(repository: Repository, data: dict[str, JSON]) -> list[str]:
    """The lines ``run get`` and ``run create`` print about one run (from its JSON)."""
    deployment_name = "-"
    deployment_id = parse_uuid(str(data.get("deployment_id")))
    if deployment_id is not None:
        deployment = repository.get_deployment(deployment_id)
        if deployment is not None:
            deployment_name = f"{deployment_label(repository, deployment)}  ({deployment_id})"
    state = data.get("state")
    state_text = f"{data.get('state_type')} ({data.get('state_name')})"
    if isinstance(state, dict):
        details = state.get("state_details")
        if isinstance(details, dict) and details.get("scheduled_time"):
            scheduled = details["scheduled_time"]
            state_text += f", scheduled for {format_time(str(scheduled))}"
    queue = "-"
    if data.get("work_queue_name"):
        queue = f"{data.get('work_pool_name') or '-'} / {data['work_queue_name']}"
    tags = data.get("tags")
    return [
        _field("id", str(data.get("id"))),
        _field("name", str(data.get("name"))),
        _field("deployment", deployment_name),
        _field("state", state_text),
        _field("parameters", dumps(data.get("parameters"), pretty=False)),
        _field("tags", ", ".join(map(str, tags)) if isinstance(tags, list) and tags else "-"),
        _field("work pool/queue", queue),
        _field(
            "idempotency key",
            "-" if data.get("idempotency_key") is None else repr(data["idempotency_key"]),
        ),
        _field("created", format_time(str(data.get("created")))),
    ]


def _print_plan(repository: Repository, response: WireResponse, *, as_json: bool) -> None:
    if as_json:
        click.echo(response.body.decode("utf-8"))
        return
    data = response.json
    assert isinstance(data, dict)  # noqa: S101 - a plan is an object
    run_data = data["flow_run"]
    assert isinstance(run_data, dict)  # noqa: S101 - a FlowRunResponse is an object
    if data.get("replay"):
        headline = (
            style("plan", fg="cyan", bold=True)
            + f": would replay flow run {run_data['name']!r}; nothing would be created"
        )
    else:
        headline = (
            style("plan", fg="cyan", bold=True)
            + f": would create flow run {run_data['name']!r} (nothing was written)"
        )
    click.echo(headline)
    for line in describe_run(repository, run_data):
        click.echo(line)
    queue = data.get("new_work_queue")
    if isinstance(queue, dict):
        click.echo(_field("new work queue", f"{queue['name']} (priority {queue['priority']})"))
    provenance = data.get("provenance")
    if isinstance(provenance, dict):
        rows: list[list[str]] = []
        for group in ("parameters", "labels", "tags"):
            origins = provenance.get(group)
            if isinstance(origins, dict):
                rows.extend([group, str(key), str(origin)] for key, origin in origins.items())
        fields = provenance.get("fields")
        if isinstance(fields, dict):
            rows.extend(
                ["field", str(name), str(origin)]
                for name, origin in fields.items()
                if origin != "generated"
            )
        click.echo(table(["WHAT", "KEY", "FROM"], rows))


# -- commands -------------------------------------------------------------------------------


@click.group()
def run() -> None:
    """Create flow runs from deployments, and read them back.

    \b
    Examples:
      flowrun run create etl/nightly --param batch_size=500 --tag urgent
      flowrun run get 0b1c2d3e-0000-4000-8000-000000000000
      flowrun run list --deployment etl/nightly --limit 20
    """  # noqa: D301 - click keeps lines after \b as written


_STATES = [t.value for t in StateType]


@run.command("create")
@click.argument("deployment", metavar="DEPLOYMENT")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter; VALUE is JSON when it parses as JSON (500, true, [1,2]), else text. "
    "Repeatable.",
)
@click.option("--tag", "-t", "tags", multiple=True, metavar="TAG", help="A run tag. Repeatable.")
@click.option("--name", help="The run's name (default: a generated adjective-animal name).")
@click.option("--idempotency-key", "-k", help="Create at most one run per flow and key.")
@click.option(
    "--state",
    type=click.Choice(_STATES, case_sensitive=False),
    metavar="TYPE",
    help=f"The initial state type: {', '.join(_STATES)}. Default: SCHEDULED, for now.",
)
@click.option(
    "--work-queue", "-q", metavar="NAME", help="Run in this queue of the deployment's pool."
)
@click.option(
    "--body",
    "body_source",
    metavar="FILE",
    help="A JSON request body (- for standard input); the options above are laid over it.",
)
@click.option(
    "--plan",
    "dry_run",
    is_flag=True,
    help="Dry run: show the run that would be created and where each value comes from; "
    "write nothing.",
)
@click.option(
    "--strict-idempotency",
    is_flag=True,
    help="Reusing an idempotency key with a different request is an error (422) listing "
    "the differing fields, instead of returning the earlier run.",
)
@click.option(
    "--idempotency-scope",
    type=click.Choice(["flow", "deployment"]),
    default="flow",
    show_default=True,
    help="'deployment': a key held by a run of another deployment of the flow is an error.",
)
@click.option(
    "--reject-unknown-queue",
    is_flag=True,
    help="A --work-queue that does not exist is an error instead of being created.",
)
@click.option(
    "--validation-report",
    is_flag=True,
    help="On a parameter validation failure, list every violation, not only the first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the run's JSON.")
@click.pass_context
def run_create(  # noqa: PLR0917 - one parameter per click option
    ctx: click.Context,
    deployment: str,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    name: str | None,
    idempotency_key: str | None,
    state: str | None,
    work_queue: str | None,
    body_source: str | None,
    dry_run: bool,
    strict_idempotency: bool,
    idempotency_scope: str,
    reject_unknown_queue: bool,
    validation_report: bool,
    as_json: bool,
) -> None:
    """Create a flow run of DEPLOYMENT (an id, or FLOW_NAME/DEPLOYMENT_NAME).

    The request goes through the same code as Prefect's
    POST /deployments/{id}/create_flow_run, so it is validated, and fails, exactly as the
    endpoint does. Prints the FlowRunResponse JSON and whether the run was created (201)
    or an existing run was returned for its idempotency key (200).

    \b
    Examples:
      flowrun run create etl/nightly
      flowrun run create etl/nightly -p batch_size=500 -p source=s3://raw -t urgent
      flowrun run create etl/nightly --idempotency-key 2024-06-01 --json
      flowrun run create etl/nightly --work-queue high-memory --state PENDING
      flowrun run create 5c6e0a9e-2f0b-4c1e-9a51-0d6f4f0a1b2c --body request.json
      flowrun run create etl/nightly -p batch_size=500 --plan
      flowrun run create etl/nightly -k 2024-06-01 --strict-idempotency
    """  # noqa: D301 - click keeps lines after \b as written
    app = get_state(ctx)
    app.json_output = as_json
    parsed = [parse_param(p) for p in params]
    body = build_body(
        body_source,
        params=parsed,
        tags=tags,
        name=name,
        idempotency_key=idempotency_key,
        state=None if state is None else state.upper(),
        work_queue=work_queue,
    )
    repository = app.repository()
    # An id goes to the endpoint as is, so a missing deployment gets the endpoint's own
    # 404, after the body is validated; names are resolved first.
    deployment_id = parse_uuid(deployment)
    if deployment_id is None:
        deployment_id = resolve_deployment(repository, deployment).id
    service = FlowRunService(
        repository,
        options=service_options(
            strict_idempotency=strict_idempotency,
            idempotency_scope=idempotency_scope,
            reject_unknown_queue=reject_unknown_queue,
        ),
    )
    wire_options = WireOptions(include_validation_report=validation_report)
    if dry_run:
        response = handle_plan_flow_run(
            service, str(deployment_id), body, JSON_HEADERS, options=wire_options
        )
        if response.status != 200:  # noqa: PLR2004 - the endpoint's status
            raise error_for_response(response)
        _print_plan(repository, response, as_json=as_json)
        return
    response = handle_create_flow_run(
        service, str(deployment_id), body, JSON_HEADERS, options=wire_options
    )
    if response.status not in _REASONS:
        raise error_for_response(response)
    if as_json:
        click.echo(response.body.decode("utf-8"))
        return
    data = response.json
    assert isinstance(data, dict)  # noqa: S101 - a FlowRunResponse is an object
    if response.status == 201:  # noqa: PLR2004 - the endpoint's status
        headline = (
            style("created", fg="green", bold=True) + f" flow run {data['name']!r} (201 Created)"
        )
    else:
        headline = (
            style("replayed", fg="yellow", bold=True)
            + f" flow run {data['name']!r} (200 OK): a run of this flow already holds "
            f"idempotency key {data.get('idempotency_key')!r}; nothing new was created"
        )
    click.echo(headline)
    for line in describe_run(repository, data):
        click.echo(line)
    click.echo(dumps(data))


@run.command("get")
@click.argument("run_id", metavar="RUN_ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run's FlowRunResponse JSON.")
@click.pass_context
def run_get(ctx: click.Context, run_id: str, as_json: bool) -> None:
    """Show the flow run RUN_ID.

    \b
    Examples:
      flowrun run get 0b1c2d3e-0000-4000-8000-000000000000
      flowrun run get 0b1c2d3e-0000-4000-8000-000000000000 --json
    """  # noqa: D301 - click keeps lines after \b as written
    app = get_state(ctx)
    app.json_output = as_json
    flow_run_id = parse_uuid(run_id)
    if flow_run_id is None:
        raise CliError(f"{run_id!r} is not a flow run id (a UUID).", ExitCode.INVALID_INPUT)
    repository = app.repository()
    found = repository.get_flow_run(flow_run_id)
    if found is None:
        raise CliError(f"Flow run {run_id} not found.", ExitCode.NOT_FOUND)
    data = _run_json(FlowRunService(repository), found)
    if as_json:
        click.echo(dumps(data, pretty=False))
        return
    for line in describe_run(repository, data):
        click.echo(line)


@run.command("list")
@click.option("--flow", "flow_name", metavar="NAME", help="Only runs of this flow.")
@click.option(
    "--deployment",
    metavar="NAME_OR_ID",
    help="Only runs of this deployment: an id, FLOW/DEPLOYMENT, or a unique deployment name.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="Show at most N runs (oldest first)."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of FlowRunResponses.")
@click.pass_context
def run_list(
    ctx: click.Context,
    flow_name: str | None,
    deployment: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List flow runs in creation order (oldest first).

    \b
    Examples:
      flowrun run list
      flowrun run list --flow etl --limit 10
      flowrun run list --deployment etl/nightly --json
    """  # noqa: D301 - click keeps lines after \b as written
    app = get_state(ctx)
    app.json_output = as_json
    repository = app.repository()
    flow = None if flow_name is None else resolve_flow(repository, flow_name)
    target = None if deployment is None else resolve_deployment(repository, deployment, flow=flow)
    runs = repository.list_flow_runs(
        flow_id=None if flow is None else flow.id,
        deployment_id=None if target is None else target.id,
        limit=limit,
    )
    if as_json:
        service = FlowRunService(repository)
        click.echo(dumps([_run_json(service, r) for r in runs], pretty=False))
        return
    if not runs:
        click.echo("No flow runs.")
        return
    labels: dict[object, str] = {}
    rows: list[list[str]] = []
    for found in runs:
        label = "-"
        if found.deployment_id is not None:
            if found.deployment_id not in labels:
                stored = repository.get_deployment(found.deployment_id)
                labels[found.deployment_id] = (
                    str(found.deployment_id)
                    if stored is None
                    else deployment_label(repository, stored)
                )
            label = labels[found.deployment_id]
        state = "-" if found.state_type is None else found.state_type.value
        rows.append([str(found.id), found.name, state, label, format_time(found.created)])
    click.echo(table(["ID", "NAME", "STATE", "DEPLOYMENT", "CREATED"], rows))


@run.command("bulk")
@click.argument("deployment", metavar="DEPLOYMENT")
@click.argument("source", metavar="FILE")
@click.option(
    "--atomic",
    is_flag=True,
    help="All or nothing: if any item fails, no run of the batch is stored.",
)
@click.option(
    "--strict-idempotency",
    is_flag=True,
    help="Reusing an idempotency key with a different request fails that item.",
)
@click.option(
    "--reject-unknown-queue",
    is_flag=True,
    help="An item naming a work queue that does not exist fails instead of creating it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the endpoint's JSON answer.")
@click.pass_context
def run_bulk(  # noqa: PLR0917 - one parameter per click option
    ctx: click.Context,
    deployment: str,
    source: str,
    atomic: bool,
    strict_idempotency: bool,
    reject_unknown_queue: bool,
    as_json: bool,
) -> None:
    """Create many runs of DEPLOYMENT at once from FILE, a JSON array of request bodies.

    All items are created in one unit of work (one commit), each in its own savepoint: a
    failing item is reported and undone alone, unless --atomic. The request goes through
    the same code as Prefect's POST /deployments/{id}/create_flow_run/bulk (at most 100
    items). Exits with status 4 when any item failed.

    \b
    Examples:
      flowrun run bulk etl/nightly requests.json
      flowrun run bulk etl/nightly - --atomic < requests.json
    """  # noqa: D301 - click keeps lines after \b as written
    app = get_state(ctx)
    app.json_output = as_json
    body = read_source(source).encode("utf-8")
    repository = app.repository()
    deployment_id = parse_uuid(deployment)
    if deployment_id is None:
        deployment_id = resolve_deployment(repository, deployment).id
    service = FlowRunService(
        repository,
        options=service_options(
            strict_idempotency=strict_idempotency, reject_unknown_queue=reject_unknown_queue
        ),
    )
    options = WireOptions(bulk_atomic=atomic, bulk_outcomes=True)
    response = handle_bulk_create_flow_runs(
        service, str(deployment_id), body, JSON_HEADERS, options=options
    )
    if response.status != 200:  # noqa: PLR2004 - the endpoint's status
        raise error_for_response(response)
    data = response.json
    assert isinstance(data, dict)  # noqa: S101 - the bulk answer is an object
    results = data["results"]
    assert isinstance(results, list)  # noqa: S101 - and holds a list
    failed = sum(1 for r in results if isinstance(r, dict) and r.get("status") == "FAILED")
    if as_json:
        click.echo(response.body.decode("utf-8"))
    else:
        rows = [
            [
                str(index),
                str(r.get("outcome")),
                str(r.get("flow_run_id") or "-"),
                str(r.get("error") or ""),
            ]
            for index, r in enumerate(results)
            if isinstance(r, dict)
        ]
        click.echo(table(["#", "OUTCOME", "FLOW RUN", "ERROR"], rows))
        verdict = "committed" if data.get("committed") else "rolled back (nothing stored)"
        click.echo(f"{len(results) - failed} of {len(results)} stored; batch {verdict}")
    if failed:
        raise CliError(
            f"{failed} of {len(results)} items failed.",
            ExitCode.INVALID_INPUT,
            status=response.status,
            response=data,
        )
