"""Every advisory-lock key in one place, and the one way to take such a lock.

PostgreSQL advisory locks serialise work that no row lock covers (schema upgrades, seals, runs).
SQLite has one writer at a time, so there the lock is the write transaction itself and these
calls do nothing. Keys are fixed numbers: two modules must never pick the same one.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from legato_pay.store.dialect import is_postgres

SCHEMA_UPGRADE = 7210001
JOURNAL = 7210002
SEAL_RUN = 7210003
REVENUE_RUN = 7210011
PAYOUT_RUN = 7210012


def advisory_xact_lock(session: Session | Connection, key: int, *, shared: bool = False) -> None:
    """Hold ``key`` until the transaction ends (PostgreSQL); a no-op on SQLite."""
    if not is_postgres(session):
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    session.execute(text(f"SELECT {function}(:key)"), {"key": key})


def try_advisory_xact_lock(session: Session | Connection, key: int) -> bool:
    """Take ``key`` for the transaction if nobody holds it; True on SQLite (one writer)."""
    if not is_postgres(session):
        return True
    return bool(
        session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar()
    )


@contextmanager
def sqlite_file_claim(engine: Engine, name: str, busy: Callable[[], Exception]) -> Iterator[None]:
    """An exclusive, non-blocking claim for a job on a SQLite database: ``flock`` on
    ``<database file>.<name>.lock`` (released by the kernel even after ``kill -9``); raises
    ``busy()`` if another process holds it. Does nothing on PostgreSQL or an in-memory database.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    try:
        descriptor = os.open(f"{url.database}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        # No claim file beside a read-only database: the job's write transactions still keep
        # it apart from others (a second one waits instead of failing fast).
        yield
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy() from None
        yield
    finally:
        os.close(descriptor)


@contextmanager
def job_claim(engine: Engine, key: int, name: str, busy: Callable[[], Exception]) -> Iterator[None]:
    """One holder at a time for a job made of several transactions (a payouts run): on
    PostgreSQL a session advisory lock ``key`` held on a connection of its own for the whole
    block (the server drops it when that connection dies, ``kill -9`` included); on SQLite
    ``sqlite_file_claim``. Raises ``busy()`` at once if someone holds it."""
    if engine.url.get_backend_name() == "sqlite":
        with sqlite_file_claim(engine, name, busy):
            yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        if not taken.scalar():
            raise busy()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
