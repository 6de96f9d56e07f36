"""``legato-pay reports …``: Revenue reports."""

from typing import Annotated

import typer

from commands.output import emit, parse_time, state

app = typer.Typer(help="Revenue reports.")


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
    """Unlocks and tips per content piece and period, with the writer / platform split."""
    from legato_pay.reporting.reports import COUNTERS
    from legato_pay.reporting.reports import content_revenue as build_report

    cli = state()
    report = cli.app.run(
        lambda s: build_report(
            s,
            currency=currency or cli.app.settings.coins.value_currency,
            by=by,
            content_id=content,
            writer_id=writer,
            since=parse_time(since, "since"),
            until=parse_time(until, "until"),
        ),
        write=False,
    )
    data = report.as_json()
    totals = {"period": "total", "content": None, "writer": None, **data["totals"]}
    emit(
        data,
        rows=[*data["rows"], totals],
        columns=["period", "content", "writer", *COUNTERS],
        title=f"content revenue by {report.by} ({report.currency})",
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
