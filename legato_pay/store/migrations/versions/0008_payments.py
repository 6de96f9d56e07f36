"""purchases record the Paystack payment channels the payer may use

``purchases create --channels card,ussd`` restricts a Paystack checkout to those channels; the
purchase keeps them (comma-separated, NULL for "every channel the account offers") so that
``purchases show`` says what the payer was offered and a retry under the same key is the same
request.

Revision ID: 0008_payments
Revises: 0007_ledger_integrity
Create Date: 2026-11-30 05:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_payments"
down_revision: str | Sequence[str] | None = "0007_ledger_integrity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_column("channels")
