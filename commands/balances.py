"""``legato-pay balances …``: Readers' coin balances."""

from typing import TYPE_CHECKING, Annotated

import typer

from commands.output import emit, state

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from legato_pay.readers.coin_summary import UserCoins

app = typer.Typer(help="Readers' coin balances.")


@app.command("show")
def show(user: Annotated[str, typer.Option("--user", help="The user.")]) -> None:
    """A user's coins now (paid, bonus) and over their lifetime; exits 5 for an unknown user."""
    from legato_pay.readers.coin_summary import coin_summary

    def full(session: "Session") -> "UserCoins":  # SQLAlchemy: an unknown user's error, or no file
        from legato_pay.readers.balances import user_coins

        return user_coins(session, user)

    result = state().app.read(lambda rows: coin_summary(rows, user), full=full)
    data = result.as_json()
    rows = [{"coins": name, "count": value} for name, value in data["coins"].items()] + [
        {"coins": f"lifetime {name}", "count": value} for name, value in data["lifetime"].items()
    ]
    emit(data, rows=rows, columns=["coins", "count"], title=user)


@app.command("list")
def list_(
    min_total: Annotated[
        str, typer.Option("--min", help="Only readers holding at least this many coins.")
    ] = "0",
    limit: Annotated[str, typer.Option("--limit", help="Rows per page, 1 to 100000.")] = "1000",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
    after: Annotated[str | None, typer.Option("--after", hidden=True)] = None,
) -> None:
    """Every reader's coins, by user id, with the totals of every reader listed (all pages)."""
    from legato_pay.readers.balances import MAX_COINS_FILTER, MAX_LIST, reader_coins_page
    from legato_pay.readers.paging import parse_whole

    floor = parse_whole(min_total, field="--min", minimum=0, maximum=MAX_COINS_FILTER)
    size = parse_whole(limit, field="--limit", maximum=MAX_LIST)
    page = state().app.run(
        lambda s: reader_coins_page(s, min_total=floor, limit=size, cursor=cursor or after),
        write=False,
    )
    emit(
        page.as_json(),
        rows=page.rows,
        columns=["user", "paid", "bonus", "total"],
        totals=page.totals,
        next_cursor=page.next_cursor,
    )
