"""``legato-pay reports gateways|fx|html``: how the gateways perform, the rates money was
converted with, and every report as one self-contained HTML file."""

from pathlib import Path
from typing import Annotated, Any

import typer

from commands.output import emit, money_cell, parse_range, state
from commands.reports import app

PeriodOption = Annotated[
    str | None, typer.Option("--period", help="A month 2026-11, a quarter 2026-Q4 or a year 2026.")
]
FromOption = Annotated[str | None, typer.Option("--from", help="From this time, inclusive.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Up to this time, exclusive.")]
ByOption = Annotated[str, typer.Option("--by", help="Chart buckets: day, week (ISO) or month.")]
CurrencyOption = Annotated[str | None, typer.Option("--currency", help="One currency only.")]
ChartOption = Annotated[bool, typer.Option("--chart", help="Bar chart per bucket (table output).")]


def _window(period: str | None, start: str | None, end: str | None) -> Any:
    from legato_pay.reporting.periods import report_window

    return report_window(period, *parse_range(start, end))


def _shown(rows: list[dict[str, Any]], money: list[str]) -> list[dict[str, Any]]:
    """Rows as a table shows them: ``x_minor`` becomes ``x``, formatted in the row's currency."""
    shown = []
    for row in rows:
        cells = {k: v for k, v in row.items() if k not in money}
        for name in money:
            cells[name.removesuffix("_minor")] = money_cell(row[name], row["currency"])
        shown.append(cells)
    return shown


def _chart(series: dict[str, list[tuple[str, int]]]) -> None:
    from commands.charts import render_chart

    names = list(series)
    by_label: dict[str, dict[str, Any]] = {}
    for name in names:
        for label, value in series[name]:
            by_label.setdefault(label, {"bucket": label})[name] = value
    render_chart([by_label[k] for k in sorted(by_label)], "bucket", names, None)


@app.command("gateways")
def gateways(
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    by: ByOption = "day",
    currency: CurrencyOption = None,
    chart: ChartOption = False,
) -> None:
    """Per gateway and currency: payments created, paid, failed, success rate, volume and the
    time from create to credited (p50/p95); webhook processing time per provider; failures by
    error code. JSON/CSV amounts in minor units; the table also lists webhooks and errors."""
    from legato_pay.reporting.gateways import PAYMENT_COLUMNS, gateways_report
    from legato_pay.reporting.periods import check_bucket

    window = _window(period, start, end)
    bucket = check_bucket(by) or "day"
    report = state().app.run(
        lambda s: gateways_report(s, window=window, currency=currency, by=bucket), write=False
    )
    table = [c.removesuffix("_minor") for c in PAYMENT_COLUMNS]
    emit(
        report.as_json(),
        rows=report.payments
        if state().output == "csv"
        else _shown(report.payments, ["volume_minor"]),
        columns=PAYMENT_COLUMNS,
        table_columns=table,
        title=f"gateways ({window.label})",
        totals=report.totals,
        message=None if report.payments else "no payments in this window",
    )
    if state().output != "table":
        return
    if report.webhooks:
        emit(report.webhooks, title="webhooks")
    if report.errors:
        emit(report.errors, title="errors by code")
    if chart:
        _chart(report.series)


@app.command("fx")
def fx(
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    by: ByOption = "day",
    currency: CurrencyOption = None,
    chart: ChartOption = False,
) -> None:
    """Per currency pair: conversions, volume converted (quote currency), rate age at use
    (p50/max); and each rate used (pair, rate, source, as-of, uses)."""
    from legato_pay.reporting.fx import PAIR_COLUMNS, fx_report
    from legato_pay.reporting.periods import check_bucket

    window = _window(period, start, end)
    bucket = check_bucket(by) or "day"
    report = state().app.run(
        lambda s: fx_report(s, window=window, currency=currency, by=bucket), write=False
    )
    money = ["volume_minor", "paid_minor"]
    emit(
        report.as_json(),
        rows=report.pairs if state().output == "csv" else _shown(report.pairs, money),
        columns=PAIR_COLUMNS,
        table_columns=[c.removesuffix("_minor") for c in PAIR_COLUMNS],
        title=f"fx conversions ({window.label})",
        totals=report.totals,
        message=None if report.pairs else "no conversions in this window",
    )
    if state().output != "table":
        return
    if report.rates:
        emit(report.rates, title="rates used")
    if chart:
        _chart(report.series)


@app.command("html")
def html(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    by: ByOption = "day",
    currency: CurrencyOption = None,
) -> None:
    """Every report section (platform, writers, gateways, coins, fx) in one self-contained HTML
    file: tables and inline SVG charts, no scripts, nothing fetched from the network."""
    from legato_pay.reporting.html import write_report
    from legato_pay.reporting.periods import check_bucket

    window = _window(period, start, end)
    bucket = check_bucket(by) or "day"
    written = state().app.run(
        lambda s: write_report(s, out, window=window, currency=currency, by=bucket), write=False
    )
    emit(
        {"path": str(written.path), "sections": written.sections, "bytes": written.size},
        message=f"wrote {written.path} ({', '.join(written.sections)})",
        rows=[],
    )
