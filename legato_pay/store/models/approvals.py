"""Tables of maker-checker approvals: approvers' public keys per scope, and signed approvals.

An approver is a name on a scope's list (``payouts`` or ``app:<A>``) holding an Ed25519 public
key. Removing one keeps its row (``removed_at``): approvals point at the row they were signed
under, so re-adding the same name later (a new row, the next ``generation``) never revives an
approval the removal voided. An approval stores the exact canonical payload it signed and the
signature, so it can be re-checked at any time (``ledger verify``-style) and against the
subject's current content when it is counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from legato_pay.store.columns import IdType


def _when(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class Approver(SQLModel, table=True):
    """One name on a scope's approver list, with its public key (hex of the raw 32 bytes)."""

    __tablename__ = "approvers"
    __table_args__ = (UniqueConstraint("scope", "name", "generation"),)

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    scope: str = Field(sa_column=Column(String(120), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    generation: int = Field(sa_column=Column(Integer, nullable=False))
    public_key: str = Field(sa_column=Column(String(64), nullable=False))
    added_by: str = Field(sa_column=Column(String(200), nullable=False))
    added_at: datetime = Field(sa_column=_when())
    removed_by: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    removed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


class Approval(SQLModel, table=True):
    """One approver's signature over one subject's canonical payload (never edited, only
    voided or consumed)."""

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("scope", "subject_kind", "subject_id", "approver_id", "payload_sha256"),
        Index("ix_approvals_subject", "scope", "subject_kind", "subject_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(IdType, primary_key=True))
    scope: str = Field(sa_column=Column(String(120), nullable=False))
    subject_kind: str = Field(sa_column=Column(String(40), nullable=False))
    subject_id: str = Field(sa_column=Column(String(100), nullable=False))
    approver_id: int = Field(
        sa_column=Column(IdType, ForeignKey("approvers.id"), nullable=False, index=True)
    )
    approver_name: str = Field(sa_column=Column(String(100), nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
    payload_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    signature: str = Field(sa_column=Column(String(128), nullable=False))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=_when())
    consumed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    void_reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
