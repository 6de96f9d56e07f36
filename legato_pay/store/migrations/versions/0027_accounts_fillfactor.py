"""ledger accounts keep half of each page free (PostgreSQL ``fillfactor`` 50)

Every posting updates its accounts' running totals. An update that finds room on the row's own
page is a HOT update: no new index entries (the table has three indexes). A page filled to
the brim, as new accounts leave it, sends every update to another page with three index
inserts. A revenue run opens its writers' accounts and credits them in one transaction, so
each row gets one new version while the old one cannot be pruned yet: half a page free keeps
all of those on their pages (posting 10,000 writer legs took 0.57 s against 0.36 s in
``bench/revenue_run.py``). Accounts are few and small, so the space does not matter.

Rows already stored keep their pages until they move; new ones are laid out the new way.
SQLite has no such setting: nothing to do there.

Revision ID: 0027_accounts_fillfactor
Revises: 0026_engagement_totals
Create Date: 2026-11-30 15:20:00

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0027_accounts_fillfactor"
down_revision: str | Sequence[str] | None = "0026_engagement_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    """Upgrade schema."""
    if _postgres():
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 50)")


def downgrade() -> None:
    """Downgrade schema."""
    if _postgres():
        op.execute("ALTER TABLE ledger_accounts RESET (fillfactor)")
