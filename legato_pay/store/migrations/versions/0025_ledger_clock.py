"""ledger clock: each non-hot account keeps the time of its last leg (``last_leg_at``)

A balance as of a time is read from the running totals of the account's last leg by then, which
is right only if legs are stamped in the order they were posted. Posting used to stamp them with
the caller's time, so a caller passing an earlier time (a backdated record, an import with its
own times, a run for a past period, or two hosts' clocks racing) put a leg before one posted
earlier, and as-of balances around it were wrong. Posting now stamps an entry no earlier than
the last leg of any non-hot account it touches, read from and written to this column in the
same conditional update as the totals (on PostgreSQL the row lock makes it see the latest
committed value); the caller's time stays the entry's ``effective_at``.

Filled here from each account's legs. Legs already stamped out of order stay as they are
(entries are never edited); ``ledger verify`` reports them (``LEG_CLOCK``).

Revision ID: 0025_ledger_clock
Revises: 0022_reports
Create Date: 2026-11-30 12:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0025_ledger_clock"
down_revision: str | Sequence[str] | None = "0022_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("ledger_accounts", sa.Column("last_leg_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE ledger_accounts SET last_leg_at = (SELECT max(l.created_at) FROM ledger_legs AS l"
        " WHERE l.account_id = ledger_accounts.id) WHERE NOT hot"
    )


def downgrade() -> None:
    """Downgrade schema."""
    # Not a batch (SQLite would copy the table, and dropping the old one trips the legs' foreign
    # keys): both databases drop a column in place (SQLite since 3.35).
    op.execute("ALTER TABLE ledger_accounts DROP COLUMN last_leg_at")
