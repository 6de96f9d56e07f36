"""``legato-pay users …``: Readers, writers and investors."""

from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import UsageError

app = typer.Typer(help="Readers, writers and investors.")

_COLUMNS = ["id", "kind", "email", "name", "created_at"]


@app.command("add")
def add(
    user_id: Annotated[
        str, typer.Argument(help="Stable id chosen by the platform (ASCII letters, digits, _-.@).")
    ],
    writer: Annotated[bool, typer.Option("--writer", help="Add a writer.")] = False,
    investor: Annotated[bool, typer.Option("--investor", help="Add an investor.")] = False,
    email: Annotated[str | None, typer.Option("--email", help="At most 254 characters.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="At most 200 characters.")] = None,
) -> None:
    """Add a user (a reader unless --writer or --investor); exits 6 if the id is taken."""
    from legato_pay.readers.users import add_user

    if writer and investor:
        raise UsageError("--writer and --investor cannot be combined")
    kind = "writer" if writer else "investor" if investor else "reader"
    user = state().app.run(lambda s: add_user(s, user_id, kind=kind, email=email, name=name))
    emit(user.as_json())


@app.command("list")
def list_(
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only reader, writer or investor.")
    ] = None,
    limit: Annotated[str, typer.Option("--limit", help="Rows per page, 1 to 100000.")] = "1000",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """List users by id, a page at a time."""
    from legato_pay.readers.paging import parse_whole
    from legato_pay.readers.users import list_users

    size = parse_whole(limit, field="--limit", maximum=100_000)
    users = state().app.run(
        lambda s: list_users(s, kind=kind, limit=size + 1, after=cursor), write=False
    )
    next_cursor = users[size - 1].id if len(users) > size else None
    rows = [user.as_json() for user in users[:size]]
    emit(
        {"users": rows, "next_cursor": next_cursor},
        rows=rows,
        columns=_COLUMNS,
        next_cursor=next_cursor,
    )


@app.command("show")
def show(user_id: Annotated[str, typer.Argument()]) -> None:
    """Show one user; exits 5 if there is none."""
    from legato_pay.readers.users import get_user

    emit(state().app.run(lambda s: get_user(s, user_id), write=False).as_json())
