"""``legato-pay tips …``: Tips from readers to writers."""

from typing import Annotated

import typer

from commands.output import emit, state

app = typer.Typer(help="Tips from readers to writers.")


@app.command("send")
def send(
    sender: Annotated[str, typer.Option("--from", help="The user tipping.")],
    writer: Annotated[str, typer.Option("--to", help="The writer tipped.")],
    coins: Annotated[str, typer.Option("--coins", help="Whole number of coins, > 0.")],
    content: Annotated[
        str | None, typer.Option("--content", help="The writer's content piece tipped for.")
    ] = None,
    message: Annotated[str | None, typer.Option("--message")] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry spends nothing twice.")
    ] = None,
) -> None:
    """Tip a writer: coins leave the wallet, their value is split writer / platform."""
    from legato_pay.readers.tips import send_tip

    cli = state()
    view = cli.app.run(
        lambda s: send_tip(
            s,
            cli.app.settings,
            actor=cli.app.actor,
            from_user=sender,
            to_user=writer,
            coins=coins,
            content_id=content,
            message=message,
            key=key,
        )
    )
    note = " (idempotent replay of the original)" if view.replayed else ""
    emit(view.as_json(), title=f"tip {view.id}{note}")
