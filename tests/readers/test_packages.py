"""Coin packages: defaults seeded once, exact bonus, prices per currency, archive; CLI end-to-end."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato_pay.errors import (
    AlreadyExists,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    NotFound,
)
from legato_pay.ledger.types import utcnow
from legato_pay.readers import fx, packages
from tests.cli_runner import run_cli

DEFAULT_IDS = ["starter", "basic", "popular", "premium", "ultimate"]


def in_process(database_url: str) -> Any:
    """The same database, opened in this process (fast checks after a CLI run)."""
    from legato_pay.context import AppContext

    return AppContext.create(database_url=database_url, actor="test")


def stored_ids(app: Any, *, include_archived: bool = True) -> list[str]:
    return [
        p.id
        for p in app.run(
            lambda s: packages.list_packages(s, app.settings, include_archived=include_archived)
        )
    ]


# -- bonus -----------------------------------------------------------------------------------


@given(
    coins=st.integers(min_value=0, max_value=10**15),
    percent=st.decimals(min_value=0, max_value=100, places=4, allow_nan=False),
)
def test_bonus_is_the_exact_floor_of_the_percentage(coins: int, percent: Decimal) -> None:
    text = packages.parse_percent(str(percent))
    bonus = packages.bonus_coins(coins, text)
    exact = Fraction(coins) * Fraction(str(percent)) / 100
    assert bonus == exact.numerator // exact.denominator  # floor, never rounded up
    assert bonus <= exact < bonus + 1
    assert Decimal(text) == percent  # canonical text keeps the value


def test_bonus_examples_and_percent_parsing() -> None:
    assert packages.bonus_coins(1000, "10") == 100
    assert packages.bonus_coins(999, "12.5") == 124  # 124.875 rounds down
    assert packages.bonus_coins(3, "33.33") == 0
    assert packages.bonus_coins(10**15, "100") == 10**15
    assert packages.parse_percent("10.50") == "10.5"
    assert packages.parse_percent("0.000") == "0"
    for bad in ("101", "-5", "1e1", "ten", "", "12.123456789"):
        with pytest.raises(InvalidAmount):
            packages.parse_percent(bad)
    with pytest.raises(InvalidAmount):
        packages.parse_percent(10.5)


# -- library ---------------------------------------------------------------------------------


def test_default_packages_exist_on_first_use_once(app: Any) -> None:
    assert stored_ids(app) == DEFAULT_IDS
    assert app.run(lambda s: packages.ensure_default_packages(s, app.settings)) == []
    popular = app.run(lambda s: packages.get_package(s, app.settings, "popular"))
    assert (popular.coins, popular.bonus_coins, popular.price_usd) == (1000, 100, 999)
    assert popular.prices == {"CAD": 1359, "NGN": 1500000}
    # An operator's change survives the next seeding: config never overwrites stored rows.
    app.run(lambda s: packages.update_package(s, app.settings, "popular", coins="1200"))
    app.run(lambda s: packages.ensure_default_packages(s, app.settings))
    assert app.run(lambda s: packages.get_package(s, app.settings, "popular")).coins == 1200


def test_create_update_archive(app: Any) -> None:
    settings = app.settings
    created = app.run(
        lambda s: packages.create_package(
            s,
            settings,
            "mega",
            name="Mega",
            coins="10000",
            bonus_percent="12.5",
            price_usd="8999",
            prices={"NGN": "13500000"},
        )
    )
    assert (created.bonus_coins, created.total_coins, created.status) == (1250, 11250, "active")
    with pytest.raises(AlreadyExists):
        app.run(
            lambda s: packages.create_package(
                s, settings, "mega", name="Again", coins=1, price_usd=1
            )
        )
    with pytest.raises(AlreadyExists):  # a default id is taken even before anyone listed
        app.run(
            lambda s: packages.create_package(
                s, settings, "starter", name="X", coins=1, price_usd=1
            )
        )
    updated = app.run(
        lambda s: packages.update_package(
            s, settings, "mega", prices={"CAD": "12299"}, remove_prices=["NGN"], name="Mega+"
        )
    )
    assert (updated.name, updated.prices) == ("Mega+", {"CAD": 12299})
    with pytest.raises(InvalidInput):
        app.run(lambda s: packages.update_package(s, settings, "mega"))
    with pytest.raises(NotFound):
        app.run(lambda s: packages.update_package(s, settings, "mega", remove_prices=["NGN"]))
    archived = app.run(lambda s: packages.archive_package(s, settings, "mega"))
    assert archived.status == "archived"
    assert app.run(lambda s: packages.archive_package(s, settings, "mega")).status == "archived"
    assert "mega" not in stored_ids(app, include_archived=False)
    assert "mega" in stored_ids(app)
    with pytest.raises(InvalidState) as caught:
        app.run(lambda s: packages.update_package(s, settings, "mega", coins=5))
    assert caught.value.code == "PACKAGE_ARCHIVED"
    with pytest.raises(InvalidState):
        app.run(lambda s: packages.buyable_package(s, settings, "mega"))


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"coins": "-5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": "1.5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": 0}, InvalidAmount, "INVALID_AMOUNT"),
        ({"price_usd": "9.99"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"bonus_percent": "150"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"prices": {"EUR": "100"}}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"prices": {"XYZ": "100"}}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"prices": {"USD": "100"}}, InvalidInput, "VALIDATION_ERROR"),
        ({"prices": {"NGN": "-1"}}, InvalidAmount, "INVALID_AMOUNT"),
        ({"package_id": "bad id!"}, InvalidInput, "VALIDATION_ERROR"),
        ({"name": "  "}, InvalidInput, "VALIDATION_ERROR"),
    ],
)
def test_create_refuses_bad_input_and_stores_nothing(
    app: Any, changes: dict[str, Any], error: type[Exception], code: str
) -> None:
    arguments: dict[str, Any] = {
        "package_id": "new",
        "name": "New",
        "coins": "100",
        "bonus_percent": "0",
        "price_usd": "100",
        "prices": {},
    } | changes
    package_id = arguments.pop("package_id")
    with pytest.raises(error) as caught:
        app.run(lambda s: packages.create_package(s, app.settings, package_id, **arguments))
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert stored_ids(app) == DEFAULT_IDS


def test_price_in_fixed_converted_stale_and_flag(app: Any) -> None:
    settings = app.settings
    app.run(
        lambda s: packages.create_package(
            s, settings, "usd-only", name="USD only", coins=700, price_usd=699
        )
    )

    def price(package_id: str, currency: str) -> packages.PriceQuote:
        def work(session: Any) -> packages.PriceQuote:
            package = packages.get_package(session, settings, package_id)
            return packages.price_in(session, settings, package, currency)

        return app.run(work)

    assert price("popular", "usd") == packages.PriceQuote(999, "USD", "usd")
    assert price("popular", "NGN") == packages.PriceQuote(1500000, "NGN", "fixed")
    with pytest.raises(InvalidInput) as caught:
        price("usd-only", "NGN")
    assert caught.value.code == "NO_RATE"
    # A rate a day and a half old is refused, never silently used.
    old = utcnow() - timedelta(hours=36)
    app.run(lambda s: fx.set_rate(s, settings, "USD", "NGN", "1500", as_of=old))
    with pytest.raises(InvalidInput) as caught:
        price("usd-only", "NGN")
    assert caught.value.code == "STALE_RATE"
    assert caught.value.details["max_age_hours"] == 24
    fresh = app.run(lambda s: fx.set_rate(s, settings, "USD", "NGN", "1550.25"))
    quote = price("usd-only", "NGN")
    # 6.99 USD × 1550.25 = 10836.2475 NGN → 1083624.75 kobo → half-even → 1083625 kobo
    assert (quote.amount, quote.source, quote.rate_id, quote.rate) == (
        1083625,
        "converted",
        fresh.id,
        "1550.25",
    )
    with pytest.raises(InvalidCurrency):
        price("popular", "EUR")
    with pytest.raises(InvalidCurrency):
        price("popular", "COIN")


def test_multi_currency_off_accepts_only_the_base_currency(database_url: str) -> None:
    from legato_pay.config import load_settings
    from legato_pay.context import AppContext

    settings = load_settings(overrides={"features": {"enable_multi_currency": False}})
    app = AppContext(settings=settings, database_url=database_url, actor="test")

    def price(currency: str) -> packages.PriceQuote:
        def work(session: Any) -> packages.PriceQuote:
            package = packages.get_package(session, settings, "popular")
            return packages.price_in(session, settings, package, currency)

        return app.run(work)

    assert price("USD").amount == 999
    with pytest.raises(InvalidCurrency) as caught:
        price("NGN")
    assert caught.value.code == "MULTI_CURRENCY_DISABLED"


# -- command line ----------------------------------------------------------------------------


def test_packages_cli(database_url: str) -> None:
    listed = run_cli(database_url, "packages", "list")
    assert listed.status == 0, listed.stderr
    assert [p["id"] for p in listed.json] == DEFAULT_IDS
    assert listed.json[2]["price_usd"] == {"amount": 999, "currency": "USD", "display": "9.99 USD"}
    assert listed.json[2]["prices"]["NGN"]["amount"] == 1500000

    created = run_cli(
        database_url,
        "packages",
        "create",
        "mega",
        "--name",
        "Mega",
        "--coins",
        "10000",
        "--bonus-percent",
        "12.5",
        "--price-usd",
        "89.99",
        "--price",
        "ngn=135000.00",
        "--price",
        "CAD=122.99",
    )
    assert created.status == 0, created.stderr
    assert created.json["bonus_coins"] == 1250
    assert created.json["price_usd"] == {"amount": 8999, "currency": "USD", "display": "89.99 USD"}
    assert created.json["prices"]["NGN"]["amount"] == 13500000
    assert sorted(created.json["prices"]) == ["CAD", "NGN"]

    shown = run_cli(database_url, "packages", "show", "mega", "--currency", "CAD")
    assert shown.status == 0, shown.stderr
    assert shown.json["quote"] == {
        "amount": 12299,
        "currency": "CAD",
        "display": "122.99 CAD",
        "source": "fixed",
        "rate_id": None,
        "rate": None,
    }

    updated = run_cli(
        database_url, "packages", "update", "mega", "--coins", "11000", "--remove-price", "CAD"
    )
    assert updated.status == 0, updated.stderr
    assert (updated.json["coins"], list(updated.json["prices"])) == (11000, ["NGN"])

    repriced = run_cli(database_url, "packages", "update", "mega", "--price-usd", "79")
    assert repriced.status == 0, repriced.stderr
    assert repriced.json["price_usd"]["amount"] == 7900  # 79 is 79.00 USD, not 79 cents

    archived = run_cli(database_url, "packages", "archive", "mega", "--yes")
    assert archived.status == 0, archived.stderr
    assert archived.json["status"] == "archived"
    listed = run_cli(database_url, "packages", "list", "--all")
    assert [p["id"] for p in listed.json][-1] == "mega"
    assert "mega" not in [p["id"] for p in run_cli(database_url, "packages", "list").json]
    unarchived = run_cli(database_url, "packages", "unarchive", "mega")
    assert unarchived.status == 0, unarchived.stderr
    assert (unarchived.json["status"], unarchived.json["coins"]) == ("active", 11000)
    assert "mega" in [p["id"] for p in run_cli(database_url, "packages", "list").json]
    again = run_cli(database_url, "packages", "unarchive", "mega")  # idempotent
    assert (again.status, again.json["status"]) == (0, "active")

    # Table output works too (piped: plain text).
    table = run_cli(database_url, "packages", "list", output="table")
    assert table.status == 0 and "popular" in table.stdout and "9.99 USD" in table.stdout


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["show", "nope"], 5, "NOT_FOUND"),
        (["update", "nope", "--coins", "5"], 5, "NOT_FOUND"),
        (
            ["create", "x", "--name", "X", "--coins", "-5", "--price-usd", "1.00"],
            3,
            "INVALID_AMOUNT",
        ),
        (
            ["create", "x", "--name", "X", "--coins", "2.5", "--price-usd", "1.00"],
            3,
            "INVALID_AMOUNT",
        ),
        (
            ["create", "x", "--name", "X", "--coins", "5", "--price-usd", "9.999"],
            3,
            "INVALID_AMOUNT",
        ),
        (["create", "x", "--name", "X", "--coins", "5", "--price-usd", "1e3"], 3, "INVALID_AMOUNT"),
        (
            [
                "create",
                "x",
                "--name",
                "X",
                "--coins",
                "5",
                "--price-usd",
                "1",
                "--price",
                "NGN=1500.001",
            ],
            3,
            "INVALID_AMOUNT",
        ),
        (
            ["create", "x", "--name", "X", "--coins", "5", "--price-usd", "1", "--price", "XYZ=1"],
            3,
            "INVALID_CURRENCY",
        ),
        (
            ["create", "x\n", "--name", "X", "--coins", "5", "--price-usd", "1"],
            3,
            "VALIDATION_ERROR",
        ),
        (["unarchive", "nope"], 5, "NOT_FOUND"),
        (
            ["create", "x", "--name", "X\x01", "--coins", "5", "--price-usd", "1"],
            3,
            "VALIDATION_ERROR",
        ),
        (["create", "x", "--name", "X", "--coins", "5", "--price-usd", "0"], 3, "INVALID_AMOUNT"),
        (
            ["create", "x", "--name", "X", "--coins", "5", "--price-usd", "1", "--price", "EUR=5"],
            3,
            "INVALID_CURRENCY",
        ),
        (
            ["create", "x", "--name", "X", "--coins", "5", "--price-usd", "1", "--price", "NGN"],
            3,
            "VALIDATION_ERROR",
        ),
        (
            ["create", "basic", "--name", "X", "--coins", "5", "--price-usd", "1"],
            6,
            "ALREADY_EXISTS",
        ),
        (["show", "popular", "--currency", "XYZ"], 3, "INVALID_CURRENCY"),
    ],
)
def test_packages_cli_bad_input(database_url: str, args: list[str], status: int, code: str) -> None:
    result = run_cli(database_url, "packages", *args)
    assert result.status == status, result.stderr
    assert result.error["code"] == code
    assert result.stdout == ""
    assert stored_ids(in_process(database_url)) == DEFAULT_IDS


def test_packages_cli_archived_cannot_be_updated(database_url: str) -> None:
    assert run_cli(database_url, "packages", "archive", "starter", "--yes").status == 0
    result = run_cli(database_url, "packages", "update", "starter", "--coins", "5")
    assert (result.status, result.error["code"]) == (6, "PACKAGE_ARCHIVED")
    app = in_process(database_url)
    shown = app.run(lambda s: packages.get_package(s, app.settings, "starter"))
    assert (shown.coins, shown.status) == (100, "archived")
