"""The ``flowrun`` command line: Prefect's create-flow-run on an embedded SQLite file.

The store is ``./flowrun.db`` unless ``--db PATH`` or the ``FLOWRUN_DB`` environment
variable names another file (``memory:`` keeps everything in memory, for one command).

Exit codes, one per error category (errors are printed on stderr as ``error: <message>``,
or as a JSON object with ``--json``):

  0  ok
  1  unexpected error (a bug; Prefect would answer 500)
  2  usage: the command line is wrong (click)
  3  not found: deployment, flow, run, pool or file (HTTP 404)
  4  invalid input: a bad request or file (HTTP 400 and 422)
  5  conflict: refused by the parameter schema, or clashes with stored data (HTTP 409)
  6  storage unavailable: the store cannot be opened, read or written now (HTTP 503)
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from flowrun_core._version import __version__

from .app import DEFAULT_DB, AppState, FlowrunGroup
from .demo import demo
from .output import ExitCode
from .register import register
from .runs import run

__all__ = ["ExitCode", "cli", "main"]


@click.group("flowrun", cls=FlowrunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    envvar="FLOWRUN_DB",
    show_envvar=True,
    metavar="PATH",
    help="The SQLite file to use ('memory:' for a throw-away in-memory store).",
)
@click.version_option(__version__, prog_name="flowrun")
@click.pass_context
def cli(ctx: click.Context, db: str) -> None:
    """Create Prefect flow runs from deployments, on an embedded SQLite store.

    Every run is created by the same code as Prefect 3.9.1's
    POST /deployments/{id}/create_flow_run: same defaults, same validation, same
    messages.

    \b
    Examples:
      flowrun demo                                  # the main rules, step by step
      flowrun register flow flows.yaml              # then work-pool, deployment, variable
      flowrun run create etl/nightly -p batch_size=500 -t urgent
      flowrun run list --deployment etl/nightly

    \b
    Exit codes:
      0 ok    1 unexpected    2 usage    3 not found (404)
      4 invalid input (400, 422)    5 conflict (409)    6 storage unavailable (503)
    Errors go to stderr as "error: <message>" (a JSON object with --json).
    """  # noqa: D301 - click keeps lines after \b as written
    ctx.obj = AppState(db)


cli.add_command(register)
cli.add_command(run)
cli.add_command(demo)


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``flowrun`` (the console script's entry point)."""
    cli.main(args=None if argv is None else list(argv), prog_name="flowrun")
