"""Terminal output: sparing colours, JSON, tables and error categories.

Colours are used only on a terminal (``click.echo`` strips them elsewhere) and never when
the ``NO_COLOR`` environment variable is set to a non-empty value (https://no-color.org).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any

import click

from flowrun_core.json_types import JSON

__all__ = [
    "CliError",
    "ExitCode",
    "dumps",
    "exit_code_for_status",
    "format_time",
    "style",
    "table",
]


class ExitCode(enum.IntEnum):
    """The process exit status, one per error category."""

    OK = 0
    """The command did what was asked."""
    UNEXPECTED = 1
    """A bug or an error with no category (Prefect would answer 500)."""
    USAGE = 2
    """The command line itself is wrong (click's own status)."""
    NOT_FOUND = 3
    """A deployment, flow, run, pool or file does not exist (HTTP 404)."""
    INVALID_INPUT = 4
    """The request or a file is invalid (HTTP 400 and 422)."""
    CONFLICT = 5
    """The request conflicts with stored data, or a schema rejected it (HTTP 409)."""
    STORAGE_UNAVAILABLE = 6
    """The store cannot be opened, read or written now (HTTP 503)."""

    @property
    def category(self) -> str:
        """A short, stable name for JSON error output."""
        return self.name.lower().replace("_", "-")


_STATUS_EXIT = {
    400: ExitCode.INVALID_INPUT,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    422: ExitCode.INVALID_INPUT,
    503: ExitCode.STORAGE_UNAVAILABLE,
}


def exit_code_for_status(status: int) -> ExitCode:
    """The exit code of an HTTP status the endpoint answered."""
    if status < 400:  # noqa: PLR2004 - HTTP's own boundary
        return ExitCode.OK
    return _STATUS_EXIT.get(status, ExitCode.UNEXPECTED)


def _colour_allowed() -> bool:
    return not os.environ.get("NO_COLOR")


def style(text: str, **styles: Any) -> str:
    """``click.style`` unless ``NO_COLOR`` is set (``click.echo`` strips it off a terminal)."""
    if not _colour_allowed():
        return text
    return click.style(text, **styles)


def dumps(value: JSON, *, pretty: bool = True) -> str:
    """JSON text: indented for people, compact for ``--json`` pipelines."""
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def format_time(value: str | datetime | None) -> str:
    """A timestamp to the second, in UTC, as people read it (``2024-06-01 12:00:05Z``)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        value = parsed
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table with a bold header and two spaces between columns."""
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    head = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    lines = [style(head, bold=True)]
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return "\n".join(lines)


class CliError(click.ClickException):
    """An error with a category: printed as ``error: <message>`` (or JSON) on stderr.

    Args:
        message: one line saying what went wrong, in plain words.
        exit_code: the category.
        details: further lines (validation problems, candidates, hints).
        status: the HTTP status the endpoint answered, when the error came from it.
        response: the endpoint's JSON body, when the error came from it.
    """

    def __init__(
        self,
        message: str,
        exit_code: ExitCode,
        *,
        details: Sequence[str] = (),
        status: int | None = None,
        response: JSON = None,
    ) -> None:
        super().__init__(message)
        # click declares ``exit_code`` as a class variable and reads it from the instance.
        object.__setattr__(self, "exit_code", int(exit_code))
        self.category = exit_code.category
        self.details = tuple(details)
        self.status = status
        self.response = response
        self.as_json = False

    def as_payload(self) -> dict[str, JSON]:
        """The error as JSON (``--json``)."""
        error: dict[str, JSON] = {
            "message": self.message,
            "category": self.category,
            "exit_code": self.exit_code,
        }
        if self.details:
            error["details"] = list(self.details)
        if self.status is not None:
            error["status"] = self.status
            error["response"] = self.response
        return {"error": error}

    def show(self, file: IO[Any] | None = None) -> None:
        """Write the error to ``file`` (stderr by default)."""
        if self.as_json:
            lines = [dumps(self.as_payload(), pretty=False)]
        else:
            lines = [f"{style('error:', fg='red', bold=True)} {self.message}"]
            lines.extend(f"  {line}" for line in self.details)
        for line in lines:
            if file is None:
                click.echo(line, err=True)
            else:
                click.echo(line, file=file)
