"""The readers tables as plain Core, rendered from ``models/readers.py``: do not edit."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "coin_packages",
    metadata,
    Column("id", String(length=64), primary_key=True, nullable=False),
    Column("name", String(length=200), nullable=False),
    Column("coins", BigInteger(), nullable=False),
    Column("bonus_percent", String(length=16), nullable=False),
    Column("price_usd", BigInteger(), nullable=False),
    Column("prices_json", Text(), nullable=False),
    Column("status", String(length=10), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

Table(
    "coin_transfers",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("kind", String(length=10), nullable=False, index=True),
    Column("from_user", String(length=100), ForeignKey("users.id"), nullable=False, index=True),
    Column("to_user", String(length=100), ForeignKey("users.id"), nullable=False, index=True),
    Column("coins", BigInteger(), nullable=False),
    Column("content_id", String(length=100), nullable=True),
    Column("message", Text(), nullable=True),
    Column("value_currency", String(length=8), nullable=True),
    Column("value", BigInteger(), nullable=False),
    Column("writer_share", BigInteger(), nullable=False),
    Column("platform_share", BigInteger(), nullable=False),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("entry_id", IdType, nullable=True),
    Column("writer_entry_id", IdType, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

Table(
    "content_items",
    metadata,
    Column("id", String(length=100), primary_key=True, nullable=False),
    Column("writer_id", String(length=100), ForeignKey("users.id"), nullable=False, index=True),
    Column("type", String(length=20), nullable=False),
    Column("price_coins", BigInteger(), nullable=False),
    Column("tier", String(length=20), nullable=True),
    Column("title", String(length=300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

Table(
    "content_unlocks",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("user_id", String(length=100), ForeignKey("users.id"), nullable=False),
    Column(
        "content_id",
        String(length=100),
        ForeignKey("content_items.id"),
        nullable=False,
        index=True,
    ),
    Column("writer_id", String(length=100), nullable=False, index=True),
    Column("coins", BigInteger(), nullable=False),
    Column("bonus_coins_used", BigInteger(), nullable=False),
    Column("paid_coins_used", BigInteger(), nullable=False),
    Column("value_currency", String(length=8), nullable=False),
    Column("value", BigInteger(), nullable=False),
    Column("writer_share", BigInteger(), nullable=False),
    Column("platform_share", BigInteger(), nullable=False),
    Column("entry_id", IdType, nullable=True),
    Column("writer_entry_id", IdType, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("user_id", "content_id", name="uq_content_unlocks_user_content"),
)

Table(
    "engagement",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("user_id", String(length=100), ForeignKey("users.id"), nullable=False),
    Column("content_id", String(length=100), ForeignKey("content_items.id"), nullable=False),
    Column("writer_id", String(length=100), nullable=False),
    Column("minutes", Integer(), nullable=False),
    Column("period", String(length=7), nullable=False),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("row_key", String(length=64), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_engagement_period_id", "period", "id"),
    Index("ix_engagement_period_user", "period", "user_id"),
    Index("ix_engagement_period_writer", "period", "writer_id"),
    Index("ux_engagement_row_key", "row_key", unique=True),
)

Table(
    "engagement_user_totals",
    metadata,
    Column("period", String(length=7), primary_key=True, nullable=False),
    Column("user_id", String(length=100), primary_key=True, nullable=False),
    Column("minutes", BigInteger(), nullable=False),
)

Table(
    "engagement_writer_totals",
    metadata,
    Column("period", String(length=7), primary_key=True, nullable=False),
    Column("writer_id", String(length=100), primary_key=True, nullable=False),
    Column("minutes", BigInteger(), nullable=False),
)

Table(
    "fx_rates",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("base", String(length=8), nullable=False),
    Column("quote", String(length=8), nullable=False),
    Column("rate", String(length=40), nullable=False),
    Column("source", String(length=100), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_fx_rates_pair_as_of", "base", "quote", "as_of"),
)

Table(
    "purchase_refunds",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column(
        "reference",
        String(length=100),
        ForeignKey("purchases.reference"),
        nullable=False,
        index=True,
    ),
    Column("idempotency_key", String(length=200), nullable=False, unique=True),
    Column("amount", BigInteger(), nullable=False),
    Column("coins_clawed_back", BigInteger(), nullable=False),
    Column("coins_lost", BigInteger(), nullable=False),
    Column("gateway_refund_id", String(length=200), nullable=True, index=True),
    Column("status", String(length=20), nullable=False),
    Column("entry_id", IdType, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

Table(
    "purchases",
    metadata,
    Column("reference", String(length=100), primary_key=True, nullable=False),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("user_id", String(length=100), ForeignKey("users.id"), nullable=False, index=True),
    Column("package_id", String(length=64), ForeignKey("coin_packages.id"), nullable=False),
    Column("coins", BigInteger(), nullable=False),
    Column("bonus_coins", BigInteger(), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("rate_id", IdType, ForeignKey("fx_rates.id"), nullable=True),
    Column("gateway", String(length=20), nullable=False),
    Column("gateway_payment_id", String(length=200), nullable=True),
    Column("client_secret", String(length=300), nullable=True),
    Column("payment_url", String(length=500), nullable=True),
    Column("payment_method", String(length=100), nullable=True),
    Column("channels", String(length=200), nullable=True),
    Column("status", String(length=20), nullable=False, index=True),
    Column("failure_reason", Text(), nullable=True),
    Column("entry_id", IdType, nullable=True),
    Column("refunded_amount", BigInteger(), nullable=False),
    Column("coins_clawed_back", BigInteger(), nullable=False),
    Column("coins_lost", BigInteger(), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("credited_at", DateTime(timezone=True), nullable=True),
)

Table(
    "sandbox_payments",
    metadata,
    Column("id", String(length=100), primary_key=True, nullable=False),
    Column("kind", String(length=10), nullable=False),
    Column("reference", String(length=200), nullable=False, unique=True),
    Column("amount", BigInteger(), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("payment_method", String(length=100), nullable=False),
    Column("status", String(length=20), nullable=False),
    Column("paid_amount", BigInteger(), nullable=False),
    Column("paid_currency", String(length=8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

Table(
    "subscriptions",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("user_id", String(length=100), ForeignKey("users.id"), nullable=False, index=True),
    Column("tier", String(length=20), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("gateway", String(length=20), nullable=False),
    Column("gateway_payment_id", String(length=200), nullable=True),
    Column("status", String(length=20), nullable=False, index=True),
    Column("period", String(length=7), nullable=False, index=True),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("entry_id", IdType, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
)

Table(
    "users",
    metadata,
    Column("id", String(length=100), primary_key=True, nullable=False),
    Column("kind", String(length=10), nullable=False),
    Column("email", String(length=254), nullable=True),
    Column("name", String(length=200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
