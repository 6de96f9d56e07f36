"""Plain SQL on the psycopg connection under a unit of work, for hot paths on PostgreSQL.

Going through SQLAlchemy costs about 0.1 ms of Python per statement (cache key, compiled
parameters, result proxy), several times what psycopg itself spends; the webhook listener pays
it for every statement of every batch. Statements run here are written with numbered
placeholders (``$1``…), so psycopg neither parses nor rewrites them, and are prepared on first
use. They run on the session's own connection: same transaction as everything else in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def pg_execute(session: Session, statement: str, params: Sequence[Any]) -> Any:
    """Run ``statement`` (``$n`` placeholders) in the session's transaction; the psycopg
    cursor, whose rows are named tuples. psycopg errors are raised as SQLAlchemy's, which the
    retry loop (``run_in_transaction``) reads."""
    import psycopg
    from psycopg.rows import namedtuple_row

    connection: Any = session.connection().connection.driver_connection
    cursor = psycopg.RawCursor(connection, row_factory=namedtuple_row)
    try:
        cursor.execute(statement, params, prepare=True)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, list(params), exc, psycopg.Error) from exc
    return cursor


def raw_cursor(session: Session) -> Any:
    """A raw psycopg cursor under the session's unit of work (same transaction), for
    statements with ``$n`` placeholders (``execute_named`` writes them)."""
    import psycopg

    connection: Any = session.connection().connection.driver_connection
    return psycopg.RawCursor(connection)


_NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@lru_cache(maxsize=16)
def numbered(statement: str) -> tuple[str, tuple[str, ...]]:
    """The statement with ``%(name)s`` placeholders numbered ``$1…$n`` (a name used twice gets
    one number) and the names in number order. psycopg re-parses the placeholders of a query
    longer than 4 KB on every call (about 0.5 ms for the posting statement, a third of a single
    posting's client time); with numbered ones on a raw cursor it parses nothing."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        return f"${numbers.setdefault(name, len(numbers) + 1)}"

    return _NAMED_PLACEHOLDER.sub(number, statement), tuple(numbers)


def execute_named(cursor: Any, statement: str, params: dict[str, Any]) -> None:
    """Run a statement written with ``%(name)s`` placeholders on a raw cursor, numbered once,
    raising psycopg errors as SQLAlchemy's (which the retry loop reads)."""
    import psycopg

    text, names = numbered(statement)
    try:
        cursor.execute(text, [params[name] for name in names])
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, params, exc, psycopg.Error) from exc
