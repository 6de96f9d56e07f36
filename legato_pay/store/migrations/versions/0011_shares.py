"""apps, the share register and app revenue distributions

``share_movements`` is the register's journal (issues and transfers, never edited: the holders
at any past time are a sum over it); ``share_holdings`` holds each holder's current units, the
row a transfer locks. ``app_distributions`` and their lines record who received what of an
app's revenue at a record date, beside the one ledger entry that paid it.

Revision ID: 0011_shares
Revises: 0009_readers
Create Date: 2026-11-30 05:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011_shares"
down_revision: str | Sequence[str] | None = "0009_readers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "apps",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "share_holdings",
        sa.Column("app_id", sa.String(length=100), nullable=False),
        sa.Column("investor_id", sa.String(length=100), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.ForeignKeyConstraint(["investor_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("app_id", "investor_id"),
    )
    op.create_table(
        "share_movements",
        sa.Column("id", _ID, nullable=False),
        sa.Column("app_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("from_investor", sa.String(length=100), nullable=True),
        sa.Column("to_investor", sa.String(length=100), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.ForeignKeyConstraint(["from_investor"], ["users.id"]),
        sa.ForeignKeyConstraint(["to_investor"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("share_movements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_share_movements_app_created", ["app_id", "created_at"], unique=False
        )

    op.create_table(
        "app_distributions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("app_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("record_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_units", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("app_distributions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_distributions_app_id"), ["app_id"], unique=False)

    op.create_table(
        "app_distribution_lines",
        sa.Column("id", _ID, nullable=False),
        sa.Column("distribution_id", _ID, nullable=False),
        sa.Column("investor_id", sa.String(length=100), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remainder_units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["distribution_id"], ["app_distributions.id"]),
        sa.ForeignKeyConstraint(["investor_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("app_distribution_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_distribution_lines_distribution_id"),
            ["distribution_id"],
            unique=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("app_distribution_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_distribution_lines_distribution_id"))
    op.drop_table("app_distribution_lines")
    with op.batch_alter_table("app_distributions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_distributions_app_id"))
    op.drop_table("app_distributions")
    with op.batch_alter_table("share_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_share_movements_app_created")
    op.drop_table("share_movements")
    op.drop_table("share_holdings")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_owner_id"))
    op.drop_table("apps")
