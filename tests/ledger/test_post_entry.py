"""``post_entry``: one entry in a transaction of its own. On PostgreSQL it runs the posting
statement alone (no unit of work around it) when the accounts are known; whatever it does, the
result, the errors and the replays are those of ``post_entries``, and a refused posting leaves
nothing behind (no account updated without its entry)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from legato_pay import ledger
from legato_pay.errors import AccountNotFound, IdempotencyConflict, InsufficientFunds
from legato_pay.ledger import posting, transfer
from legato_pay.ledger.accounts import clear_account_cache
from legato_pay.store.dialect import is_postgres


@pytest.fixture
def wallets(app: Any) -> Any:
    app.run(lambda s: ledger.open_account(s, "alice", "USD", no_overdraft=True))
    app.run(lambda s: ledger.open_account(s, "bob", "USD", no_overdraft=True))
    app.run(
        lambda s: ledger.post_entries(s, [transfer("world:USD", "alice", 500, "USD")], actor="t")
    )
    return app


@pytest.fixture
def lean_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each ``post_entry`` call was done by the statement alone."""
    calls: list[bool] = []
    lean = posting._post_lean

    def spy(*args: Any, **kwargs: Any) -> Any:
        view = lean(*args, **kwargs)
        calls.append(view is not None)
        return view

    monkeypatch.setattr(posting, "_post_lean", spy)
    return calls


def balances(app: Any, *codes: str) -> list[tuple[int, int, int]]:
    views = app.run(lambda s: [ledger.get_balance(s, code) for code in codes], write=False)
    return [(view.posted, view.pending, view.available) for view in views]


def test_post_entry_posts_what_post_entries_would(wallets: Any, lean_calls: list[bool]) -> None:
    spec = transfer("alice", "bob", 120, "USD", idempotency_key="k1", reason="lunch")
    view = ledger.post_entry(wallets.engine, spec, actor="t")
    assert view == wallets.run(lambda s: ledger.get_entry(s, view.id), write=False)
    assert not view.replayed
    assert balances(wallets, "alice", "bob") == [(380, 0, 380), (120, 0, 120)]
    assert lean_calls == ([True] if is_postgres(wallets.engine) else [])


def test_a_repeated_key_replays_and_different_content_conflicts(wallets: Any) -> None:
    spec = transfer("alice", "bob", 120, "USD", idempotency_key="k1")
    first = ledger.post_entry(wallets.engine, spec, actor="t")
    again = ledger.post_entry(wallets.engine, spec, actor="t")
    assert (again.id, again.replayed) == (first.id, True)
    with pytest.raises(IdempotencyConflict):
        ledger.post_entry(
            wallets.engine, transfer("alice", "bob", 121, "USD", idempotency_key="k1"), actor="t"
        )
    assert balances(wallets, "alice", "bob") == [(380, 0, 380), (120, 0, 120)]


def test_a_refused_posting_leaves_no_account_updated(wallets: Any) -> None:
    """Bob's total would be updated before Alice's limit stops the entry: run alone, the
    statement must fail whole, not commit Bob's credit without its entry."""
    spec = ledger.EntrySpec(
        legs=(
            ledger.LegSpec("alice", "debit", 600, "USD"),
            ledger.LegSpec("bob", "credit", 600, "USD"),
        )
    )
    with pytest.raises(InsufficientFunds) as caught:
        ledger.post_entry(wallets.engine, spec, actor="t")
    assert caught.value.details["available"] == 500
    assert balances(wallets, "alice", "bob") == [(500, 0, 500), (0, 0, 0)]
    report = wallets.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems


def test_accounts_not_known_yet_take_the_ordinary_path(
    wallets: Any, lean_calls: list[bool]
) -> None:
    clear_account_cache()
    with pytest.raises(AccountNotFound):
        ledger.post_entry(wallets.engine, transfer("alice", "nobody", 5, "USD"), actor="t")
    ledger.post_entry(wallets.engine, transfer("alice", "bob", 5, "USD"), actor="t")
    ledger.post_entry(wallets.engine, transfer("alice", "bob", 7, "USD"), actor="t")
    assert balances(wallets, "alice", "bob") == [(488, 0, 488), (12, 0, 12)]
    if is_postgres(wallets.engine):
        # looked up in a unit of work once; known to the process from then on
        assert lean_calls == [False, False, True]


def test_concurrent_single_postings_never_overdraw(wallets: Any) -> None:
    """Four threads spend 10 at a time from a wallet holding 500 until it refuses: exactly 50
    spends get through, the wallet ends at zero, and every total matches the journal."""
    from concurrent.futures import ThreadPoolExecutor

    engine = wallets.engine

    def spend(thread: int) -> int:
        done = 0
        for n in range(20):
            spec = transfer("alice", "bob", 10, "USD", idempotency_key=f"spend:{thread}:{n}")
            try:
                ledger.post_entry(engine, spec, actor="t")
            except InsufficientFunds:
                continue
            done += 1
        return done

    with ThreadPoolExecutor(max_workers=4) as pool:
        spent = sum(pool.map(spend, range(4)))
    assert spent == 50
    assert balances(wallets, "alice", "bob") == [(0, 0, 0), (500, 0, 500)]
    report = wallets.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems


def test_a_connection_lost_between_postings_is_replaced(wallets: Any) -> None:
    """PostgreSQL: a single posting runs on its thread's own connection, kept between
    postings. When the server ends that connection, the next posting either fails (a
    connection failure: whether it committed is unknown) or, when the server's answer says
    nothing ran (its termination notice), takes the ordinary path; either way the posting
    after it opens a new connection, and nothing is posted twice."""
    import time

    from sqlalchemy import text

    from legato_pay.store import raw

    engine = wallets.engine
    if not is_postgres(engine):
        pytest.skip("the statement runs alone on PostgreSQL only")
    ledger.post_entry(engine, transfer("alice", "bob", 1, "USD"), actor="t")
    held = raw.autocommit_cursor(engine).connection
    pid = held.info.backend_pid
    wallets.run(lambda s: s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}))
    while wallets.run(
        lambda s: s.execute(
            text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).first(),
        write=False,
    ):
        time.sleep(0.01)
    try:
        ledger.post_entry(engine, transfer("alice", "bob", 2, "USD"), actor="t")
        posted = 3
    except DBAPIError:
        posted = 1
    assert held.closed
    ledger.post_entry(engine, transfer("alice", "bob", 4, "USD"), actor="t")
    assert raw.autocommit_cursor(engine).connection is not held
    assert balances(wallets, "alice", "bob") == [
        (500 - posted - 4, 0, 496 - posted),
        (posted + 4, 0, posted + 4),
    ]
