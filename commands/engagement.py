"""``legato-pay engagement …``: Reading time, the basis of the subscription pool split."""

from pathlib import Path
from typing import Annotated

import typer

from commands.output import emit, parse_range, state

app = typer.Typer(help="Reading time, the basis of the subscription pool split.")

_COLUMNS = ["id", "user", "content", "writer", "minutes", "period", "recorded_at", "key"]
#: At most this many skipped lines are named in an import's answer (the count is always exact).
_SHOWN_LINES = 100


@app.command("record")
def record(
    user: Annotated[str, typer.Option("--user", help="The reader.")],
    content: Annotated[str, typer.Option("--content", help="What was read (gives the writer).")],
    minutes: Annotated[str, typer.Option("--minutes", help="Whole minutes read.")],
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry records nothing twice.")
    ] = None,
) -> None:
    """Record reading time for the current period (YYYY-MM). A writer's reading of their own
    content is refused (SELF_ENGAGEMENT)."""
    from legato_pay.readers.engagement import engagement_input, record_engagement

    item = engagement_input(user, content, minutes, key=key)
    view = state().app.run(lambda s: record_engagement(s, item))
    emit(view.as_json())


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV with a header: user,content,minutes[,recorded_at][,key].")
    ],
) -> None:
    """Import reading time from CSV, all or nothing; a bad row names its line (exit 3).

    Every row needs recorded_at or key: importing the same rows again counts nothing twice,
    and the answer says how many rows were skipped as already imported."""
    from legato_pay.readers.engagement import import_engagement
    from legato_pay.readers.engagement_csv import read_engagement_file

    records = read_engagement_file(file)
    views = state().app.run(lambda s: import_engagement(s, records))
    fresh = [view for view in views if not view.replayed]
    skipped = [record.line for record, view in zip(records, views, strict=True) if view.replayed]
    periods: dict[str, int] = {}
    for view in fresh:
        periods[view.period] = periods.get(view.period, 0) + view.minutes
    data = {
        "imported": len(fresh),
        "skipped": len(skipped),
        "minutes": sum(view.minutes for view in fresh),
        "periods": periods,
        "skipped_lines": skipped[:_SHOWN_LINES],
    }
    message = f"imported {len(fresh)} rows, skipped {len(skipped)} already imported"
    emit(
        data,
        rows=[{"period": period, "minutes": total} for period, total in periods.items()],
        columns=["period", "minutes"],
        message=message,
    )


@app.command("list")
def list_(
    user: Annotated[str | None, typer.Option("--user", help="Only this reader's.")] = None,
    content: Annotated[str | None, typer.Option("--content", help="Only this content.")] = None,
    writer: Annotated[str | None, typer.Option("--writer", help="Only this writer's.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Read at or after (ISO 8601, UTC).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Read before (ISO 8601, UTC).")] = None,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor from the previous page.")
    ] = None,
    limit: Annotated[str, typer.Option("--limit", help="Rows per page, 1 to 10000.")] = "100",
) -> None:
    """List reading records by id, with the totals of everything the filters match."""
    from legato_pay.readers.engagement_list import MAX_LIMIT, list_engagement
    from legato_pay.readers.paging import parse_whole

    start, end = parse_range(from_, to)
    size = parse_whole(limit, field="--limit", maximum=MAX_LIMIT)
    page = state().app.run(
        lambda s: list_engagement(
            s,
            user_id=user,
            content_id=content,
            writer_id=writer,
            start=start,
            end=end,
            cursor=cursor,
            limit=size,
        ),
        write=False,
    )
    data = page.as_json()
    emit(
        data,
        rows=data["engagement"],
        columns=_COLUMNS,
        totals=data["totals"],
        next_cursor=page.next_cursor,
        message=None if page.rows else "no reading recorded matches",
    )
