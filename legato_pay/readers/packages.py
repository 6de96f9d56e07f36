"""Coin packages: how many coins a price buys, the bonus on top, and the price per currency.

The packages in ``config/default.yaml`` exist on first use: every package and purchase service
calls ``ensure_default_packages``, which inserts the configured ones that are missing and never
touches a package already stored (an operator's edits and archives win over the config file).

Bonus coins are ``floor(coins × bonus_percent / 100)``, computed exactly with the percentage as
a ``Decimal`` turned into an integer fraction: a fraction of a bonus coin is never given, and no
float or context rounding is involved (``bonus_coins``).

A package has a USD price and optional fixed prices per currency (``prices_json``). Pricing in a
currency: USD uses ``price_usd``; a fixed price wins; otherwise ``price_usd`` is converted with
the latest usable USD→CUR rate (``fx.rate_for``), rounded half-even once, and the rate row is
returned so the purchase records it. Archived packages keep their history but cannot be bought.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import (
    AlreadyExists,
    ConfigError,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LegatoError,
    NotFound,
)
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, parse_minor_units
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import PACKAGES

PACKAGE_STATUSES = ("active", "archived")
PRICE_CURRENCY = "USD"

_PACKAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", re.ASCII)
_PERCENT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,8})?", re.ASCII)


@dataclass(frozen=True, slots=True)
class PackageView:
    id: str
    name: str
    coins: int
    bonus_percent: str
    price_usd: int
    prices: dict[str, int]
    status: str
    created_at: datetime
    updated_at: datetime

    @property
    def bonus_coins(self) -> int:
        return bonus_coins(self.coins, self.bonus_percent)

    @property
    def total_coins(self) -> int:
        return self.coins + self.bonus_coins

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "coins": self.coins,
            "bonus_percent": self.bonus_percent,
            "bonus_coins": self.bonus_coins,
            "total_coins": self.total_coins,
            "price_usd": money_json(self.price_usd, PRICE_CURRENCY),
            "prices": {code: money_json(minor, code) for code, minor in self.prices.items()},
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """What a package costs in one currency and how that was decided."""

    amount: int
    currency: str
    source: str  # usd | fixed | converted
    rate_id: int | None = None
    rate: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            **money_json(self.amount, self.currency),
            "source": self.source,
            "rate_id": self.rate_id,
            "rate": self.rate,
        }


def money_json(minor: int, currency: str) -> dict[str, Any]:
    """Money in JSON: integer minor units, currency, and a display string."""
    return {"amount": minor, "currency": currency, "display": format_amount(minor, currency)}


# -- validation ------------------------------------------------------------------------------


def parse_percent(value: object, *, field: str = "bonus_percent") -> str:
    """A percentage from 0 to 100 as a canonical decimal string ("10", "12.5"); never a float."""
    if isinstance(value, (bool, float)):
        raise InvalidAmount(
            f"{field} must be a decimal string, never float", details={field: value}
        )
    raw = str(value).strip(" ")  # a newline or tab is refused, never trimmed away
    if not _PERCENT.fullmatch(raw):
        raise InvalidAmount(
            f"{field} must be a plain decimal between 0 and 100, e.g. 10 or 12.5",
            details={field: raw},
        )
    number = Decimal(raw)
    if number > 100:
        raise InvalidAmount(f"{field} must be between 0 and 100", details={field: raw})
    # Canonical text: "10.50" and "10.5" are the same percentage and should compare equal.
    return format(number.normalize(), "f") if number else "0"


def bonus_coins(coins: int, bonus_percent: str) -> int:
    """``floor(coins × bonus_percent / 100)``, exact: the percentage becomes an integer fraction."""
    numerator, denominator = Decimal(bonus_percent).as_integer_ratio()
    if numerator < 0 or coins < 0:
        raise InvalidAmount("coins and bonus percent must not be negative")
    return (coins * numerator) // (denominator * 100)


def validate_package_id(package_id: str) -> str:
    if not isinstance(package_id, str) or not _PACKAGE_ID.fullmatch(package_id):
        raise InvalidInput(
            f"{package_id!r} is not a valid package id (letters, digits, _ - .; at most 64)",
            details={"package": package_id},
        )
    return package_id


def _validate_name(name: object) -> str:
    text = str(name or "").strip()
    if not text or len(text) > 200 or not text.isprintable():
        raise InvalidInput(
            "a package needs a name of 1 to 200 printable characters",
            details={"name": str(name)[:200]},
        )
    return text


def parse_prices(settings: Settings, prices: dict[str, object]) -> dict[str, int]:
    """Fixed prices per currency in minor units; USD belongs in ``price_usd``."""
    from legato_pay.readers.fx import configured_currency

    result: dict[str, int] = {}
    for raw_code, raw_amount in prices.items():
        code = configured_currency(settings, raw_code)
        if code == PRICE_CURRENCY:
            raise InvalidInput(
                "the USD price is price_usd (--price-usd), not a fixed price",
                details={"currency": code},
            )
        result[code] = parse_minor_units(raw_amount, field=f"price {code}")
    return dict(sorted(result.items()))


def parse_usd_price(text: str) -> int:
    """``--price-usd 99.99``: a USD price as people write it, in minor units (9999)."""
    from legato_pay.money import parse_amount

    return parse_amount(text, PRICE_CURRENCY)


def parse_price_options(items: list[str] | None) -> dict[str, int]:
    """``CUR=AMOUNT`` options (``NGN=1500.00``, major units as people write them) into minor
    units per currency; whether the currency is configured is checked by ``parse_prices``."""
    from legato_pay.money import normalize_currency, parse_amount

    result: dict[str, int] = {}
    for item in items or []:
        code, sep, amount = item.partition("=")
        if not sep or not code.strip() or not amount.strip():
            raise InvalidInput(
                "--price takes CUR=AMOUNT, e.g. NGN=1500.00", details={"price": item[:100]}
            )
        key = normalize_currency(code)
        if key in result:
            raise InvalidInput("a currency is priced twice", details={"currency": key})
        result[key] = parse_amount(amount.strip(), key)
    return result


# -- storage ---------------------------------------------------------------------------------


def _row_to_view(row: Any) -> PackageView:
    return PackageView(
        id=row.id,
        name=row.name,
        coins=row.coins,
        bonus_percent=row.bonus_percent,
        price_usd=row.price_usd,
        prices={code: int(amount) for code, amount in json.loads(row.prices_json).items()},
        status=row.status,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        updated_at=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


def ensure_default_packages(session: Session, settings: Settings) -> list[str]:
    """Insert the configured packages that are not stored yet; return the ids inserted.

    Idempotent and safe under concurrency (insert-if-absent); existing rows are left alone.
    """
    wanted = {package.id: package for package in settings.packages}
    if not wanted:
        return []
    present = set(
        session.execute(select(PACKAGES.c.id).where(PACKAGES.c.id.in_(list(wanted)))).scalars()
    )
    inserted = []
    now = utcnow()
    for package_id, package in wanted.items():
        if package_id in present:
            continue
        try:
            validate_package_id(package_id)
            values = {
                "name": _validate_name(package.name),
                "coins": parse_minor_units(package.coins, field="coins"),
                "bonus_percent": parse_percent(package.bonus_percent),
                "price_usd": parse_minor_units(package.price_usd, field="price_usd"),
                "prices_json": json.dumps(parse_prices(settings, dict(package.prices))),
            }
        except LegatoError as error:
            raise ConfigError(
                f"invalid configuration at packages.{package_id}: {error.message}",
                details={"key": f"packages.{package_id}", **error.details},
            ) from None
        if insert_if_absent(
            session,
            PACKAGES,
            ["id"],
            id=package_id,
            status="active",
            created_at=now,
            updated_at=now,
            **values,
        ):
            inserted.append(package_id)
    return inserted


def get_package(session: Session, settings: Settings, package_id: str) -> PackageView:
    ensure_default_packages(session, settings)
    row = session.execute(select(PACKAGES).where(PACKAGES.c.id == package_id)).first()
    if row is None:
        raise NotFound(f"no package {package_id}", details={"package": package_id})
    return _row_to_view(row)


def list_packages(
    session: Session, settings: Settings, *, include_archived: bool = False
) -> list[PackageView]:
    ensure_default_packages(session, settings)
    query = select(PACKAGES).order_by(PACKAGES.c.price_usd, PACKAGES.c.id)
    if not include_archived:
        query = query.where(PACKAGES.c.status == "active")
    return [_row_to_view(row) for row in session.execute(query)]


def create_package(
    session: Session,
    settings: Settings,
    package_id: str,
    *,
    name: str,
    coins: object,
    bonus_percent: object = "0",
    price_usd: object,
    prices: dict[str, object] | None = None,
) -> PackageView:
    """A new active package; an id already used (even by an archived one) is ALREADY_EXISTS."""
    validate_package_id(package_id)
    values = {
        "name": _validate_name(name),
        "coins": parse_minor_units(coins, field="coins"),
        "bonus_percent": parse_percent(bonus_percent),
        "price_usd": parse_minor_units(price_usd, field="price_usd"),
        "prices_json": json.dumps(parse_prices(settings, prices or {})),
    }
    ensure_default_packages(session, settings)
    now = utcnow()
    inserted = insert_if_absent(
        session,
        PACKAGES,
        ["id"],
        id=package_id,
        status="active",
        created_at=now,
        updated_at=now,
        **values,
    )
    if not inserted:
        raise AlreadyExists(f"package {package_id} already exists", details={"package": package_id})
    return get_package(session, settings, package_id)


def update_package(
    session: Session,
    settings: Settings,
    package_id: str,
    *,
    name: str | None = None,
    coins: object | None = None,
    bonus_percent: object | None = None,
    price_usd: object | None = None,
    prices: dict[str, object] | None = None,
    remove_prices: list[str] | None = None,
) -> PackageView:
    """Change an active package. Purchases already made keep what they were sold (they store
    their own coins, bonus and amount), so an update only affects later purchases."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = _validate_name(name)
    if coins is not None:
        values["coins"] = parse_minor_units(coins, field="coins")
    if bonus_percent is not None:
        values["bonus_percent"] = parse_percent(bonus_percent)
    if price_usd is not None:
        values["price_usd"] = parse_minor_units(price_usd, field="price_usd")
    new_prices = parse_prices(settings, prices or {})
    removed = [code.strip().upper() for code in remove_prices or []]
    overlap = sorted(set(new_prices) & set(removed))
    if overlap:
        raise InvalidInput("a currency is both priced and removed", details={"currency": overlap})
    if not values and not new_prices and not removed:
        raise InvalidInput("nothing to update: give at least one option", details={})
    current = get_package(session, settings, package_id)
    if current.status != "active":
        raise InvalidState(
            f"package {package_id} is archived; archived packages are kept as history",
            details={"package": package_id, "status": current.status},
            code="PACKAGE_ARCHIVED",
        )
    if new_prices or removed:
        missing = [code for code in removed if code not in current.prices]
        if missing:
            raise NotFound(
                f"package {package_id} has no fixed price in {', '.join(missing)}",
                details={"package": package_id, "currency": missing},
            )
        merged = {k: v for k, v in current.prices.items() if k not in removed} | new_prices
        values["prices_json"] = json.dumps(dict(sorted(merged.items())))
    values["updated_at"] = utcnow()
    session.execute(update(PACKAGES).where(PACKAGES.c.id == package_id).values(**values))
    return get_package(session, settings, package_id)


def archive_package(session: Session, settings: Settings, package_id: str) -> PackageView:
    """Stop selling a package; it stays for the purchases that point at it. Idempotent."""
    current = get_package(session, settings, package_id)
    if current.status == "archived":
        return current
    session.execute(
        update(PACKAGES)
        .where(PACKAGES.c.id == package_id)
        .values(status="archived", updated_at=utcnow())
    )
    return get_package(session, settings, package_id)


def unarchive_package(session: Session, settings: Settings, package_id: str) -> PackageView:
    """Put an archived package back on sale, as it was when archived. Idempotent."""
    current = get_package(session, settings, package_id)
    if current.status == "active":
        return current
    session.execute(
        update(PACKAGES)
        .where(PACKAGES.c.id == package_id)
        .values(status="active", updated_at=utcnow())
    )
    return get_package(session, settings, package_id)


def buyable_package(session: Session, settings: Settings, package_id: str) -> PackageView:
    """The package, refusing an archived one (PACKAGE_ARCHIVED, a conflict: exit 6)."""
    package = get_package(session, settings, package_id)
    if package.status != "active":
        raise InvalidState(
            f"package {package_id} is archived and cannot be bought",
            details={"package": package_id, "status": package.status},
            code="PACKAGE_ARCHIVED",
        )
    return package


def price_in(
    session: Session,
    settings: Settings,
    package: PackageView,
    currency: str,
    *,
    now: datetime | None = None,
) -> PriceQuote:
    """The package's price in ``currency``: USD price, else fixed price, else converted."""
    from legato_pay.money import convert
    from legato_pay.readers import fx

    code = fx.accepted_currency(settings, currency)
    if code == PRICE_CURRENCY:
        return PriceQuote(package.price_usd, code, "usd")
    if code in package.prices:
        return PriceQuote(package.prices[code], code, "fixed")
    rate = fx.rate_for(session, settings, PRICE_CURRENCY, code, now=now)
    with localcontext() as context:
        context.prec = 80  # exact product before the one half-even rounding in convert
        amount = convert(package.price_usd, PRICE_CURRENCY, code, rate.rate)
    if amount <= 0:
        raise InvalidAmount(
            f"{package.id} converts to nothing in {code} at rate {rate.rate}",
            details={"package": package.id, "currency": code, "rate": rate.rate},
        )
    return PriceQuote(amount, code, "converted", rate.id, rate.rate)
