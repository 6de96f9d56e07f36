"""Rendering and the error contract, in one place for every command.

``--output json`` prints exactly one JSON document on stdout; errors go to stderr as
``{"error": {"code", "message", "details"}}``; the exit status is the error class's
(``legato_pay.errors``). Tables use Rich on a terminal and plain text when piped.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from legato_pay.errors import InvalidInput, LegatoError

if TYPE_CHECKING:
    from legato_pay.context import AppContext

OUTPUT_FORMATS = ("table", "json", "csv")


@dataclass
class CliState:
    """Global options, shared by every command through ``typer.Context.obj``."""

    db: str | None = None
    config: str | None = None
    output: str = "table"
    actor: str | None = None
    quiet: bool = False
    debug: bool = False
    _app: AppContext | None = field(default=None, repr=False)

    @property
    def app(self) -> AppContext:
        if self._app is None:
            from legato_pay.context import AppContext

            self._app = AppContext.create(
                database_url=self.db, config_file=self.config, actor=self.actor
            )
        return self._app


_state = CliState()


def state(ctx: typer.Context | None = None) -> CliState:
    if ctx is not None and isinstance(ctx.find_root().obj, CliState):
        return ctx.find_root().obj  # type: ignore[no-any-return]
    return _state


def set_state(new_state: CliState) -> None:
    global _state
    _state = new_state


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time from an option, in UTC; None stays None."""
    if value is None:
        return None
    from legato_pay.ledger.types import as_utc

    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidInput(
            f"{field} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
            details={field: value},
        ) from None


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "as_json"):
        return value.as_json()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(data: Any) -> str:
    return json.dumps(data, default=_json_default, sort_keys=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def emit(
    data: Any,
    *,
    rows: Sequence[dict[str, Any]] | None = None,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    message: str | None = None,
) -> None:
    """Print a command's result in the chosen format.

    ``data`` is the JSON document. For table/csv, ``rows`` (default: ``data`` if it is a list,
    else its key/value pairs) and ``columns`` choose what is shown; ``message`` is a line printed
    instead of a table when there is nothing tabular to show.
    """
    current = state()
    if current.output == "json":
        sys.stdout.write(to_json(data) + "\n")
        return
    if rows is None:
        if isinstance(data, list):
            rows = data
        elif isinstance(data, dict):
            rows = [{"field": key, "value": value} for key, value in data.items()]
            columns = columns or ["field", "value"]
        else:
            rows = []
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if current.output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
        sys.stdout.write(buffer.getvalue())
        return
    if current.quiet:
        return
    if message and not rows:
        typer.echo(message)
        return
    _print_table(rows, columns, title)
    if message:
        typer.echo(message)


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, header_style="bold")
        for column in columns:
            numeric = any(isinstance(row.get(column), int) for row in rows[:20])
            table.add_column(column, justify="right" if numeric else "left")
        for row in rows:
            table.add_row(*[_cell(row.get(column)) for column in columns])
        Console(no_color=bool(os.environ.get("NO_COLOR"))).print(table)
        return
    from tabulate import tabulate

    if title:
        typer.echo(title)
    typer.echo(
        tabulate(
            [[_cell(row.get(column)) for column in columns] for row in rows],
            headers=list(columns),
            tablefmt="plain",
            disable_numparse=True,
        )
    )


def info(message: str) -> None:
    """A human note on stderr (never pollutes JSON on stdout); silenced by --quiet."""
    current = state()
    if not current.quiet:
        typer.echo(message, err=True)


def json_mode_requested(argv: Sequence[str]) -> bool:
    """Whether the user asked for JSON, read from argv when parsing itself failed."""
    if state().output == "json":
        return True
    for index, arg in enumerate(argv):
        if arg in ("--output", "-o") and index + 1 < len(argv) and argv[index + 1] == "json":
            return True
        if arg == "--output=json":
            return True
    return os.environ.get("LEGATO_OUTPUT") == "json"


def report_error(error: LegatoError, argv: Sequence[str]) -> int:
    """Print an error the documented way and return its exit status."""
    if json_mode_requested(argv):
        sys.stderr.write(to_json({"error": error.as_dict()}) + "\n")
    else:
        detail = ""
        if error.details:
            shown = ", ".join(f"{k}={_cell(v)}" for k, v in error.details.items())
            detail = f" ({shown})"
        sys.stderr.write(f"error: {error.code}: {error.message}{detail}\n")
    if state().debug:
        traceback.print_exc()
    return error.exit_status
