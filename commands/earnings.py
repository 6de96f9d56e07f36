"""``legato-pay earnings …``: Writers' earnings and the refund hold."""

from typing import Annotated

import typer

from commands.output import emit, parse_time, state

app = typer.Typer(help="Writers' earnings and the refund hold.")


@app.command("show")
def show(writer_id: Annotated[str, typer.Argument()]) -> None:
    """A writer's earnings per currency: posted, on hold (refund hold), reserved, available."""
    from legato_pay.readers.balances import writer_earnings

    earnings = state().app.run(lambda s: writer_earnings(s, writer_id), write=False)
    rows = [item.as_json() for item in earnings]
    emit(
        {"writer": writer_id, "earnings": rows},
        rows=rows,
        columns=["currency", "posted", "on_hold", "reserved", "available", "display"],
        title=writer_id,
        message=None if rows else f"{writer_id} has no earnings yet",
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
) -> None:
    """Post every writer-earnings hold whose refund hold is over (for cron)."""
    from legato_pay.earnings.holds import release_held_earnings
    from legato_pay.errors import InvalidInput
    from legato_pay.ledger.types import utcnow

    cli = state()
    real_now = utcnow()
    moment = parse_time(now, "now") or real_now
    if moment > real_now:
        raise InvalidInput(
            "--now must not be in the future: holds are released only once their time has come",
            details={"now": moment.isoformat(), "clock": real_now.isoformat()},
            code="INVALID_TIME",
        )
    released = cli.app.run(lambda s: release_held_earnings(s, actor=cli.app.actor, now=moment))
    emit(
        {"now": moment.isoformat(), "released": released, "count": len(released)},
        message=f"released {len(released)} held earnings",
        rows=[],
    )
