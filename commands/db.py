"""``legato-pay db …``: schema migrations."""

import typer

from commands.output import emit, state

app = typer.Typer(help="Database schema: upgrade and current revision.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply every migration up to the newest (safe to run repeatedly)."""
    from legato_pay.store.engine import get_engine
    from legato_pay.store.schema import current_revision
    from legato_pay.store.schema import upgrade as run_upgrade

    cli = state()
    engine = get_engine(cli.app.database_url)
    before = current_revision(engine)
    after = run_upgrade(engine)
    emit({"database": _safe_url(cli.app.database_url), "from": before, "to": after})


@app.command("current")
def current() -> None:
    """Show the schema revision the database is at, and the newest the code knows."""
    from legato_pay.store.engine import HEAD_REVISION, get_engine
    from legato_pay.store.schema import current_revision

    cli = state()
    revision = current_revision(get_engine(cli.app.database_url))
    emit(
        {
            "database": _safe_url(cli.app.database_url),
            "current": revision,
            "head": HEAD_REVISION,
            "up_to_date": revision == HEAD_REVISION,
        }
    )
