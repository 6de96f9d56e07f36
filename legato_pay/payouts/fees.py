"""Payout arithmetic, pure: the fee for a gross by method type and currency, and the split
gross = net + fee + tax that every payout records."""

from __future__ import annotations

from dataclasses import dataclass

from legato_pay.config import PayoutSettings


@dataclass(frozen=True, slots=True)
class Breakdown:
    gross: int
    fee: int
    tax: int

    @property
    def net(self) -> int:
        return self.gross - self.fee - self.tax


def payout_fee(settings: PayoutSettings, method_type: str, currency: str, gross: int) -> int:
    """The configured tier's fee for ``gross`` (tiers chosen by the gross requested, ``up_to``
    inclusive); 0 where no tiers are configured for the type and currency."""
    tiers = settings.fees.get(method_type, {}).get(currency)  # type: ignore[call-overload]
    if not tiers:
        return 0
    for tier in tiers:
        if tier.up_to is None or gross <= tier.up_to:
            return int(tier.fee)
    return int(tiers[-1].fee)  # unreachable: validation requires an unbounded last tier


def breakdown(gross: int, fee: int, tax: int) -> Breakdown:
    if gross <= 0 or fee < 0 or tax < 0:
        raise ValueError("gross must be positive, fee and tax not negative")
    return Breakdown(gross, fee, tax)
