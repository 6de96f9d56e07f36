"""payout sending: gateway, reference, transfer id and outcome of each payout

``payouts run`` marks a payout ``sending`` with its one reference (``payout-<id>``) before any
gateway call; the provider's transfer id and status, when it was sent and settled, why it
failed, the settlement entry (the gross out of ``payouts:in_flight``) and the reversal entry
complete the row.

Revision ID: 0015_payout_sending
Revises: 0014_payouts
Create Date: 2026-11-30 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015_payout_sending"
down_revision: str | Sequence[str] | None = "0014_payouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gateway", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("reference", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("transfer_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("transfer_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sent_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("settled_at", _WHEN, nullable=True))
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("settlement_entry_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("reversal_entry_id", _ID, nullable=True))
        batch_op.create_index("ux_payouts_reference", ["reference"], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ux_payouts_reference")
        for column in (
            "reversal_entry_id",
            "settlement_entry_id",
            "failure_reason",
            "settled_at",
            "sent_at",
            "transfer_status",
            "transfer_id",
            "reference",
            "gateway",
        ):
            batch_op.drop_column(column)
