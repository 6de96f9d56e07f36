"""Where SQLite and PostgreSQL differ, decided once.

Services never branch on the dialect themselves: they ask here. SQLite runs one writer at a time
(``BEGIN IMMEDIATE``), so a row lock is the write transaction itself; PostgreSQL needs
``FOR UPDATE`` to keep two transactions from reading the same row for a decision.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import String, any_, func, literal, select
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


def strings_in(bind: Bind, column: Any, values: Sequence[str]) -> Any:
    """``column IN values`` bound as ONE parameter, however many values there are.

    PostgreSQL takes an array (``= ANY(:values)``); SQLite unpacks a JSON list (``json_each``).
    A plain ``IN`` would need one bind parameter per value and hit SQLite's variable limit."""
    if is_postgres(bind):
        from sqlalchemy.dialects.postgresql import ARRAY  # only PostgreSQL pays its import

        return column == any_(literal(list(values), ARRAY(String)))
    unpacked = func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(select(unpacked.c.value))
