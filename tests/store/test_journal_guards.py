"""PostgreSQL's guards of migration 0007: account identity and limits, seals, checkpoints,
pending rows and ``TRUNCATE`` are refused; what the ledger itself updates still works."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from legato_pay import ledger
from legato_pay.store.engine import get_engine, session_scope

pytestmark = pytest.mark.postgres


def _sealed_journal(url: str) -> tuple[Any, dict[str, int]]:
    """Accounts (one no-overdraft, one hot), postings, an open and a resolved pending entry,
    and a seal with a checkpoint."""
    engine = get_engine(url)
    with session_scope(engine) as session:
        ledger.open_account(session, "guarded", "USD", no_overdraft=True)
        ledger.open_account(session, "ops:hot", "USD", hot=True)
        ledger.post_entries(
            session, [ledger.transfer("world:USD", "guarded", 500, "USD")], actor="test"
        )
        [held, open_] = ledger.post_entries(
            session,
            [
                ledger.transfer("guarded", "ops:hot", 100, "USD", pending=True),
                ledger.transfer("guarded", "ops:hot", 50, "USD", pending=True),
            ],
            actor="test",
        )
        ledger.resolve_pending(session, held.id, post=True, actor="test")  # both steps allowed
        ledger.seal(session, actor="cron")
    return engine, {"resolved": held.id, "open": open_.id}


def _refused(engine: Any, statement: str, **params: Any) -> str:
    with pytest.raises(DBAPIError) as caught, session_scope(engine) as session:
        session.execute(text(statement), params)
    assert getattr(caught.value.orig, "sqlstate", None) == "23001"  # restrict_violation
    return str(caught.value.orig)


def _scalar(engine: Any, statement: str, **params: Any) -> Any:
    with session_scope(engine, write=False) as session:
        return session.execute(text(statement), params).scalar_one()


def test_account_identity_and_limits_cannot_change(postgres_url: str) -> None:
    engine, _ = _sealed_journal(postgres_url)
    for change in (
        "code = 'stolen'",
        "currency = 'EUR'",
        "no_overdraft = false",
        "normal_side = 'debit'",
        "hot = true, no_overdraft = false",
        "metadata_json = '{}'",
        "id = id + 1000",
    ):
        message = _refused(engine, f"UPDATE ledger_accounts SET {change} WHERE code = 'guarded'")
        assert "never change" in message
    # swapping two codes in one statement is refused too
    _refused(
        engine,
        "UPDATE ledger_accounts SET code = CASE code WHEN 'guarded' THEN 'ops:hot'"
        " ELSE 'guarded' END WHERE code IN ('guarded', 'ops:hot')",
    )
    assert _scalar(engine, "SELECT no_overdraft FROM ledger_accounts WHERE code = 'guarded'")


def test_postings_and_seals_still_update_totals(postgres_url: str) -> None:
    engine, _ = _sealed_journal(postgres_url)
    with session_scope(engine) as session:
        ledger.post_entries(
            session, [ledger.transfer("guarded", "ops:hot", 10, "USD")], actor="test"
        )
        ledger.seal(session, actor="cron")  # rolls the hot account's totals up
    assert ledger.post_entry(
        engine, ledger.transfer("world:USD", "guarded", 1, "USD"), actor="test"
    ).id
    with session_scope(engine, write=False) as session:
        assert ledger.get_balance(session, "ops:hot").posted == 110
    with session_scope(engine, write=False) as session:
        assert ledger.verify_ledger(session).ok


def test_seals_and_checkpoints_cannot_change(postgres_url: str) -> None:
    engine, _ = _sealed_journal(postgres_url)
    assert _scalar(engine, "SELECT count(*) FROM ledger_checkpoints") >= 1
    for statement in (
        "UPDATE ledger_seals SET hash = repeat('f', 64)",
        "DELETE FROM ledger_seals",
        "UPDATE ledger_checkpoints SET credits_posted = credits_posted + 1",
        "DELETE FROM ledger_checkpoints",
    ):
        assert "never changed or deleted" in _refused(engine, statement)


def test_pending_rows_only_move_as_resolution_moves_them(postgres_url: str) -> None:
    engine, ids = _sealed_journal(postgres_url)
    for statement in (
        "UPDATE ledger_pending SET status = 'pending' WHERE entry_id = :resolved",
        "UPDATE ledger_pending SET status = 'voided' WHERE entry_id = :resolved",
        "UPDATE ledger_pending SET resolved_entry_id = NULL WHERE entry_id = :resolved",
        "UPDATE ledger_pending SET resolved_entry_id = :open WHERE entry_id = :resolved",
        "UPDATE ledger_pending SET expires_at = now() WHERE entry_id = :open",
        "UPDATE ledger_pending SET post_at = now() WHERE entry_id = :open",
        "UPDATE ledger_pending SET status = 'gone' WHERE entry_id = :open",
        "UPDATE ledger_pending SET resolved_entry_id = :resolved WHERE entry_id = :open",
        "DELETE FROM ledger_pending WHERE entry_id = :open",
    ):
        assert "only moves to posted or voided" in _refused(engine, statement, **ids)
    # the real resolution still works
    with session_scope(engine) as session:
        view = ledger.resolve_pending(session, ids["open"], post=False, actor="test")
    assert (
        _scalar(
            engine,
            "SELECT resolved_entry_id FROM ledger_pending WHERE entry_id = :id",
            id=ids["open"],
        )
        == view.id
    )


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE ledger_legs CASCADE",
        "TRUNCATE ledger_entries CASCADE",
        "TRUNCATE ledger_accounts CASCADE",
        "TRUNCATE ledger_pending",
        "TRUNCATE ledger_seals CASCADE",
        "TRUNCATE ledger_checkpoints",
    ],
)
def test_the_ledger_cannot_be_truncated(postgres_url: str, statement: str) -> None:
    engine, _ = _sealed_journal(postgres_url)
    legs = _scalar(engine, "SELECT count(*) FROM ledger_legs")
    assert "never emptied" in _refused(engine, statement)
    assert _scalar(engine, "SELECT count(*) FROM ledger_legs") == legs


def test_a_superuser_with_triggers_off_is_caught_by_verify(postgres_url: str) -> None:
    engine, _ = _sealed_journal(postgres_url)
    with session_scope(engine) as session:
        session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(text("UPDATE ledger_accounts SET no_overdraft = false"))
    with session_scope(engine, write=False) as session:
        report = ledger.verify_ledger(session)
    assert {problem["code"] for problem in report.problems} == {"SEAL_CHAIN"}
