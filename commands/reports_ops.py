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
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Rows (and chart) per bucket: day, week (ISO) or month."),
]
ChartByOption = Annotated[
    str, typer.Option("--by", help="Chart buckets: day, week (ISO) or month.")
]
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


def _run_report(
    build: Any,
    period: str | None,
    start: str | None,
    end: str | None,
    by: str | None,
    currency: str | None,
) -> Any:
    """The window and buckets from the options, then the report's service in one read: an
    explicit ``--by`` splits the rows per bucket; the chart's buckets are days without it."""
    from legato_pay.reporting.periods import check_bucket

    window = _window(period, start, end)
    bucket = check_bucket(by)
    return state().app.run(
        lambda s: build(
            s, window=window, currency=currency, by=bucket or "day", bucket_rows=bucket is not None
        ),
        write=False,
    )


def _emit_results(document: dict[str, Any], results: list[Any], empty: str, chart: bool) -> None:
    """The first result as the command's table (CSV: its rows in minor units, totals on
    stderr); under a table the others as tables of their own, then the chart."""
    main, *others = results
    csv = state().output == "csv"
    emit(
        document,
        rows=main.rows if csv else _shown(main.rows, main.money_columns),
        columns=main.columns,
        table_columns=[c.removesuffix("_minor") for c in main.columns],
        title=main.title,
        totals=main.totals,
        message=None if main.rows else empty,
    )
    if state().output != "table":
        return
    for other in others:
        if other.rows:
            emit(_shown(other.rows, other.money_columns), title=other.title)
    if chart and main.series:
        _chart(main.series)


@app.command("gateways")
def gateways(
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    by: ByOption = None,
    currency: CurrencyOption = None,
    chart: ChartOption = False,
) -> None:
    """Per gateway and currency: payments created, paid, failed, success rate, volume and the
    time from create to credited (p50/p95); webhook processing time per provider; failures by
    error code. JSON/CSV amounts in minor units; the table also lists webhooks and errors."""
    from legato_pay.reporting.gateways import gateways_report

    report = _run_report(gateways_report, period, start, end, by, currency)
    _emit_results(report.as_json(), report.results(), "no payments in this window", chart)


@app.command("fx")
def fx(
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    by: ByOption = None,
    currency: CurrencyOption = None,
    chart: ChartOption = False,
) -> None:
    """Per currency pair: conversions, volume converted (quote currency), rate age at use
    (p50/max); and each rate used (pair, rate, source, as-of, uses)."""
    from legato_pay.reporting.fx import fx_report

    report = _run_report(fx_report, period, start, end, by, currency)
    _emit_results(report.as_json(), report.results(), "no conversions in this window", chart)


@app.command("html")
def html(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    period: PeriodOption = None,
    start: FromOption = None,
    end: ToOption = None,
    by: ChartByOption = "day",
    currency: CurrencyOption = None,
) -> None:
    """Every report section (platform, writers, gateways, coins, fx) in one self-contained HTML
    file: tables and inline SVG charts, no scripts, nothing fetched from the network."""
    from legato_pay.reporting.html import SectionRequest, write_report
    from legato_pay.reporting.periods import check_bucket

    app = state().app
    request = SectionRequest(
        _window(period, start, end), check_bucket(by) or "day", currency, app.settings
    )
    written = app.run(lambda s: write_report(s, out, request), write=False)
    emit(
        {"path": str(written.path), "sections": written.sections, "bytes": written.size},
        message=f"wrote {written.path} ({', '.join(written.sections)})",
        rows=[],
    )
