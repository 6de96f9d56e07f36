"""The reconcile tables as plain Core, rendered from ``models/reconcile.py``: do not edit."""

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String, Table, Text

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "reconcile_items",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("run_id", IdType, ForeignKey("reconcile_runs.id"), nullable=False),
    Column("kind", String(length=24), nullable=False),
    Column("direction", String(length=3), nullable=False),
    Column("entry_id", IdType, nullable=True),
    Column("gateway_id", String(length=200), nullable=True),
    Column("reference", String(length=200), nullable=True),
    Column("ledger_amount", BigInteger(), nullable=True),
    Column("ledger_currency", String(length=8), nullable=True),
    Column("gateway_amount", BigInteger(), nullable=True),
    Column("gateway_currency", String(length=8), nullable=True),
    Column("gateway_status", String(length=30), nullable=True),
    Column("fee", BigInteger(), nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=True),
    Column("note", Text(), nullable=True),
    Index("ix_reconcile_items_run_kind", "run_id", "kind"),
)

Table(
    "reconcile_runs",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("gateway", String(length=20), nullable=False),
    Column("source", String(length=10), nullable=False),
    Column("file_name", String(length=300), nullable=True),
    Column("period_from", DateTime(timezone=True), nullable=False),
    Column("period_to", DateTime(timezone=True), nullable=False),
    Column("status", String(length=20), nullable=False),
    Column("counts_json", Text(), nullable=False),
    Column("totals_json", Text(), nullable=False),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_reconcile_runs_gateway_created", "gateway", "created_at"),
)
