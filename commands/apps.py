"""``legato-pay apps …``: Apps investors hold shares in."""

from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import InvalidInput

app = typer.Typer(help="Apps investors hold shares in.")

_COLUMNS = ["id", "name", "owner", "holders", "units", "created_at"]
MAX_LIMIT = 10000


def check_limit(limit: int) -> int:
    """``--limit`` between 1 and 10,000 (a huge number is VALIDATION_ERROR, not a DB error)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be 1 to {MAX_LIMIT}", details={"limit": str(limit)[:40]})
    return limit


@app.command("add")
def add(
    app_id: Annotated[str, typer.Argument(help="Stable app id (letters, digits, _ - . @).")],
    name: Annotated[str, typer.Option("--name", help="The app's display name.")],
    owner: Annotated[
        str, typer.Option("--owner", help="The user escrow releases pay (must exist).")
    ],
) -> None:
    """Register an app; exits 6 if the id is taken, 5 if the owner is unknown."""
    from legato_pay.shares.apps import add_app

    view = state().app.run(lambda s: add_app(s, app_id, name=name, owner=owner))
    emit(view.as_json(), title=f"app {view.id}")


@app.command("list")
def list_(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's apps.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List apps by id, with their holders and units outstanding."""
    from legato_pay.shares.apps import list_apps

    check_limit(limit)
    apps = state().app.run(lambda s: list_apps(s, owner=owner, limit=limit), write=False)
    rows = [view.as_json() for view in apps]
    emit(rows, columns=_COLUMNS, message=None if rows else "no apps yet")


@app.command("show")
def show(app_id: Annotated[str, typer.Argument()]) -> None:
    """Show one app; exits 5 (APP_NOT_FOUND) if there is none."""
    from legato_pay.shares.apps import get_app

    emit(state().app.run(lambda s: get_app(s, app_id), write=False).as_json())
