"""The approvals tables as plain Core, rendered from ``models/approvals.py``: do not edit."""

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from legato_pay.store.columns import IdType
from legato_pay.store.models.core import metadata

Table(
    "approvals",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("scope", String(length=120), nullable=False),
    Column("subject_kind", String(length=40), nullable=False),
    Column("subject_id", String(length=100), nullable=False),
    Column("approver_id", IdType, ForeignKey("approvers.id"), nullable=False, index=True),
    Column("approver_name", String(length=100), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("payload_sha256", String(length=64), nullable=False),
    Column("signature", String(length=128), nullable=False),
    Column("actor", String(length=200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("consumed_at", DateTime(timezone=True), nullable=True),
    Column("voided_at", DateTime(timezone=True), nullable=True),
    Column("void_reason", String(length=200), nullable=True),
    Index("ix_approvals_subject", "scope", "subject_kind", "subject_id"),
    UniqueConstraint("scope", "subject_kind", "subject_id", "approver_id", "payload_sha256"),
)

Table(
    "approvers",
    metadata,
    Column("id", IdType, primary_key=True, nullable=False),
    Column("scope", String(length=120), nullable=False),
    Column("name", String(length=100), nullable=False),
    Column("generation", Integer(), nullable=False),
    Column("public_key", String(length=64), nullable=False),
    Column("added_by", String(length=200), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("removed_by", String(length=200), nullable=True),
    Column("removed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("scope", "name", "generation"),
)
