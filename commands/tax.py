"""``legato-pay tax …``: Withholding tax remittances to the tax authorities."""

from typing import Annotated

import typer

from commands.output import YesOption, confirm, emit, money_cell, state

app = typer.Typer(help="Withholding tax remittances to the tax authorities.")

_COLUMNS = [
    "country",
    "period",
    "currency",
    "amount_minor",
    "reference",
    "due_date",
    "late",
    "entry_id",
    "created_at",
]
_TABLE = ["country", "period", "amount", "reference", "due_date", "late", "entry_id"]


def _rows(views: list) -> list[dict]:  # type: ignore[type-arg]
    return [view.as_json() | {"amount": money_cell(view.amount, view.currency)} for view in views]


@app.command("remit")
def remit(
    country: Annotated[str, typer.Option("--country", help="ISO 3166 country code, e.g. NG.")],
    period: Annotated[str, typer.Option("--period", help="The month withheld, YYYY-MM.")],
    reference: Annotated[
        str, typer.Option("--reference", help="The authority's receipt or payment reference.")
    ],
    currency: Annotated[
        str | None,
        typer.Option("--currency", "-c", help="Only this currency (default: every one withheld)."),
    ] = None,
    yes: YesOption = False,
) -> None:
    """Record that a month's withheld tax was paid to the authority: the liability
    tax:withholding:<country>:<CUR> moves to platform:cash:tax:<CUR>. Exit 6: ALREADY_EXISTS
    (period remitted before), PERIOD_OPEN (month not over), NOTHING_TO_REMIT."""
    from legato_pay.payouts.tax import remit_tax

    cli = state()
    confirm(f"Record the {country} {period} withholding remittance ({reference})?", yes=yes)
    views = cli.app.run(
        lambda s: remit_tax(
            s,
            cli.app.settings,
            country=country,
            period=period,
            reference=reference,
            currency=currency,
            actor=cli.app.actor,
        )
    )
    rows = _rows(views)
    emit(
        {"remittances": [view.as_json() for view in views]},
        rows=rows,
        columns=_COLUMNS,
        table_columns=_TABLE,
        title=f"{country} {period} remitted",
    )


@app.command("remittances")
def remittances(
    country: Annotated[
        str | None, typer.Option("--country", help="Only this country's remittances.")
    ] = None,
) -> None:
    """Remittances recorded, newest period first, with due dates and whether each was late."""
    from legato_pay.payouts.tax import list_remittances

    views = state().app.run(lambda s: list_remittances(s, country=country), write=False)
    rows = _rows(views)
    emit(
        [view.as_json() for view in views],
        rows=rows,
        columns=_COLUMNS,
        table_columns=_TABLE,
        message=None if rows else "no remittances yet",
    )


from commands import tax_certificate  # noqa: E402  (`tax certificate`)

tax_certificate.register(app)
