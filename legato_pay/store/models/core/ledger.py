"""The ledger tables as plain Core, rendered from ``models/ledger.py``: do not edit."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
)

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "ledger_accounts",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("code", String(length=200), nullable=False, unique=True),
    Column("currency", String(length=8), nullable=False),
    Column("normal_side", String(length=6), nullable=False),
    Column("no_overdraft", Boolean(), nullable=False),
    Column("hot", Boolean(), nullable=False),
    Column("metadata_json", Text(), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("debits_posted", BigInteger(), nullable=False, default=0),
    Column("credits_posted", BigInteger(), nullable=False, default=0),
    Column("debits_pending", BigInteger(), nullable=False, default=0),
    Column("credits_pending", BigInteger(), nullable=False, default=0),
    Column("last_leg_at", DateTime(timezone=True), nullable=True),
)

Table(
    "ledger_checkpoints",
    metadata,
    Column("seal_id", IdType, ForeignKey("ledger_seals.id"), primary_key=True, nullable=False),
    Column(
        "account_id",
        IdType,
        ForeignKey("ledger_accounts.id"),
        primary_key=True,
        nullable=False,
    ),
    Column("debits_posted", BigInteger(), nullable=False),
    Column("credits_posted", BigInteger(), nullable=False),
    Column("debits_pending", BigInteger(), nullable=False),
    Column("credits_pending", BigInteger(), nullable=False),
)

Table(
    "ledger_entries",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("content_hash", String(length=64), nullable=False),
    Column("kind", String(length=16), nullable=False),
    Column("target_entry_id", IdType, ForeignKey("ledger_entries.id"), nullable=True),
    Column(
        "reverses_entry_id",
        IdType,
        ForeignKey("ledger_entries.id"),
        nullable=True,
        unique=True,
    ),
    Column("actor", String(length=200), nullable=False),
    Column("reason", Text(), nullable=True),
    Column("metadata_json", Text(), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("effective_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

Table(
    "ledger_legs",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("entry_id", IdType, ForeignKey("ledger_entries.id"), nullable=False),
    Column("account_id", IdType, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("is_debit", Boolean(), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("pending_amount", BigInteger(), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("debits_posted_after", BigInteger(), nullable=True),
    Column("credits_posted_after", BigInteger(), nullable=True),
    Column("debits_pending_after", BigInteger(), nullable=True),
    Column("credits_pending_after", BigInteger(), nullable=True),
    Index("ix_ledger_legs_account_created", "account_id", "created_at"),
    Index("ix_ledger_legs_account_entry", "account_id", "entry_id"),
    Index("ix_ledger_legs_entry", "entry_id"),
)

Table(
    "ledger_pending",
    metadata,
    Column("entry_id", IdType, ForeignKey("ledger_entries.id"), primary_key=True, nullable=False),
    Column("status", String(length=10), nullable=False, index=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("post_at", DateTime(timezone=True), nullable=True),
    Column("resolved_entry_id", IdType, ForeignKey("ledger_entries.id"), nullable=True),
    Index("ix_ledger_pending_status_expires_at", "status", "expires_at"),
    Index("ix_ledger_pending_status_post_at", "status", "post_at"),
)

Table(
    "ledger_seals",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("from_entry_id", BigInteger(), nullable=False),
    Column("to_entry_id", BigInteger(), nullable=False, unique=True),
    Column("entry_count", BigInteger(), nullable=False),
    Column("max_created_at", DateTime(timezone=True), nullable=True),
    Column("prev_hash", String(length=64), nullable=False),
    Column("hash", String(length=64), nullable=False),
    Column("sealed_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(length=200), nullable=False),
    Column("version", SmallInteger(), nullable=True),
    Column("account_upto", BigInteger(), nullable=True),
    Column("account_count", BigInteger(), nullable=True),
)
