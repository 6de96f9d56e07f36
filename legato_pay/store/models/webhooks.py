"""The webhook inbox: every verified gateway event, stored before it is acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


class WebhookEvent(SQLModel, table=True):
    """One provider event, unique per (provider, event key); applied at most once."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_key", name="uq_webhook_events_provider_key"),
        Index("ix_webhook_events_status", "status"),
        Index("ix_webhook_events_object", "provider", "object_ref"),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    provider: str = Field(sa_column=Column(String(20), nullable=False))
    event_key: str = Field(sa_column=Column(String(300), nullable=False))
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    object_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    # received | applied | ignored | flagged | failed
    status: str = Field(sa_column=Column(String(20), nullable=False))
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    applied_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
