"""The root ``flowrun`` group: the store option, lazy opening, and error categories."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from flowrun_adapters import open_repository
from flowrun_core.errors import FlowRunError
from flowrun_core.ports import Repository
from flowrun_core.wire.problems import problem_for

from .output import CliError, ExitCode, exit_code_for_status

__all__ = ["DEFAULT_DB", "AppState", "FlowrunGroup", "get_state", "repository_url"]

DEFAULT_DB = "flowrun.db"
"""The SQLite file used when neither ``--db`` nor ``FLOWRUN_DB`` names one."""


_URL_SCHEMES = ("sqlite:", "postgresql://", "postgres://", "postgresql+psycopg://")


def repository_url(db: str) -> str:
    """The :func:`~flowrun_adapters.open_repository` URL for a ``--db`` value.

    ``memory:``, ``sqlite:`` and PostgreSQL URLs pass through; anything else is a file path.
    """
    if db in {"memory:", "memory://"} or db.startswith(_URL_SCHEMES):
        return db
    return "sqlite:///" + quote(db)


class AppState:
    """What every command shares: where the store is, and the store once opened."""

    def __init__(self, db: str = DEFAULT_DB) -> None:
        self.db = db
        self.json_output = False
        self._repository: Repository | None = None

    def repository(self) -> Repository:
        """Open the store on first use (``--help`` and usage errors never touch it)."""
        if self._repository is None:
            try:
                self._repository = open_repository(repository_url(self.db))
            except ValueError as exc:
                if isinstance(exc, FlowRunError):
                    raise
                raise CliError(f"--db {self.db!r}: {exc}", ExitCode.INVALID_INPUT) from exc
        return self._repository

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._repository is not None:
            repository, self._repository = self._repository, None
            repository.close()


def get_state(ctx: click.Context) -> AppState:
    """The shared state of the ``flowrun`` group this command runs under."""
    return ctx.ensure_object(AppState)


def error_from_exception(exc: FlowRunError) -> CliError:
    """A domain or storage error, in the category the endpoint's status table gives it."""
    status, _ = problem_for(exc)
    message = exc.message or type(exc).__name__
    return CliError(message, exit_code_for_status(status))


class FlowrunGroup(click.Group):
    """A group that turns every failure into ``error: <message>`` and a category exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; categorise what it raises; close the store."""
        try:
            return super().invoke(ctx)
        except CliError as exc:
            exc.as_json = _json_requested(ctx)
            raise
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except FlowRunError as exc:
            error = error_from_exception(exc)
            error.as_json = _json_requested(ctx)
            raise error from exc
        except Exception as exc:
            error = CliError(f"unexpected {type(exc).__name__}: {exc}", ExitCode.UNEXPECTED)
            error.as_json = _json_requested(ctx)
            raise error from exc
        finally:
            state = ctx.find_object(AppState)
            if state is not None:
                state.close()


def _json_requested(ctx: click.Context) -> bool:
    state = ctx.find_object(AppState)
    return state is not None and state.json_output
