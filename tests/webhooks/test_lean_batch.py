"""The webhook batch's lean path on PostgreSQL: its inbox and purchase statements run as plain
SQL on the unit of work's connection (``store.raw``), with the same results and the same
errors for the retry loop as through SQLAlchemy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from legato_pay.context import AppContext
from legato_pay.store.engine import run_in_transaction
from legato_pay.store.raw import pg_execute
from legato_pay.webhooks import inbox
from tests.factories import assert_ledger_ok
from tests.factories import wallet_json as wallet
from tests.webhooks.test_webhook_batches import charge, purchase_status, seed


@pytest.mark.postgres
def test_a_batch_on_known_accounts_runs_nothing_through_sqlalchemy(postgres_url: str) -> None:
    app = AppContext.create(database_url=postgres_url, actor="test")
    seed(app, "w1", "w2", "w3", "w4")
    first = app.run(lambda s: inbox.store_and_apply_many(s, [charge("w1"), charge("w2")]))
    assert first == [("applied", False), ("applied", False)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        deliveries = [charge("w3"), charge("w4"), charge("w1"), charge("w3")]
        results = app.run(lambda s: inbox.store_and_apply_many(s, deliveries))
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
    assert results == [("applied", False), ("applied", False), ("applied", True), ("applied", True)]
    assert statements == []  # new events, a repeat, one within the batch: all plain SQL
    assert wallet(app, "r1")["paid"] == 400
    assert [purchase_status(app, ref) for ref in ("w1", "w2", "w3", "w4")] == ["succeeded"] * 4
    assert_ledger_ok(app)


@pytest.mark.postgres
def test_plain_sql_errors_are_sqlalchemys_so_a_lost_race_is_retried(postgres_url: str) -> None:
    app = AppContext.create(database_url=postgres_url, actor="test")
    seed(app, "dup")
    statement = (
        "INSERT INTO webhook_events (provider, event_key, event_type, payload, status, attempts,"
        " received_at) VALUES ('paystack', $1, 'charge.success', '{}', 'received', 0, now())"
    )
    attempts: list[int] = []

    def work(session: Any) -> None:
        attempts.append(1)
        pg_execute(session, statement, ["k1"])
        pg_execute(session, statement, ["k1"])  # a unique key taken: what a lost race raises

    with pytest.raises(IntegrityError):
        run_in_transaction(app.engine, work, max_retries=2)
    assert len(attempts) == 3  # retried as an integrity error from SQLAlchemy would be
