"""The health tables as plain Core, rendered from ``models/health.py``: do not edit."""

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text

from legato_pay.store.models.core import metadata

Table(
    "health_records",
    metadata,
    Column("key", String(length=100), primary_key=True, nullable=False),
    Column("ok", Boolean(), nullable=False),
    Column("detail", Text(), nullable=False),
    Column("elapsed_ms", Integer(), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)
