"""reports: account codes searchable by prefix on PostgreSQL (text_pattern_ops)

Reports read the ledger by account family (``platform:revenue:%``, ``writer:%``,
``user:%:coins:%``): ``code LIKE 'prefix%'``. PostgreSQL's unique index on ``code`` serves a
LIKE only under the "C" collation; this index (``text_pattern_ops``) serves it under any, so
finding a family is an index range scan instead of reading every account (a seq scan of the
accounts took 27 of the 29 ms of the platform report's ledger query on 42,000 accounts).
SQLite's LIKE is case-insensitive and never uses an index: nothing to do there. The index is
PostgreSQL-only, so it is not in the models (``schema.POSTGRES_ONLY_INDEXES``).

Revision ID: 0022_reports
Revises: 0019_payout_reports
Create Date: 2026-11-30 09:08:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0022_reports"
down_revision: str | Sequence[str] | None = "0019_payout_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_ledger_accounts_code_pattern ON ledger_accounts (code text_pattern_ops)"
        )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_ledger_accounts_code_pattern")
