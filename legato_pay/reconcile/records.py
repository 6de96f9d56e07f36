"""The two sides of a reconciliation as plain values, and the period it covers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Direction = Literal["in", "out"]

#: What a gateway's status says about the money, whatever the provider calls it.
SETTLED = "settled"  # the money moved (success, processed, available …)
IN_FLIGHT = "in_flight"  # not yet (pending, processing, ongoing, otp …)
FAILED = "failed"  # it never will (failed, abandoned, rejected, canceled …)
REVERSED = "reversed"  # it moved and was given back (refunded, reversed, charged back)
IGNORED = "ignored"  # a kind of record the ledger does not book on clearing (fees, payouts …)

#: The kinds of item a run reports, in the order they are shown.
MATCHED = "matched"
MISSING_IN_LEDGER = "missing_in_ledger"
MISSING_AT_GATEWAY = "missing_at_gateway"
AMOUNT_MISMATCH = "amount_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
STATUS_MISMATCH = "status_mismatch"
KINDS = (
    MATCHED,
    MISSING_IN_LEDGER,
    MISSING_AT_GATEWAY,
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    STATUS_MISMATCH,
)
DISCREPANCIES = KINDS[1:]

#: Records and entries this close outside the period are read too, so that a payment booked
#: just across a boundary on one side still finds its other half (and is not reported twice).
BOUNDARY_SLACK = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Period:
    """``start..end``, both inclusive, UTC."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment <= self.end

    @property
    def read_from(self) -> datetime:
        return self.start - BOUNDARY_SLACK

    @property
    def read_to(self) -> datetime:
        return self.end + BOUNDARY_SLACK


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    """One money movement as the gateway records it (amount positive; ``direction`` says which
    way). ``ids`` are every gateway id it is known by, ``refs`` the references it carries,
    ``related`` what it refunds or reverses."""

    gateway_id: str
    kind: str  # charge | refund | transfer | payment | …
    direction: Direction
    amount: int
    currency: str
    state: str  # SETTLED | IN_FLIGHT | FAILED | REVERSED
    raw_status: str
    occurred_at: datetime | None
    fee: int = 0
    ids: frozenset[str] = frozenset()
    refs: frozenset[str] = frozenset()
    related: frozenset[str] = frozenset()
    reference: str | None = None  # the project's reference, where the gateway carries it
    #: The fee came out of the balance on top of ``amount`` (a Paystack transfer's
    #: ``fee_charged``): the ledger books ``amount + fee`` leaving the clearing account.
    fee_on_top: bool = False

    @property
    def keys(self) -> frozenset[str]:
        return self.ids | self.refs | {self.gateway_id}

    @property
    def moved(self) -> int:
        """What the gateway's balance moved by, as the ledger books it."""
        return self.amount + self.fee if self.fee_on_top else self.amount


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """The net of one entry's legs on one gateway clearing account."""

    entry_id: int
    direction: Direction
    amount: int
    currency: str
    occurred_at: datetime
    kind: str
    ids: frozenset[str] = frozenset()
    refs: frozenset[str] = frozenset()
    related: frozenset[str] = frozenset()
    reference: str | None = None  # as the ledger side knows it (before the gateway's forms)
    #: The entry was reversed in the ledger (a payout the gateway reversed, a refund that
    #: failed after success): it nets to nothing, and matches a gateway record that says so.
    reversed: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    ledger: LedgerItem | None = None
    record: GatewayRecord | None = None
    note: str | None = None

    @property
    def direction(self) -> Direction:
        side = self.ledger or self.record
        assert side is not None
        return side.direction


@dataclass
class Matching:
    """What the matcher found, with the gateway's fees per currency."""

    findings: list[Finding] = field(default_factory=list)
    fees: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # gateway records outside what the ledger books (failed, pending, fees …)
