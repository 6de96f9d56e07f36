"""Every advisory-lock key in one place, and the one way to take such a lock.

PostgreSQL advisory locks serialise work that no row lock covers (schema upgrades, seals, runs).
SQLite has one writer at a time, so there the lock is the write transaction itself and these
calls do nothing. Keys are fixed numbers: two modules must never pick the same one.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from legato_pay.store.dialect import is_postgres

SCHEMA_UPGRADE = 7210001
JOURNAL = 7210002
SEAL_RUN = 7210003
REVENUE_RUN = 7210011


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
