"""``legato-pay payouts tax-profile|tax-profiles``: writers' tax profiles for withholding.

Registered on the payouts group by ``register(app)`` (the payouts command module calls it), so
that withholding tax keeps its own module."""

from typing import Annotated

import typer

from commands.output import emit, state
from legato_pay.errors import UsageError

_COLUMNS = ["writer", "country", "type", "tin", "rate_percent", "updated_at"]


def tax_profile(
    writer: Annotated[str, typer.Option("--writer", help="The writer (must exist).")],
    country: Annotated[
        str | None, typer.Option("--country", help="ISO 3166 country code, e.g. NG.")
    ] = None,
    payee_type: Annotated[
        str | None, typer.Option("--type", help="individual or corporate.")
    ] = None,
    tin: Annotated[
        str | None,
        typer.Option("--tin", help="Taxpayer identification number (NG: 12345678-0001)."),
    ] = None,
) -> None:
    """Set a writer's tax profile (--country and --type; without --tin the no-TIN rate
    applies: twice the rate in Nigeria), or show it (--writer alone). Setting replaces the
    whole profile. Exit 3 INVALID_TIN for a TIN not in the country's format."""
    from legato_pay.payouts.tax import get_tax_profile, set_tax_profile

    cli = state()
    settings = cli.app.settings
    if country is None and payee_type is None and tin is None:
        view = cli.app.run(lambda s: get_tax_profile(s, settings, writer), write=False)
        emit(view.as_json(), title=f"tax profile of {writer}")
        return
    if country is None or payee_type is None:
        raise UsageError("setting a tax profile takes both --country and --type")
    view = cli.app.run(
        lambda s: set_tax_profile(
            s,
            settings,
            writer=writer,
            country=country,
            payee_type=payee_type,
            tin=tin,
            actor=cli.app.actor,
        )
    )
    emit(view.as_json(), title=f"tax profile of {writer}")


def tax_profiles(
    country: Annotated[
        str | None, typer.Option("--country", help="Only writers taxed in this country.")
    ] = None,
) -> None:
    """List writers' tax profiles with the rate withheld from their payouts."""
    from legato_pay.payouts.tax import list_tax_profiles

    cli = state()
    views = cli.app.run(
        lambda s: list_tax_profiles(s, cli.app.settings, country=country), write=False
    )
    rows = [view.as_json() for view in views]
    emit(rows, columns=_COLUMNS, message=None if rows else "no tax profiles yet")


def register(app: typer.Typer) -> None:
    """Add ``tax-profile`` and ``tax-profiles`` to the payouts command group ``app``."""
    app.command("tax-profile")(tax_profile)
    app.command("tax-profiles")(tax_profiles)
