"""The revenue tables as plain Core, rendered from ``models/revenue.py``: do not edit."""

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
    "revenue_lines",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("run_id", IdType, ForeignKey("revenue_runs.id"), nullable=False),
    Column("writer_id", String(length=100), nullable=False),
    Column("stream", String(length=20), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("kind", String(length=20), nullable=False),
    Column("basis_minutes", BigInteger(), nullable=False),
    Column("basis_value", BigInteger(), nullable=False),
    Column("paid_before", BigInteger(), nullable=False),
    Column("share", String(length=40), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("remainder_units", Integer(), nullable=False),
    Column("entry_id", IdType, nullable=True),
    Index("ix_revenue_lines_run_writer", "run_id", "writer_id"),
)

Table(
    "revenue_receipts",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("stream", String(length=20), nullable=False),
    Column("writer_id", String(length=100), ForeignKey("users.id"), nullable=False),
    Column("content_id", String(length=100), nullable=True),
    Column("amount", BigInteger(), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("writer_share", BigInteger(), nullable=False),
    Column("platform_share", BigInteger(), nullable=False),
    Column("source", String(length=500), nullable=False),
    Column("idempotency_key", String(length=200), nullable=False, unique=True),
    Column("entry_id", IdType, nullable=True),
    Column("writer_entry_id", IdType, nullable=True),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_revenue_receipts_stream_created", "stream", "created_at"),
)

Table(
    "revenue_runs",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("period", String(length=7), nullable=False),
    Column("stream", String(length=20), nullable=False),
    Column("model", String(length=20), nullable=True),
    Column("status", String(length=20), nullable=False),
    Column("writer_percent", String(length=16), nullable=False),
    Column("platform_percent", String(length=16), nullable=False),
    Column("totals_json", Text(), nullable=False),
    Column("report_json", Text(), nullable=False),
    Column("engagement_watermark", BigInteger(), nullable=True),
    Column("forced_reason", Text(), nullable=True),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("period", "stream", name="uq_revenue_runs_period_stream"),
)
