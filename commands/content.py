"""``legato-pay content …``: Premium content and its prices."""

from typing import Annotated

import typer

from commands.output import emit, state

app = typer.Typer(help="Premium content and its prices.")

_COLUMNS = ["id", "writer", "type", "price", "tier", "title"]

PriceOption = Annotated[
    str | None,
    typer.Option("--price", help="Coins (a whole number); 0 = free."),
]
TitleOption = Annotated[str | None, typer.Option("--title", help="At most 300 characters.")]


@app.command("add")
def add(
    content_id: Annotated[
        str, typer.Argument(help="Stable content id, e.g. ch-42 (ASCII letters, digits, _-.@:).")
    ],
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
    title: TitleOption = None,
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


@app.command("update")
def update(
    content_id: Annotated[str, typer.Argument(help="The content to change.")],
    price: PriceOption = None,
    tier: Annotated[
        str | None,
        typer.Option("--tier", help="basic, premium, vip, or none (coins only, no subscription)."),
    ] = None,
    content_type: Annotated[
        str | None, typer.Option("--type", help="chapter, story or exclusive.")
    ] = None,
    title: TitleOption = None,
) -> None:
    """Change a piece's price, tier, type or title (never its writer). A new price applies to
    later unlocks; past unlocks keep what they paid. A new tier changes subscription access at
    once."""
    from legato_pay.readers.content import update_content

    cli = state()
    item, changed = cli.app.run(
        lambda s: update_content(
            s,
            cli.app.settings,
            content_id,
            price=price,
            tier=tier,
            content_type=content_type,
            title=title,
        )
    )
    emit(
        {**item.as_json(), "changed": changed},
        title=f"content {content_id}: "
        + (", ".join(changed) + " changed" if changed else "as it was"),
    )


@app.command("list")
def list_(
    writer: Annotated[str | None, typer.Option("--writer", help="Only this writer's.")] = None,
    limit: Annotated[str, typer.Option("--limit", help="Rows per page, 1 to 100000.")] = "1000",
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
) -> None:
    """List content by id, a page at a time."""
    from legato_pay.readers.content import list_content
    from legato_pay.readers.paging import parse_whole

    size = parse_whole(limit, field="--limit", maximum=100_000)
    items = state().app.run(
        lambda s: list_content(s, writer_id=writer, limit=size + 1, after=cursor), write=False
    )
    next_cursor = items[size - 1].id if len(items) > size else None
    rows = [item.as_json() for item in items[:size]]
    emit(
        {"content": rows, "next_cursor": next_cursor},
        rows=rows,
        columns=_COLUMNS,
        next_cursor=next_cursor,
    )


@app.command("show")
def show(content_id: Annotated[str, typer.Argument()]) -> None:
    """Show one piece of content."""
    from legato_pay.readers.content import get_content

    item = state().app.run(lambda s: get_content(s, content_id), write=False)
    emit(item.as_json())
