"""``legato-pay content …``: Premium content and its prices."""

from typing import Annotated

import typer

from commands.output import emit, state

app = typer.Typer(help="Premium content and its prices.")

_COLUMNS = ["id", "writer", "type", "price", "tier", "title"]


@app.command("add")
def add(
    content_id: Annotated[str, typer.Argument(help="Stable content id, e.g. ch-42.")],
    writer: Annotated[str, typer.Option("--writer", help="The writer (a user of kind writer).")],
    content_type: Annotated[str, typer.Option("--type", help="chapter, story or exclusive.")],
    price: Annotated[
        str | None,
        typer.Option("--price", help="Coins; 0 = free. Default: content.default_prices."),
    ] = None,
    tier: Annotated[
        str | None,
        typer.Option("--tier", help="Subscription tier that includes it: basic, premium, vip."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
) -> None:
    """Add content to the catalogue (the same add again is a no-op)."""
    from legato_pay.readers.content import add_content

    cli = state()
    item, created = cli.app.run(
        lambda s: add_content(
            s,
            cli.app.settings,
            content_id,
            writer_id=writer,
            content_type=content_type,
            price=price,
            tier=tier,
            title=title,
        )
    )
    emit({**item.as_json(), "created": created}, title="content added" if created else None)


@app.command("list")
def list_(
    writer: Annotated[str | None, typer.Option("--writer", help="Only this writer's.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """List content, by id."""
    from legato_pay.readers.content import list_content

    items = state().app.run(lambda s: list_content(s, writer_id=writer, limit=limit), write=False)
    emit([item.as_json() for item in items], columns=_COLUMNS)


@app.command("show")
def show(content_id: Annotated[str, typer.Argument()]) -> None:
    """Show one piece of content."""
    from legato_pay.readers.content import get_content

    item = state().app.run(lambda s: get_content(s, content_id), write=False)
    emit(item.as_json())
