"""The shares tables as plain Core, rendered from ``models/shares.py``: do not edit."""

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String, Table

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "app_distribution_lines",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column(
        "distribution_id",
        IdType,
        ForeignKey("app_distributions.id"),
        nullable=False,
        index=True,
    ),
    Column("investor_id", String(length=100), ForeignKey("users.id"), nullable=False),
    Column("units", BigInteger(), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("remainder_units", BigInteger(), nullable=False),
)

Table(
    "app_distributions",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("app_id", String(length=100), ForeignKey("apps.id"), nullable=False, index=True),
    Column("amount", BigInteger(), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("record_date", DateTime(timezone=True), nullable=False),
    Column("total_units", BigInteger(), nullable=False),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("entry_id", IdType, nullable=False),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

Table(
    "apps",
    metadata,
    Column("id", String(length=100), primary_key=True, nullable=False),
    Column("name", String(length=200), nullable=False),
    Column("owner_id", String(length=100), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

Table(
    "share_holdings",
    metadata,
    Column("app_id", String(length=100), ForeignKey("apps.id"), primary_key=True, nullable=False),
    Column(
        "investor_id",
        String(length=100),
        ForeignKey("users.id"),
        primary_key=True,
        nullable=False,
    ),
    Column("units", BigInteger(), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

Table(
    "share_movements",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("app_id", String(length=100), ForeignKey("apps.id"), nullable=False),
    Column("kind", String(length=10), nullable=False),
    Column("from_investor", String(length=100), ForeignKey("users.id"), nullable=True),
    Column("to_investor", String(length=100), ForeignKey("users.id"), nullable=False),
    Column("units", BigInteger(), nullable=False),
    Column("price", BigInteger(), nullable=True),
    Column("currency", String(length=8), nullable=True),
    Column("entry_id", IdType, nullable=True),
    Column("idempotency_key", String(length=200), nullable=True, unique=True),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_share_movements_app_created", "app_id", "created_at"),
)
