"""Migrations: the models and the migration scripts never drift apart (``alembic check``), the
code knows the head revision, and ``db upgrade`` / ``db current`` behave."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from legato_pay.ledger.types import as_utc
from legato_pay.store import schema
from legato_pay.store.engine import HEAD_REVISION, get_engine, session_scope
from legato_pay.store.models import metadata
from tests.cli_runner import run_cli


def schema_differences(engine: Any, target: Any = metadata) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": schema.include_object_for(connection.dialect.name),
            },
        )
        return list(compare_metadata(context, target))


def test_models_match_the_migrations(database_url: str) -> None:
    """What ``alembic check`` does: autogenerate against a migrated database finds nothing."""
    engine = get_engine(database_url)
    schema.upgrade(engine)
    assert schema.current_revision(engine) == HEAD_REVISION
    assert schema_differences(engine) == []


def test_the_code_knows_the_head_revision() -> None:
    assert schema.head_revision() == HEAD_REVISION
    scripts = ScriptDirectory.from_config(schema._alembic_config())
    assert scripts.get_heads() == [HEAD_REVISION], "one linear history, no branches"
    # every revision chains back to the first one
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].down_revision is None
    assert revisions[0].revision == HEAD_REVISION


def test_every_migration_downgrades_and_upgrades_again(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    assert schema.upgrade(engine) == HEAD_REVISION
    tables = set(inspect(engine).get_table_names())
    assert {"ledger_accounts", "ledger_entries", "ledger_legs", "ledger_seals"} <= tables
    with session_scope(engine) as session:
        command.downgrade(schema._alembic_config(session.connection()), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert schema.current_revision(engine) is None
    assert schema.upgrade(engine) == HEAD_REVISION
    assert set(inspect(engine).get_table_names()) == tables
    assert schema_differences(engine) == []


def test_upgrading_twice_is_harmless_and_keeps_data(sqlite_url: str) -> None:
    from legato_pay import ledger

    engine = get_engine(sqlite_url)
    schema.upgrade(engine)
    with session_scope(engine) as session:
        ledger.open_account(session, "kept", "USD")
    assert schema.upgrade(engine) == HEAD_REVISION
    with session_scope(engine, write=False) as session:
        assert [a.code for a in ledger.list_accounts(session)] == ["kept"]


def test_db_current_and_upgrade_commands(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'empty.db'}"  # not the migrated template copy
    before = run_cli(sqlite_url, "db", "current")
    assert before.status == 0, before.stderr
    assert before.json == {
        "database": sqlite_url,
        "current": None,
        "head": HEAD_REVISION,
        "up_to_date": False,
    }
    first = run_cli(sqlite_url, "db", "upgrade")
    assert first.status == 0, first.stderr
    assert first.json == {"database": sqlite_url, "from": None, "to": HEAD_REVISION}
    second = run_cli(sqlite_url, "db", "upgrade")
    assert second.status == 0, second.stderr
    assert second.json == {"database": sqlite_url, "from": HEAD_REVISION, "to": HEAD_REVISION}
    assert schema.current_revision(get_engine(sqlite_url)) == HEAD_REVISION


# --- pending entries' post_at (migration 0006) ------------------------------------------------


def test_0006_backfills_post_at_from_the_holds_metadata(database_url: str) -> None:
    """Holds written before 0006 kept their end only in the entry's metadata: upgrading copies
    it to ``post_at`` (in UTC), and leaves every other pending row without one."""
    from legato_pay.store.tables import ENTRIES, PENDING

    engine = get_engine(database_url)
    schema.upgrade(engine)
    with session_scope(engine) as session:
        command.downgrade(schema._alembic_config(session.connection()), "0005_journal_guards")
    assert "post_at" not in {c["name"] for c in inspect(engine).get_columns("ledger_pending")}
    created = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    metadata = {
        1: '{"hold_until": "2026-03-08T11:00:00+02:00", "stream": "tips"}',
        2: None,
        3: '{"note": "no hold"}',
        4: '{"hold_until": "not a time"}',
    }
    try:
        with session_scope(engine) as session:
            for entry_id, metadata_json in metadata.items():
                session.execute(
                    ENTRIES.insert().values(
                        id=entry_id,
                        content_hash="0" * 64,
                        kind="pending",
                        actor="test",
                        metadata_json=metadata_json,
                        created_at=created,
                        effective_at=created,
                    )
                )
                session.execute(PENDING.insert().values(entry_id=entry_id, status="pending"))
        assert schema.upgrade(engine) == HEAD_REVISION
        with session_scope(engine, write=False) as session:
            rows = session.execute(select(PENDING.c.entry_id, PENDING.c.post_at)).all()
        post_at = {entry_id: as_utc(moment) for entry_id, moment in rows}
        assert post_at == {1: datetime(2026, 3, 8, 9, 0, tzinfo=UTC), 2: None, 3: None, 4: None}
    finally:
        schema.upgrade(engine)
    assert schema_differences(engine) == []


# --- the ledger clock (migration 0025) --------------------------------------------------------


def test_0025_keeps_each_accounts_last_leg_time_from_then_on(database_url: str) -> None:
    """Upgrading fills ``last_leg_at`` of every non-hot account from its legs, so a posting
    right after the upgrade with an earlier time is still stamped after them."""
    from legato_pay import ledger
    from legato_pay.store.tables import ACCOUNTS

    engine = get_engine(database_url)
    schema.upgrade(engine)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        ledger.open_account(session, "wallet", "USD")
        ledger.open_account(session, "house", "USD", hot=True)
        for hour in (3, 5):
            spec = ledger.transfer("world:USD", "wallet", 10, "USD")
            ledger.post_entries(session, [spec], actor="t", now=day.replace(hour=hour))
        spec = ledger.transfer("world:USD", "house", 10, "USD")
        ledger.post_entries(session, [spec], actor="t", now=day.replace(hour=6))
        command.downgrade(schema._alembic_config(session.connection()), "0022_reports")
    assert "last_leg_at" not in {c["name"] for c in inspect(engine).get_columns("ledger_accounts")}
    assert schema.upgrade(engine) == HEAD_REVISION
    with session_scope(engine, write=False) as session:
        rows = session.execute(select(ACCOUNTS.c.code, ACCOUNTS.c.last_leg_at)).all()
    assert {code: as_utc(moment) for code, moment in rows} == {
        "wallet": day.replace(hour=5),
        "house": None,  # hot: never locked by a posting, its as-of balance is a sum
        "world:USD": None,
    }
    with session_scope(engine) as session:
        spec = ledger.transfer("world:USD", "wallet", 1, "USD")
        [view] = ledger.post_entries(session, [spec], actor="t", now=day.replace(hour=4))
    assert view.created_at == day.replace(hour=5)
    assert schema_differences(engine) == []


# --- PostgreSQL's journal guards (migration 0005) --------------------------------------------


def _journal_with_one_entry(url: str) -> tuple[Any, int]:
    from legato_pay import ledger

    engine = get_engine(url)
    with session_scope(engine) as session:
        ledger.open_account(session, "guarded", "USD")
        [entry] = ledger.post_entries(
            session, [ledger.transfer("world:USD", "guarded", 500, "USD")], actor="test"
        )
    return engine, entry.id


def _refused(engine: Any, statement: str, **params: Any) -> str:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as caught, session_scope(engine) as session:
        session.execute(text(statement), params)
    return str(caught.value.orig)


@pytest.mark.postgres
def test_postgres_refuses_to_change_or_delete_journal_rows(postgres_url: str) -> None:
    engine, entry_id = _journal_with_one_entry(postgres_url)
    for statement in (
        "UPDATE ledger_entries SET actor = 'intruder' WHERE id = :id",
        "DELETE FROM ledger_legs WHERE entry_id = :id",
        "UPDATE ledger_legs SET amount = amount + 1 WHERE entry_id = :id",
        "DELETE FROM ledger_entries WHERE id = :id",
    ):
        assert "ledger rows are never changed or deleted" in _refused(
            engine, statement, id=entry_id
        )
    assert "DELETE on ledger_accounts" in _refused(
        engine, "DELETE FROM ledger_accounts WHERE code = 'guarded'"
    )
    with session_scope(engine, write=False) as session:
        actor = session.execute(
            text("SELECT actor FROM ledger_entries WHERE id = :id"), {"id": entry_id}
        ).scalar_one()
        legs = session.execute(
            text("SELECT count(*), sum(amount) FROM ledger_legs WHERE entry_id = :id"),
            {"id": entry_id},
        ).one()
    assert actor == "test"
    assert tuple(legs) == (2, 1000)


@pytest.mark.postgres
def test_postgres_checks_every_leg_reference_once_per_statement(postgres_url: str) -> None:
    """The foreign keys of ledger_legs are one statement-level check on PostgreSQL: a leg that
    points at a missing entry or account is still refused, and nothing of its statement stays."""
    engine, entry_id = _journal_with_one_entry(postgres_url)
    insert = (
        "INSERT INTO ledger_legs (entry_id, account_id, currency, is_debit, amount,"
        " pending_amount, created_at) SELECT :entry, a.id, 'USD', true, 1, 0, now()"
        " FROM ledger_accounts a WHERE a.code = 'guarded'"
        " UNION ALL SELECT :entry, :account, 'USD', false, 1, 0, now()"
    )
    with session_scope(engine, write=False) as session:
        account_id = session.execute(
            text("SELECT id FROM ledger_accounts WHERE code = 'guarded'")
        ).scalar_one()
    message = _refused(engine, insert, entry=entry_id, account=10**9)
    assert "account_id 1000000000 is not in ledger_accounts" in message
    message = _refused(engine, insert, entry=10**9, account=account_id)
    assert "entry_id 1000000000 is not in ledger_entries" in message
    with session_scope(engine, write=False) as session:
        assert session.execute(text("SELECT count(*) FROM ledger_legs")).scalar_one() == 2


@pytest.mark.postgres
def test_postgres_downgrade_brings_the_foreign_keys_back(postgres_url: str) -> None:
    engine = get_engine(postgres_url)

    def leg_foreign_keys() -> list[str]:
        return sorted(fk["name"] for fk in inspect(engine).get_foreign_keys("ledger_legs"))

    assert leg_foreign_keys() == []
    try:
        with session_scope(engine) as session:
            command.downgrade(schema._alembic_config(session.connection()), "0004_refund_lookup")
        assert leg_foreign_keys() == ["ledger_legs_account_id_fkey", "ledger_legs_entry_id_fkey"]
    finally:
        schema.upgrade(engine)
    assert schema.current_revision(engine) == HEAD_REVISION
    assert leg_foreign_keys() == []
    assert schema_differences(engine) == []
