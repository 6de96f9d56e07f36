"""``legato-pay demo``: run a realistic day through the sandbox gateway, then print reports.

The report says what THIS run did (its counts, its coin sales, the content revenue of its own
time window, the previous month's pool run), then what is cumulative since the database began
(reader balances, the whole ledger's check): a second run on the same database reports its own
day, and the pool run it finds done as replayed. ``--output json``
prints one document (amounts as ``{"amount", "currency", "display"}`` or ``…_minor``); tables
show formatted amounts only. CSV, which holds one table, is refused before the day runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from commands.output import emit, info, money_cell, state
from legato_pay.errors import UsageError

if TYPE_CHECKING:
    from legato_pay.demo.day import DemoSummary

#: How many rows the top-N tables show.
TOP = 10


def run_demo(*, readers: int, seed: int) -> None:
    from legato_pay.demo.day import planned_steps, run_demo_day
    from legato_pay.demo.report import write_demo_report

    if readers < 3 or readers > 2000:
        raise UsageError("--readers must be between 3 and 2000", details={"readers": readers})
    cli = state()
    if cli.output == "csv":
        raise UsageError(
            "demo prints several tables: use --output table or json", details={"output": "csv"}
        )
    app = cli.app
    show_progress = sys.stderr.isatty() and cli.output != "json" and not cli.quiet
    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("demo day", total=planned_steps(readers))

            def tick(description: str) -> None:
                bar.update(task, advance=1, description=description[:40])

            summary = run_demo_day(app, readers=readers, seed=seed, progress=tick)
    else:
        summary = run_demo_day(app, readers=readers, seed=seed)

    document = app.run(lambda s: demo_document(s, summary), write=False)
    document["html_report"] = str(write_demo_report(app, summary))
    if cli.output == "json":
        emit(document)
    else:
        print_demo(document)
    if not summary.verify.get("ok"):
        info("ledger verify found problems after the demo day")
        raise typer.Exit(1)


def demo_document(session: Any, summary: DemoSummary) -> dict[str, Any]:
    """The run's JSON document: ``summary`` and ``content_revenue`` are this run's;
    ``cumulative`` is the whole database's."""
    from legato_pay.readers import balances
    from legato_pay.reporting import reports

    revenue = reports.content_revenue(
        session, currency="USD", by="day", since=summary.started_at, until=summary.finished_at
    )
    top = balances.list_reader_coins(session, min_total=1)
    top.sort(key=lambda row: (-row["total"], row["user"]))
    return {
        "summary": summary.as_json(),
        "content_revenue": revenue.as_json(),
        "cumulative": {
            "since": "the database began",
            "top_balances": top[:TOP],
            "ledger": {
                key: summary.verify.get(key)
                for key in ("ok", "accounts", "entries", "sealed_entries", "problem_count")
            },
        },
    }


def print_demo(document: dict[str, Any]) -> None:
    """This run's tables, then the cumulative ones, each titled with its scope."""
    summary, revenue = document["summary"], document["content_revenue"]
    cumulative = document["cumulative"]
    if not state().quiet:  # --quiet: the results (the scoped sections) and nothing else
        typer.echo(
            f"legato-pay demo day {summary['run_id']}: {summary['readers']} readers, "
            f"{summary['writers']} writers\n"
        )
    typer.echo(
        f"== This run ({_when(summary['started_at'])} to {_when(summary['finished_at'])}) =="
    )
    emit(
        [{"what": what, "count": count} for what, count in summary["counts"].items()],
        title="What happened this run",
    )
    typer.echo("")
    sales = [{"currency": c, "paid": paid["display"]} for c, paid in summary["paid"].items()]
    emit(
        sales,
        title="Coin sales this run, through the sandbox gateway",
        message=_if_empty(sales, "no coin sales this run"),
    )
    typer.echo(f"failed payment: {summary['failed_purchase'] or 'none'}")
    typer.echo(f"refunded purchase: {summary['refunded_purchase'] or 'none'}\n")
    _print_revenue(revenue)
    _print_pool_run(summary["pool_run"])
    _print_payouts(summary["payouts"])
    _print_escrow(summary["escrow"])
    seal = summary["seal"]
    typer.echo(
        f"ledger sealed: {seal.get('entries', 0)} new entries this run, "
        f"chain head {str(seal.get('last_hash') or '')[:16]}\n"
    )
    typer.echo(f"== Cumulative (since {cumulative['since']}) ==")
    emit(
        cumulative["top_balances"],
        columns=["user", "paid", "bonus", "total"],
        title=f"Top reader balances, all runs (coins, top {TOP})",
        message=_if_empty(cumulative["top_balances"], "no reader holds coins"),
    )
    ledger = cumulative["ledger"]
    typer.echo(
        f"ledger verify: {'ok' if ledger['ok'] else 'NOT OK'} (the whole ledger): "
        f"{ledger['accounts']} accounts, {ledger['entries']} entries, "
        f"{ledger['problem_count']} problems"
    )
    typer.echo(f"HTML report of this run: {document['html_report']}")


def _print_revenue(revenue: dict[str, Any]) -> None:
    currency = revenue["currency"]
    rows = sorted(revenue["rows"], key=lambda row: -row["value_minor"])[:TOP]
    # Six columns fit 80: the demo's content ids name their writer; tips without a content
    # piece name the writer they went to.
    shown = [
        {
            "content": row["content"] or f"(tips to {row['writer']})",
            "unlocks": row["unlocks"],
            "tips": row["tips"],
            "value": money_cell(row["value_minor"], currency),
            "to writer": money_cell(row["writer_share_minor"], currency),
            "platform": money_cell(row["platform_share_minor"], currency),
        }
        for row in rows
    ]
    totals = revenue["totals"]
    emit(
        shown,
        columns=["content", "unlocks", "tips", "value", "to writer", "platform"],
        title=f"Content revenue this run (top {TOP}, {currency})",
        message=_if_empty(shown, "no content revenue this run"),
        totals={  # the counts are in "What happened this run"
            "value": money_cell(totals["value_minor"], currency),
            "to writer": money_cell(totals["writer_share_minor"], currency),
            "platform": money_cell(totals["platform_share_minor"], currency),
        },
    )


def _print_pool_run(run: dict[str, Any]) -> None:
    """The previous month's pool run: this run's, or the first demo's of that month, replayed."""
    typer.echo(
        f"\nPool run of the previous month, {run['period']} (run {run['run_id']}, {run['model']})"
    )
    if run["replayed"]:  # a period runs once: a second demo this month reports that run
        typer.echo("replayed: this period was run before; its result, nothing paid twice")
    else:
        typer.echo(f"new: the demo filled {run['period']} with subscribers' fees and reading")
    percents = run["percentages"]
    emit(
        [
            {
                "currency": pool["currency"],
                "pool": pool["pool"]["display"],
                "writers": pool["writers_share"]["display"],
                "platform": pool["platform_share"]["display"],
                "carried": pool["carried"]["display"],
                "lines": pool["lines"],
            }
            for pool in run["pools"]
        ],
        columns=["currency", "pool", "writers", "platform", "carried", "lines"],
        title=(
            f"Subscription pool {run['period']}: writers {percents['writer']}%, "
            f"platform {percents['platform']}%"
        ),
        message=_if_empty(run["pools"], "the period's pool took no fees"),
    )
    top = [
        {"writer": row["writer"], "minutes": row["minutes"], "paid": row["amount"]["display"]}
        for row in run["top_writers"]
    ]
    emit(
        top,
        columns=["writer", "minutes", "paid"],
        title=f"Top writers paid from the {run['period']} pool",
        message=_if_empty(top, "no writer paid from the pool"),
    )
    typer.echo("")


def _print_payouts(payouts: dict[str, Any]) -> None:
    """The writers' payouts this run requested, approved and sent (`payouts run`, sandbox)."""
    if payouts.get("skipped"):
        typer.echo(f"payouts skipped: {payouts['skipped']}\n")
        return
    listed = payouts.get("payouts", [])
    rows = [
        {
            "payout": p["id"],
            "writer": p["writer"],
            "gross": p["gross"]["display"],
            "tax": p["tax"]["display"],
            "net": p["net"]["display"],
            "status": p["status"],
        }
        for p in listed
    ]
    emit(
        rows,
        columns=["payout", "writer", "gross", "tax", "net", "status"],
        title="Writers' payouts this run (to sandbox methods: no fee)",
        message=_if_empty(rows, "no payouts this run"),
    )
    if listed:
        typer.echo(f"payout {listed[0]['id']} signed by {payouts.get('approver')}")
        statuses = sorted({p["status"] for p in listed})
        run = payouts.get("run") or {}
        typer.echo(
            f"sent by `payouts run --gateway sandbox`: {run.get('sent', 0)}; status: "
            f"{', '.join(statuses)}\n"
        )


def _print_escrow(escrow: dict[str, Any]) -> None:
    """The escrow story this run told (``legato_pay.demo.escrow``), in 80 columns."""
    if not escrow or escrow.get("skipped"):
        typer.echo(f"escrow skipped: {escrow.get('skipped', 'not run')}\n")
        return
    figures = ("deposited", "released", "refunded", "held", "available")
    currency = next(iter(escrow["deposits"].values()))["deposited"]["currency"]
    rows = [
        {"investor": investor}
        | {name: deposit[name]["display"].removesuffix(f" {currency}") for name in figures}
        for investor, deposit in escrow["deposits"].items()
    ]
    emit(rows, columns=["investor", *figures], title=f"Escrow of one demo app ({currency})")
    large, refund, dispute = escrow["large_release"], escrow["refund"], escrow["dispute"]
    typer.echo(f"app: {escrow['app']}")
    typer.echo(
        f"release {large['id']} of {large['amount']['display']}: signed by "
        f"{', '.join(large['approvers'])}"
    )
    typer.echo(
        f"refund {refund['id']} {refund['status']}; dispute {dispute['id']} "
        f"{dispute['status']} ({dispute['outcome']})\n"
    )


def _if_empty(rows: list[Any], message: str) -> str | None:
    """``emit`` prints its message instead of an empty table, and after a full one: only
    an empty table needs it."""
    return None if rows else message


def _when(iso: str | None) -> str:
    """A run's start or end as a table line shows it (the JSON keeps ISO 8601)."""
    if iso is None:
        return "?"
    from datetime import datetime

    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
