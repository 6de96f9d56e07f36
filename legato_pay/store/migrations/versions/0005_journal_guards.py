"""PostgreSQL: check legs' references once per statement; make the journal append-only

A foreign key checks each inserted row on its own (one lookup and one row lock per leg and
reference): for a 1,000-entry batch, 4,000 checks, about half the server time of the whole
posting statement. On PostgreSQL the two foreign keys of ``ledger_legs`` become one
statement-level trigger that looks each distinct entry and account of the legs a statement
inserted up once (about 3 ms for 1,000 entries instead of about 40 ms), and raises
``foreign_key_violation`` (23503, as the foreign key did) naming a missing id.

A foreign key also locks the rows it points at so they cannot be deleted meanwhile; here rows
of ``ledger_entries`` and ``ledger_accounts`` cannot be deleted at all, and journal rows
(entries and legs) cannot be updated either: entries are never edited or deleted, corrections
are new entries. Only someone who may bypass triggers can still rewrite history, and the seal's
hash chain (``ledger verify``) catches that.

SQLite keeps its foreign keys (checked cheaply in-process) and has no triggers for this.

Revision ID: 0005_journal_guards
Revises: 0004_refund_lookup
Create Date: 2026-11-27 15:30:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_journal_guards"
down_revision: str | Sequence[str] | None = "0004_refund_lookup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The foreign keys that the statement-level check replaces (names PostgreSQL gave them).
LEG_FOREIGN_KEYS = {
    "ledger_legs_entry_id_fkey": ("entry_id", "ledger_entries"),
    "ledger_legs_account_id_fkey": ("account_id", "ledger_accounts"),
}

# Each referenced id is looked up once through its primary key: ``= ANY`` of the distinct ids,
# in one query (each query costs a trigger tens of microseconds). Sequential scans are off for
# the function: its plan is made once per connection, and one made while a table was still
# small (a new database) would otherwise scan the whole journal for every insert until the
# next ANALYZE. The culprit is searched for only when something is missing.
CHECK_FUNCTION = """
CREATE FUNCTION ledger_legs_check_references() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    found_all boolean;
    missing bigint;
BEGIN
    SELECT (SELECT count(*) FROM ledger_entries WHERE id = ANY(ids.entry_ids))
            = cardinality(ids.entry_ids)
        AND (SELECT count(*) FROM ledger_accounts WHERE id = ANY(ids.account_ids))
            = cardinality(ids.account_ids)
    INTO found_all
    FROM (SELECT ARRAY(SELECT DISTINCT entry_id FROM inserted_legs) AS entry_ids,
        ARRAY(SELECT DISTINCT account_id FROM inserted_legs) AS account_ids) AS ids;
    IF found_all THEN
        RETURN NULL;
    END IF;
    SELECT l.entry_id INTO missing FROM inserted_legs AS l
    WHERE NOT EXISTS (SELECT FROM ledger_entries WHERE id = l.entry_id) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert on ledger_legs: entry_id % is not in ledger_entries', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT l.account_id INTO missing FROM inserted_legs AS l
    WHERE NOT EXISTS (SELECT FROM ledger_accounts WHERE id = l.account_id) LIMIT 1;
    RAISE EXCEPTION 'insert on ledger_legs: account_id % is not in ledger_accounts', missing
        USING ERRCODE = 'foreign_key_violation';
END
$$
"""

GUARD_FUNCTION = """
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: ledger rows are never changed or deleted (post a new entry)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in LEG_FOREIGN_KEYS:
        op.drop_constraint(name, "ledger_legs", type_="foreignkey")
    op.execute(CHECK_FUNCTION)
    op.execute(
        "CREATE TRIGGER ledger_legs_references AFTER INSERT ON ledger_legs"
        " REFERENCING NEW TABLE AS inserted_legs"
        " FOR EACH STATEMENT EXECUTE FUNCTION ledger_legs_check_references()"
    )
    op.execute(GUARD_FUNCTION)
    for table in ("ledger_entries", "ledger_legs"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(
        "CREATE TRIGGER ledger_accounts_kept BEFORE DELETE ON ledger_accounts"
        " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
    )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER ledger_accounts_kept ON ledger_accounts")
    for table in ("ledger_entries", "ledger_legs"):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.execute("DROP FUNCTION ledger_refuse_change()")
    op.execute("DROP TRIGGER ledger_legs_references ON ledger_legs")
    op.execute("DROP FUNCTION ledger_legs_check_references()")
    for name, (column, target) in LEG_FOREIGN_KEYS.items():
        op.create_foreign_key(name, "ledger_legs", target, [column], ["id"])
