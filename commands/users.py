"""``legato-pay users …``: Readers, writers and investors."""

from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import UsageError

app = typer.Typer(help="Readers, writers and investors.")

_COLUMNS = ["id", "kind", "email", "name", "created_at"]


@app.command("add")
def add(
    user_id: Annotated[str, typer.Argument(help="Stable id chosen by the platform.")],
    writer: Annotated[bool, typer.Option("--writer", help="Add a writer.")] = False,
    investor: Annotated[bool, typer.Option("--investor", help="Add an investor.")] = False,
    email: Annotated[str | None, typer.Option("--email")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
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
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List users by id."""
    from legato_pay.errors import InvalidInput
    from legato_pay.readers.users import USER_KINDS, list_users

    if kind is not None and kind not in USER_KINDS:
        raise InvalidInput(f"--kind must be one of {', '.join(USER_KINDS)}", details={"kind": kind})
    users = state().app.run(lambda s: list_users(s, kind=kind, limit=limit), write=False)
    emit([user.as_json() for user in users], columns=_COLUMNS)


@app.command("show")
def show(user_id: Annotated[str, typer.Argument()]) -> None:
    """Show one user; exits 5 if there is none."""
    from legato_pay.readers.users import get_user

    emit(state().app.run(lambda s: get_user(s, user_id), write=False).as_json())
