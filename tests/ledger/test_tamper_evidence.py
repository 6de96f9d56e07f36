"""Tamper evidence without gaps: seals cover account definitions as well as entries, in an
encoding where no value can move between fields, and ``verify`` names each kind of tampering.

Each case tampers through raw SQL on both databases; on PostgreSQL that takes a superuser who
turns triggers off (``tamper`` below), since migration 0007 refuses it otherwise
(``test_journal_guards.py`` shows the refusals).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from legato_pay import ledger
from legato_pay.ledger import transfer
from legato_pay.ledger.accounts import clear_account_cache
from legato_pay.ledger.sealing import GENESIS_HASH, SEAL_VERSION, chain, entry_digest_lines
from legato_pay.store.engine import get_engine, session_scope
from tests.ledger.test_ledger_seal_verify import (
    a_day_of_business,
    balance,
    open_account,
    post,
    problem_codes,
    scalar,
    seal,
    tamper,
    verify,
)


def sealed_day(app: Any) -> dict[str, int]:
    ids = a_day_of_business(app)
    seal(app)
    report = verify(app)
    assert report.ok, report.problems
    return ids


def seals(app: Any) -> list[Any]:
    return app.run(
        lambda s: s.execute(
            text(
                "SELECT id, version, account_upto, account_count, entry_count, hash"
                " FROM ledger_seals ORDER BY to_entry_id"
            )
        ).all(),
        write=False,
    )


def test_a_seal_covers_every_account_opened_before_it(app: Any) -> None:
    sealed_day(app)
    accounts = scalar(app, "SELECT COUNT(*) FROM ledger_accounts")
    [first] = seals(app)
    assert (first.version, first.account_count) == (SEAL_VERSION, accounts)
    assert first.account_upto == scalar(app, "SELECT MAX(id) FROM ledger_accounts")
    # the next seal covers only the accounts opened since
    open_account(app, "ops:float", "EUR")
    post(app, transfer("world:EUR", "ops:float", 100, "EUR"))
    seal(app)
    second = seals(app)[1]
    assert second.account_count == 2  # ops:float and world:EUR
    assert verify(app).ok


def test_swapping_two_accounts_codes_is_caught(app: Any) -> None:
    sealed_day(app)
    before = balance(app, "writer:7:earnings:USD")
    # both hold USD with a no-overdraft limit: the swap moves the writer's earnings elsewhere
    tamper(app, "UPDATE ledger_accounts SET code = 'tmp' WHERE code = 'writer:7:earnings:USD'")
    tamper(
        app,
        "UPDATE ledger_accounts SET code = 'writer:7:earnings:USD'"
        " WHERE code = 'payouts:in_flight'",
    )
    tamper(app, "UPDATE ledger_accounts SET code = 'payouts:in_flight' WHERE code = 'tmp'")
    clear_account_cache()  # as a new process would see it
    assert balance(app, "writer:7:earnings:USD") != before
    report = verify(app)
    assert problem_codes(report) == {"SEAL_CHAIN"}
    assert "accounts" in report.problems[0]["message"]


def test_clearing_a_no_overdraft_limit_is_caught(app: Any) -> None:
    sealed_day(app)
    tamper(app, "UPDATE ledger_accounts SET no_overdraft = false WHERE code = 'reader:1:coins'")
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_changing_an_unused_accounts_limit_or_side_is_caught(app: Any) -> None:
    """An account with no postings yet is sealed too: its limit cannot be cleared beforehand."""
    sealed_day(app)
    open_account(app, "ops:reserve", "USD", no_overdraft=True)
    open_account(app, "ops:float", "USD")
    post(app, transfer("world:USD", "ops:float", 1, "USD"))
    seal(app)
    assert verify(app).ok
    tamper(app, "UPDATE ledger_accounts SET no_overdraft = false WHERE code = 'ops:reserve'")
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}
    tamper(app, "UPDATE ledger_accounts SET no_overdraft = true WHERE code = 'ops:reserve'")
    assert verify(app).ok
    tamper(app, "UPDATE ledger_accounts SET normal_side = 'debit' WHERE code = 'ops:reserve'")
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_changing_an_accounts_currency_is_caught(app: Any) -> None:
    sealed_day(app)
    tamper(app, "UPDATE ledger_accounts SET currency = 'EUR' WHERE code = 'payouts:in_flight'")
    report = verify(app)
    assert {"SEAL_CHAIN", "LEG_CURRENCY"} <= problem_codes(report)


def tamper_without_foreign_keys(app: Any, statement: str) -> None:
    """SQLite checks foreign keys per connection: a plain ``sqlite3`` connection does not."""
    if not app.database_url.startswith("sqlite"):
        tamper(app, statement)  # triggers (and with them foreign keys) off
        return
    connection = sqlite3.connect(app.database_url.removeprefix("sqlite:///"))
    try:
        connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


def test_deleting_an_account_row_is_caught(app: Any) -> None:
    sealed_day(app)
    tamper_without_foreign_keys(app, "DELETE FROM ledger_accounts WHERE code = 'coins:spent'")
    report = verify(app)
    assert {"SEAL_CHAIN", "LEG_ACCOUNT"} <= problem_codes(report)
    chain_problem = next(
        p for p in report.problems if p["code"] == "SEAL_CHAIN" and "found_accounts" in p["details"]
    )
    details = chain_problem["details"]
    assert details["found_accounts"] == details["expected_accounts"] - 1


def test_deleting_an_unused_account_row_is_caught(app: Any) -> None:
    sealed_day(app)
    open_account(app, "ops:unused", "USD")
    post(app, transfer("world:USD", "payouts:in_flight", 1, "USD"))
    seal(app)
    tamper(app, "DELETE FROM ledger_accounts WHERE code = 'ops:unused'")
    # no leg points at it: only the seal knows it existed
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_moving_a_separator_between_actor_and_reason_is_caught(app: Any) -> None:
    open_account(app, "ops:a", "USD")
    [entry] = app.run(
        lambda s: ledger.post_entries(
            s, [transfer("world:USD", "ops:a", 5, "USD", reason="c")], actor="a|b"
        )
    )
    seal(app)
    assert verify(app).ok
    tamper(
        app,
        "UPDATE ledger_entries SET actor = 'a', reason = 'b|c' WHERE id = :id",
        id=entry.id,
    )
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_the_old_encoding_could_not_tell_those_apart(app: Any) -> None:
    """Why version 1 was replaced: its ``|``-joined text is the same for both entries."""
    open_account(app, "ops:a", "USD")
    [entry] = app.run(
        lambda s: ledger.post_entries(
            s, [transfer("world:USD", "ops:a", 5, "USD", reason="c")], actor="a|b"
        )
    )

    def lines(version: int) -> list[str]:
        return app.run(
            lambda s: [c for _, c, _ in entry_digest_lines(s, 0, entry.id, version=version)],
            write=False,
        )

    before = (lines(1), lines(2))
    tamper(app, "UPDATE ledger_entries SET actor = 'a', reason = 'b|c' WHERE id = :id", id=entry.id)
    assert lines(1) == before[0]
    assert lines(2) != before[1]


def test_changing_a_leg_and_deleting_an_entry_are_caught(app: Any) -> None:
    ids = sealed_day(app)
    tamper(app, "UPDATE ledger_legs SET currency = 'EUR' WHERE entry_id = :id", id=ids["wrong"])
    assert {"SEAL_CHAIN", "LEG_CURRENCY"} <= problem_codes(verify(app))
    tamper(app, "UPDATE ledger_legs SET currency = 'USD' WHERE entry_id = :id", id=ids["wrong"])
    assert verify(app).ok
    tamper(app, "DELETE FROM ledger_legs WHERE entry_id = :id", id=ids["reversal"])
    tamper(app, "DELETE FROM ledger_entries WHERE id = :id", id=ids["reversal"])
    assert {"SEAL_CHAIN", "TOTALS_MISMATCH"} <= problem_codes(verify(app))


def test_downgrading_a_seal_to_the_old_encoding_is_caught(app: Any) -> None:
    sealed_day(app)
    post(app, transfer("world:USD", "payouts:in_flight", 1, "USD"))
    seal(app)
    tamper(app, "UPDATE ledger_seals SET version = 1 WHERE id = (SELECT MAX(id) FROM ledger_seals)")
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_seals_made_before_version_2_still_verify(app: Any) -> None:
    """A journal sealed in the old encoding (before migration 0007) keeps verifying, and the
    first new seal chains onto it and covers every account."""
    open_account(app, "ops:a", "USD")
    post(app, *[transfer("world:USD", "ops:a", 5, "USD") for _ in range(3)])

    seal(app)  # then rewritten as a version 1 seal would have been made

    def old_hash(session: Any) -> str:
        digest = GENESIS_HASH
        for _, canonical, _ in entry_digest_lines(session, 0, 3, version=1):
            digest = chain(digest, canonical)
        return digest

    tamper(
        app,
        "UPDATE ledger_seals SET version = 1, account_upto = NULL, account_count = NULL,"
        " hash = :hash",
        hash=app.run(old_hash, write=False),
    )
    report = verify(app)
    assert report.ok, report.problems
    assert report.sealed_entries == 3
    post(app, transfer("world:USD", "ops:a", 5, "USD"))
    result = seal(app)
    assert (result.seals, result.entries) == (1, 1)
    old, new = seals(app)
    assert (old.version, new.version) == (1, SEAL_VERSION)
    assert new.account_count == 2  # ops:a and world:USD, never sealed before
    assert verify(app).ok
    # and tampering with an old entry is still caught
    tamper(app, "UPDATE ledger_entries SET actor = 'intruder' WHERE id = 2")
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_canonical_text_is_json_with_every_field(app: Any) -> None:
    open_account(app, "ops:a", "USD")
    post(app, transfer("world:USD", "ops:a", 5, "USD", reason='x"|\n'))
    [line] = app.run(
        lambda s: [c for _, c, _ in entry_digest_lines(s, 0, 1)],
        write=False,
    )
    decoded = json.loads(line)
    assert decoded[0] == "entry" and decoded[8] == 'x"|\n'
    assert "\n" not in line  # one line per entry: the chain's separator cannot occur inside
    assert line.isascii()


@pytest.mark.postgres
def test_an_account_opened_while_a_seal_runs_is_sealed_once(postgres_url: str) -> None:
    """Account ids come from a sequence, so one opened in a transaction still in flight could
    commit below a seal's watermark after the seal and look deleted to ``verify``. Opening
    takes the journal lock shared, as postings do; the seal's watermark waits for it."""
    engine = get_engine(postgres_url)
    with session_scope(engine) as session:
        ledger.open_account(session, "ops:a", "USD")
        ledger.post_entries(session, [transfer("world:USD", "ops:a", 5, "USD")], actor="test")
    start = threading.Barrier(2)
    opened, release = threading.Event(), threading.Event()

    def open_slowly() -> None:
        start.wait()
        with session_scope(engine) as session:
            ledger.open_account(session, "ops:late", "USD")
            opened.set()
            release.wait(10)  # committed only after the seal has started

    def seal_now() -> Any:
        start.wait()
        assert opened.wait(10)
        with session_scope(engine) as session:
            return ledger.seal(session, actor="cron")

    with ThreadPoolExecutor(2) as pool:
        opening, sealing = pool.submit(open_slowly), pool.submit(seal_now)
        time.sleep(0.5)
        assert not sealing.done()  # waiting for the account's transaction
        release.set()
        opening.result()
        assert sealing.result().entries == 1
    with session_scope(engine, write=False) as session:
        report = ledger.verify_ledger(session)
        count = session.execute(text("SELECT account_count FROM ledger_seals")).scalar_one()
    assert report.ok, report.problems
    assert count == 3  # ops:a, world:USD and ops:late
