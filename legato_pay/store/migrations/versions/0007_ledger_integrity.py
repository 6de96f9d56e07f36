"""seals cover account definitions; PostgreSQL guards account identity, seals and truncation

``ledger_seals`` gains ``version`` (1 for the seals made before this revision, 2 for new ones),
``account_upto`` and ``account_count``: a version 2 seal hashes, in canonical JSON, the accounts
opened since the previous seal as well as its entries (``ledger.seal``). Existing seals keep
their version 1 hashes and stay verifiable as they were; the first new seal covers every
account that exists then.

On PostgreSQL, triggers now also refuse:

- ``UPDATE`` of an account's identity and limits (id, code, currency, normal side,
  no-overdraft, hot, metadata, creation time); postings and seals still update its totals
  (``debits_posted``, ``credits_posted``, ``debits_pending``, ``credits_pending``);
- ``UPDATE``/``DELETE`` of seals and checkpoints;
- ``UPDATE`` of a pending row other than the two steps resolving it takes (``pending`` to
  ``posted``/``voided``, then recording the resolving entry once), and ``DELETE`` of one;
- ``TRUNCATE`` of the ledger tables (a statement-level ``BEFORE TRUNCATE`` trigger), which
  row triggers never see.

Only a superuser that turns triggers off (``session_replication_role = replica``) can still
rewrite the ledger; the seal's hash chain (``ledger verify``) catches that.

Revision ID: 0007_ledger_integrity
Revises: 0006_pending_post_at
Create Date: 2026-11-30 06:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_ledger_integrity"
down_revision: str | Sequence[str] | None = "0006_pending_post_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The ledger tables no one may truncate.
JOURNAL_TABLES = (
    "ledger_accounts",
    "ledger_entries",
    "ledger_legs",
    "ledger_pending",
    "ledger_seals",
    "ledger_checkpoints",
)

#: What an account is: never changed once opened (its totals are the only mutable columns).
ACCOUNT_IDENTITY = (
    "id",
    "code",
    "currency",
    "normal_side",
    "no_overdraft",
    "hot",
    "metadata_json",
    "created_at",
)

ACCOUNT_FUNCTION = """
CREATE FUNCTION ledger_accounts_keep_identity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.code, NEW.currency, NEW.normal_side, NEW.no_overdraft, NEW.hot,
            NEW.metadata_json, NEW.created_at)
        IS DISTINCT FROM (OLD.id, OLD.code, OLD.currency, OLD.normal_side, OLD.no_overdraft,
            OLD.hot, OLD.metadata_json, OLD.created_at) THEN
        RAISE EXCEPTION 'UPDATE on ledger_accounts: an account''s code, currency, side and limits'
            ' never change (open another account)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$
"""

PENDING_FUNCTION = """
CREATE FUNCTION ledger_pending_resolve_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (NEW.entry_id, NEW.expires_at, NEW.post_at)
            IS NOT DISTINCT FROM (OLD.entry_id, OLD.expires_at, OLD.post_at)
        AND (
            (OLD.status = 'pending' AND NEW.status IN ('posted', 'voided')
                AND OLD.resolved_entry_id IS NULL AND NEW.resolved_entry_id IS NULL)
            OR (OLD.status IN ('posted', 'voided') AND NEW.status = OLD.status
                AND OLD.resolved_entry_id IS NULL AND NEW.resolved_entry_id IS NOT NULL)
        ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% on ledger_pending: a pending entry only moves to posted or voided, once',
        TG_OP USING ERRCODE = 'restrict_violation';
END
$$
"""

TRUNCATE_FUNCTION = """
CREATE FUNCTION ledger_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE on %: the ledger is never emptied', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("ledger_seals", sa.Column("version", sa.SmallInteger(), nullable=True))
    op.add_column("ledger_seals", sa.Column("account_upto", sa.BigInteger(), nullable=True))
    op.add_column("ledger_seals", sa.Column("account_count", sa.BigInteger(), nullable=True))
    op.execute("UPDATE ledger_seals SET version = 1")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ACCOUNT_FUNCTION)
    # ``UPDATE OF`` these columns only: a posting sets nothing but the totals, so the trigger
    # never runs on the posting path (no cost per posting).
    op.execute(
        f"CREATE TRIGGER ledger_accounts_identity BEFORE UPDATE OF {', '.join(ACCOUNT_IDENTITY)}"
        " ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION ledger_accounts_keep_identity()"
    )
    for table in ("ledger_seals", "ledger_checkpoints"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(PENDING_FUNCTION)
    op.execute(
        "CREATE TRIGGER ledger_pending_resolve_only BEFORE UPDATE OR DELETE ON ledger_pending"
        " FOR EACH ROW EXECUTE FUNCTION ledger_pending_resolve_only()"
    )
    op.execute(TRUNCATE_FUNCTION)
    for table in JOURNAL_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()"
        )


def downgrade() -> None:
    """Downgrade schema (version 2 seals lose what tells their encoding: verify them before)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in JOURNAL_TABLES:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION ledger_refuse_truncate()")
        op.execute("DROP TRIGGER ledger_pending_resolve_only ON ledger_pending")
        op.execute("DROP FUNCTION ledger_pending_resolve_only()")
        for table in ("ledger_seals", "ledger_checkpoints"):
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP TRIGGER ledger_accounts_identity ON ledger_accounts")
        op.execute("DROP FUNCTION ledger_accounts_keep_identity()")
    with op.batch_alter_table("ledger_seals") as batch:
        batch.drop_column("account_count")
        batch.drop_column("account_upto")
        batch.drop_column("version")
