"""``legato-pay packages …``: Coin packages: coins, bonus and prices.

Prices are integers in minor units, as in ``config/default.yaml``: ``--price-usd 999`` is
9.99 USD and ``--price NGN=150000`` is 1,500.00 NGN. Bonus coins are
``floor(coins × bonus_percent / 100)``.
"""

from typing import Annotated, Any

import typer

from commands.output import YesOption, confirm, emit, state

app = typer.Typer(help="Coin packages: coins, bonus and prices (amounts in minor units).")

PackageArg = Annotated[str, typer.Argument(help="Package id, e.g. popular.")]
PriceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--price", help="Fixed price CUR=MINOR in minor units, e.g. NGN=150000 (repeatable)."
    ),
]


def _row(package: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": package["id"],
        "name": package["name"],
        "coins": package["coins"],
        "bonus_percent": package["bonus_percent"],
        "bonus_coins": package["bonus_coins"],
        "total_coins": package["total_coins"],
        "price_usd": package["price_usd"]["display"],
        "prices": ", ".join(price["display"] for price in package["prices"].values()),
        "status": package["status"],
    }


def _emit_package(data: dict[str, Any], title: str) -> None:
    emit(data, rows=[_row(data)], title=title)


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
    emit(data, rows=[_row(package) for package in data])


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
    price_usd: Annotated[
        str, typer.Option("--price-usd", help="USD price in cents, e.g. 999 for 9.99 USD.")
    ],
    bonus_percent: Annotated[
        str, typer.Option("--bonus-percent", help="Bonus percentage 0-100, e.g. 10 or 12.5.")
    ] = "0",
    price: PriceOpt = None,
) -> None:
    """Create a package."""
    from legato_pay.readers import packages

    cli = state()
    prices = packages.parse_price_options(price)
    view = cli.app.run(
        lambda s: packages.create_package(
            s,
            cli.app.settings,
            package_id,
            name=name,
            coins=coins,
            bonus_percent=bonus_percent,
            price_usd=price_usd,
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
        str | None, typer.Option("--price-usd", help="USD price in cents.")
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
    prices = packages.parse_price_options(price)
    view = cli.app.run(
        lambda s: packages.update_package(
            s,
            cli.app.settings,
            package_id,
            name=name,
            coins=coins,
            bonus_percent=bonus_percent,
            price_usd=price_usd,
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
