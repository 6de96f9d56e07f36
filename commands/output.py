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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from legato_pay.errors import Aborted, InvalidTime, LegatoError, UsageError

if TYPE_CHECKING:
    from legato_pay.context import AppContext

OUTPUT_FORMATS = ("table", "json", "csv")

#: ``yes: YesOption = False`` on every destructive or money-moving operator command.
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts and cron).")
]
#: The signer's options of every signed approval (``payouts approve|reject``,
#: ``escrow approve|reject``): the key file signs, ``--name`` only picks the name to sign as.
KeyFileOption = Annotated[
    str,
    typer.Option(
        "--key-file", help="Your Ed25519 private key (from `approvers keygen`, mode 0600)."
    ),
]
NameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="Your name on the approver list (`approvers list --scope payouts|app:<A>`; "
        "default: the key's owner).",
    ),
]


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
    """An ISO 8601 time from an option, in UTC (a date alone is its midnight UTC); None stays
    None. Anything else, or a time UTC cannot hold, is ``INVALID_TIME``."""
    if value is None:
        return None
    from legato_pay.ledger.types import as_utc

    try:
        if not value.isascii():
            raise ValueError(value)
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise InvalidTime(
            f"{field} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z",
            details={field: value[:100]},
        ) from None


def parse_range(
    from_value: str | None,
    to_value: str | None,
    *,
    from_field: str = "--from",
    to_field: str = "--to",
) -> tuple[datetime | None, datetime | None]:
    """A ``--from/--to`` time range: either end may be open; a reversed range is
    ``INVALID_TIME`` rather than an empty answer that looks like "nothing happened"."""
    start = parse_time(from_value, from_field)
    end = parse_time(to_value, to_field)
    if start is not None and end is not None and end < start:
        raise InvalidTime(
            f"{to_field} is before {from_field}",
            details={from_field: from_value, to_field: to_value},
        )
    return start, end


def money_cell(minor: int, currency: str) -> str:
    """An amount as a table shows it: ``12.50 USD`` (tables never show minor units)."""
    from legato_pay.money import format_amount

    return format_amount(minor, currency)


def confirm(question: str, *, yes: bool) -> None:
    """Ask before a destructive or money-moving step. ``--yes`` skips the question; without a
    terminal to ask on, the command refuses rather than guessing (status 2); a "no" is
    ``ABORTED`` (status 130) and nothing is done."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{question.rstrip('?')}: confirm with --yes (no terminal to ask on)",
            details={"hint": "pass --yes"},
        )
    if not typer.confirm(question, default=False, err=True):
        raise Aborted("declined at the prompt: nothing was done")


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
    if isinstance(value, dict) and isinstance(value.get("display"), str):
        return str(value["display"])  # a money object {"amount", "currency", "display"}
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
    table_columns: Sequence[str] | None = None,
    totals: dict[str, Any] | None = None,
    next_cursor: str | None = None,
) -> None:
    """Print a command's result in the chosen format.

    ``data`` is the JSON document (the caller puts totals and the next cursor in it). For
    table/csv, ``rows`` (default: ``data`` if it is a list, else its key/value pairs) and
    ``columns`` choose what is shown (``table_columns``, when given, in a table: formatted
    amounts, no ``_minor`` figures); ``message`` is a line printed instead of a table when there
    is nothing tabular to show. ``totals`` and ``next_cursor`` are printed under a table and, for
    CSV, on stderr as ``# total …`` / ``# next_cursor=…`` lines: never a CSV data row.
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
            writer.writerow([_csv_cell(row.get(column)) for column in columns])
        sys.stdout.write(buffer.getvalue())
        for line in _footer_lines(totals, next_cursor):
            sys.stderr.write(f"# {line}\n")
        return
    if message and not rows:
        typer.echo(message)
        return
    _print_table(rows, table_columns or columns, None if current.quiet else title)
    for line in _footer_lines(totals, next_cursor):
        typer.echo(line)
    if message and not current.quiet:
        typer.echo(message)


def _footer_lines(totals: dict[str, Any] | None, next_cursor: str | None) -> list[str]:
    lines = []
    if totals:
        lines.append(
            "total: " + ", ".join(f"{key} {_cell(value)}" for key, value in totals.items())
        )
    if next_cursor:
        lines.append(f"next_cursor={next_cursor}")
    return lines


def _csv_cell(value: Any) -> str:
    """A CSV field: money objects become their exact decimal amount, never a display string."""
    if isinstance(value, dict) and {"amount", "currency"} <= value.keys():
        from legato_pay.money import to_decimal_string

        return to_decimal_string(int(value["amount"]), str(value["currency"]))
    return _cell(value)


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        plain = no_color()
        table = Table(title=title, header_style="" if plain else "bold", title_style="")
        for column in columns:
            numeric = any(isinstance(row.get(column), int) for row in rows[:20])
            # fold, never ellipsis: an id or an amount is wrapped on a narrow terminal, not cut
            table.add_column(column, justify="right" if numeric else "left", overflow="fold")
        for row in rows:
            table.add_row(*[_cell(row.get(column)) for column in columns])
        console = Console(no_color=plain, highlight=False, color_system=None if plain else "auto")
        console.print(table)
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


def no_color() -> bool:
    """``NO_COLOR`` set to anything non-empty turns off every style (colour and bold)."""
    return bool(os.environ.get("NO_COLOR"))


def normalize_output(value: str) -> str:
    """``-o JSON`` is ``-o json``; anything else is a usage error naming the choices."""
    lowered = value.strip().lower()
    if lowered not in OUTPUT_FORMATS:
        raise UsageError(
            f"--output must be one of {', '.join(OUTPUT_FORMATS)}", details={"output": value[:40]}
        )
    return lowered


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
        if arg in ("--output", "-o") and index + 1 < len(argv):
            return argv[index + 1].strip().lower() == "json"
        if arg.startswith("--output="):
            return arg.split("=", 1)[1].strip().lower() == "json"
    return os.environ.get("LEGATO_OUTPUT", "").strip().lower() == "json"


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
