"""revenue runs: licensing and ads receipts, runs per (period, stream), per-writer lines

Revision ID: 0012_revenue
Revises: 0011_shares
Create Date: 2026-11-30 06:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012_revenue"
down_revision: str | Sequence[str] | None = "0011_shares"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "revenue_receipts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("writer_id", sa.String(length=100), nullable=False),
        sa.Column("content_id", sa.String(length=100), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("writer_share", sa.BigInteger(), nullable=False),
        sa.Column("platform_share", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("entry_id", _ID, nullable=True),
        sa.Column("writer_entry_id", _ID, nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["writer_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("revenue_receipts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_revenue_receipts_stream_created", ["stream", "created_at"], unique=False
        )
    op.create_table(
        "revenue_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("writer_percent", sa.String(length=16), nullable=False),
        sa.Column("platform_percent", sa.String(length=16), nullable=False),
        sa.Column("totals_json", sa.Text(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("engagement_watermark", sa.BigInteger(), nullable=True),
        sa.Column("forced_reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period", "stream", name="uq_revenue_runs_period_stream"),
    )
    op.create_table(
        "revenue_lines",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("writer_id", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("basis_minutes", sa.BigInteger(), nullable=False),
        sa.Column("basis_value", sa.BigInteger(), nullable=False),
        sa.Column("paid_before", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remainder_units", sa.Integer(), nullable=False),
        sa.Column("entry_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["revenue_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.create_index("ix_revenue_lines_run_writer", ["run_id", "writer_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("revenue_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_revenue_lines_run_writer")
    op.drop_table("revenue_lines")
    op.drop_table("revenue_runs")
    with op.batch_alter_table("revenue_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_revenue_receipts_stream_created")
    op.drop_table("revenue_receipts")
