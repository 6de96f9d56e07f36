"""Engines and units of work. The only module that builds engines; nothing connects at import.

SQLite: WAL mode, foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for write units so
concurrent writers queue on the file lock instead of failing half-way. PostgreSQL (psycopg 3):
READ COMMITTED with row locks; deadlocks and serialization failures are retried, never shown.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from legato_pay.errors import (
    ConfigError,
    DatabaseUnavailable,
    InvalidInput,
    LegatoError,
    RetryableConflict,
)
from legato_pay.store.dialect import is_postgres

# defined in store/revision (the light read path checks it without SQLAlchemy); used from here
from legato_pay.store.revision import HEAD_REVISION as HEAD_REVISION

T = TypeVar("T")

_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
_engines: dict[str, Engine] = {}
_forgetters: list[Callable[[], None]] = []


def on_dispose(forget: Callable[[], None]) -> Callable[[], None]:
    """Register ``forget`` to run when the engines are disposed: modules above the store that
    remember things per database (the ledger's account cache, the schema check) register here,
    so the store never imports them. Usable as a decorator; registering twice runs it once."""
    if forget not in _forgetters:
        _forgetters.append(forget)
    return forget


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_engine(url: str, *, busy_timeout_ms: int = 30000) -> Engine:
    """One engine per URL per process."""
    url = normalize_url(url)
    if url in _engines:
        return _engines[url]
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(f"not a database URL: {url!r}", details={"key": "database.url"}) from None
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, parsed.database, busy_timeout_ms)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=False, pool_size=5, max_overflow=5)
    else:
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql",
            details={"key": "database.url"},
        )
    _engines[url] = engine
    return engine


def _sqlite_engine(url: str, database: str | None, busy_timeout_ms: int) -> Engine:
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"timeout": busy_timeout_ms / 1000}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        immediate = connection.get_execution_options().get("legato_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def dispose_engines() -> None:
    """Close every pool and forget what was learnt about the databases (schema checked, account
    ids cached, by the functions registered with ``on_dispose``): for tools and tests that drop
    and recreate a database under the same URL."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    for forget in _forgetters:
        forget()


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryableConflict):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


def describe_database(engine: Engine) -> str:
    """Where the database is, for messages: host, port and name, never the password."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite file {url.database or ':memory:'}"
    return (
        f"{url.get_backend_name()} at {url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    )


def connect(engine: Engine) -> Any:
    """A connection, or ``DATABASE_UNAVAILABLE`` (status 11) naming where the database was
    looked for: an operator needs "the database is down" with the host, not a driver's text."""
    try:
        return engine.connect()
    except (OperationalError, DBAPIError) as exc:
        if _is_retryable(exc):
            raise
        raise DatabaseUnavailable(
            f"database unavailable: cannot connect to {describe_database(engine)}",
            details={
                "database": describe_database(engine),
                "reason": _driver_reason(exc),
            },
        ) from None


def _driver_reason(exc: DBAPIError) -> str:
    """The driver's own first line, without SQL, parameters or the URL's password."""
    text_ = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    return text_[:200]


def unavailable_database_error(error: BaseException) -> DatabaseUnavailable | None:
    """A lost connection met mid-command (the server went away), as the same documented error;
    None for anything else."""
    if isinstance(error, OperationalError) and getattr(error, "connection_invalidated", False):
        return DatabaseUnavailable(
            "database unavailable: the connection was lost",
            details={"reason": _driver_reason(error)},
        )
    return None


#: PostgreSQL's answers to a value it cannot store (SQLSTATE class 22, "data exception"): a
#: number out of range, a string too long, a NUL or a byte sequence it cannot encode.
_INPUT_SQLSTATES = {
    "22003": "a number is out of range",
    "22001": "a value is too long",
    "22021": "a value holds bytes that are not valid text",
    "22P05": "a value holds a character the database cannot store (NUL)",
    "22008": "a time is out of range",
    "22007": "a time is not valid",
}


def input_refused_by_database(error: BaseException) -> InvalidInput | None:
    """A value the database refused to store, as ``VALIDATION_ERROR``: the last guard behind
    the services' own checks, so an input they missed is still the user's error (status 3,
    nothing written: the unit of work rolled back), never ``INTERNAL_ERROR`` with SQL text."""
    if isinstance(error, OverflowError):  # SQLite: "Python int too large to convert"
        return InvalidInput("a number is out of range (at most 2**63 - 1)")
    if isinstance(error, UnicodeEncodeError):  # a text value that is not UTF-8 (surrogates)
        return InvalidInput("a value is not valid UTF-8 text")
    if isinstance(error, ValueError) and "NUL" in str(error):  # psycopg refuses NUL bytes
        return InvalidInput("a value holds a character the database cannot store (NUL)")
    if isinstance(error, DBAPIError):
        reason = _INPUT_SQLSTATES.get(getattr(error.orig, "sqlstate", None) or "")
        if reason is not None:
            return InvalidInput(reason, details={"sqlstate": error.orig.sqlstate})  # type: ignore[union-attr]
        if isinstance(error.orig, OverflowError):
            return InvalidInput("a number is out of range (at most 2**63 - 1)")
    return None


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    connection = connect(engine)
    if write and engine.dialect.name == "sqlite":  # BEGIN IMMEDIATE (see _sqlite_engine)
        connection = connection.execution_options(legato_write=True)
    callbacks: list[Callable[[], None]] = []
    try:
        with connection.begin():
            session = Session(bind=connection, expire_on_commit=False, autoflush=False)
            try:
                yield session
                session.flush()
                callbacks = session.info.get("after_commit", [])
            finally:
                session.close()
    finally:
        connection.close()
    for callback in callbacks:
        callback()


def run_in_transaction(
    engine: Engine,
    work: Callable[[Session], T],
    *,
    write: bool = True,
    max_retries: int = 20,
) -> T:
    """Run ``work`` in one transaction; rerun it from the start when it loses a race.

    ``work`` must be safe to rerun: everything it did is rolled back before the next attempt.
    A unique-key race on an idempotency key is retried too, so the rerun finds the winner's row.
    """
    attempt = 0
    while True:
        try:
            with session_scope(engine, write=write) as session:
                return work(session)
        except LegatoError:
            raise
        except (RetryableConflict, DBAPIError) as exc:
            retryable = _is_retryable(exc) or isinstance(exc, IntegrityError)
            if not retryable or attempt >= max_retries:
                raise
            attempt += 1
            time.sleep(min(0.5, 0.005 * 2**attempt) * random.random())


def ping(engine: Engine) -> None:
    with connect(engine) as connection:
        connection.execute(text("SELECT 1"))


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the unit of work commits (e.g. to fill a cache), never on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


def insert_ignore(session: Session, table: Table, conflict_columns: list[str]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for the session's dialect."""
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict_columns)


def insert_if_absent(
    session: Session, table: Table, conflict_columns: list[str], **values: Any
) -> bool:
    """Insert a row unless one with the same unique columns exists; True if this call inserted.

    Decided by ``RETURNING`` rather than ``rowcount``, which psycopg reports as -1 here.
    """
    statement = insert_ignore(session, table, conflict_columns).values(**values)
    returned = session.execute(statement.returning(*[table.c[c] for c in conflict_columns]))
    return returned.first() is not None


def update_rows(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """Set columns of many rows, each found by its ``key`` column: one ``UPDATE … FROM
    unnest(…)`` statement on PostgreSQL (a batch costs one round trip and one plan, not one per
    row), an executemany on SQLite. Every row gives the same columns."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != key]
    if is_postgres(session):
        names = [key, *columns]
        statement = _pg_update_rows(session.get_bind().dialect, table, key, tuple(columns))
        session.execute(statement, _array_params(names, rows))
        return
    from sqlalchemy import bindparam, update

    session.execute(
        update(table)
        .where(table.c[key] == bindparam(f"key_{key}"))
        .values({name: bindparam(f"new_{name}") for name in columns}),
        [
            {f"key_{key}": row[key], **{f"new_{name}": row[name] for name in columns}}
            for row in rows
        ],
    )


def insert_rows_ignore(
    session: Session,
    table: Table,
    conflict_columns: list[str],
    rows: list[dict[str, Any]],
    returning: list[str],
) -> list[Any]:
    """Insert many rows, skipping those whose unique columns exist; returns ``returning`` of
    the rows this call inserted (nothing, and no ``RETURNING``, if it is empty). On PostgreSQL
    one ``INSERT … SELECT FROM unnest(…)`` with a fixed text (one plan, cached by the driver
    whatever the batch size); elsewhere a multi-row insert. Every row gives the same columns."""
    if not rows:
        return []
    if is_postgres(session):
        columns = {name: [row[name] for row in rows] for name in rows[0]}
        return insert_columns_ignore(session, table, conflict_columns, columns, returning)
    statement = insert_ignore(session, table, conflict_columns)
    if not returning:
        session.execute(statement, rows)
        return []
    return list(session.execute(statement.returning(*[table.c[name] for name in returning]), rows))


def insert_columns_ignore(
    session: Session,
    table: Table,
    conflict_columns: list[str],
    columns: dict[str, list[Any]],
    returning: list[str],
) -> list[Any]:
    """``insert_rows_ignore`` given column by column (one list per column, one value per row):
    for a caller holding thousands of rows as objects, which need not make a dict of each."""
    names = list(columns)
    if not names or not columns[names[0]]:
        return []
    if not is_postgres(session):
        return insert_rows_ignore(session, table, conflict_columns, _rows(columns), returning)
    from legato_pay.store.arrays import literal

    statement = _pg_insert_rows_ignore(
        session.get_bind().dialect,
        table,
        tuple(names),
        tuple(conflict_columns),
        tuple(returning),
    )
    result = session.execute(statement, {name: literal(columns[name]) for name in names})
    return list(result) if returning else []


def insert_columns(session: Session, table: Table, columns: dict[str, list[Any]]) -> None:
    """New rows given column by column, for rows that cannot exist yet (fresh ids): a plain
    ``INSERT`` (on PostgreSQL one ``INSERT … SELECT FROM unnest``), without the speculative
    insertion an ``ON CONFLICT`` clause costs every row."""
    names = list(columns)
    if not names or not columns[names[0]]:
        return
    if not is_postgres(session):
        session.execute(table.insert(), _rows(columns))
        return
    from legato_pay.store.arrays import literal

    statement = _pg_insert_columns(session.get_bind().dialect, table, tuple(names))
    session.execute(statement, {name: literal(columns[name]) for name in names})


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Columns of values as one dict per row (for SQLite's executemany)."""
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


# The batched statements are built once per shape: building one (type names, ``text()``'s
# parse of its parameters) cost as much Python time as running it.


def _unnest_arrays(dialect: Any, table: Any, names: Sequence[str]) -> str:
    return ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names
    )


@lru_cache(maxsize=64)
def _pg_update_rows(dialect: Any, table: Any, key: str, columns: tuple[str, ...]) -> Any:
    names = [key, *columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in columns)
    return text(
        f"UPDATE {table.name} SET {assignments}"
        f" FROM unnest({_unnest_arrays(dialect, table, names)}) AS v({', '.join(names)})"
        f" WHERE {table.name}.{key} = v.{key}"
    )


@lru_cache(maxsize=64)
def _pg_insert_rows_ignore(
    dialect: Any,
    table: Any,
    names: tuple[str, ...],
    conflict_columns: tuple[str, ...],
    returning: tuple[str, ...],
) -> Any:
    return text(
        f"INSERT INTO {table.name} ({', '.join(names)})"
        f" SELECT * FROM unnest({_unnest_arrays(dialect, table, names)})"
        f" ON CONFLICT ({', '.join(conflict_columns)}) DO NOTHING"
        + (f" RETURNING {', '.join(returning)}" if returning else "")
    )


@lru_cache(maxsize=64)
def _pg_insert_columns(dialect: Any, table: Any, names: tuple[str, ...]) -> Any:
    return text(
        f"INSERT INTO {table.name} ({', '.join(names)})"
        f" SELECT * FROM unnest({_unnest_arrays(dialect, table, names)})"
    )


def _array_params(names: list[str], rows: list[dict[str, Any]]) -> dict[str, str]:
    from legato_pay.store.arrays import literal

    return {name: literal([row[name] for row in rows]) for name in names}


def column_in(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``, one statement text however
    many values, so the driver prepares it once and the server plans it once."""
    values = list(values)
    if is_postgres(session):
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
