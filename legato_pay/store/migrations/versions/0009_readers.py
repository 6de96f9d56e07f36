"""engagement row keys and content updates

``engagement.row_key`` (unique) is the hash of a reading's natural key (user, content,
recorded_at, minutes), so an import of the same rows again counts nothing twice; rows recorded
before it have none. ``content_items.updated_at`` says when ``content update`` last changed a
piece.

Revision ID: 0009_readers
Revises: 0008_payments
Create Date: 2026-11-30 05:45:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009_readers"
down_revision: str | Sequence[str] | None = "0008_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("engagement", sa.Column("row_key", sa.String(length=64), nullable=True))
    op.create_index("ux_engagement_row_key", "engagement", ["row_key"], unique=True)
    op.add_column(
        "content_items", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("content_items") as batch:
        batch.drop_column("updated_at")
    op.drop_index("ux_engagement_row_key", table_name="engagement")
    with op.batch_alter_table("engagement") as batch:
        batch.drop_column("row_key")
