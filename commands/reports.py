"""``legato-pay reports …``: Revenue reports."""

from typing import Annotated, Any

import typer

from commands import reports_escrow
from commands.output import emit, money_cell, parse_range, state

app = typer.Typer(help="Revenue reports.")

#: What a content revenue table shows: counts and formatted amounts, never minor units.
TABLE_COLUMNS = [
    "period",
    "content",
    "writer",
    "unlocks",
    "tips",
    "coins",
    "value",
    "writer_share",
    "platform_share",
]


@app.command("content-revenue")
def content_revenue(
    content: Annotated[str | None, typer.Option("--content", help="One content piece.")] = None,
    writer: Annotated[str | None, typer.Option("--writer", help="One writer's content.")] = None,
    by: Annotated[str, typer.Option("--by", help="Period: day, week (ISO) or month.")] = "day",
    since: Annotated[
        str | None, typer.Option("--since", help="From this time, inclusive (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to this time, exclusive (ISO 8601).")
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Coin value currency (default: configured).")
    ] = None,
) -> None:
    """Unlocks and tips per content piece and period, with the writer / platform split.

    An unknown --writer or --content is NOT_FOUND; --until before --since is INVALID_TIME.
    JSON and CSV give amounts in minor units (``…_minor``); the table, formatted; the totals
    are under the table (and on stderr as ``# total …`` for CSV), never a data row."""
    from legato_pay.reporting.reports import COUNTERS, MONEY_COUNTERS
    from legato_pay.reporting.reports import content_revenue as build_report

    start, end = parse_range(since, until, from_field="--since", to_field="--until")
    cli = state()
    report = cli.app.run(
        lambda s: build_report(
            s,
            currency=currency or cli.app.settings.coins.value_currency,
            by=by,
            content_id=content,
            writer_id=writer,
            since=start,
            until=end,
        ),
        write=False,
    )
    data = report.as_json()

    def shown(row: dict[str, Any]) -> dict[str, Any]:
        money = {name: money_cell(row[f"{name}_minor"], report.currency) for name in MONEY_COUNTERS}
        return {**row, **money}

    sums = report.sums
    totals = {
        "unlocks": sums["unlocks"],
        "tips": sums["tips"],
        "coins": sums["coins"],
        **{name: money_cell(sums[name], report.currency) for name in MONEY_COUNTERS[2:]},
    }
    names = [f"{name}_minor" if name in MONEY_COUNTERS else name for name in COUNTERS]
    emit(
        data,
        rows=[shown(row) for row in data["rows"]],
        columns=["period", "content", "writer", "currency", *names],
        table_columns=TABLE_COLUMNS,
        title=f"content revenue by {report.by} ({report.currency})",
        totals=totals,
        message=None if data["rows"] else "no unlocks or tips in this window",
    )


@app.command("purchases")
def purchases(
    user: Annotated[str, typer.Option("--user", help="Whose purchases.")],
) -> None:
    """A user's coin purchases, oldest first."""
    from legato_pay.reporting.reports import purchase_history

    rows = state().app.run(lambda s: purchase_history(s, user), write=False)
    emit(
        {"user": user, "purchases": rows},
        rows=rows,
        columns=["reference", "package", "coins", "bonus", "display", "status", "created_at"],
        title=f"purchases of {user}",
        message=None if rows else f"{user} has no purchases",
    )


from commands import reports_payouts  # noqa: E402  (`reports payouts|tax|apps`)

reports_payouts.register(app)
reports_escrow.register(app)  # `reports escrow` (commands/reports_escrow.py)
import commands.reports_money  # noqa: E402  (registers platform, writers, coins, users, content)
import commands.reports_ops  # noqa: E402,F401  (reports gateways, fx, html: registers on app)
