"""``payouts request --convert-to CUR``: a payout of earnings in one currency paid in another.

The rate is the newest stored one for the pair (``readers.fx``): the direct pair SRC→DST if any
was ever recorded, else the inverse pair DST→SRC (the amount divided by its rate). Either way
``fx.rate_for`` checks it, so a rate older than ``rates.max_age_hours`` is ``STALE_RATE`` and a
pair never recorded is ``NO_RATE`` (both exit 3), and nothing is reserved.

Arithmetic is exact (fractions, never floats) and rounds **half-even once**, at the end: the
converted gross is ``round_half_even(source_gross x rate)`` (or ``/ rate``) in the target's minor
unit. Fee and withholding are then computed on that gross in the payout currency, so
gross = net + fee + tax holds exactly there. The rate as applied is recorded as text: the rate
row's decimal (``"0.00065"``) or, for an inverse pair, ``"1/1550.25"``.

The ledger legs (one pending entry, balanced per currency)::

    writer:<w>:earnings:<SRC>   debit  source_gross  SRC
    platform:fx:<SRC>           credit source_gross  SRC   (the platform buys SRC ...)
    platform:fx:<DST>           debit  gross         DST   (... and sells DST)
    payouts:in_flight:<DST>     credit gross         DST

so the payout sits in ``payouts:in_flight:<DST>`` like any payout in DST, and cancelling,
rejecting or failing it voids all four legs: the money is back in the writer's SRC earnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import InvalidInput
from legato_pay.ledger.types import EntrySpec, LegSpec
from legato_pay.money import currency_exponent


@dataclass(frozen=True, slots=True)
class Conversion:
    """``source_gross`` of ``source`` is ``gross`` of ``target`` at ``rate`` (as applied)."""

    source: str
    target: str
    source_gross: int
    gross: int
    rate: str
    rate_id: int
    rate_as_of: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "source_gross_minor": self.source_gross,
            "gross_minor": self.gross,
            "rate": self.rate,
            "rate_id": self.rate_id,
            "rate_as_of": self.rate_as_of.isoformat(),
        }


def round_half_even(value: Fraction) -> int:
    """The nearest integer to ``value``; an exact half goes to the even neighbour."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def applied_rate(rate: str) -> Fraction:
    """A rate as recorded on a payout (``"1550.25"`` or ``"1/1550.25"``) as an exact fraction."""
    if rate.startswith("1/"):
        return 1 / Fraction(rate[2:])
    return Fraction(rate)


def convert_exact(minor: int, source: str, target: str, rate: str) -> int:
    """``minor`` of ``source`` in ``target`` minor units at ``rate``, rounded half-even once."""
    shift = currency_exponent(target) - currency_exponent(source)
    return round_half_even(Fraction(minor) * applied_rate(rate) * Fraction(10) ** shift)


def target_currency(settings: Settings, source: str, target: str) -> str:
    """``--convert-to``: a configured currency other than the earnings' one."""
    from legato_pay.readers import fx

    code = fx.configured_currency(settings, target)
    if code == source:
        raise InvalidInput(
            f"--convert-to {code} is the earnings' currency: leave it out",
            details={"currency": source, "convert_to": code},
        )
    return code


def quote(
    session: Session,
    settings: Settings,
    source_gross: int,
    source: str,
    target: str,
    *,
    now: datetime,
) -> Conversion:
    """Convert at the newest fresh rate (see the module docstring): STALE_RATE / NO_RATE (3)."""
    from legato_pay.readers import fx

    direct = fx.latest_rate(session, source, target) is not None
    inverse = not direct and fx.latest_rate(session, target, source) is not None
    if inverse:
        row = fx.rate_for(session, settings, target, source, now=now)
        rate = f"1/{row.rate}"
    else:
        row = fx.rate_for(session, settings, source, target, now=now)
        rate = row.rate
    gross = convert_exact(source_gross, source, target, rate)
    return Conversion(source, target, source_gross, gross, rate, row.id, row.as_of)


def reservation_legs(writer: str, conversion: Conversion) -> tuple[LegSpec, ...]:
    """The four legs of a converted payout's reservation (see the module docstring)."""
    src, dst = conversion.source, conversion.target
    return (
        LegSpec(chart.writer_earnings(writer, src), "debit", conversion.source_gross, src),
        LegSpec(chart.platform_fx(src), "credit", conversion.source_gross, src),
        LegSpec(chart.platform_fx(dst), "debit", conversion.gross, dst),
        LegSpec(chart.payouts_in_flight(dst), "credit", conversion.gross, dst),
    )


def reservation(
    writer: str, conversion: Conversion, *, key: str | None, method_id: int
) -> EntrySpec:
    return EntrySpec(
        legs=reservation_legs(writer, conversion),
        pending=True,
        idempotency_key=f"payout:{key}" if key else None,
        reason=f"payout requested for {writer}, {conversion.source}→{conversion.target}",
        metadata={
            "writer": writer,
            "method": method_id,
            "fx_rate": conversion.rate,
            "fx_rate_id": conversion.rate_id,
        },
    )


def accounts_to_open(writer: str, conversion: Conversion) -> list[Any]:
    src, dst = conversion.source, conversion.target
    return [
        chart.writer_earnings_account(writer, src),
        chart.platform_fx_account(src),
        chart.platform_fx_account(dst),
        chart.system_account(chart.payouts_in_flight(dst), dst),
    ]
