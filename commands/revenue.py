"""``legato-pay revenue …``: licensing and ads receipts, pool runs, true-ups and simulation;
app revenue distributions (``distribute``, ``distributions``) come from ``commands.distributions``."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from commands import distributions
from commands.output import emit, money_cell, state
from legato_pay.errors import InvalidInput

app = typer.Typer(
    help="Licensing and ads revenue, subscription pool runs, true-ups and app distributions."
)
distributions.register(app)

#: Receipt files are read up to this size (a bigger one is refused, not loaded).
MAX_FILE_BYTES = 20 * 1024 * 1024

_RUN_COLUMNS = ["id", "period", "stream", "model", "status", "lines", "totals", "replayed"]
_LINE_COLUMNS = [
    "writer",
    "stream",
    "kind",
    "currency",
    "basis_minutes",
    "basis_value_minor",
    "share",
    "amount_minor",
    "remainder_units",
    "entry_id",
]
_LINE_TABLE = [
    "writer",
    "kind",
    "basis_minutes",
    "basis_value",
    "share",
    "amount",
    "remainder_units",
    "entry_id",
]


def _totals_cell(totals: dict[str, dict[str, int]]) -> str:
    parts = []
    for currency, per in totals.items():
        shown = ", ".join(
            f"{name} {money_cell(value, currency)}"
            for name, value in per.items()
            if name != "remainder_units" and value
        )
        parts.append(f"{currency}: {shown or 'nothing'}")
    return "; ".join(parts)


def _run_row(view: Any) -> dict[str, Any]:
    return {
        "id": view.id,
        "period": view.period,
        "stream": view.stream,
        "model": view.model,
        "status": view.status,
        "lines": view.line_count,
        "totals": _totals_cell(view.totals),
        "replayed": view.replayed,
    }


def _line_row(line: Any) -> dict[str, Any]:
    return {
        "writer": line.writer_id,
        "stream": line.stream,
        "kind": line.kind,
        "currency": line.currency,
        "basis_minutes": line.basis_minutes,
        "basis_value_minor": line.basis_value,
        "basis_value": money_cell(line.basis_value, line.currency),
        "share": line.share,
        "amount_minor": line.amount,
        "amount": money_cell(line.amount, line.currency),
        "remainder_units": line.remainder_units,
        "entry_id": line.entry_id,
    }


@app.command("record")
def record(
    stream: Annotated[str, typer.Option("--stream", help="licensing or ads.")],
    writer: Annotated[str, typer.Option("--writer", help="Whose work earned it.")],
    amount: Annotated[str, typer.Option("--amount", help="Received, in major units: 120.50.")],
    currency: Annotated[str, typer.Option("--currency", "-c", help="e.g. USD.")],
    source: Annotated[str, typer.Option("--source", help="Who paid, and for what.")],
    key: Annotated[
        str, typer.Option("--key", help="Idempotency key: the same receipt twice counts once.")
    ],
    content: Annotated[str | None, typer.Option("--content", help="The work, if one.")] = None,
) -> None:
    """Record licensing or ads money received for a writer's work, split by revenue.<stream>."""
    from legato_pay.revenue.receipts import receipt_input, record_receipts

    item = receipt_input(
        stream=stream,
        writer=writer,
        content=content,
        amount=amount,
        currency=currency,
        source=source,
        key=key,
    )
    cli = state()
    [view] = cli.app.run(
        lambda s: record_receipts(s, cli.app.settings, [item], actor=cli.app.actor, single=True)
    )
    emit(view.as_json())


def _read_bounded(file: Path) -> str:
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise InvalidInput(
                f"{file} is larger than {MAX_FILE_BYTES} bytes",
                details={"file": str(file), "max_bytes": MAX_FILE_BYTES},
            )
        return data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"cannot read {file}: {type(exc).__name__}", details={"file": str(file)}
        ) from None


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with a header: stream,writer,content,amount,currency,source,key."),
    ],
) -> None:
    """Import receipts from CSV, all or nothing; a bad row names its line (exit 3); a file
    imported twice changes nothing."""
    from legato_pay.revenue.receipts import read_receipts_csv, record_receipts

    items = read_receipts_csv(_read_bounded(file))
    cli = state()
    views = cli.app.run(lambda s: record_receipts(s, cli.app.settings, items, actor=cli.app.actor))
    fresh = [view for view in views if not view.replayed]
    totals: dict[str, int] = {}
    for view in fresh:
        totals[view.currency] = totals.get(view.currency, 0) + view.amount
    emit(
        {
            "imported": len(fresh),
            "replayed": len(views) - len(fresh),
            "amounts_minor": totals,
        },
        rows=[{"imported": len(fresh), "replayed": len(views) - len(fresh)}],
        totals={cur: money_cell(minor, cur) for cur, minor in totals.items()} or None,
    )


@app.command("run")
def run(
    period: Annotated[str, typer.Option("--period", help="The month: YYYY-MM.")],
    stream: Annotated[
        str,
        typer.Option(
            "--stream", help="subscription (the pool), content, tips, licensing, ads or all."
        ),
    ] = "subscription",
    model: Annotated[
        str, typer.Option("--model", help="Pool split: pro-rata or user-centric.")
    ] = "pro-rata",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what the run would post; write nothing.")
    ] = False,
    force: Annotated[
        str | None,
        typer.Option("--force", help="Run a period not over yet; the reason is recorded."),
    ] = None,
) -> None:
    """Split the period's pool (or true up a stream) once per period and stream: a rerun
    prints the first run's result; a second runner at once exits 9 (RUN_IN_PROGRESS)."""
    from legato_pay.revenue.runs import run_revenue

    cli = state()
    show = sys.stderr.isatty() and cli.output == "table" and not cli.quiet and not dry_run
    if show:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("posting", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            views = run_revenue(
                cli.app,
                period=period,
                stream=stream,
                model=model,
                force_reason=force,
                progress=tick,
            )
    else:
        views = run_revenue(
            cli.app, period=period, stream=stream, model=model, dry_run=dry_run, force_reason=force
        )
    documents = [view.as_json() for view in views]
    if dry_run and cli.output != "json":
        rows = [_line_row(line) for view in views for line in view.lines]
        emit(
            documents,
            rows=rows,
            columns=_LINE_COLUMNS,
            table_columns=_LINE_TABLE,
            title="dry run: nothing written",
            message="dry run: nothing to post" if not rows else None,
        )
        for view in views:
            _print_totals(view)
        return
    emit(
        documents[0] if len(documents) == 1 else documents,
        rows=[_run_row(view) for view in views],
        columns=_RUN_COLUMNS,
    )


def _print_totals(view: Any) -> None:
    from commands.output import info

    info(f"{view.stream} {view.period}: {_totals_cell(view.totals)}")


@app.command("list")
def list_(
    period: Annotated[str | None, typer.Option("--period", help="Only this month.")] = None,
    stream: Annotated[str | None, typer.Option("--stream", help="Only this stream.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 100,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="next_cursor of the previous page.")
    ] = None,
) -> None:
    """Runs, newest first."""
    from legato_pay.revenue.views import list_runs, parse_run_id

    after = parse_run_id(cursor) if cursor is not None else None
    views, next_id = state().app.run(
        lambda s: list_runs(s, period=period, stream=stream, limit=limit, after=after),
        write=False,
    )
    next_cursor = None if next_id is None else str(next_id)
    emit(
        {"runs": [view.as_json() for view in views], "next_cursor": next_cursor},
        rows=[_run_row(view) for view in views],
        columns=_RUN_COLUMNS,
        next_cursor=next_cursor,
    )


@app.command("show")
def show(run: Annotated[str, typer.Argument(help="The run id.")]) -> None:
    """A run: model, percentages, actor, totals per currency and its report."""
    from legato_pay.revenue.views import run_view

    view = state().app.run(lambda s: run_view(s, run), write=False)
    emit(view.as_json())


@app.command("lines")
def lines(
    run: Annotated[str, typer.Argument(help="The run id.")],
    writer: Annotated[str | None, typer.Option("--writer", help="Only this writer's.")] = None,
) -> None:
    """A run's per-writer lines: basis, share, amount and remainder units."""
    from legato_pay.revenue.views import run_lines

    view, found = state().app.run(lambda s: run_lines(s, run, writer=writer), write=False)
    totals: dict[str, int] = {}
    for line in found:
        totals[line.currency] = totals.get(line.currency, 0) + line.amount
    emit(
        {
            "run": view.id,
            "lines": [line.as_json() for line in found],
            "totals_minor": totals,
        },
        rows=[_line_row(line) for line in found],
        columns=_LINE_COLUMNS,
        table_columns=_LINE_TABLE,
        totals={cur: money_cell(minor, cur) for cur, minor in totals.items()} or None,
    )


@app.command("simulate")
def simulate(period: Annotated[str, typer.Option("--period", help="The month: YYYY-MM.")]) -> None:
    """Pro-rata and user-centric side by side per writer, from the same data; writes nothing."""
    from legato_pay.revenue.simulate import simulate as compare

    cli = state()
    result = cli.app.run(lambda s: compare(s, cli.app.settings, period), write=False)
    summary = result["summary"]
    emit(
        result,
        rows=[
            {
                **row,
                "pro_rata_minor": row["pro_rata_minor"],
                "user_centric_minor": row["user_centric_minor"],
                "difference_minor": row["difference_minor"],
            }
            for row in result["writers"]
        ],
        columns=[
            "writer",
            "currency",
            "pro_rata_minor",
            "user_centric_minor",
            "difference_minor",
        ],
        table_columns=["writer", "pro_rata", "user_centric", "difference"],
        totals={
            "better off pro-rata": f"{summary['better_off_pro_rata_percent']} %",
            "better off user-centric": f"{summary['better_off_user_centric_percent']} %",
        },
    )
