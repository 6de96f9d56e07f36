"""Table models. Schema changes go through Alembic migrations in ``store/migrations``; a test runs
``alembic check`` so these classes and the migrations never drift apart.

Money columns are ``BIGINT`` minor units. Times are UTC (timezone-aware in Python).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _money(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(BigInteger, nullable=nullable, default=0 if not nullable else None)


class LedgerAccount(SQLModel, table=True):
    """An account; totals are kept in the same transaction as each posting (except hot accounts,
    whose totals are rolled up from their legs at each seal so they never become a lock)."""

    __tablename__ = "ledger_accounts"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    code: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    normal_side: str = Field(sa_column=Column(String(6), nullable=False))
    no_overdraft: bool = Field(sa_column=Column(Boolean, nullable=False))
    hot: bool = Field(sa_column=Column(Boolean, nullable=False))
    metadata_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    debits_posted: int = Field(default=0, sa_column=_money())
    credits_posted: int = Field(default=0, sa_column=_money())
    debits_pending: int = Field(default=0, sa_column=_money())
    credits_pending: int = Field(default=0, sa_column=_money())
    #: ``created_at`` of the account's last leg (non-hot accounts only): the floor of the
    #: ledger's clock for it, so legs are stamped in posting order and as-of balances, read from
    #: the running totals of the last leg by then, stay right (``ledger.posting``).
    last_leg_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class LedgerEntry(SQLModel, table=True):
    """One atomic business event. Never updated or deleted."""

    __tablename__ = "ledger_entries"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    content_hash: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    target_entry_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("ledger_entries.id"), nullable=True)
    )
    reverses_entry_id: int | None = Field(
        default=None,
        sa_column=Column(IdType, ForeignKey("ledger_entries.id"), nullable=True, unique=True),
    )
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    metadata_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    effective_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class LedgerLeg(SQLModel, table=True):
    """One side of an entry on one account.

    ``amount`` moves posted value, ``pending_amount`` reserves (+) or releases (-) pending value.
    For accounts that are not hot, ``*_after`` hold the account's running totals after this leg,
    so a balance as of any time is one index lookup instead of a sum over history.
    """

    __tablename__ = "ledger_legs"
    __table_args__ = (
        Index("ix_ledger_legs_account_entry", "account_id", "entry_id"),
        Index("ix_ledger_legs_account_created", "account_id", "created_at"),
        Index("ix_ledger_legs_entry", "entry_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    entry_id: int = Field(sa_column=Column(IdType, ForeignKey("ledger_entries.id"), nullable=False))
    account_id: int = Field(
        sa_column=Column(IdType, ForeignKey("ledger_accounts.id"), nullable=False)
    )
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    is_debit: bool = Field(sa_column=Column(Boolean, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    pending_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    debits_posted_after: int | None = Field(default=None, sa_column=_money(nullable=True))
    credits_posted_after: int | None = Field(default=None, sa_column=_money(nullable=True))
    debits_pending_after: int | None = Field(default=None, sa_column=_money(nullable=True))
    credits_pending_after: int | None = Field(default=None, sa_column=_money(nullable=True))


class LedgerPending(SQLModel, table=True):
    """The state of a pending entry: a small mutable index beside the immutable journal.

    ``post_at`` is when the pending entry is due to be posted (a refund hold's end),
    ``expires_at`` when it can no longer be posted; both indexed with the status, so the jobs
    that look for due or expired entries read an index range, not the journal."""

    __tablename__ = "ledger_pending"
    __table_args__ = (
        Index("ix_ledger_pending_status_post_at", "status", "post_at"),
        Index("ix_ledger_pending_status_expires_at", "status", "expires_at"),
    )

    entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("ledger_entries.id"), primary_key=True)
    )
    status: str = Field(sa_column=Column(String(10), nullable=False, index=True))
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    post_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    resolved_entry_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("ledger_entries.id"), nullable=True)
    )


class LedgerSeal(SQLModel, table=True):
    """A hash-chain link over entries ``from_entry_id..to_entry_id`` (every one, in id order)
    and, from ``version`` 2, the accounts opened since the previous seal (ids up to
    ``account_upto``, ``account_count`` of them). Version 1 seals (before migration 0007) cover
    entries only, in an older encoding (``ledger.seal``)."""

    __tablename__ = "ledger_seals"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    from_entry_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    to_entry_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    entry_count: int = Field(sa_column=Column(BigInteger, nullable=False))
    max_created_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    sealed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    version: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    account_upto: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    account_count: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class LedgerCheckpoint(SQLModel, table=True):
    """A hot account's totals as rolled up by one seal: the base for its balance as of a time."""

    __tablename__ = "ledger_checkpoints"

    seal_id: int = Field(sa_column=Column(IdType, ForeignKey("ledger_seals.id"), primary_key=True))
    account_id: int = Field(
        sa_column=Column(IdType, ForeignKey("ledger_accounts.id"), primary_key=True)
    )
    debits_posted: int = Field(sa_column=Column(BigInteger, nullable=False))
    credits_posted: int = Field(sa_column=Column(BigInteger, nullable=False))
    debits_pending: int = Field(sa_column=Column(BigInteger, nullable=False))
    credits_pending: int = Field(sa_column=Column(BigInteger, nullable=False))


metadata = SQLModel.metadata
