"""The ``legato-pay`` command: global options, command groups, and the one error boundary."""

import os
import sys
from typing import Annotated

import typer
from typer.core import MarkupMode

from commands import (
    access,
    balances,
    content,
    db,
    earnings,
    engagement,
    gifts,
    ledger,
    packages,
    purchases,
    rates,
    reports,
    subscriptions,
    tips,
    users,
    webhooks,
)
from commands.output import OUTPUT_FORMATS, CliState, report_error, set_state
from legato_pay.errors import EXIT_STATUSES, LegatoError, UsageError

_EXIT_HELP = "Exit status: " + ", ".join(f"{code} {text}" for code, text in EXIT_STATUSES.items())

app = typer.Typer(
    name="legato-pay",
    help="Finance operations for a creator and investment platform.\n\n" + _EXIT_HELP + ".",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for _name, _module in {
    "db": db,
    "ledger": ledger,
    "users": users,
    "packages": packages,
    "rates": rates,
    "purchases": purchases,
    "balances": balances,
    "content": content,
    "access": access,
    "subscriptions": subscriptions,
    "engagement": engagement,
    "tips": tips,
    "gifts": gifts,
    "earnings": earnings,
    "reports": reports,
    "webhooks": webhooks,
}.items():
    app.add_typer(_module.app, name=_name)


@app.callback()
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
            "--output", "-o", envvar="LEGATO_OUTPUT", help="table, json or csv.", show_envvar=False
        ),
    ] = "table",
    actor: Annotated[
        str | None,
        typer.Option("--actor", envvar="LEGATO_ACTOR", help="Who is acting (audit trail)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    if output not in OUTPUT_FORMATS:
        raise UsageError(
            f"--output must be one of {', '.join(OUTPUT_FORMATS)}", details={"output": output}
        )
    state = CliState(db=db, config=config, output=output, actor=actor, quiet=quiet, debug=debug)
    set_state(state)
    ctx.obj = state


app.command("serve-webhooks")(webhooks.serve)


@app.command("demo")
def demo(
    readers: Annotated[int, typer.Option("--readers", help="How many readers take part.")] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same day).")] = 7,
) -> None:
    """Run a realistic day of operations through the sandbox gateway, then print reports."""
    from commands.demo import run_demo

    run_demo(readers=readers, seed=seed)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point: the single place errors become exit statuses."""
    args = sys.argv[1:] if argv is None else argv
    app.rich_markup_mode = _help_style()
    try:
        # Outside standalone mode click hands back a typer.Exit's code instead of raising it.
        status = app(args=args, prog_name="legato-pay", standalone_mode=False)
    except LegatoError as error:
        sys.exit(report_error(error, args))
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except typer.TyperException as error:  # usage errors from the parser
        if not _json(args):
            error.show()  # type: ignore[attr-defined]
            sys.exit(2)
        usage = UsageError(error.format_message(), details={})
        sys.exit(report_error(usage, args))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:  # the last line of defence: never a bare traceback by default
        internal = LegatoError(
            f"internal error: {type(error).__name__}: {error}",
            details={"hint": "rerun with --debug for a traceback"},
        )
        status = report_error(internal, args)
        sys.exit(status)
    sys.exit(status if isinstance(status, int) else 0)


def _help_style() -> MarkupMode:
    """Rich help on a terminal, plain text when piped, like the tables: importing and running
    Rich's help renderer cost more than the rest of ``--help`` together."""
    return "rich" if sys.stdout.isatty() else None


def _json(args: list[str]) -> bool:
    from commands.output import json_mode_requested

    return json_mode_requested(args) or os.environ.get("LEGATO_OUTPUT") == "json"


if __name__ == "__main__":
    run()
