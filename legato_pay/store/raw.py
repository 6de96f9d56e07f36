"""Plain SQL on the psycopg connection under a unit of work, for hot paths on PostgreSQL.

Going through SQLAlchemy costs about 0.1 ms of Python per statement (cache key, compiled
parameters, result proxy), several times what psycopg itself spends; the webhook listener pays
it for every statement of every batch. Statements run here are written with numbered
placeholders (``$1``…), so psycopg neither parses nor rewrites them, and are prepared on first
use. They run on the session's own connection: same transaction as everything else in it.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import weakref
from collections.abc import Sequence
from contextlib import suppress
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from legato_pay.store.engine import on_dispose


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
def numbered(statement: str) -> tuple[bytes, tuple[str, ...]]:
    """The statement with ``%(name)s`` placeholders numbered ``$1…$n`` (a name used twice gets
    one number) and the names in number order. psycopg re-parses the placeholders of a query
    longer than 4 KB on every call (about 0.5 ms for the posting statement, a third of a single
    posting's client time); with numbered ones on a raw cursor it parses nothing. Encoded once
    (the statements are ASCII): psycopg would encode the text on every call, and the same bytes
    object keeps its hash for psycopg's prepared-statement lookups."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        return f"${numbers.setdefault(name, len(numbers) + 1)}"

    return _NAMED_PLACEHOLDER.sub(number, statement).encode(), tuple(numbers)


def execute_named(cursor: Any, statement: str, params: dict[str, Any]) -> None:
    """Run a statement written with ``%(name)s`` placeholders on a raw cursor, numbered once,
    raising psycopg errors as SQLAlchemy's (which the retry loop reads)."""
    import psycopg

    text, names = numbered(statement)
    try:
        cursor.execute(text, [params[name] for name in names])
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, params, exc, psycopg.Error) from exc


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (an IntEnum), without importing psycopg here


class _Held:
    """A thread's own autocommit connection to one engine's database and its reusable cursor.
    Closed with the thread (when its locals go), on ``dispose_engines`` or when discarded."""

    __slots__ = ("__weakref__", "connection", "cursor", "pid")

    def __init__(self, connection: Any) -> None:
        import psycopg

        self.connection = connection
        self.cursor = psycopg.RawCursor(connection)
        self.pid = os.getpid()

    def usable(self) -> bool:
        """Open, idle (no statement or transaction left over) and made by this process."""
        connection = self.connection
        return (
            self.pid == os.getpid()
            and not connection.closed
            and connection.pgconn.transaction_status == _IDLE
        )

    def close(self) -> None:
        if self.pid == os.getpid():  # a forked child must not close its parent's socket
            self.connection.close()

    def __del__(self) -> None:
        # Its thread ended (or the process is exiting): nothing is left to report an error to.
        with suppress(Exception):
            self.close()


_local = threading.local()
_every_held: weakref.WeakSet[_Held] = weakref.WeakSet()
_every_held_lock = threading.Lock()


def autocommit_cursor(engine: Engine) -> Any:
    """A raw cursor on this thread's own autocommit connection to ``engine``'s database, kept
    for the process: each statement on it is a transaction of its own. It saves a pool
    checkout and return (reset included) and two autocommit switches per statement, about a
    tenth of a single posting's client time. The connection is made by the engine's pool (so
    its connect events run) and then detached from it.

    Its prepared statements keep one generic plan: the few statements run on it are planned
    with arrays for parameters, which a custom plan cannot use better, yet PostgreSQL would
    plan the posting statement afresh on every run (about as much server time as running it)."""
    held_by_engine: weakref.WeakKeyDictionary[Engine, _Held] | None
    held_by_engine = getattr(_local, "held", None)
    if held_by_engine is None:
        held_by_engine = _local.held = weakref.WeakKeyDictionary()
    held = held_by_engine.get(engine)
    if held is None or not held.usable():
        if held is not None:
            held.close()
        held = held_by_engine[engine] = _Held(_detached_autocommit(engine))
        with _every_held_lock:
            _every_held.add(held)
    return held.cursor


def discard_autocommit_connection(engine: Engine) -> None:
    """Close this thread's own connection to ``engine``'s database (its state is unknown after
    a failure); the next ``autocommit_cursor`` opens a new one."""
    held_by_engine = getattr(_local, "held", None)
    held = None if held_by_engine is None else held_by_engine.pop(engine, None)
    if held is not None:
        held.close()


def _detached_autocommit(engine: Engine) -> Any:
    pooled = engine.raw_connection()
    connection: Any = pooled.driver_connection
    pooled.detach()
    connection.autocommit = True
    if connection.info.server_version >= 120000:  # the setting is new in PostgreSQL 12
        connection.execute("SET plan_cache_mode = force_generic_plan")
    return connection


@atexit.register
@on_dispose
def _close_every_held() -> None:
    """Engines disposed (a database may be dropped next) or the process ending: close every
    thread's connection; each thread opens a new one on its next statement."""
    with _every_held_lock:
        held = list(_every_held)
        _every_held.clear()
    for one in held:
        one.close()
