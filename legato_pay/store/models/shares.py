"""Tables of the investment side: apps, their share register and app revenue distributions.

The register is a journal of movements (``share_movements``: issues and transfers, never
edited), so the holders at any past time are a sum over it; ``share_holdings`` keeps each
holder's current units beside it, the row a transfer locks and decrements conditionally, so
concurrent transfers from one holder can never sell more units than it holds. Money lives in
the ledger; a priced transfer and a distribution point at their entries (``entry_id``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _when(nullable: bool = False, index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class App(SQLModel, table=True):
    """An app investors hold shares in; ``owner_id`` is who escrow releases pay."""

    __tablename__ = "apps"

    id: str = Field(sa_column=Column(String(100), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    owner_id: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), nullable=False, index=True)
    )
    created_at: datetime = Field(sa_column=_when())


class ShareHolding(SQLModel, table=True):
    """A holder's current units in an app: the row transfers lock (the journal is the truth)."""

    __tablename__ = "share_holdings"

    app_id: str = Field(sa_column=Column(String(100), ForeignKey("apps.id"), primary_key=True))
    investor_id: str = Field(
        sa_column=Column(String(100), ForeignKey("users.id"), primary_key=True)
    )
    units: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=_when())


class ShareMovement(SQLModel, table=True):
    """One issue (no ``from_investor``) or transfer of units; a priced transfer's payment is
    ledger entry ``entry_id``."""

    __tablename__ = "share_movements"
    __table_args__ = (Index("ix_share_movements_app_created", "app_id", "created_at"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    app_id: str = Field(sa_column=Column(String(100), ForeignKey("apps.id"), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))  # issue | transfer
    from_investor: str | None = Field(
        default=None, sa_column=Column(String(100), ForeignKey("users.id"), nullable=True)
    )
    to_investor: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    units: int = Field(sa_column=Column(BigInteger, nullable=False))
    price: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    entry_id: int | None = Field(default=None, sa_column=Column(IdType, nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())


class AppDistribution(SQLModel, table=True):
    """One distribution of an app's revenue to its holders at a record date: one ledger entry."""

    __tablename__ = "app_distributions"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    app_id: str = Field(
        sa_column=Column(String(100), ForeignKey("apps.id"), nullable=False, index=True)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    record_date: datetime = Field(sa_column=_when())
    total_units: int = Field(sa_column=Column(BigInteger, nullable=False))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    entry_id: int = Field(sa_column=Column(IdType, nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())


class AppDistributionLine(SQLModel, table=True):
    """What one holder received: units at the record date, amount, and the remainder unit."""

    __tablename__ = "app_distribution_lines"

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    distribution_id: int = Field(
        sa_column=Column(IdType, ForeignKey("app_distributions.id"), nullable=False, index=True)
    )
    investor_id: str = Field(sa_column=Column(String(100), ForeignKey("users.id"), nullable=False))
    units: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    remainder_units: int = Field(sa_column=Column(BigInteger, nullable=False))
