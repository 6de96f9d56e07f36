"""``legato-pay balances …``: Readers' coin balances."""

from typing import Annotated

import typer

from commands.output import emit, state

app = typer.Typer(help="Readers' coin balances.")


@app.command("show")
def show(user_id: Annotated[str, typer.Argument()]) -> None:
    """A user's coins now (paid, bonus) and over their lifetime; exits 5 for an unknown user."""
    from legato_pay.readers.balances import user_coins

    result = state().app.run(lambda s: user_coins(s, user_id), write=False)
    data = result.as_json()
    rows = [{"coins": name, "count": value} for name, value in data["coins"].items()] + [
        {"coins": f"lifetime {name}", "count": value} for name, value in data["lifetime"].items()
    ]
    emit(data, rows=rows, columns=["coins", "count"], title=user_id)


@app.command("list")
def list_(
    min_total: Annotated[
        int, typer.Option("--min", help="Only readers holding at least this many coins.")
    ] = 0,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
    after: Annotated[
        str | None, typer.Option("--after", help="Continue after this user id (paging).")
    ] = None,
) -> None:
    """Every reader's coins, by user id."""
    from legato_pay.readers.balances import list_reader_coins

    rows = state().app.run(
        lambda s: list_reader_coins(s, min_total=min_total, limit=limit, after=after),
        write=False,
    )
    emit(rows, columns=["user", "paid", "bonus", "total"])
