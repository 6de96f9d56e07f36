"""``payouts run|verify|finalize``: sending approved payouts and settling their outcome.

Registered on the ``payouts`` group by ``commands.payouts`` (``register``)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from commands.output import emit, money_cell, state

_COLUMNS = ["payout", "writer", "gateway", "currency", "net", "net_minor", "reference"]
_COLUMNS += ["status", "outcome"]
_TABLE = ["payout", "writer", "gateway", "net", "reference", "status", "outcome"]


def _totals(report_totals: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any] | None:
    cells = {
        f"{status} {currency}": f"{slot['count']} × {money_cell(slot['net_minor'], currency)}"
        for status, by_currency in sorted(report_totals.items())
        for currency, slot in sorted(by_currency.items())
    }
    return cells or None


def _emit_lines(document: Any, lines: list[Any], title: str, empty: str, totals: Any) -> None:
    rows = [line.as_row() for line in lines]
    emit(
        document,
        rows=rows,
        columns=_COLUMNS,
        table_columns=_TABLE,
        title=title,
        message=None if rows else empty,
        totals=totals,
    )


def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be sent; write and send nothing.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Send at most this many payouts.")
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option("--gateway", help="Only payouts through paystack, stripe or sandbox."),
    ] = None,
) -> None:
    """Send approved payouts (cron): each is marked sending and committed before its gateway
    is called, then paid, failed, or left sending when the answer is unknown (payouts verify
    settles it). Never sends a payout twice; a second run at once exits 9 (RUN_IN_PROGRESS)."""
    from legato_pay.payouts.sending import run_payouts

    cli = state()
    show = sys.stderr.isatty() and cli.output == "table" and not cli.quiet and not dry_run
    if show:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("sending payouts", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = run_payouts(cli.app, limit=limit, gateway=gateway, progress=tick)
    else:
        report = run_payouts(cli.app, dry_run=dry_run, limit=limit, gateway=gateway)
    title = "dry run: nothing written or sent" if dry_run else "payouts run"
    _emit_lines(
        report.as_json(),
        list(report.lines),
        title,
        "no approved payouts to send",
        _totals(report.totals()),
    )


def verify(
    payout_id: Annotated[
        str | None, typer.Argument(help="The payout's id (default: every stale sending one).")
    ] = None,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            help="Without an id: payouts sending for at least this many minutes "
            "(default payouts.verify_after_minutes).",
        ),
    ] = None,
) -> None:
    """Ask the gateway how a payout's transfer stands (by its reference) and apply it: paid,
    failed, reversed. A sending payout the gateway never saw is sent once more under the
    same reference, never a new one."""
    from legato_pay.payouts.sending_verify import verify_payouts

    cli = state()
    lines = verify_payouts(cli.app, payout_id, older_than_minutes=older_than)
    document: Any = {"payouts": [line.as_json() for line in lines]}
    _emit_lines(document, lines, "payouts verified", "no payouts to verify", None)


def finalize(
    payout_id: Annotated[str, typer.Argument(help="The payout's id.")],
    otp: Annotated[
        str,
        typer.Option(
            "--otp",
            prompt="OTP Paystack sent",
            hide_input=True,
            help="The OTP Paystack sent for this transfer (asked for when omitted).",
        ),
    ],
) -> None:
    """Complete a Paystack transfer that waits for an OTP (integrations with transfer OTP
    enabled; payouts.paystack_transfer_otp)."""
    from legato_pay.payouts.sending_verify import finalize_payout

    line = finalize_payout(state().app, payout_id, otp)
    _emit_lines(line.as_json(), [line], f"payout {line.payout_id} {line.status}", "", None)


def register(app: typer.Typer) -> None:
    """Add ``run``, ``verify`` and ``finalize`` to the payouts command group ``app``."""
    app.command("run")(run)
    app.command("verify")(verify)
    app.command("finalize")(finalize)
