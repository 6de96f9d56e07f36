"""``legato-pay demo``: run a realistic day through the sandbox gateway, then print reports."""

from __future__ import annotations

import sys
from typing import Any

import typer

from commands.output import emit, state
from legato_pay.errors import UsageError


def run_demo(*, readers: int, seed: int) -> None:
    from legato_pay.demo.day import planned_steps, run_demo_day

    if readers < 3 or readers > 2000:
        raise UsageError("--readers must be between 3 and 2000", details={"readers": readers})
    cli = state()
    app = cli.app
    show_progress = sys.stderr.isatty() and cli.output == "table" and not cli.quiet
    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("demo day", total=planned_steps(readers))

            def tick(description: str) -> None:
                bar.update(task, advance=1, description=description[:40])

            summary = run_demo_day(app, readers=readers, seed=seed, progress=tick)
    else:
        summary = run_demo_day(app, readers=readers, seed=seed)

    reports = app.run(_reports, write=False)
    if cli.output == "json":
        emit({"summary": summary.as_json(), **reports})
        return
    _print_reports(summary.as_json(), reports)
    if not summary.verify.get("ok"):
        raise typer.Exit(1)


def _reports(session: Any) -> dict[str, Any]:
    from legato_pay.readers import balances
    from legato_pay.reporting import reports

    top = balances.list_reader_coins(session, min_total=1)
    top.sort(key=lambda row: (-row["total"], row["user"]))
    revenue = reports.content_revenue(session, currency="USD", by="day").as_json()
    return {"balances": top[:10], "content_revenue": revenue}


def _print_reports(summary: dict[str, Any], reports: dict[str, Any]) -> None:
    from legato_pay.money import format_amount

    state().output = "table"
    typer.echo(
        f"legato-pay demo day {summary['run_id']} — {summary['readers']} readers, "
        f"{summary['writers']} writers\n"
    )
    emit(
        [{"what": k, "count": v} for k, v in summary["counts"].items()],
        title="What happened",
    )
    emit(
        [{"currency": c, "paid": format_amount(v, c)} for c, v in summary["paid"].items()],
        title="Coin sales through the sandbox gateway",
    )
    typer.echo(
        f"failed payment: {summary['failed_purchase']}   "
        f"refunded purchase: {summary['refunded_purchase']}\n"
    )
    emit(
        reports["balances"],
        columns=["user", "paid", "bonus", "total"],
        title="Top reader balances (coins)",
    )
    revenue = reports["content_revenue"]
    rows = [
        {**row, "content": row["content"] or "(tips, no content)"}
        for row in sorted(revenue["rows"], key=lambda r: -r["value"])[:10]
    ]
    emit(
        rows,
        columns=[
            "period",
            "content",
            "writer",
            "unlocks",
            "coins",
            "value",
            "writer_share",
            "platform_share",
            "tips",
            "tip_coins",
        ],
        title="Content revenue (top 10, USD minor units)",
    )
    typer.echo(f"totals: {revenue['totals']}\n")
    verify = summary["verify"]
    seal = summary["seal"]
    typer.echo(
        f"ledger sealed: {seal.get('entries', 0)} new entries, chain head {seal.get('last_hash', '')[:16]}…"
    )
    typer.echo(
        f"ledger verify: {'ok' if verify.get('ok') else 'NOT OK'} — {verify.get('accounts')} "
        f"accounts, {verify.get('entries')} entries, {verify.get('problem_count')} problems"
    )
