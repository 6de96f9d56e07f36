"""payouts converted to another currency (--convert-to)

A payout requested with ``--convert-to`` is paid in the target currency; these columns keep
the earnings' currency and gross it came from and the exchange rate it used (the rate row's
id, its decimal text and its as-of time). All NULL for a payout in its earnings' currency.

Revision ID: 0019_payout_reports
Revises: 0018_health
Create Date: 2026-11-30 09:10:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0019_payout_reports"
down_revision: str | Sequence[str] | None = "0018_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COLUMNS = ("source_currency", "source_gross", "fx_rate", "fx_rate_id", "fx_rate_as_of")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(sa.Column("source_currency", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("source_gross", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("fx_rate", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("fx_rate_id", _ID, nullable=True))
        batch.add_column(sa.Column("fx_rate_as_of", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("payouts") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
