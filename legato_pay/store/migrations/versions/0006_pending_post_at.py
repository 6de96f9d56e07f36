"""pending entries carry their own "post at" time

Writers' earnings under a refund hold are pending entries whose end of hold was only written in
the entry's metadata (``"hold_until"``): the release job found them with ``LIKE`` over the
metadata of every pending entry and parsed the JSON of each. ``ledger_pending`` now holds
``post_at`` beside ``expires_at``, each indexed with the status, so "what is due now" and
"what has expired" are index range scans. Escrow holds and payouts in flight will use it too.

On PostgreSQL, ``ledger_refuse_posting()`` lets a posting statement that runs as a transaction
of its own (a single posting, no ``BEGIN``/``COMMIT`` around it) fail whole when its gate
stops it, instead of committing account updates without their entries.

Existing holds are backfilled from their metadata (once, here). ``ledger_pending`` is the
mutable index beside the journal: the append-only triggers of 0005 cover ``ledger_entries``
and ``ledger_legs`` only, so they need no change and the backfill is allowed on PostgreSQL.

Revision ID: 0006_pending_post_at
Revises: 0005_journal_guards
Create Date: 2026-11-30 03:00:00.000000

"""

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_pending_post_at"
down_revision: str | Sequence[str] | None = "0005_journal_guards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_BATCH = 1000

REFUSE_FUNCTION = """
CREATE FUNCTION ledger_refuse_posting() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger posting refused (a key seen before or a limit): nothing posted'
        USING ERRCODE = 'check_violation';
END
$$
"""

_pending = sa.table(
    "ledger_pending",
    sa.column("entry_id", sa.BigInteger),
    sa.column("post_at", sa.DateTime(timezone=True)),
)
_entries = sa.table(
    "ledger_entries", sa.column("id", sa.BigInteger), sa.column("metadata_json", sa.Text)
)


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("ledger_pending", sa.Column("post_at", sa.DateTime(timezone=True)))
    op.create_index("ix_ledger_pending_status_post_at", "ledger_pending", ["status", "post_at"])
    op.create_index(
        "ix_ledger_pending_status_expires_at", "ledger_pending", ["status", "expires_at"]
    )
    _backfill_post_at(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_FUNCTION)


def downgrade() -> None:
    """Downgrade schema (the hold ends stay in the entries' metadata)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ledger_refuse_posting()")
    op.drop_index("ix_ledger_pending_status_expires_at", table_name="ledger_pending")
    op.drop_index("ix_ledger_pending_status_post_at", table_name="ledger_pending")
    with op.batch_alter_table("ledger_pending") as batch:
        batch.drop_column("post_at")


def _backfill_post_at(connection: sa.Connection) -> None:
    """``post_at`` of every pending row whose entry's metadata names a ``hold_until``."""
    updates = [
        {"key": entry_id, "post_at": post_at} for entry_id, post_at in _hold_ends(connection)
    ]
    statement = (
        _pending.update()
        .where(_pending.c.entry_id == sa.bindparam("key"))
        .values(post_at=sa.bindparam("post_at"))
    )
    for start in range(0, len(updates), BACKFILL_BATCH):
        connection.execute(statement, updates[start : start + BACKFILL_BATCH])


def _hold_ends(connection: sa.Connection) -> Iterator[tuple[int, datetime]]:
    rows = connection.execute(
        sa.select(_entries.c.id, _entries.c.metadata_json)
        .join(_pending, _pending.c.entry_id == _entries.c.id)
        .where(_entries.c.metadata_json.like('%"hold_until"%'))
        .order_by(_entries.c.id)
    )
    for entry_id, metadata_json in rows.all():
        metadata = json.loads(metadata_json)
        until = _parse_moment(metadata.get("hold_until") if isinstance(metadata, dict) else None)
        if until is not None:
            yield entry_id, until


def _parse_moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
