"""``legato-pay shares …``: The share register: issues, transfers and holders at any time."""

import re
from typing import Annotated, Any

import typer

from commands.apps import check_limit
from commands.output import emit, parse_time, state
from legato_pay.errors import InvalidInput

app = typer.Typer(help="The share register: issues, transfers and holders at any time.")

_HISTORY_COLUMNS = ["id", "kind", "from", "to", "units", "price", "created_at", "key"]
AppOption = Annotated[str, typer.Option("--app", help="The app whose shares these are.")]
UnitsOption = Annotated[str, typer.Option("--units", help="Whole number of units, > 0.")]
KeyOption = Annotated[
    str | None, typer.Option("--key", help="Idempotency key: a retry moves nothing twice.")
]


def _note(view: Any) -> str:
    return " (idempotent replay of the original)" if view.replayed else ""


@app.command("issue")
def issue(
    app_id: AppOption,
    investor: Annotated[str, typer.Option("--to", help="The investor receiving the units.")],
    units: UnitsOption,
    key: KeyOption = None,
) -> None:
    """Issue new units of an app to an investor."""
    from legato_pay.shares.register import issue_shares

    cli = state()
    view = cli.app.run(
        lambda s: issue_shares(
            s, actor=cli.app.actor, app_id=app_id, to_investor=investor, units=units, key=key
        )
    )
    emit(view.as_json(), title=f"issue {view.id}{_note(view)}")


@app.command("transfer")
def transfer(
    app_id: AppOption,
    seller: Annotated[str, typer.Option("--from", help="The investor giving the units.")],
    buyer: Annotated[str, typer.Option("--to", help="The investor receiving them.")],
    units: UnitsOption,
    price: Annotated[
        str | None,
        typer.Option("--price", help="Total the buyer pays the seller (major units, e.g. 250.00)."),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", "-c", help="Currency of --price.")
    ] = None,
    key: KeyOption = None,
) -> None:
    """Transfer units (never more than the seller holds: exit 4 INSUFFICIENT_UNITS). With
    --price the buyer's investor account pays the seller's in the same transaction."""
    from legato_pay.shares.register import transfer_shares

    cli = state()
    view = cli.app.run(
        lambda s: transfer_shares(
            s,
            actor=cli.app.actor,
            app_id=app_id,
            from_investor=seller,
            to_investor=buyer,
            units=units,
            price=price,
            currency=currency,
            key=key,
        )
    )
    emit(view.as_json(), title=f"transfer {view.id}{_note(view)}")


@app.command("register")
def register(
    app_id: AppOption,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Holders at this past time (ISO 8601).")
    ] = None,
) -> None:
    """Holders, units and percentage of the units outstanding, now or at --as-of."""
    from legato_pay.shares.register import share_register

    moment = parse_time(as_of, "--as-of")
    view = state().app.run(lambda s: share_register(s, app_id, as_of=moment), write=False)
    rows = [holder.as_json() for holder in view.holders]
    emit(
        view.as_json(),
        rows=rows,
        columns=["investor", "units", "percent"],
        title=f"{app_id} register" + (f" as of {view.as_of.isoformat()}" if view.as_of else ""),
        totals={"units": view.total_units},
        message=None if rows else f"nobody holds units of {app_id}",
    )


@app.command("history")
def history(
    app_id: AppOption,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """Every issue and transfer of an app's units, oldest first, a page at a time."""
    from legato_pay.shares.register import share_history

    check_limit(limit)
    after = _parse_cursor(cursor)
    page, last = state().app.run(
        lambda s: share_history(s, app_id, after=after, limit=limit), write=False
    )
    next_cursor = str(last) if last is not None else None
    rows = [view.as_json() for view in page]
    emit(
        {"app": app_id, "movements": rows, "next_cursor": next_cursor},
        rows=rows,
        columns=_HISTORY_COLUMNS,
        title=f"{app_id} history",
        next_cursor=next_cursor,
        message=None if rows else f"no movements of {app_id} shares",
    )


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", cursor, flags=re.ASCII):
        raise InvalidInput(
            "--cursor is not a cursor this command gave", details={"cursor": cursor[:40]}
        )
    return int(cursor)
