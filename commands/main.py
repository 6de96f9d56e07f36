"""The ``legato-pay`` command: global options, command groups, and the one error boundary."""

import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import MarkupMode

from commands.output import (
    CliState,
    normalize_output,
    report_error,
    set_state,
)
from legato_pay.errors import EXIT_STATUSES, Aborted, LegatoError, UsageError

_EXIT_HELP = "Exit status: " + ", ".join(f"{code} {text}" for code, text in EXIT_STATUSES.items())

#: The command groups, in the order help lists them; each is the module ``commands.<name>``.
GROUPS = (
    "db",
    "ledger",
    "users",
    "packages",
    "rates",
    "purchases",
    "balances",
    "content",
    "access",
    "subscriptions",
    "engagement",
    "tips",
    "gifts",
    "earnings",
    "revenue",
    "apps",
    "shares",
    "approvers",
    "tax",
    "reports",
    "payouts",
    "webhooks",
    "reconcile",
    "escrow",
)
#: The callback's options that take a value, so the group named after them can be found.
_VALUE_OPTIONS = ("--db", "--config", "--output", "-o", "--actor")
_FLAG_OPTIONS = ("--quiet", "-q", "--debug")

if TYPE_CHECKING:
    app: typer.Typer


def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="LEGATO_DATABASE_URL",
            help="Database URL (default: the embedded SQLite file; "
            "postgresql+psycopg://user@host/db for PostgreSQL).",
            show_envvar=True,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", envvar="LEGATO_CONFIG", help="YAML file overriding defaults."),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            envvar="LEGATO_OUTPUT",
            help="table, json or csv (any case).",
            show_envvar=True,
        ),
    ] = "table",
    actor: Annotated[
        str | None,
        typer.Option("--actor", envvar="LEGATO_ACTOR", help="Who is acting (audit trail)."),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only results: no titles, notes or progress on stderr."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    output = normalize_output(output)
    state = CliState(db=db, config=config, output=output, actor=actor, quiet=quiet, debug=debug)
    set_state(state)
    ctx.obj = state


def demo(
    readers: Annotated[int, typer.Option("--readers", help="How many readers take part.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same day).")] = 7,
) -> None:
    """Run a realistic day of operations through the sandbox gateway, then print reports."""
    from commands.demo import run_demo

    run_demo(readers=readers, seed=seed)


def build_app(only: str | None = None) -> typer.Typer:
    """The command line with every group, or with the one group ``only`` (and the global
    options): Typer imports and builds every group it is given on each call, which cost a
    command as much CPU as its own work; a group behaves the same whatever else is built."""
    built = typer.Typer(
        name="legato-pay",
        help="Finance operations for a creator and investment platform.\n\n" + _EXIT_HELP + ".",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(main)
    for name in GROUPS if only is None else (only,):
        built.add_typer(import_module(f"commands.{name}").app, name=name)
    if only is None:
        built.command("serve-webhooks")(import_module("commands.webhooks").serve)
        built.command("demo")(demo)
        built.command("health")(import_module("commands.health").health)
    return built


def invoked_group(args: list[str]) -> str | None:
    """The group a command line runs (``-o json balances show U``: balances), read past the
    global options as click will parse them; None for anything else (help, a top-level
    command, an unknown word, an option written in a form not listed here)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in _VALUE_OPTIONS:
            index += 2
        elif arg in _FLAG_OPTIONS or (arg.startswith("--") and arg.split("=")[0] in _VALUE_OPTIONS):
            index += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg if arg in GROUPS else None
    return None


def __getattr__(name: str) -> Any:
    """``commands.main.app``: the whole command line, built on first use."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()["app"] = built = build_app()
    return built


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: the single place errors become exit statuses."""
    args = sys.argv[1:] if argv is None else argv
    undecodable = _not_utf8(args)
    if undecodable is not None:
        sys.exit(report_error(undecodable, args))
    group = invoked_group(args)
    cli = build_app(group) if group is not None else __getattr__("app")
    cli.rich_markup_mode = _help_style()
    try:
        # Outside standalone mode click hands back a typer.Exit's code instead of raising it.
        status = cli(args=args, prog_name="legato-pay", standalone_mode=False)
    except LegatoError as error:
        sys.exit(report_error(error, args))
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        sys.exit(report_error(Aborted("aborted: nothing was done"), args))
    except typer.TyperException as error:  # usage errors from the parser
        if not _json(args):
            error.show()  # type: ignore[attr-defined]
            sys.exit(2)
        usage = UsageError(error.format_message(), details={})
        sys.exit(report_error(usage, args))
    except KeyboardInterrupt:
        sys.exit(report_error(Aborted("interrupted: the unit of work in flight rolled back"), args))
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:  # the last line of defence: never a bare traceback by default
        sys.exit(report_error(_internal(error), args))
    sys.exit(status if isinstance(status, int) else 0)


def _not_utf8(args: list[str]) -> UsageError | None:
    """An argument or ``LEGATO_*`` value that is not UTF-8 text (Python hands such bytes over
    as surrogates): refused here, once, for every command, before any of it reaches a query."""
    for position, arg in enumerate(args, start=1):
        if not _is_utf8(arg):
            return UsageError(
                f"argument {position} is not valid UTF-8 text", details={"position": position}
            )
    for name, value in os.environ.items():
        if name.startswith("LEGATO_") and not _is_utf8(value):
            return UsageError(f"{name} is not valid UTF-8 text", details={"variable": name})
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _internal(error: Exception) -> LegatoError:
    """An unexpected error as the contract shows it: its class and, for a database error, what
    the driver said without the statement or its parameters (which may carry user data)."""
    from legato_pay.store.engine import input_refused_by_database, unavailable_database_error

    known = unavailable_database_error(error) or input_refused_by_database(error)
    if known is not None:
        return known
    summary = type(error).__name__
    original = getattr(error, "orig", None)
    if original is not None:  # SQLAlchemy's DBAPIError: the message embeds SQL and parameters
        first_line = str(original).strip().splitlines()[0][:200] if str(original).strip() else ""
        summary = f"{summary} ({type(original).__name__}: {first_line})"
    elif str(error):
        summary = f"{summary}: {str(error)[:300]}"
    return LegatoError(
        f"internal error: {summary}", details={"hint": "rerun with --debug for a traceback"}
    )


def _help_style() -> MarkupMode:
    """Rich help on a terminal, plain text when piped, like the tables: importing and running
    Rich's help renderer cost more than the rest of ``--help`` together."""
    return "rich" if sys.stdout.isatty() else None


def _json(args: list[str]) -> bool:
    from commands.output import json_mode_requested

    return json_mode_requested(args) or os.environ.get("LEGATO_OUTPUT") == "json"


if __name__ == "__main__":
    run()
