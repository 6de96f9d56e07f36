"""Plain value types the ledger takes and returns; no database here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Side = Literal["debit", "credit"]

#: Entry kinds. ``posted`` moves value now; ``pending`` reserves it; ``post_pending`` and
#: ``void_pending`` resolve a pending entry; ``reversal`` undoes a posted entry.
ENTRY_KINDS = ("posted", "pending", "post_pending", "void_pending", "reversal")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class LegSpec:
    account: str
    side: Side
    amount: int
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """A journal entry to post: two or more legs, balanced per currency.

    A pending entry may carry ``expires_at`` (it can no longer be posted after it) and
    ``post_at`` (when it is due to be posted; ``due_pending`` finds it then)."""

    legs: tuple[LegSpec, ...]
    pending: bool = False
    idempotency_key: str | None = None
    reason: str | None = None
    metadata: dict[str, Any] | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    post_at: datetime | None = None


def transfer(
    source: str,
    destination: str,
    amount: int,
    currency: str,
    *,
    pending: bool = False,
    idempotency_key: str | None = None,
    reason: str | None = None,
    metadata: dict[str, Any] | None = None,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    post_at: datetime | None = None,
) -> EntrySpec:
    """The common two-leg entry: value leaves ``source`` (debit) and reaches ``destination``."""
    return EntrySpec(
        legs=(
            LegSpec(source, "debit", amount, currency),
            LegSpec(destination, "credit", amount, currency),
        ),
        pending=pending,
        idempotency_key=idempotency_key,
        reason=reason,
        metadata=metadata,
        effective_at=effective_at,
        expires_at=expires_at,
        post_at=post_at,
    )


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    code: str
    currency: str
    normal_side: Side
    no_overdraft: bool
    hot: bool
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """An account to open if absent (``open_accounts``); an existing one must have this shape."""

    code: str
    currency: str
    no_overdraft: bool = False
    hot: bool = False
    normal_side: Side = "credit"


@dataclass(frozen=True, slots=True)
class Totals:
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.debits_posted + other.debits_posted,
            self.credits_posted + other.credits_posted,
            self.debits_pending + other.debits_pending,
            self.credits_pending + other.credits_pending,
        )

    def __sub__(self, other: Totals) -> Totals:
        return Totals(
            self.debits_posted - other.debits_posted,
            self.credits_posted - other.credits_posted,
            self.debits_pending - other.debits_pending,
            self.credits_pending - other.credits_pending,
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """Balances in the account's normal-side terms: positive when the account holds value."""

    account: str
    currency: str
    posted: int
    pending: int
    available: int
    totals: Totals
    as_of: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "account": self.account,
            "currency": self.currency,
            "posted": self.posted,
            "pending": self.pending,
            "available": self.available,
        }
        if self.as_of is not None:
            result["as_of"] = self.as_of.isoformat()
        return result


def balance_from_totals(account: Account, totals: Totals, as_of: datetime | None = None) -> Balance:
    """Posted, net pending and available (posted less outgoing reservations)."""
    if account.normal_side == "credit":
        posted = totals.credits_posted - totals.debits_posted
        pending = totals.credits_pending - totals.debits_pending
        available = posted - totals.debits_pending
    else:
        posted = totals.debits_posted - totals.credits_posted
        pending = totals.debits_pending - totals.credits_pending
        available = posted - totals.credits_pending
    return Balance(account.code, account.currency, posted, pending, available, totals, as_of)


@dataclass(frozen=True, slots=True)
class LegView:
    account: str
    currency: str
    side: Side
    amount: int
    pending_amount: int

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "currency": self.currency,
            "side": self.side,
            "amount": self.amount,
            "pending_amount": self.pending_amount,
        }


@dataclass(frozen=True, slots=True)
class EntryView:
    id: int
    kind: str
    idempotency_key: str | None
    actor: str
    reason: str | None
    created_at: datetime
    effective_at: datetime
    legs: tuple[LegView, ...]
    target_entry_id: int | None = None
    reverses_entry_id: int | None = None
    expires_at: datetime | None = None
    status: str | None = None
    metadata: dict[str, Any] | None = None
    replayed: bool = field(default=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "idempotency_key": self.idempotency_key,
            "actor": self.actor,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "effective_at": self.effective_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "target_entry_id": self.target_entry_id,
            "reverses_entry_id": self.reverses_entry_id,
            "metadata": self.metadata,
            "replayed": self.replayed,
            "legs": [leg.as_json() for leg in self.legs],
        }
