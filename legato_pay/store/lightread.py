"""Reads without SQLAlchemy: the start-up of the read commands scripts call many times.

Importing SQLAlchemy and the models costs a read command most of its start-up (about 6.5 ×
``import typer`` alone). A read that is plain SQL over a few tables can run on the driver
instead: on SQLite the standard library opens the file, checks the schema revision with one
query and runs the read in one transaction (one snapshot).

The light path only answers what it can answer exactly as the full path would. Anything else —
not SQLite, no file yet, a schema not at this code's head, a driver error, or a read that asks
to be deferred (``Deferred``: say, an account that does not exist, whose error the full path
words) — goes to the full path (SQLAlchemy, schema creation and upgrade, the error mapping),
which runs the read again from the start: reads are safe to repeat.

The SQL is written once with ``:name`` parameters, which both sqlite3 and SQLAlchemy's
``text()`` take, so the same statement runs on either path (``SessionRows`` wraps a session
of the full path, on SQLite or PostgreSQL). Values are the driver's: integers may come back as
``Decimal`` from PostgreSQL sums, so callers convert with ``int()``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from legato_pay.store.revision import HEAD_REVISION

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Row = tuple[Any, ...]


class Rows(Protocol):
    """What a read needs from a database: rows of a statement with ``:name`` parameters."""

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None: ...


class Deferred(Exception):
    """Raised by a read on the light path for a case it leaves to the full path."""


class LightPathUnavailable(Exception):
    """The light path cannot serve this database now (see the module docstring)."""


class SqliteRows:
    """``Rows`` on a sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._connection.execute(sql, params or {}).fetchall()

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        row: Row | None = self._connection.execute(sql, params or {}).fetchone()
        return row


class SessionRows:
    """``Rows`` on a session of the full path (either database), in its transaction."""

    def __init__(self, session: Session) -> None:
        from sqlalchemy import text

        self._session = session
        self._text = text

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return [tuple(row) for row in self._session.execute(self._text(sql), dict(params or {}))]

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        row = self._session.execute(self._text(sql), dict(params or {})).first()
        return None if row is None else tuple(row)


def sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for anything else (memory databases,
    URL options, escapes, other databases), which the full path parses."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or any(mark in path for mark in "?%#"):
        return None
    return Path(path).expanduser()


@contextmanager
def sqlite_rows(url: str, *, busy_timeout_ms: int) -> Iterator[Rows]:
    """A read transaction on an existing SQLite file at this code's schema revision.

    Raises ``LightPathUnavailable`` when there is none, and for any driver error inside the
    read (the full path maps those to the documented errors); other errors pass through."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        raise LightPathUnavailable("not an existing SQLite file")
    try:
        # mode=rw: never create a file here (a first run goes through the full path's set-up)
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",
            uri=True,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,
        )
    except sqlite3.Error as exc:
        raise LightPathUnavailable(str(exc)) from None
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        connection.execute("BEGIN")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] != HEAD_REVISION:
            raise LightPathUnavailable("schema not at this code's head")
        yield SqliteRows(connection)
    except sqlite3.Error as exc:
        raise LightPathUnavailable(str(exc)) from None
    finally:
        connection.close()  # a read: closing rolls the transaction back
