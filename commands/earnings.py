"""``legato-pay earnings …``: Writers' earnings and the refund hold."""

from typing import Annotated

import typer

from commands.output import YesOption, confirm, emit, parse_time, state

app = typer.Typer(help="Writers' earnings and the refund hold.")

_COLUMNS = ["currency", "posted", "on_hold", "reserved", "available"]


@app.command("show")
def show(writer: Annotated[str, typer.Option("--writer", help="The writer.")]) -> None:
    """A writer's earnings per currency: posted, on hold (refund hold), reserved, available."""
    from legato_pay.readers.balances import writer_earnings

    earnings = state().app.run(lambda s: writer_earnings(s, writer), write=False)
    rows = [item.as_json() for item in earnings]
    emit(
        {"writer": writer, "earnings": rows},
        rows=rows,
        columns=_COLUMNS,
        title=writer,
        message=None if rows else f"{writer} has no earnings yet",
    )


@app.command("release")
def release(
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Release only holds matured by this time (ISO 8601, not in the future; "
            "default: now). Holds are never released before their time.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say which holds are due; post nothing.")
    ] = False,
    yes: YesOption = False,
) -> None:
    """Post every writer-earnings hold whose refund hold is over (for cron: --yes).

    Only the real clock releases a hold: --now in the future is INVALID_TIME. Two releases at
    once post each hold once; the later one answers 0 released (exit 0)."""
    from legato_pay.earnings.holds import due_holds, release_held_earnings
    from legato_pay.errors import InvalidTime
    from legato_pay.ledger.types import utcnow

    cli = state()
    real_now = utcnow()
    moment = parse_time(now, "--now") or real_now
    if moment > real_now:
        raise InvalidTime(
            "--now must not be in the future: holds are released only once their time has come",
            details={"now": moment.isoformat(), "clock": real_now.isoformat()},
        )
    if dry_run:
        due = cli.app.run(lambda s: due_holds(s, moment), write=False)
        emit(
            {"now": moment.isoformat(), "dry_run": True, "due": due, "count": len(due)},
            message=f"{len(due)} held earnings are due (dry run: nothing released)",
            rows=[],
        )
        return
    confirm("Release every refund hold that is over?", yes=yes)
    released = cli.app.run(lambda s: release_held_earnings(s, actor=cli.app.actor, now=moment))
    emit(
        {"now": moment.isoformat(), "released": released, "count": len(released)},
        message=f"released {len(released)} held earnings",
        rows=[],
    )
