"""Tables of writers' payouts: the methods they are paid to, the payouts, and each payout's
timeline.

Account numbers and provider recipient codes are stored only as Fernet tokens
(``account_token``, ``recipient_token``, see ``legato_pay.payouts.vault``) beside the last four
characters for display. A payout points at the pending ledger entry that reserves its gross
(``entry_id``); ``payout_events`` records every status change with its actor, never edited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _when(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class PayoutMethod(SQLModel, table=True):
    """Where a writer is paid: a Paystack bank account, a Stripe connected account or the
    sandbox. ``changed_at`` starts the method-change lock (account-takeover guard)."""

    __tablename__ = "payout_methods"
    __table_args__ = (Index("ix_payout_methods_writer_status", "writer_id", "status"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    writer_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    type: str = Field(sa_column=Column(String(20), nullable=False))  # bank | stripe | sandbox
    provider: str = Field(sa_column=Column(String(20), nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    bank_code: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    account_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    last4: str = Field(sa_column=Column(String(4), nullable=False))
    account_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recipient_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(sa_column=Column(String(10), nullable=False))  # active | removed
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())
    changed_at: datetime = Field(sa_column=_when())
    removed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class Payout(SQLModel, table=True):
    """One payout request: gross = net + fee + tax, reserved by pending entry ``entry_id``."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_writer_status", "writer_id", "status"),
        Index("ix_payouts_status", "status"),
        Index("ux_payouts_reference", "reference", unique=True),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    writer_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    method_id: int = Field(
        sa_column=Column(IdType, ForeignKey("payout_methods.id"), nullable=False, index=True)
    )
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    gross: int = Field(sa_column=Column(BigInteger, nullable=False))
    fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    tax: int = Field(sa_column=Column(BigInteger, nullable=False))
    net: int = Field(sa_column=Column(BigInteger, nullable=False))
    tax_rate: str = Field(sa_column=Column(String(20), nullable=False))
    tax_country: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    entry_id: int = Field(sa_column=Column(IdType, nullable=False))
    resolution_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    requested_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())
    updated_at: datetime = Field(sa_column=_when())
    # Sending (``payouts run``): the gateway, the one reference every attempt carries
    # (``payout-<id>``), the provider's transfer id and last status, and the outcome.
    gateway: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    reference: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    transfer_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    transfer_status: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    settled_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    failure_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    settlement_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    reversal_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    # --convert-to: the earnings' currency and gross before conversion, and the rate used
    # (``fx_rate`` units of the payout's currency per unit of the source; None: not converted).
    source_currency: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    source_gross: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    fx_rate: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    fx_rate_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    fx_rate_as_of: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class PayoutEvent(SQLModel, table=True):
    """One step of a payout's timeline: who moved it from which status to which, and why."""

    __tablename__ = "payout_events"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    payout_id: int = Field(
        sa_column=Column(IdType, ForeignKey("payouts.id"), nullable=False, index=True)
    )
    action: str = Field(sa_column=Column(String(20), nullable=False))
    from_status: str | None = Field(default=None, sa_column=Column(String(12), nullable=True))
    to_status: str = Field(sa_column=Column(String(12), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(sa_column=_when())
