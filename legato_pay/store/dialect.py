"""Where SQLite and PostgreSQL differ, decided once.

Services never branch on the dialect themselves: they ask here. SQLite runs one writer at a time
(``BEGIN IMMEDIATE``), so a row lock is the write transaction itself; PostgreSQL needs
``FOR UPDATE`` to keep two transactions from reading the same row for a decision.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

Bind = Engine | Session | Connection
S = TypeVar("S")


def is_postgres(bind: Bind) -> bool:
    """True when ``bind`` (an engine, a session or a connection) talks to PostgreSQL."""
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name == "postgresql"
    return bind.dialect.name == "postgresql"


def for_update(query: S, bind: Bind, **options: Any) -> S:
    """``query`` locking the rows it reads until the transaction ends (PostgreSQL only)."""
    if is_postgres(bind):
        return query.with_for_update(**options)  # type: ignore[attr-defined,no-any-return]
    return query
