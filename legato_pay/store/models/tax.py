"""Tables of withholding tax: each writer's tax profile, and remittances to the tax authority.

The withheld money itself lives in the ledger (``tax:withholding:<country>:<CUR>``); a
remittance row records which period of which country was paid, with the ledger entry that
moved the liability to cash. ``(country, period, currency)`` is unique: a period is never
remitted twice.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, DateTime, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


class TaxProfile(SQLModel, table=True):
    """Where a writer is taxed, as whom, and their taxpayer identification number (if any)."""

    __tablename__ = "tax_profiles"

    writer_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), primary_key=True))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    payee_type: str = Field(sa_column=Column(String(12), nullable=False))
    tin: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TaxRemittance(SQLModel, table=True):
    """One period's withheld tax of one country and currency paid to the authority."""

    __tablename__ = "tax_remittances"
    __table_args__ = (UniqueConstraint("country", "period", "currency"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    period: str = Field(sa_column=Column(String(7), nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    reference: str = Field(sa_column=Column(String(100), nullable=False))
    due_date: date = Field(sa_column=Column(Date, nullable=False))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
