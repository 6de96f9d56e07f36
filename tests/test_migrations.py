"""Migrations: the models and the migration scripts never drift apart (``alembic check``), the
code knows the head revision, and ``db upgrade`` / ``db current`` behave."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from legato_pay.store import schema
from legato_pay.store.engine import HEAD_REVISION, get_engine, session_scope
from legato_pay.store.models import metadata
from tests.conftest import run_cli


def schema_differences(engine: Any) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


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
