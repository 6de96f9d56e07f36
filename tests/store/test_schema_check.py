"""The schema check every command makes before its first unit of work: one query for the
revision, then create (a new database), upgrade (an SQLite file behind the code) or refuse (a
PostgreSQL database behind the code: ``db upgrade`` is an operator's decision)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from legato_pay.errors import ConfigError
from legato_pay.store import schema
from legato_pay.store.engine import HEAD_REVISION, get_engine, session_scope

OLDER = "0004_refund_lookup"


def downgrade(engine: object, revision: str) -> None:
    with session_scope(engine) as session:  # type: ignore[arg-type]
        command.downgrade(schema._alembic_config(session.connection()), revision)
    schema.forget_checked()


def test_a_new_database_has_no_revision_and_is_created(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert schema.current_revision(engine) is None
    schema.ensure_schema(engine)
    assert schema.current_revision(engine) == HEAD_REVISION


def test_an_sqlite_file_behind_the_code_is_upgraded(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    schema.upgrade(engine)
    downgrade(engine, OLDER)
    assert schema.current_revision(engine) == OLDER
    schema.ensure_schema(engine)
    assert schema.current_revision(engine) == HEAD_REVISION


def test_a_failing_revision_query_is_not_taken_for_a_new_database(tmp_path: Path) -> None:
    """Only a missing ``alembic_version`` means "new": any other error reaches the caller."""
    engine = get_engine(f"sqlite:///{tmp_path / 'odd.db'}")
    with session_scope(engine) as session:
        session.execute(text("CREATE VIEW alembic_version AS SELECT missing FROM nowhere"))
    with pytest.raises(Exception, match="nowhere"):
        schema.current_revision(engine)


@pytest.mark.postgres
def test_a_postgres_database_behind_the_code_is_refused(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    schema.upgrade(engine)
    downgrade(engine, OLDER)
    try:
        with pytest.raises(ConfigError) as refused:
            schema.ensure_schema(engine)
        assert refused.value.details == {"current": OLDER, "head": HEAD_REVISION}
        assert "legato-pay db upgrade" in refused.value.message
        assert schema.current_revision(engine) == OLDER  # nothing was migrated behind its back
    finally:
        schema.upgrade(engine)
    schema.ensure_schema(engine)
    assert schema.current_revision(engine) == HEAD_REVISION


@pytest.mark.postgres
def test_a_postgres_database_without_a_revision_table_reads_as_new(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    with session_scope(engine) as session:
        session.execute(text("ALTER TABLE alembic_version RENAME TO alembic_version_aside"))
    try:
        assert schema.current_revision(engine) is None
    finally:
        with session_scope(engine) as session:
            session.execute(text("ALTER TABLE alembic_version_aside RENAME TO alembic_version"))
    assert schema.current_revision(engine) == HEAD_REVISION
