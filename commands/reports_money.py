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


def _currency(code: str | None) -> str | None:
    """A ``--currency`` filter: one of the configured currencies (INVALID_CURRENCY otherwise)."""
    from legato_pay.readers.fx import configured_currency

    return None if code is None else configured_currency(state().app.settings, code)


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
    from legato_pay.readers.fx import configured_currency
    from legato_pay.reporting.periods import check_bucket
    from legato_pay.reporting.platform import FIGURES, TABLE_FIGURES, platform_report

    window = _window(period, start, end)
    bucket = check_bucket(by) or "month"
    cli = state()
    settings = cli.app.settings
    target = configured_currency(settings, convert_to or settings.base_currency)
    report = cli.app.run(
        lambda s: platform_report(
            s, window=window, by=bucket, convert_to=target, currency=_currency(currency)
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


@app.command("writers")
def writers(
    writer: Annotated[str | None, typer.Option("--writer", help="One writer.")] = None,
    period: Period = None,
    start: From = None,
    end: To = None,
    currency: Currency = None,
) -> None:
    """Per writer and currency: earnings by stream, held, released, paid out, in flight, tax
    withheld and balance (held and balance at the window's end).

    An unknown --writer is USER_NOT_FOUND (exit 5)."""
    from legato_pay.reporting.writers import FIGURES, writers_report

    window = _window(period, start, end)
    report = state().app.run(
        lambda s: writers_report(s, window=window, writer_id=writer, currency=_currency(currency)),
        write=False,
    )
    data = report.as_json()
    totals = {
        f"{cur} {name}": money_cell(sums[f"{name}_minor"], cur)
        for cur, sums in data["totals"].items()
        for name in ("earned", "paid_out", "balance")
    }
    emit(
        data,
        rows=[_shown(row, row["currency"], FIGURES) for row in data["rows"]],
        columns=["writer", "currency", *(f"{name}_minor" for name in FIGURES)],
        table_columns=["writer", "currency", *FIGURES],
        title=f"writers ({window.label})",
        totals=totals,
        message=None if data["rows"] else "no writer earnings in this window",
    )


@app.command("coins")
def coins(
    period: Period = None,
    start: From = None,
    end: To = None,
    currency: Currency = None,
) -> None:
    """Coins outstanding in readers' wallets (paid and bonus) as a liability at their value, and
    breakage: coins of readers inactive for reports.breakage_inactive_days.

    Taken at the window's end (--period's or --to), or now; --from has no effect. Coins are
    valued in coins.value_currency: another --currency gives an empty report."""
    from legato_pay.reporting.coins import COLUMNS, coins_report

    window = _window(period, start, end)
    cli = state()
    code = _currency(currency)
    report = cli.app.run(
        lambda s: coins_report(cli.app.settings, s, at=window.end, currency=code), write=False
    )
    data = report.as_json()
    shown = [_shown(row, report.currency, ("value", "breakage_value")) for row in data["rows"]]
    sums = data["totals"]
    emit(
        data,
        rows=shown,
        columns=COLUMNS,
        table_columns=[
            "bucket",
            "readers",
            "coins",
            "value",
            "inactive_readers",
            "breakage_coins",
            "breakage_value",
        ],
        title=f"coins outstanding at {data['at']} (inactive: no movement since "
        f"{data['inactive_since']})",
        totals={
            "coins": sums["coins"],
            "value": money_cell(sums["value_minor"], report.currency),
            "breakage_coins": sums["breakage_coins"],
            "breakage_value": money_cell(sums["breakage_value_minor"], report.currency),
        },
        message=None
        if shown
        else f"coins are valued in {cli.app.settings.coins.value_currency}: "
        f"nothing outstanding in {report.currency}",
    )


@app.command("users")
def users(
    user: Annotated[str, typer.Option("--user", help="Whose coins.")],
    period: Period = None,
    start: From = None,
    end: To = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100000, help="Most coin history legs in JSON.")
    ] = 1000,
    currency: Currency = None,
) -> None:
    """One user's coins: history (JSON), spending by content type and writer, purchases, tips
    and gifts given and received (summary rows: table and CSV).

    --currency keeps the money rows (spending, tips, purchases) in that currency; gifts and the
    coin history are not money and stay. An unknown --user is USER_NOT_FOUND (exit 5)."""
    from legato_pay.reporting.users import COLUMNS, user_report

    window = _window(period, start, end)
    code = _currency(currency)
    report = state().app.run(
        lambda s: user_report(s, user_id=user, window=window, limit=limit, currency=code),
        write=False,
    )
    data = report.as_json()
    rows = [
        {
            **row,
            "value": ""
            if row["value_minor"] is None
            else money_cell(row["value_minor"], row["currency"]),
        }
        for row in data["summary"]
    ]
    emit(
        data,
        rows=rows,
        columns=COLUMNS,
        table_columns=["section", "kind", "subject", "count", "coins", "value"],
        title=f"coins of {user} ({window.label})",
        totals={f"coins {name}": value for name, value in data["totals"].items()},
        message=None if rows else f"{user} moved no coins in this window",
    )


@app.command("content")
def content(
    content_id: Annotated[str | None, typer.Option("--content", help="One piece.")] = None,
    writer: Annotated[str | None, typer.Option("--writer", help="One writer's pieces.")] = None,
    period: Period = None,
    start: From = None,
    end: To = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Coin value currency (default: configured).")
    ] = None,
) -> None:
    """Per content piece: revenue, unlocks, tips, engagement minutes and conversion (engaged
    readers who unlocked ÷ engaged readers; null when nobody engaged).

    An unknown --content or --writer is NOT_FOUND (exit 5)."""
    from legato_pay.reporting.content import COLUMNS, MONEY, content_report

    window = _window(period, start, end)
    cli = state()
    report = cli.app.run(
        lambda s: content_report(
            s,
            window=window,
            currency=currency or cli.app.settings.coins.value_currency,
            content_id=content_id,
            writer_id=writer,
        ),
        write=False,
    )
    data = report.as_json()
    sums = data["totals"]
    emit(
        data,
        rows=[_shown(row, report.currency, MONEY) for row in data["rows"]],
        columns=COLUMNS,
        table_columns=[name.removesuffix("_minor") for name in COLUMNS if name != "currency"],
        title=f"content ({window.label}, {report.currency})",
        totals={
            "unlocks": sums["unlocks"],
            "value": money_cell(sums["value_minor"], report.currency),
            "engagement_minutes": sums["engagement_minutes"],
            "conversion": sums["conversion"],
        },
        message=None if data["rows"] else "no revenue or engagement in this window",
    )
