"""Schema management through Alembic: ``db upgrade``, ``db current`` and first-run creation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from legato_pay.errors import ConfigError
from legato_pay.store.dialect import is_postgres
from legato_pay.store.engine import HEAD_REVISION, connect, on_dispose, session_scope
from legato_pay.store.locks import SCHEMA_UPGRADE, advisory_xact_lock

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_checked: set[str] = set()


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


#: Foreign keys the models declare but PostgreSQL enforces with a statement-level trigger
#: instead (migration 0005): comparisons of models and database skip them there.
TRIGGER_CHECKED_FOREIGN_KEYS = {("ledger_legs", ("entry_id",)), ("ledger_legs", ("account_id",))}
#: Indexes only PostgreSQL has (created by their migration, absent from the models): comparisons
#: of models and database skip them there.
POSTGRES_ONLY_INDEXES = {"ix_ledger_accounts_code_pattern"}  # 0022_reports: code LIKE 'p%'


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` hook (autogenerate, ``alembic check``) for a dialect."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        if type_ == "index" and dialect == "postgresql" and name in POSTGRES_ONLY_INDEXES:
            return False
        if type_ != "foreign_key_constraint" or dialect != "postgresql":
            return True
        columns = tuple(column.name for column in obj.columns)
        return (obj.table.name, columns) not in TRIGGER_CHECKED_FOREIGN_KEYS

    return include_object


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for a database Alembic never touched.

    One query and no reflection: every command asks this once before its first unit of work.
    """
    with connect(engine) as connection:
        try:
            revision = connection.execute(_REVISION_QUERY).scalar()
        except DBAPIError as exc:
            if not _no_version_table(exc):
                raise
            return None
    return None if revision is None else str(revision)


_REVISION_QUERY = text("SELECT version_num FROM alembic_version")


def _no_version_table(exc: DBAPIError) -> bool:
    """Whether a failed revision query only means there is no ``alembic_version`` table yet
    (PostgreSQL's undefined_table, SQLite's "no such table")."""
    message = str(exc.orig)
    if getattr(exc.orig, "sqlstate", None) == "42P01":
        return '"alembic_version"' in message
    return "no such table: alembic_version" in message


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision`` in one transaction, serialized across processes."""
    from alembic import command

    with session_scope(engine, write=True) as session:
        connection = session.connection()
        advisory_xact_lock(connection, SCHEMA_UPGRADE)
        command.upgrade(_alembic_config(connection), revision)
    _checked.discard(str(engine.url))
    return current_revision(engine)


@on_dispose
def forget_checked() -> None:
    _checked.clear()


def ensure_schema(engine: Engine) -> None:
    """Create or upgrade the schema of a new database; refuse to silently migrate a live one.

    SQLite files are upgraded automatically (the first run just works). A PostgreSQL database
    is created from scratch automatically too, but an existing one behind the code's schema
    needs an explicit ``legato-pay db upgrade``.
    """
    key = str(engine.url)
    if key in _checked:
        return
    revision = current_revision(engine)
    if revision != HEAD_REVISION:
        if revision is None or not is_postgres(engine):
            upgrade(engine)
        else:
            raise ConfigError(
                f"database schema is at {revision}, the code needs {HEAD_REVISION}: "
                "run `legato-pay db upgrade`",
                details={"current": revision, "head": HEAD_REVISION},
            )
    _checked.add(key)
