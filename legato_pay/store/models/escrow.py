"""Tables of escrow: investors' deposits into an app, its milestones, releases to the app's
owner, refunds to investors and disputes, with one timeline of everything that happened.

Money lives in the ledger: a confirmed deposit credits ``escrow:<deposit>:<CUR>`` (no
overdraft), a release moves from it to ``app:<app>:funds:<CUR>`` and a refund back through the
gateway's clearing account. A release or refund that waits (for approvals, for the gateway's
refund outcome) is a pending ledger entry, so what is held is already out of what can still be
released or refunded: the ledger's no-overdraft check, not a check before it, is what stops two
concurrent releases from moving more than was deposited. Rows here point at their entries.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _when(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class EscrowDeposit(SQLModel, table=True):
    """An investor's payment into an app's escrow: ``pending`` until the gateway confirms it
    exactly once (``confirmed``), ``flagged`` when what was paid differs from what was asked
    (credits nothing), ``failed``/``expired`` when it never was paid. ``units`` shares are issued
    in the confirming transaction (``movement_id``)."""

    __tablename__ = "escrow_deposits"
    __table_args__ = (
        Index("ix_escrow_deposits_app_status", "app_id", "status"),
        Index("ix_escrow_deposits_investor", "investor_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    app_id: str = Field(sa_column=Column(String(100), ForeignKey("apps.id"), nullable=False))
    investor_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    units: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    gateway: str = Field(sa_column=Column(String(20), nullable=False))
    #: our reference at the gateway (Paystack reference, Stripe PaymentIntent metadata)
    reference: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    provider_payment_id: str | None = Field(
        default=None, sa_column=Column(String(100), nullable=True, unique=True)
    )
    checkout_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    movement_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    flag_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())
    confirmed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    updated_at: datetime = Field(sa_column=_when())


class EscrowMilestone(SQLModel, table=True):
    """A stage of an app's plan; ``percent_bp`` in hundredths of a percent (12.5 % = 1250), an
    app's milestones never summing above 10,000."""

    __tablename__ = "escrow_milestones"
    __table_args__ = (UniqueConstraint("app_id", "name"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    app_id: str = Field(sa_column=Column(String(100), ForeignKey("apps.id"), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    percent_bp: int = Field(sa_column=Column(Integer, nullable=False))
    due: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    status: str = Field(sa_column=Column(String(12), nullable=False))  # open | completed
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    completed_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(sa_column=_when())
    completed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class EscrowRelease(SQLModel, table=True):
    """Money from one deposit's escrow to the app owner's funds for a milestone: ``posted`` at
    once below the threshold; otherwise ``held`` (a pending entry) until enough approvals, then
    ``posted``, or ``rejected``/``expired`` (the pending entry voided)."""

    __tablename__ = "escrow_releases"
    __table_args__ = (Index("ix_escrow_releases_deposit", "deposit_id"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    deposit_id: int = Field(
        sa_column=Column(IdType, ForeignKey("escrow_deposits.id"), nullable=False)
    )
    milestone_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("escrow_milestones.id"), nullable=True)
    )
    dispute_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    needs_approval: bool = Field(sa_column=Column(Boolean, nullable=False))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    resolution_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    requested_by: str = Field(sa_column=Column(String(200), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(sa_column=_when())
    expires_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class EscrowRefund(SQLModel, table=True):
    """Unreleased money going back to the investor through the deposit's gateway: held as a
    pending entry (escrow → gateway clearing) while ``pending`` at the gateway, posted when it
    ``succeeded``, voided (back in escrow, once) when it ``failed``."""

    __tablename__ = "escrow_refunds"
    __table_args__ = (Index("ix_escrow_refunds_deposit", "deposit_id"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    deposit_id: int = Field(
        sa_column=Column(IdType, ForeignKey("escrow_deposits.id"), nullable=False)
    )
    dispute_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    units_cancelled: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    provider_refund_id: str | None = Field(
        default=None, sa_column=Column(String(100), nullable=True, unique=True)
    )
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    resolution_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    reason: str = Field(sa_column=Column(String(500), nullable=False))
    requested_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())
    settled_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class EscrowDispute(SQLModel, table=True):
    """A dispute freezing one deposit's releases and refunds until resolved (release, refund or
    a split, with the same approvals as a release above the threshold)."""

    __tablename__ = "escrow_disputes"
    __table_args__ = (Index("ix_escrow_disputes_deposit_status", "deposit_id", "status"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    deposit_id: int = Field(
        sa_column=Column(IdType, ForeignKey("escrow_deposits.id"), nullable=False)
    )
    status: str = Field(sa_column=Column(String(12), nullable=False))  # open | resolving | resolved
    reason: str = Field(sa_column=Column(String(500), nullable=False))
    outcome: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    release_bp: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    resolution_reason: str | None = Field(
        default=None, sa_column=Column(String(500), nullable=True)
    )
    opened_by: str = Field(sa_column=Column(String(200), nullable=False))
    resolved_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(sa_column=_when())
    resolved_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class EscrowEvent(SQLModel, table=True):
    """One step of a deposit's timeline (deposit, confirmation, approval, release, refund,
    dispute…) with its actor: what ``escrow show`` prints, never edited."""

    __tablename__ = "escrow_events"
    __table_args__ = (Index("ix_escrow_events_deposit", "deposit_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    deposit_id: int = Field(
        sa_column=Column(IdType, ForeignKey("escrow_deposits.id"), nullable=False)
    )
    action: str = Field(sa_column=Column(String(30), nullable=False))
    amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    subject: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    details: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_when())
