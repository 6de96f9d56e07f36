"""Tables of reconciliation runs: one row per ``reconcile`` run (the gateway, the period, where
the gateway's records came from, counts and totals) and one row per item it found (matched or
a discrepancy), never edited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _when(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class ReconcileRun(SQLModel, table=True):
    """One reconciliation of the ledger's clearing account at a gateway against the gateway's
    records for ``period_from..period_to`` (both inclusive, UTC)."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (Index("ix_reconcile_runs_gateway_created", "gateway", "created_at"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    gateway: str = Field(sa_column=Column(String(20), nullable=False))
    source: str = Field(sa_column=Column(String(10), nullable=False))  # api | csv | book
    file_name: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    period_from: datetime = Field(sa_column=_when())
    period_to: datetime = Field(sa_column=_when())
    status: str = Field(sa_column=Column(String(20), nullable=False))  # clean | discrepancies
    counts_json: str = Field(sa_column=Column(Text, nullable=False))
    totals_json: str = Field(sa_column=Column(Text, nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())


class ReconcileItem(SQLModel, table=True):
    """One finding of a run: a ledger item and/or a gateway record, and what was found."""

    __tablename__ = "reconcile_items"
    __table_args__ = (Index("ix_reconcile_items_run_kind", "run_id", "kind"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    run_id: int = Field(sa_column=Column(IdType, ForeignKey("reconcile_runs.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    direction: str = Field(sa_column=Column(String(3), nullable=False))  # in | out
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    gateway_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    reference: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    ledger_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    ledger_currency: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    gateway_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    gateway_currency: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    gateway_status: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    fee: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    occurred_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
