"""reconciliation runs and their items

``reconcile_runs`` one row per ``reconcile`` run (gateway, period, source of the gateway's
records, counts and totals); ``reconcile_items`` what each run found, matched or not.

Revision ID: 0017_reconcile
Revises: 0016_escrow
Create Date: 2026-11-30 09:20:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0017_reconcile"
down_revision: str | Sequence[str] | None = "0016_escrow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "reconcile_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("gateway", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=True),
        sa.Column("period_from", _WHEN, nullable=False),
        sa.Column("period_to", _WHEN, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("totals_json", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reconcile_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconcile_runs_gateway_created", ["gateway", "created_at"], unique=False
        )
    op.create_table(
        "reconcile_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("gateway_id", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("ledger_amount", sa.BigInteger(), nullable=True),
        sa.Column("ledger_currency", sa.String(length=8), nullable=True),
        sa.Column("gateway_amount", sa.BigInteger(), nullable=True),
        sa.Column("gateway_currency", sa.String(length=8), nullable=True),
        sa.Column("gateway_status", sa.String(length=30), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", _WHEN, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["reconcile_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reconcile_items", schema=None) as batch_op:
        batch_op.create_index("ix_reconcile_items_run_kind", ["run_id", "kind"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("reconcile_items", schema=None) as batch_op:
        batch_op.drop_index("ix_reconcile_items_run_kind")
    op.drop_table("reconcile_items")
    with op.batch_alter_table("reconcile_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_reconcile_runs_gateway_created")
    op.drop_table("reconcile_runs")
