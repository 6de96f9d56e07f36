"""Tables of revenue runs: licensing and ads receipts, runs per (period, stream) and their
per-writer lines.

Money lives in the ledger; a run row says what a run used (model, percentages, actor, totals)
and each line what one writer received and why (basis minutes or value, remainder units).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
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


def _when(nullable: bool = False, index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class RevenueReceipt(SQLModel, table=True):
    """Licensing or ads money the platform received for a writer's work, as split."""

    __tablename__ = "revenue_receipts"
    __table_args__ = (Index("ix_revenue_receipts_stream_created", "stream", "created_at"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    stream: str = Field(sa_column=Column(String(20), nullable=False))  # licensing | ads
    writer_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    content_id: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    writer_share: int = Field(sa_column=Column(BigInteger, nullable=False))
    platform_share: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(sa_column=Column(String(500), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    writer_entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())


class RevenueRun(SQLModel, table=True):
    """One run of one stream for one period: at most one per (period, stream)."""

    __tablename__ = "revenue_runs"
    __table_args__ = (UniqueConstraint("period", "stream", name="uq_revenue_runs_period_stream"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    period: str = Field(sa_column=Column(String(7), nullable=False))
    stream: str = Field(sa_column=Column(String(20), nullable=False))
    model: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))  # completed
    writer_percent: str = Field(sa_column=Column(String(16), nullable=False))
    platform_percent: str = Field(sa_column=Column(String(16), nullable=False))
    totals_json: str = Field(sa_column=Column(Text, nullable=False))
    report_json: str = Field(sa_column=Column(Text, nullable=False))
    engagement_watermark: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    forced_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())


class RevenueDistribution(SQLModel, table=True):
    """One writer's line of a run: a pool share or a true-up adjustment, in one currency."""

    __tablename__ = "revenue_lines"
    __table_args__ = (Index("ix_revenue_lines_run_writer", "run_id", "writer_id"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    run_id: int = Field(sa_column=Column(IdType, ForeignKey("revenue_runs.id"), nullable=False))
    writer_id: str = Field(sa_column=Column(String(100), nullable=False))
    stream: str = Field(sa_column=Column(String(20), nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))  # share | adjustment
    basis_minutes: int = Field(sa_column=Column(BigInteger, nullable=False))
    basis_value: int = Field(sa_column=Column(BigInteger, nullable=False))
    paid_before: int = Field(sa_column=Column(BigInteger, nullable=False))
    share: str = Field(sa_column=Column(String(40), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    remainder_units: int = Field(sa_column=Column(Integer, nullable=False))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
