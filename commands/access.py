"""``legato-pay access …``: Who may read what; unlocking content with coins."""

from pathlib import Path
from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import InvalidInput

app = typer.Typer(help="Who may read what; unlocking content with coins.")

#: A file of content ids is read up to this size (100,000 ids of 100 characters fit).
MAX_IDS_FILE_BYTES = 16 * 1024 * 1024

UserOption = Annotated[str, typer.Option("--user", help="The reader.")]
ContentOption = Annotated[str, typer.Option("--content", help="The content.")]


@app.command("check")
def check(user: UserOption, content: ContentOption) -> None:
    """May this reader read this content, and why (free, own_content, purchased, subscription,
    tier_too_low, not_purchased)."""
    from legato_pay.readers.access import check_access

    cli = state()
    decision = cli.app.run(lambda s: check_access(s, cli.app.settings, user, content), write=False)
    emit({"user": user, **decision.as_json()})


def _read_ids(file: Path) -> list[str]:
    """Content ids, one per line (blank lines and ``#`` comments skipped), read with a bound."""
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_IDS_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {file}: {exc.strerror or exc}", details={"file": str(file)}
        ) from None
    if len(raw) > MAX_IDS_FILE_BYTES:
        raise InvalidInput(
            f"{file} is larger than {MAX_IDS_FILE_BYTES // (1024 * 1024)} MiB",
            details={"file": str(file), "max_bytes": MAX_IDS_FILE_BYTES},
        )
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise InvalidInput(f"{file} is not UTF-8 text", details={"file": str(file)}) from None
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@app.command("check-bulk")
def check_bulk(
    user: UserOption,
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
    user: UserOption,
    content: ContentOption,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Idempotency key (default: derived from user and content)."),
    ] = None,
) -> None:
    """Unlock content with coins (once; owning it already, or having written it, charges
    nothing)."""
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
