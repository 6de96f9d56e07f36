"""Money: integer minor units plus a currency, strict parsing, formatting and exact allocation.

No float ever touches an amount. Strings from the edge (CLI, config, gateways) are parsed with
``Decimal`` and must fit the currency's exponent exactly; anything lossy is ``INVALID_AMOUNT``.
Splits use largest-remainder allocation so the parts always add up to the whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from legato_pay.errors import InvalidAmount, InvalidCurrency

#: ISO 4217 exponents (minor-unit digits) plus the platform's own coin, which has no minor unit.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "CAD": 2,
    "NGN": 2,
    "GHS": 2,
    "KES": 2,
    "ZAR": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "XOF": 0,
    "RWF": 0,
    "UGX": 0,
    "COIN": 0,
}

#: Largest absolute amount accepted, in minor units: comfortably inside a signed 64-bit column
#: even after summing many of them, and far beyond any real single payment.
MAX_MINOR_UNITS = 10**15

#: ASCII digits only: ``\d`` alone would also take "١٢" or fullwidth "１２" for 12.
_PLAIN_DECIMAL = re.compile(r"^(\d+)(?:\.(\d+))?$", re.ASCII)


def currency_exponent(currency: str) -> int:
    """The number of minor-unit digits, refusing currencies the platform does not know."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InvalidCurrency(
            f"unknown currency {currency!r}",
            details={"currency": currency, "known": sorted(CURRENCY_EXPONENTS)},
        ) from None


def normalize_currency(currency: str) -> str:
    """Upper-case a currency code from the edge and check it is known."""
    code = (currency or "").strip().upper()
    currency_exponent(code)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of one currency. Immutable; arithmetic only within a currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmount(
                "amounts must be whole minor units (int), never float",
                details={"value": repr(self.minor)},
            )
        currency_exponent(self.currency)
        if abs(self.minor) > MAX_MINOR_UNITS:
            raise InvalidAmount(
                "amount is beyond the accepted bound",
                details={"minor": self.minor, "max": MAX_MINOR_UNITS},
            )

    @classmethod
    def parse(cls, text: str, currency: str, *, positive: bool = True) -> Money:
        return cls(parse_amount(text, currency, positive=positive), normalize_currency(currency))

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise InvalidCurrency(
                "cannot combine amounts in different currencies",
                details={"left": self.currency, "right": other.currency},
            )

    def display(self) -> str:
        return format_amount(self.minor, self.currency)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        return [Money(part, self.currency) for part in allocate(self.minor, weights)]

    def as_json(self) -> dict[str, object]:
        return {"amount": self.minor, "currency": self.currency, "display": self.display()}


def parse_amount(text: str | int, currency: str, *, positive: bool = True) -> int:
    """Parse a decimal string ("12.50") into minor units of ``currency``, refusing anything lossy.

    Accepts only plain decimal notation: no exponent, no NaN/Infinity, no thousands separators,
    no more fraction digits than the currency has. ``positive`` refuses zero and negatives.
    """
    currency = normalize_currency(currency)
    exponent = currency_exponent(currency)
    if isinstance(text, (bool, float)):
        raise InvalidAmount("amounts must be given as text or integers, never float")
    raw = str(text).strip()
    negative = raw.startswith("-")
    body = raw[1:] if negative or raw.startswith("+") else raw
    match = _PLAIN_DECIMAL.match(body)
    if not match:
        raise InvalidAmount(
            f"{raw!r} is not a plain decimal amount",
            details={"value": raw, "currency": currency},
        )
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > exponent:
        significant = fraction[exponent:].strip("0")
        if significant:
            raise InvalidAmount(
                f"{raw!r} has more decimal places than {currency} allows ({exponent})",
                details={"value": raw, "currency": currency, "exponent": exponent},
            )
        fraction = fraction[:exponent]
    if len(whole) > 18:
        raise InvalidAmount(
            "amount is beyond the accepted bound", details={"value": raw, "currency": currency}
        )
    minor: int = int(whole) * 10**exponent + (int(fraction.ljust(exponent, "0")) if exponent else 0)
    if negative:
        minor = -minor
    if abs(minor) > MAX_MINOR_UNITS:
        raise InvalidAmount(
            "amount is beyond the accepted bound",
            details={"value": raw, "currency": currency, "max_minor": MAX_MINOR_UNITS},
        )
    if positive and minor <= 0:
        raise InvalidAmount(
            "amount must be greater than zero", details={"value": raw, "currency": currency}
        )
    return minor


def parse_minor_units(value: object, *, positive: bool = True, field: str = "amount") -> int:
    """Validate an integer count of minor units (or coins) from the edge, e.g. "250" or 250."""
    if isinstance(value, (bool, float)):
        raise InvalidAmount(f"{field} must be a whole number", details={field: repr(value)})
    raw = str(value).strip()
    if not re.fullmatch(r"[+-]?\d{1,18}", raw, flags=re.ASCII):
        raise InvalidAmount(f"{field} must be a whole number", details={field: raw})
    number = int(raw)
    if abs(number) > MAX_MINOR_UNITS:
        raise InvalidAmount(f"{field} is beyond the accepted bound", details={field: raw})
    if positive and number <= 0:
        raise InvalidAmount(f"{field} must be greater than zero", details={field: raw})
    return number


def format_amount(minor: int, currency: str) -> str:
    """Render minor units as a plain decimal string with the currency code: ``12.50 USD``."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 10**exponent) if exponent else (abs(minor), 0)
    number = f"{units:,}" + (f".{cents:0{exponent}d}" if exponent else "")
    return f"{sign}{number} {currency}"


def to_decimal_string(minor: int, currency: str) -> str:
    """Minor units as an exact decimal string without grouping, for CSV and gateway payloads."""
    exponent = currency_exponent(currency)
    return str(Decimal(minor).scaleb(-exponent)) if exponent else str(minor)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` by integer ``weights`` with the largest-remainder method.

    Each part is the floor of its exact share, then the leftover units go one each to the parts
    with the largest remainders; ties go to the earlier index, so the result is deterministic.
    Negative totals are split symmetrically. The parts always sum to ``total``.
    """
    return allocate_with_floors(total, weights)[0]


def allocate_with_floors(total: int, weights: Sequence[int]) -> tuple[list[int], list[int]]:
    """``allocate``'s parts and each part's floor ``total * weight // sum(weights)`` (for a
    part above its floor, the remainder units it got). Runs once per writer of a revenue run,
    so the common case (plain ints) is checked and computed a list at a time."""
    if not weights:
        raise InvalidAmount("cannot allocate over no parts")
    if set(map(type, weights)) - {int} and any(
        isinstance(w, bool) or not isinstance(w, int) for w in weights
    ):
        raise InvalidAmount("allocation weights must be non-negative integers")
    if min(weights) < 0:
        raise InvalidAmount("allocation weights must be non-negative integers")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise InvalidAmount("allocation weights must not all be zero")
    if total < 0:
        parts = [-part for part in allocate_with_floors(-total, weights)[0]]
        return parts, [(total * weight) // weight_sum for weight in weights]
    products = [total * weight for weight in weights]
    floors = [product // weight_sum for product in products]
    parts = floors.copy()
    leftover = total - sum(floors)
    if leftover:
        remainders = [product % weight_sum for product in products]
        # Largest remainders first; a stable sort keeps ties in index order.
        for index in sorted(range(len(parts)), key=remainders.__getitem__, reverse=True)[:leftover]:
            parts[index] += 1
    return parts, floors


def allocate_by_percent(total: int, percents: Sequence[str | int]) -> list[int]:
    """Split by percentages given as decimal strings ("70", "12.5"); they must sum to 100."""
    scaled: list[int] = []
    for percent in percents:
        if isinstance(percent, (bool, float)):
            raise InvalidAmount(f"{percent!r}: percentages must be decimal strings, never float")
        try:
            value = Decimal(str(percent))
        except InvalidOperation:
            raise InvalidAmount(f"{percent!r} is not a percentage") from None
        if not value.is_finite() or value < 0:
            raise InvalidAmount(f"{percent!r} is not a percentage")
        scaled.append(int(value.scaleb(4)))
    if sum(scaled) != 100 * 10**4:
        raise InvalidAmount("percentages must add up to 100", details={"percents": percents})
    return allocate(total, scaled)


def convert(minor: int, from_currency: str, to_currency: str, rate: str) -> int:
    """Convert with a decimal-string rate (units of ``to`` per unit of ``from``), half-even once."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise InvalidAmount("amounts must be whole minor units (int), never float")
    given: object = rate  # callers at the edge may still hand over a float: refuse it loudly
    if isinstance(given, (bool, float)):
        raise InvalidAmount("exchange rates must be decimal strings, never float")
    try:
        rate_value = Decimal(rate)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount("exchange rate is not a decimal", details={"rate": rate}) from None
    if not rate_value.is_finite() or rate_value <= 0:
        raise InvalidAmount("exchange rate must be a positive decimal", details={"rate": rate})
    shift = currency_exponent(to_currency) - currency_exponent(from_currency)
    exact = Decimal(minor) * rate_value * (Decimal(10) ** shift)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
