"""The tax tables as plain Core, rendered from ``models/tax.py``: do not edit."""

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    String,
    Table,
    UniqueConstraint,
)

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "tax_profiles",
    metadata,
    Column(
        "writer_id",
        String(length=100),
        ForeignKey("users.id"),
        primary_key=True,
        nullable=False,
    ),
    Column("country", String(length=2), nullable=False),
    Column("payee_type", String(length=12), nullable=False),
    Column("tin", String(length=32), nullable=True),
    Column("actor", String(length=200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

Table(
    "tax_remittances",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("country", String(length=2), nullable=False),
    Column("period", String(length=7), nullable=False),
    Column("currency", String(length=8), nullable=False),
    Column("amount", BigInteger(), nullable=False),
    Column("reference", String(length=100), nullable=False),
    Column("due_date", Date(), nullable=False),
    Column("entry_id", IdType, nullable=True),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("country", "period", "currency"),
)
