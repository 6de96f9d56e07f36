"""``legato-pay gifts …``: Coin gifts between readers."""

from typing import Annotated

import typer

from commands.output import emit, state

app = typer.Typer(help="Coin gifts between readers.")


@app.command("send")
def send(
    sender: Annotated[str, typer.Option("--from", help="The user giving coins.")],
    receiver: Annotated[str, typer.Option("--to", help="The user receiving them.")],
    coins: Annotated[str, typer.Option("--coins", help="Whole number of coins, > 0.")],
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry spends nothing twice.")
    ] = None,
) -> None:
    """Give coins to another user: paid coins arrive as paid, bonus coins as bonus."""
    from legato_pay.readers.tips import send_gift

    cli = state()
    view = cli.app.run(
        lambda s: send_gift(
            s,
            cli.app.settings,
            actor=cli.app.actor,
            from_user=sender,
            to_user=receiver,
            coins=coins,
            key=key,
        )
    )
    note = " (idempotent replay of the original)" if view.replayed else ""
    emit(view.as_json(), title=f"gift {view.id}{note}")
