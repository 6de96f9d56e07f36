"""``legato-pay engagement …``: Reading time, the basis of the subscription pool split."""

from pathlib import Path
from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import InvalidInput

app = typer.Typer(help="Reading time, the basis of the subscription pool split.")


@app.command("record")
def record(
    user: Annotated[str, typer.Option("--user", help="The reader.")],
    content: Annotated[str, typer.Option("--content", help="What was read (gives the writer).")],
    minutes: Annotated[str, typer.Option("--minutes", help="Whole minutes read.")],
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a retry records nothing twice.")
    ] = None,
) -> None:
    """Record reading time for the current period (YYYY-MM)."""
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
    """Import reading time from CSV, all or nothing; a bad row names its line (exit 3)."""
    from legato_pay.readers.engagement import import_engagement, read_engagement_csv

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {file}: {exc}", details={"file": str(file)}) from None
    records = read_engagement_csv(text)
    views = state().app.run(lambda s: import_engagement(s, records))
    fresh = [view for view in views if not view.replayed]
    periods: dict[str, int] = {}
    for view in fresh:
        periods[view.period] = periods.get(view.period, 0) + view.minutes
    emit(
        {
            "imported": len(fresh),
            "replayed": len(views) - len(fresh),
            "minutes": sum(view.minutes for view in fresh),
            "periods": periods,
        }
    )
