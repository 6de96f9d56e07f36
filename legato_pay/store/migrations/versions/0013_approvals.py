"""approvers, signed approvals, tax profiles and tax remittances

``approvers`` holds each scope's approver list (Ed25519 public keys; a removed approver keeps
its row, a re-added name gets the next generation); ``approvals`` the signatures over the
canonical payloads they approve. ``tax_profiles`` says where and as whom a writer is taxed;
``tax_remittances`` which period of withheld tax was paid, one per country, period and currency.

Revision ID: 0013_approvals
Revises: 0012_revenue
Create Date: 2026-11-30 06:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013_approvals"
down_revision: str | Sequence[str] | None = "0012_revenue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "approvers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(length=200), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "name", "generation"),
    )
    op.create_table(
        "approvals",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("subject_kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column("approver_id", _ID, nullable=False),
        sa.Column("approver_name", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["approver_id"], ["approvers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "subject_kind", "subject_id", "approver_id", "payload_sha256"),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_approver_id"), ["approver_id"], unique=False)
        batch_op.create_index(
            "ix_approvals_subject", ["scope", "subject_kind", "subject_id"], unique=False
        )

    op.create_table(
        "tax_profiles",
        sa.Column("writer_id", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("payee_type", sa.String(length=12), nullable=False),
        sa.Column("tin", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["writer_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("writer_id"),
    )
    op.create_table(
        "tax_remittances",
        sa.Column("id", _ID, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("country", "period", "currency"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("tax_remittances")
    op.drop_table("tax_profiles")
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_approvals_subject")
        batch_op.drop_index(batch_op.f("ix_approvals_approver_id"))
    op.drop_table("approvals")
    op.drop_table("approvers")
