"""``legato-pay packages …``: Coin packages: coins, bonus and prices.

Prices are typed as people write them, in major units: ``--price-usd 9.99`` and
``--price NGN=1500.00`` (``config/default.yaml`` keeps integer minor units). Bonus coins are
``floor(coins × bonus_percent / 100)``.
"""

from typing import Annotated, Any

import typer

from commands.output import YesOption, confirm, emit, state

app = typer.Typer(help="Coin packages: coins, bonus and prices.")

PackageArg = Annotated[str, typer.Argument(help="Package id, e.g. popular.")]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option("--price", help="Fixed price CUR=AMOUNT, e.g. NGN=1500.00 (repeatable)."),
]


_COLUMNS = ["id", "name", "coins", "bonus_percent", "bonus_coins", "total_coins"]
_COLUMNS += ["price_usd", "price_usd_minor", "prices", "status"]
#: A table shows formatted prices only, and drops what the others imply (name, percent, total)
#: so that it fits 80 columns; ``show`` and JSON/CSV have everything.
_TABLE_COLUMNS = ["id", "coins", "bonus", "usd", "prices", "status"]


def _row(package: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": package["id"],
        "name": package["name"],
        "coins": package["coins"],
        "bonus_percent": package["bonus_percent"],
        "bonus_coins": package["bonus_coins"],
        "total_coins": package["total_coins"],
        "price_usd": package["price_usd"]["display"],
        "price_usd_minor": package["price_usd"]["amount"],
        "prices": ", ".join(price["display"] for price in package["prices"].values()),
        "status": package["status"],
        "bonus": package["bonus_coins"],  # table-only names, shorter headers
        "usd": package["price_usd"]["display"],
    }


def _emit_package(data: dict[str, Any], title: str) -> None:
    emit(data, rows=[_row(data)], columns=_COLUMNS, table_columns=_TABLE_COLUMNS, title=title)


@app.command("list")
def list_packages(
    all_: Annotated[bool, typer.Option("--all", help="Include archived packages.")] = False,
) -> None:
    """Packages on sale (with --all, archived ones too), cheapest first."""
    from legato_pay.readers import packages

    cli = state()
    found = cli.app.run(
        lambda s: packages.list_packages(s, cli.app.settings, include_archived=all_)
    )
    data = [package.as_json() for package in found]
    emit(
        data,
        rows=[_row(package) for package in data],
        columns=_COLUMNS,
        table_columns=_TABLE_COLUMNS,
    )


@app.command("show")
def show(
    package_id: PackageArg,
    currency: Annotated[
        str | None,
        typer.Option("--currency", "-c", help="Also quote the price in this currency."),
    ] = None,
) -> None:
    """One package; with --currency, its price there (fixed, or converted at the latest rate)."""
    from legato_pay.readers import packages

    cli = state()

    def work(session: Any) -> dict[str, Any]:
        package = packages.get_package(session, cli.app.settings, package_id)
        data = package.as_json()
        if currency is not None:
            quote = packages.price_in(session, cli.app.settings, package, currency)
            data["quote"] = quote.as_json()
        return data

    data = cli.app.run(work)
    _emit_package(data, f"package {package_id}")
    if "quote" in data and state().output == "table":
        typer.echo(f"price in {data['quote']['currency']}: {data['quote']['display']}")


@app.command("create")
def create(
    package_id: PackageArg,
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    coins: Annotated[str, typer.Option("--coins", help="Paid coins (a whole number).")],
    price_usd: Annotated[str, typer.Option("--price-usd", help="USD price, e.g. 9.99.")],
    bonus_percent: Annotated[
        str, typer.Option("--bonus-percent", help="Bonus percentage 0-100, e.g. 10 or 12.5.")
    ] = "0",
    price: PriceOpt = None,
) -> None:
    """Create a package."""
    from legato_pay.readers import packages

    cli = state()
    usd = packages.parse_usd_price(price_usd)
    prices = packages.parse_price_options(price)
    view = cli.app.run(
        lambda s: packages.create_package(
            s,
            cli.app.settings,
            package_id,
            name=name,
            coins=coins,
            bonus_percent=bonus_percent,
            price_usd=usd,
            prices=dict(prices),
        )
    )
    _emit_package(view.as_json(), f"package {package_id} created")


@app.command("update")
def update(
    package_id: PackageArg,
    name: Annotated[str | None, typer.Option("--name")] = None,
    coins: Annotated[str | None, typer.Option("--coins")] = None,
    bonus_percent: Annotated[str | None, typer.Option("--bonus-percent")] = None,
    price_usd: Annotated[
        str | None, typer.Option("--price-usd", help="USD price, e.g. 9.99.")
    ] = None,
    price: PriceOpt = None,
    remove_price: Annotated[
        list[str] | None,
        typer.Option("--remove-price", help="Drop the fixed price in CUR (repeatable)."),
    ] = None,
) -> None:
    """Change an active package; purchases already made keep what they were sold."""
    from legato_pay.readers import packages

    cli = state()
    usd = packages.parse_usd_price(price_usd) if price_usd is not None else None
    prices = packages.parse_price_options(price)
    view = cli.app.run(
        lambda s: packages.update_package(
            s,
            cli.app.settings,
            package_id,
            name=name,
            coins=coins,
            bonus_percent=bonus_percent,
            price_usd=usd,
            prices=dict(prices),
            remove_prices=remove_price,
        )
    )
    _emit_package(view.as_json(), f"package {package_id} updated")


@app.command("archive")
def archive(
    package_id: PackageArg,
    yes: YesOption = False,
) -> None:
    """Stop selling a package (its purchases stay). Asks on a terminal unless --yes."""
    from legato_pay.readers import packages

    confirm(f"Archive package {package_id}? It can no longer be bought", yes=yes)
    cli = state()
    view = cli.app.run(lambda s: packages.archive_package(s, cli.app.settings, package_id))
    _emit_package(view.as_json(), f"package {package_id} archived")


@app.command("unarchive")
def unarchive(package_id: PackageArg) -> None:
    """Put an archived package back on sale, as it was when archived."""
    from legato_pay.readers import packages

    cli = state()
    view = cli.app.run(lambda s: packages.unarchive_package(s, cli.app.settings, package_id))
    _emit_package(view.as_json(), f"package {package_id} on sale again")
