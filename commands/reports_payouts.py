"""``legato-pay reports payouts|tax|apps``: payouts, withholding tax and app distributions.

Registered on the reports group by ``register(app)`` (``commands.reports`` calls it), so these
reports keep their own module. JSON and CSV rows carry amounts in minor units (``…_minor``);
tables show them formatted; totals (per currency) are in the JSON document, under a table and
on stderr for CSV (``# total: …``), never a CSV row.
"""

from typing import Annotated, Any

import typer

from commands.output import emit, money_cell, state

WriterFilter = Annotated[str | None, typer.Option("--writer", help="Only this writer.")]


def _shown(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A JSON row as a table shows it: each ``<name>_minor`` also as a formatted ``<name>``."""
    return row | {name: money_cell(row[f"{name}_minor"], row["currency"]) for name in names}


def _totals(totals: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    """Per-currency totals as the footer line shows them: ``NGN gross 1,000.00 NGN, …``."""
    return {
        f"{total['currency']} {name}": money_cell(total[f"{name}_minor"], total["currency"])
        for total in totals
        for name in names
    }


def payouts(
    period: Annotated[
        str | None, typer.Option("--period", help="Payouts requested in this month, YYYY-MM.")
    ] = None,
    writer: WriterFilter = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only this status (default: requested, approved, sending and paid).",
        ),
    ] = None,
) -> None:
    """Payouts' gross, fees, tax and net by gateway and currency (and writer, with --writer),
    with per-currency totals. Unknown --writer: exit 5; a bad --status or --period: exit 3."""
    from legato_pay.reporting.payouts import AMOUNTS, payouts_report

    report = state().app.run(
        lambda s: payouts_report(s, period=period, writer=writer, status=status), write=False
    )
    data = report.as_json()
    keys = ["gateway", "currency", *(["writer"] if writer else []), "payouts"]
    emit(
        data,
        rows=[_shown(row, AMOUNTS) for row in data["rows"]],
        columns=[*keys, *(f"{name}_minor" for name in AMOUNTS)],
        table_columns=[*keys, *AMOUNTS],
        title="payouts" + (f" {period}" if period else "") + (f" of {writer}" if writer else ""),
        totals=_totals(data["totals"], AMOUNTS),
        message=None if data["rows"] else "no payouts",
    )


_TAX_AMOUNTS = ("gross", "withheld", "remitted", "outstanding")


def tax(
    year: Annotated[str, typer.Option("--year", help="The year, e.g. 2026.")],
    writer: WriterFilter = None,
    country: Annotated[
        str | None, typer.Option("--country", help="Only this country's withholding (e.g. NG).")
    ] = None,
) -> None:
    """Withholding tax per writer and month: gross paid, tax withheld, the rate, how much of it
    was remitted (its country's month remitted with `tax remit`) and what is outstanding."""
    from legato_pay.reporting.tax import tax_report

    report = state().app.run(
        lambda s: tax_report(s, year=year, writer=writer, country=country), write=False
    )
    data = report.as_json()
    keys = ["writer", "period", "country", "currency", "rate_percent", "payouts"]
    emit(
        data,
        rows=[_shown(row, _TAX_AMOUNTS) for row in data["rows"]],
        columns=[*keys, *(f"{name}_minor" for name in _TAX_AMOUNTS)],
        table_columns=[*keys, *_TAX_AMOUNTS],
        title=f"withholding tax {report.year}",
        totals=_totals(data["totals"], _TAX_AMOUNTS),
        message=None if data["rows"] else "no paid payouts in this year",
    )


def apps(
    app: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    year: Annotated[
        str | None, typer.Option("--year", help="Only record dates in this year.")
    ] = None,
) -> None:
    """App revenue distributed to investors per app and month (of the record date) and
    currency: distributions, amount, investors paid. Unknown --app: exit 5."""
    from legato_pay.reporting.apps import apps_report

    report = state().app.run(lambda s: apps_report(s, app=app, year=year), write=False)
    data = report.as_json()
    keys = ["app", "period", "currency", "distributions", "investors"]
    emit(
        data,
        rows=[_shown(row, ("amount",)) for row in data["rows"]],
        columns=[*keys, "amount_minor"],
        table_columns=[*keys, "amount"],
        title="app revenue distributed",
        totals=_totals(data["totals"], ("amount",)),
        message=None if data["rows"] else "no distributions",
    )


def register(app_: typer.Typer) -> None:
    app_.command("payouts")(payouts)
    app_.command("tax")(tax)
    app_.command("apps")(apps)
