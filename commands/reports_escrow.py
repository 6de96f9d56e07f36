"""``legato-pay reports escrow``: deposited, released, refunded, held and in dispute per month,
app and currency. Registered on the reports group by ``register(app)``."""

from typing import Annotated

import typer

from commands.output import emit, money_cell, state

_COLUMNS = ["period", "app", "currency", "deposited", "released", "refunded", "held"]
_COLUMNS.append("in_dispute")
_CSV = [*_COLUMNS, *(f"{name}_minor" for name in _COLUMNS[3:])]


def register(app: typer.Typer) -> None:
    app.command("escrow")(escrow)


def escrow(
    app_id: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="One month, YYYY-MM (default: every month).")
    ] = None,
) -> None:
    """Escrow per month, app and currency: deposited (confirmed), released (posted), refunded
    (settled) in the month; held (awaiting approval or the gateway) and in dispute (available
    in frozen deposits) as of now, in the month they began. Totals per currency."""
    from legato_pay.reporting.escrow import FIGURES, escrow_report

    report = state().app.run(lambda s: escrow_report(s, app=app_id, period=period), write=False)
    totals = {
        f"{currency} {name}": money_cell(sums[name], currency)
        for currency, sums in report.totals.items()
        for name in FIGURES
    }
    emit(
        report.as_json(),
        rows=[row.as_cells() for row in report.rows],
        columns=_CSV,
        table_columns=_COLUMNS,
        title="escrow" + (f" of {app_id}" if app_id else "") + (f", {period}" if period else ""),
        totals=totals or None,
        message=None if report.rows else "no escrow activity",
    )
