"""The webhooks tables as plain Core, rendered from ``models/webhooks.py``: do not edit."""

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "webhook_events",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("provider", String(length=20), nullable=False),
    Column("event_key", String(length=300), nullable=False),
    Column("event_type", String(length=100), nullable=False),
    Column("object_ref", String(length=200), nullable=True),
    Column("payload", Text(), nullable=False),
    Column("status", String(length=20), nullable=False),
    Column("outcome", Text(), nullable=True),
    Column("attempts", Integer(), nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=True),
    Index("ix_webhook_events_object", "provider", "object_ref"),
    Index("ix_webhook_events_status", "status"),
    UniqueConstraint("provider", "event_key", name="uq_webhook_events_provider_key"),
)
