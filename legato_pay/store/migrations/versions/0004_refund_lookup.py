"""index refunds by the gateway's refund id

Refund webhooks find our refund by the provider's refund id; without an index every refund event
scanned the whole table.

Revision ID: 0004_refund_lookup
Revises: 0003_webhooks
Create Date: 2026-11-22 08:45:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_refund_lookup"
down_revision: str | Sequence[str] | None = "0003_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(
        op.f("ix_purchase_refunds_gateway_refund_id"),
        "purchase_refunds",
        ["gateway_refund_id"],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_purchase_refunds_gateway_refund_id"), table_name="purchase_refunds")
