"""The ledger's clock: a caller's time earlier than an account's last leg (a backdated record, an
import with its own times, a run for a past period) never stamps a leg before it, so balances as
of a time stay right; the caller's time is kept as the entry's ``effective_at``."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import case, func, select, text

from legato_pay import ledger
from legato_pay.ledger import transfer
from legato_pay.store.dialect import is_postgres
from legato_pay.store.tables import ACCOUNTS, LEGS

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def post(app: Any, *specs: ledger.EntrySpec, now: datetime) -> list[ledger.EntryView]:
    return app.run(lambda s: ledger.post_entries(s, list(specs), actor=app.actor, now=now))


def posted(app: Any, code: str, as_of: datetime | None = None) -> int:
    return app.run(lambda s: ledger.get_balance(s, code, as_of=as_of), write=False).posted


def summed(session: Any, code: str, as_of: datetime) -> int:
    """The posted balance as of a time the slow way: the sum of the legs stamped by then."""
    signed = case((LEGS.c.is_debit, -LEGS.c.amount), else_=LEGS.c.amount)
    query = (
        select(func.coalesce(func.sum(signed), 0))
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(ACCOUNTS.c.code == code, LEGS.c.created_at <= as_of)
    )
    total = int(session.execute(query).scalar_one())
    return total if ledger.get_account(session, code).normal_side == "credit" else -total


def check_as_of(app: Any, codes: tuple[str, ...], upto: float) -> None:
    """Every account as of every half hour agrees with the sum of its legs by then, and after
    the last posting with its balance now; ``ledger verify`` finds nothing."""

    def check(session: Any) -> None:
        for half in range(int(upto * 2) + 2):
            moment = at(half / 2)
            for code in codes:
                found = ledger.get_balance(session, code, as_of=moment).posted
                assert found == summed(session, code, moment), (code, moment)
        for code in codes:
            now = ledger.get_balance(session, code).posted
            assert ledger.get_balance(session, code, as_of=at(upto + 1)).posted == now

    app.run(check, write=False)
    report = app.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems


def test_a_backdated_posting_is_stamped_at_the_accounts_last_leg(app: Any) -> None:
    app.run(lambda s: ledger.open_account(s, "alice", "USD", no_overdraft=True))
    post(app, transfer("world:USD", "alice", 100, "USD"), now=at(2))
    [late] = post(app, transfer("world:USD", "alice", 50, "USD"), now=at(1))

    assert (late.created_at, late.effective_at) == (at(2), at(1))
    stored = app.run(lambda s: ledger.get_entry(s, late.id), write=False)
    assert (stored.created_at, stored.effective_at) == (at(2), at(1))
    # before T2 the ledger held nothing; from T2 on, both postings
    assert posted(app, "alice", at(1)) == 0
    assert posted(app, "alice", at(1.5)) == 0
    assert posted(app, "alice", at(2)) == 150
    check_as_of(app, ("alice", "world:USD"), upto=2)


def test_backdated_entries_across_accounts_batches_pending_and_reversals(app: Any) -> None:
    app.run(lambda s: ledger.open_account(s, "alice", "USD", no_overdraft=True))
    app.run(lambda s: ledger.open_account(s, "bob", "USD"))
    app.run(lambda s: ledger.open_account(s, "platform", "USD", hot=True))
    post(app, transfer("world:USD", "bob", 10, "USD"), now=at(1))
    post(app, transfer("world:USD", "alice", 1000, "USD"), now=at(3))
    # bob's last leg is at T1 but alice's at T3: the entry touching both is stamped T3
    [move] = post(app, transfer("alice", "bob", 100, "USD"), now=at(2))
    assert (move.created_at, move.effective_at) == (at(3), at(2))
    assert posted(app, "bob", at(2.5)) == 10
    # a batch (several entries, one statement) for a past time, hot account included
    batch = post(
        app,
        transfer("alice", "bob", 5, "USD"),
        transfer("alice", "platform", 7, "USD"),
        transfer("world:USD", "bob", 3, "USD"),
        now=at(0.5),
    )
    assert {view.created_at for view in batch} == {at(3)}
    assert {view.effective_at for view in batch} == {at(0.5)}
    post(app, transfer("world:USD", "bob", 1, "USD"), now=at(4))
    [hold] = post(app, transfer("alice", "bob", 200, "USD", pending=True), now=at(5))

    def resolve(post: bool, entry_id: int, moment: datetime) -> ledger.EntryView:
        return app.run(
            lambda s: ledger.resolve_pending(s, entry_id, post=post, actor="t", now=moment)
        )

    posted_hold = resolve(True, hold.id, at(4.5))
    assert (posted_hold.created_at, posted_hold.effective_at) == (at(5), at(4.5))
    [other] = post(app, transfer("alice", "bob", 30, "USD", pending=True), now=at(6))
    voided = resolve(False, other.id, at(0))
    assert voided.created_at == at(6)
    reversal = app.run(
        lambda s: ledger.reverse_entry(s, move.id, actor="t", reason="undo", now=at(1))
    )
    assert (reversal.created_at, reversal.effective_at) == (at(6), at(1))
    assert posted(app, "alice", at(5.5)) == 1000 - 100 - 5 - 7 - 200
    assert posted(app, "alice") == 1000 - 5 - 7 - 200
    check_as_of(app, ("alice", "bob", "platform", "world:USD"), upto=6)


def test_a_single_posting_on_its_own_transaction_is_stamped_the_same_way(app: Any) -> None:
    """``post_entry`` (on PostgreSQL the lean statement, once the accounts are cached)."""
    app.run(lambda s: ledger.open_account(s, "alice", "USD"))
    spec = transfer("world:USD", "alice", 100, "USD")
    ledger.post_entry(app.engine, spec, actor="t", now=at(1))
    ledger.post_entry(app.engine, spec, actor="t", now=at(3))
    view = ledger.post_entry(app.engine, spec, actor="t", now=at(2))
    assert (view.created_at, view.effective_at) == (at(3), at(2))
    assert posted(app, "alice", at(2.5)) == 100
    check_as_of(app, ("alice", "world:USD"), upto=3)


def test_an_explicit_effective_time_is_kept_and_later_times_are_the_callers(app: Any) -> None:
    app.run(lambda s: ledger.open_account(s, "alice", "USD"))
    post(app, transfer("world:USD", "alice", 100, "USD"), now=at(2))
    spec = ledger.EntrySpec(
        legs=transfer("world:USD", "alice", 5, "USD").legs, effective_at=at(-24)
    )
    [view] = post(app, spec, now=at(1))
    assert (view.created_at, view.effective_at) == (at(2), at(-24))
    [later] = post(app, transfer("world:USD", "alice", 1, "USD"), now=at(7))
    assert (later.created_at, later.effective_at) == (at(7), at(7))


def test_verify_reports_legs_stamped_out_of_order(app: Any) -> None:
    """A ledger written before the clock was kept (or rewritten) shows where as-of balances of
    an account are wrong."""
    app.run(lambda s: ledger.open_account(s, "alice", "USD"))
    post(app, transfer("world:USD", "alice", 100, "USD"), now=at(2))
    [late] = post(app, transfer("world:USD", "alice", 50, "USD"), now=at(3))

    def backdate(session: Any) -> None:
        if is_postgres(session):  # journal rows are append-only there: bypass the triggers
            session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(LEGS.update().where(LEGS.c.entry_id == late.id).values(created_at=at(1)))

    app.run(backdate)
    report = app.run(ledger.verify_ledger, write=False)
    # world:USD is hot: its as-of balance is a sum, right whatever the order
    assert [(p["code"], p["details"]["account"]) for p in report.problems] == [
        ("LEG_CLOCK", "alice")
    ]
    assert report.problems[0]["details"]["created_at"] == at(1).isoformat()
    assert report.problems[0]["details"]["previous_created_at"] == at(2).isoformat()


@pytest.mark.postgres
@pytest.mark.parametrize("accounts", [("alice",), ("alice", "bob")], ids=["one", "several"])
def test_a_posting_that_waited_for_a_lock_is_stamped_after_the_one_it_waited_for(
    postgres_url: str, accounts: tuple[str, ...]
) -> None:
    """PostgreSQL: a posting whose time is earlier than that of a posting holding its account's
    row lock (two hosts' clocks, or a backdated job) is stamped once it gets the lock, from the
    committed time; the statement's snapshot predates that commit."""
    from legato_pay.context import AppContext

    app = AppContext.create(database_url=postgres_url, actor="test")
    for code in accounts:
        app.run(lambda s, code=code: ledger.open_account(s, code, "USD"))
    ledger.post_entry(app.engine, transfer("world:USD", "alice", 1, "USD"), actor="t", now=at(0))
    spec = transfer("world:USD", "alice", 100, "USD")
    if len(accounts) == 2:
        spec = ledger.EntrySpec(legs=(*spec.legs, *transfer("world:USD", "bob", 1, "USD").legs))
    holding, release = threading.Event(), threading.Event()

    def hold(session: Any) -> None:
        ledger.post_entries(session, [spec], actor="a", now=at(2))
        holding.set()
        assert release.wait(30)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(app.run, hold)
        assert holding.wait(30)
        second = pool.submit(lambda: post(app, spec, now=at(1)))
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 30
        while not app.run(lambda s: s.execute(waiting).scalar_one(), write=False):
            assert time.monotonic() < deadline and not second.done()
            time.sleep(0.01)
        release.set()
        first.result()
        [view] = second.result()
    assert (view.created_at, view.effective_at) == (at(2), at(1))
    check_as_of(app, ("alice",), upto=2)
