"""``legato-pay revenue distribute|distributions``: an app's revenue paid to its investors.

These two commands belong to the ``revenue`` group; ``register`` adds them to it."""

from typing import Annotated

import typer

from commands.apps import check_limit
from commands.output import YesOption, confirm, emit, info, money_cell, parse_time, state

_LINE_COLUMNS = ["investor", "units", "amount_minor", "remainder_units", "account"]
_LINE_TABLE = ["investor", "units", "amount", "remainder_units", "account"]
_LIST_COLUMNS = [
    "id",
    "record_date",
    "amount_minor",
    "currency",
    "total_units",
    "holders",
    "entry_id",
    "key",
]
_LIST_TABLE = ["id", "record_date", "amount", "total_units", "holders", "entry_id", "key"]


def distribute(
    app_id: Annotated[str, typer.Option("--app", help="The app whose revenue is paid out.")],
    amount: Annotated[str, typer.Option("--amount", help="Revenue to distribute, e.g. 1000.00.")],
    currency: Annotated[str, typer.Option("--currency", "-c", help="Currency of --amount.")],
    record_date: Annotated[
        str,
        typer.Option(
            "--record-date",
            help="Holders at this time are paid: ISO 8601, not in the future, or 'now'.",
        ),
    ],
    key: Annotated[
        str | None, typer.Option("--key", help="Idempotency key: a rerun pays nothing twice.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be paid; write nothing.")
    ] = False,
    yes: YesOption = False,
) -> None:
    """Pay an app's revenue to its investors pro rata by units held at the record date
    (largest remainder): one ledger entry, a leg per investor into investor:<i>:earnings:<CUR>."""
    from legato_pay.shares.distributions import distribute_revenue

    moment = None if record_date == "now" else parse_time(record_date, "--record-date")
    cli = state()

    def run(dry: bool) -> object:
        return cli.app.run(
            lambda s: distribute_revenue(
                s,
                actor=cli.app.actor,
                app_id=app_id,
                amount=amount,
                currency=currency,
                record_date=moment,
                key=key,
                dry_run=dry,
            ),
            write=not dry,
        )

    from legato_pay.shares.distributions import DistributionView

    view = run(True)
    assert isinstance(view, DistributionView)
    if not dry_run and not view.replayed:
        confirm(
            f"pay {money_cell(view.amount, view.currency)} of {app_id}'s revenue to "
            f"{len(view.lines)} investors?",
            yes=yes,
        )
        view = run(False)
        assert isinstance(view, DistributionView)
    data = view.as_json()
    title = "dry run: would pay" if view.dry_run else f"distribution {view.id}:"
    if view.replayed:
        title += " (idempotent replay of the original)"
    emit(
        data,
        rows=data["lines"],
        columns=_LINE_COLUMNS,
        table_columns=_LINE_TABLE,
        title=f"{title} of {data['amount']} at {data['record_date']}",
        totals={"amount": data["amount"], "units": view.total_units},
    )
    if view.dry_run:
        info("dry run: nothing was written")


def distributions(
    app_id: Annotated[str, typer.Option("--app", help="The app whose distributions to list.")],
    limit: Annotated[int, typer.Option("--limit")] = 1000,
) -> None:
    """An app's revenue distributions, newest first (JSON includes each one's lines)."""
    from legato_pay.shares.distributions import list_distributions

    check_limit(limit)
    views = state().app.run(lambda s: list_distributions(s, app_id, limit=limit), write=False)
    data = [view.as_json() for view in views]
    rows = [{key: value for key, value in item.items() if key != "lines"} for item in data]
    emit(
        {"app": app_id, "distributions": data},
        rows=rows,
        columns=_LIST_COLUMNS,
        table_columns=_LIST_TABLE,
        title=f"{app_id} distributions",
        message=None if rows else f"no distributions of {app_id} yet",
    )


def register(app: typer.Typer) -> None:
    """Add ``distribute`` and ``distributions`` to the ``revenue`` group."""
    app.command("distribute")(distribute)
    app.command("distributions")(distributions)
