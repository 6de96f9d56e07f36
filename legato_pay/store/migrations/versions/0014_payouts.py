"""payout methods, payouts and their timeline

``payout_methods`` keeps where writers are paid (account numbers and recipient codes only as
Fernet tokens); ``payouts`` one row per request, gross = net + fee + tax, with the pending
ledger entry that reserves it; ``payout_events`` every status change with its actor.

Revision ID: 0014_payouts
Revises: 0013_approvals
Create Date: 2026-11-30 06:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014_payouts"
down_revision: str | Sequence[str] | None = "0013_approvals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "payout_methods",
        sa.Column("id", _ID, nullable=False),
        sa.Column("writer_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("bank_code", sa.String(length=20), nullable=True),
        sa.Column("account_name", sa.String(length=200), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("account_token", sa.Text(), nullable=True),
        sa.Column("recipient_token", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
        sa.Column("removed_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["writer_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payout_methods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payout_methods_writer_status", ["writer_id", "status"], unique=False
        )

    op.create_table(
        "payouts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("writer_id", sa.String(length=100), nullable=False),
        sa.Column("method_id", _ID, nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("gross", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate", sa.String(length=20), nullable=False),
        sa.Column("tax_country", sa.String(length=2), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("resolution_entry_id", _ID, nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["method_id"], ["payout_methods.id"]),
        sa.ForeignKeyConstraint(["writer_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_method_id"), ["method_id"], unique=False)
        batch_op.create_index("ix_payouts_status", ["status"], unique=False)
        batch_op.create_index("ix_payouts_writer_status", ["writer_id", "status"], unique=False)

    op.create_table(
        "payout_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("payout_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["payout_id"], ["payouts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payout_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payout_events_payout_id"), ["payout_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("payout_events")
    op.drop_table("payouts")
    op.drop_table("payout_methods")
