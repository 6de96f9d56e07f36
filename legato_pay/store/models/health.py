"""What ``legato-pay health`` remembers between runs: one row per check key.

``gateway:<name>`` rows cache a gateway probe's answer (a probe is an authenticated call, so it
is made at most once per ``health.gateway_cache_seconds``, never on every readiness check);
``ledger_verify`` holds the outcome of the last ``ledger verify`` (recorded by that command).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Text
from sqlmodel import Field, SQLModel


class HealthRecord(SQLModel, table=True):
    """The last outcome of one check: ok or not, what it found, when, how long it took."""

    __tablename__ = "health_records"

    key: str = Field(sa_column=Column(String(100), primary_key=True))
    ok: bool = Field(sa_column=Column(Boolean, nullable=False))
    detail: str = Field(sa_column=Column(Text, nullable=False))  # JSON object
    elapsed_ms: int = Field(sa_column=Column(Integer, nullable=False))
    checked_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
