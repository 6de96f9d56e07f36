"""Until ``tests/conftest.py`` does it itself: empty PostgreSQL between tests with triggers off.

Migration 0007 refuses ``TRUNCATE`` of the ledger tables; the shared ``reset_postgres`` empties
every table with one ``TRUNCATE``, so it must run as ``session_replication_role = replica``
(the test user is a superuser). The fixture below swaps it in for the test modules that import
it; the same three lines belong in ``tests/conftest.py`` (reported to the lead).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def reset_postgres_past_guards(url: str) -> None:
    """``tests.conftest.reset_postgres``, with triggers off for its one transaction."""
    from sqlalchemy import inspect, text

    from legato_pay.ledger.accounts import clear_account_cache
    from legato_pay.store.engine import get_engine

    engine = get_engine(url)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    clear_account_cache()


@pytest.fixture(autouse=True, scope="session")
def _truncate_past_guards() -> Iterator[None]:
    import tests.conftest as root

    original = root.reset_postgres
    root.reset_postgres = reset_postgres_past_guards
    try:
        yield
    finally:
        root.reset_postgres = original
