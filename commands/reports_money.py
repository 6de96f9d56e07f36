"""``legato-pay reports platform|writers|coins|users|content``: the money reports.

Registered on the ``reports`` app of ``commands/reports.py``. Each command parses its window
(``--period`` or ``--from/--to``), calls one service in ``legato_pay.reporting`` and renders:
JSON and CSV in minor units (``…_minor``), tables formatted, totals never a CSV data row.
"""

from typing import Annotated, Any

import typer

from commands.output import emit, money_cell, parse_range, state
from commands.reports import app

Period = Annotated[
    str | None, typer.Option("--period", help="A month 2026-11, a quarter 2026-Q4 or a year 2026.")
]
From = Annotated[str | None, typer.Option("--from", help="From this time, inclusive (ISO 8601).")]
To = Annotated[str | None, typer.Option("--to", help="Up to this time, exclusive (ISO 8601).")]
Currency = Annotated[str | None, typer.Option("--currency", help="Only this currency.")]


def _window(period: str | None, start: str | None, end: str | None) -> Any:
    from legato_pay.reporting.periods import report_window

    since, until = parse_range(start, end)
    return report_window(period, since, until)


def _shown(row: dict[str, Any], currency: str, names: tuple[str, ...]) -> dict[str, Any]:
    """A row as a table shows it: each ``name_minor`` formatted under ``name``."""
    cells = {}
    for name in names:
        value = row.get(f"{name}_minor")
        cells[name] = "n/a" if value is None else money_cell(value, currency)
    return {**row, **cells}


@app.command("platform")
def platform(
    period: Period = None,
    start: From = None,
    end: To = None,
    by: Annotated[str, typer.Option("--by", help="Buckets: day, week (ISO) or month.")] = "month",
    currency: Currency = None,
    convert_to: Annotated[
        str | None,
        typer.Option("--convert-to", help="Reporting currency (default: base_currency)."),
    ] = None,
    chart: Annotated[bool, typer.Option("--chart", help="Bar chart of the converted P&L.")] = False,
) -> None:
    """The platform's P&L per month (or --by) and currency, and converted to one currency.

    Revenue by stream with the writers' and platform's shares, coin sales, refunds, refund
    losses, gateway fees, tax withheld and net; each bucket converted at the recorded rate in
    force at its end (the rates used are listed). See README "Reports" for each figure's source.
    """
    from legato_pay.reporting.periods import check_bucket
    from legato_pay.reporting.platform import FIGURES, TABLE_FIGURES, platform_report

    window = _window(period, start, end)
    bucket = check_bucket(by) or "month"
    cli = state()
    report = cli.app.run(
        lambda s: platform_report(
            s,
            window=window,
            by=bucket,
            convert_to=convert_to or cli.app.settings.base_currency,
            currency=currency,
        ),
        write=False,
    )
    data = report.as_json()
    rows = [_shown(row, row["currency"], FIGURES) for row in data["rows"]]
    converted = data["totals"]["converted"]
    totals = {
        f"{cur} {name}": money_cell(sums[f"{name}_minor"], cur)
        for cur, sums in data["totals"]["by_currency"].items()
        for name in ("revenue", "platform_share", "net")
    }
    if converted is not None:
        totals.update(
            {
                f"{report.target} converted {name}": money_cell(
                    converted[f"{name}_minor"], report.target
                )
                for name in ("revenue", "platform_share", "net")
            }
        )
    for rate in data["rates"]:
        totals[f"rate {rate['period']} {rate['from']}→{rate['to']}"] = (
            f"{rate['pair']} {rate['rate']}{' (inverted)' if rate['inverted'] else ''} "
            f"as of {rate['as_of']} (id {rate['rate_id']})"
        )
    for gap in data["missing_rates"]:
        totals[f"rate {gap['period']} {gap['from']}→{gap['to']}"] = "none recorded"
    emit(
        data,
        rows=rows,
        columns=["period", "currency", "basis", *(f"{name}_minor" for name in FIGURES)],
        table_columns=["period", "currency", "basis", *TABLE_FIGURES],
        title=f"platform P&L by {bucket} ({window.label}; converted to {report.target} at the "
        "recorded rate in force at each period's end)",
        totals=totals,
        message=None if rows else "no money moved in this window",
    )
    if chart and cli.output == "table":
        from commands.charts import render_chart

        chart_rows = [row for row in data["rows"] if row["basis"] == "converted"]
        render_chart(chart_rows, "period", ["revenue_minor", "platform_share_minor"], report.target)
