"""engagement totals per (period, subscriber) and per (period, writer), kept by triggers

The pool run caps implausible engagement per subscriber (a day over ``max_minutes_per_day``, one
piece over ``content_share_percent`` past ``content_share_min_minutes``). Either needs the
subscriber's minutes in the period above the smaller threshold, so the run groups only those
subscribers' rows per content and day, and sums everyone else's rows per writer in one pass
(``revenue/basis``). These two tables tell it, without reading the engagement table, who is
over the threshold and which writers the period's minutes name (to find writers who are no
longer users); an index on ``(period, user_id)`` reads those subscribers' rows alone.

They are kept by triggers, so every way rows reach ``engagement`` (the import, a test, a
hand-written ``INSERT``) keeps them exact, in the same transaction: on PostgreSQL one
statement-level trigger per operation adds the statement's rows grouped (one upsert per table
per statement, in key order so concurrent imports lock rows in one order); on SQLite a row
trigger per operation. The run reads them after locking ``engagement`` in SHARE mode, so no
import is half-way. An index on ``(period, id)`` finds the rows recorded after an earlier
period's run (late rows) without scanning the table.

Revision ID: 0026_engagement_totals
Revises: 0025_ledger_clock
Create Date: 2026-11-30 14:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0026_engagement_totals"
down_revision: str | Sequence[str] | None = "0025_ledger_clock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, key column of engagement it groups by)
_TOTALS = (("engagement_user_totals", "user_id"), ("engagement_writer_totals", "writer_id"))


def _pg_upserts(rows: str) -> str:
    """Add ``rows`` (``period, <key>, minutes`` of engagement rows, signed) to both tables."""
    return "\n".join(
        f"""    INSERT INTO {table} AS t (period, {key}, minutes)
        SELECT period, {key}, SUM(minutes) FROM ({rows}) AS d
        GROUP BY period, {key} ORDER BY period, {key}
        ON CONFLICT (period, {key}) DO UPDATE SET minutes = t.minutes + EXCLUDED.minutes;"""
        for table, key in _TOTALS
    )


_ADDED = "SELECT period, user_id, writer_id, minutes FROM engagement_added"
_REMOVED = "SELECT period, user_id, writer_id, -minutes AS minutes FROM engagement_removed"

_PG_FUNCTIONS = {
    "insert": _pg_upserts(_ADDED),
    "delete": _pg_upserts(_REMOVED),
    "update": _pg_upserts(f"{_ADDED} UNION ALL {_REMOVED}"),
}
_PG_REFERENCING = {
    "insert": "NEW TABLE AS engagement_added",
    "delete": "OLD TABLE AS engagement_removed",
    "update": "OLD TABLE AS engagement_removed NEW TABLE AS engagement_added",
}


def _sqlite_add(row: str, sign: str) -> str:
    return "\n".join(
        f"""    INSERT INTO {table} (period, {key}, minutes)
        VALUES ({row}.period, {row}.{key}, {sign}{row}.minutes)
        ON CONFLICT (period, {key}) DO UPDATE SET minutes = minutes + excluded.minutes;"""
        for table, key in _TOTALS
    )


_SQLITE_BODIES = {
    "insert": _sqlite_add("NEW", ""),
    "delete": _sqlite_add("OLD", "-"),
    "update": _sqlite_add("OLD", "-") + "\n" + _sqlite_add("NEW", ""),
}


def upgrade() -> None:
    """Upgrade schema."""
    for table, key in _TOTALS:
        op.create_table(
            table,
            sa.Column("period", sa.String(length=7), nullable=False),
            sa.Column(key, sa.String(length=100), nullable=False),
            sa.Column("minutes", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("period", key),
        )
        op.execute(
            f"INSERT INTO {table} (period, {key}, minutes) "
            f"SELECT period, {key}, SUM(minutes) FROM engagement GROUP BY period, {key}"
        )
    op.create_index("ix_engagement_period_id", "engagement", ["period", "id"])
    op.create_index("ix_engagement_period_user", "engagement", ["period", "user_id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for operation in ("insert", "delete", "update"):
        if postgres:
            op.execute(
                f"CREATE FUNCTION engagement_totals_{operation}() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$\nBEGIN\n{_PG_FUNCTIONS[operation]}\n"
                "    RETURN NULL;\nEND $$"
            )
            op.execute(
                f"CREATE TRIGGER engagement_totals_{operation} AFTER {operation.upper()} "
                f"ON engagement REFERENCING {_PG_REFERENCING[operation]} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION engagement_totals_{operation}()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER engagement_totals_{operation} AFTER {operation.upper()} "
                f"ON engagement FOR EACH ROW BEGIN\n{_SQLITE_BODIES[operation]}\nEND"
            )


def downgrade() -> None:
    """Downgrade schema."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for operation in ("insert", "delete", "update"):
        op.execute(
            f"DROP TRIGGER engagement_totals_{operation}" + (" ON engagement" if postgres else "")
        )
        if postgres:
            op.execute(f"DROP FUNCTION engagement_totals_{operation}()")
    op.drop_index("ix_engagement_period_user", table_name="engagement")
    op.drop_index("ix_engagement_period_id", table_name="engagement")
    for table, _ in reversed(_TOTALS):
        op.drop_table(table)
