"""Plain SQL on the psycopg connection under a unit of work, for hot paths on PostgreSQL.

Going through SQLAlchemy costs about 0.1 ms of Python per statement (cache key, compiled
parameters, result proxy), several times what psycopg itself spends; the webhook listener pays
it for every statement of every batch. Statements run here are written with numbered
placeholders (``$1``…), so psycopg neither parses nor rewrites them, and are prepared on first
use. They run on the session's own connection: same transaction as everything else in it.
"""

from __future__ import annotations

from collections.abc import Sequence
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
