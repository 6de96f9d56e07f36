"""``legato-pay access …``: Who may read what; unlocking content with coins."""

from pathlib import Path
from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import InvalidInput

app = typer.Typer(help="Who may read what; unlocking content with coins.")


@app.command("check")
def check(
    user: Annotated[str, typer.Argument(help="The reader.")],
    content: Annotated[str, typer.Argument(help="The content.")],
) -> None:
    """May this reader read this content, and why (free, purchased, subscription, …)."""
    from legato_pay.readers.access import check_access

    cli = state()
    decision = cli.app.run(lambda s: check_access(s, cli.app.settings, user, content), write=False)
    emit({"user": user, **decision.as_json()})


def _read_ids(file: Path) -> list[str]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {file}: {exc}", details={"file": str(file)}) from None
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@app.command("check-bulk")
def check_bulk(
    user: Annotated[str, typer.Argument(help="The reader.")],
    contents: Annotated[
        list[str] | None, typer.Argument(help="Content ids (or --file).", show_default=False)
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A file of content ids, one per line.")
    ] = None,
) -> None:
    """Answer many content items for one reader in a fixed number of queries."""
    from legato_pay.readers.access import check_access_bulk

    ids = list(contents or []) + (_read_ids(file) if file else [])
    cli = state()
    decisions = cli.app.run(
        lambda s: check_access_bulk(s, cli.app.settings, user, ids), write=False
    )
    results = [decision.as_json() for decision in decisions]
    emit({"user": user, "results": results}, rows=results, columns=["content", "allowed", "reason"])


@app.command("unlock")
def unlock(
    user: Annotated[str, typer.Argument(help="The reader.")],
    content: Annotated[str, typer.Argument(help="The content.")],
    key: Annotated[
        str | None,
        typer.Option("--key", help="Idempotency key (default: derived from user and content)."),
    ] = None,
) -> None:
    """Unlock content with coins (once; owning it already charges nothing)."""
    from legato_pay.readers.access import unlock_content

    cli = state()
    result = cli.app.run(
        lambda s: unlock_content(s, cli.app.settings, user, content, actor=cli.app.actor, key=key)
    )
    data = result.as_json()
    message = (
        f"unlocked {content} for {user}: {result.charged} coins "
        f"({result.bonus_coins} bonus, {result.paid_coins} paid)"
        if result.unlocked
        else f"{user} already has {content} ({result.reason}): nothing charged"
    )
    emit(data, message=message, rows=[])
