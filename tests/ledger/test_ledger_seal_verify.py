"""Sealing and verification: a realistic day verifies clean, and tampering is caught.

The tamper tests edit the database behind the ledger's back with raw SQL, as an intruder or a
careless migration would, and check that ``verify`` names what broke.
"""

from __future__ import annotations

import itertools
import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from legato_pay import ledger
from legato_pay.config import load_settings
from legato_pay.context import AppContext
from legato_pay.errors import InsufficientFunds
from legato_pay.ledger import EntrySpec, LegSpec, transfer
from legato_pay.ledger.sealing import GENESIS_HASH
from legato_pay.store.dialect import is_postgres


def open_account(app: Any, code: str, currency: str = "USD", **options: Any) -> None:
    app.run(lambda s: ledger.open_account(s, code, currency, **options))


def post(app: Any, *specs: EntrySpec) -> list[ledger.EntryView]:
    return app.run(lambda s: ledger.post_entries(s, list(specs), actor=app.actor))


def seal(app: Any, batch_size: int = 50000) -> Any:
    return app.run(lambda s: ledger.seal(s, actor="cron", batch_size=batch_size))


def verify(app: Any) -> Any:
    return app.run(ledger.verify_ledger, write=False)


def scalar(app: Any, statement: str, **params: Any) -> Any:
    return app.run(lambda s: s.execute(text(statement), params).scalar_one(), write=False)


def problem_codes(report: Any) -> set[str]:
    return {problem["code"] for problem in report.problems}


def balance(app: Any, code: str) -> tuple[int, int, int]:
    result = app.run(lambda s: ledger.get_balance(s, code), write=False)
    return result.posted, result.pending, result.available


STORY_ACCOUNTS: list[tuple[str, str, dict[str, Any]]] = [
    ("gateway:sandbox:USD", "USD", {"normal_side": "debit"}),
    ("coin_sales:USD", "USD", {"hot": True}),
    ("reader:1:coins", "COIN", {"no_overdraft": True}),
    ("coins:issued", "COIN", {"hot": True}),
    ("coins:spent", "COIN", {}),
    ("writer:7:earnings:USD", "USD", {"no_overdraft": True}),
    ("platform:revenue:USD", "USD", {"hot": True}),
    ("payouts:in_flight", "USD", {"no_overdraft": True}),
]


def a_day_of_business(app: Any) -> dict[str, int]:
    """Coin sales, unlocks split 70/30, a tip under a refund hold, payouts, a reversal.

    Recorded in one unit of work (the tests around it care about what is stored, not how many
    transactions stored it), which keeps the tamper tests fast.
    """

    def story(session: Any) -> dict[str, int]:
        def post(*specs: EntrySpec) -> list[ledger.EntryView]:
            return ledger.post_entries(session, list(specs), actor="test")

        def resolve(entry_id: int, **options: Any) -> ledger.EntryView:
            return ledger.resolve_pending(session, entry_id, actor="test", **options)

        for code, currency, options in STORY_ACCOUNTS:
            ledger.open_account(session, code, currency, **options)
        [purchase] = post(
            EntrySpec(
                legs=(
                    LegSpec("gateway:sandbox:USD", "debit", 999),
                    LegSpec("coin_sales:USD", "credit", 999),
                    LegSpec("coins:issued", "debit", 1100),
                    LegSpec("reader:1:coins", "credit", 1100),
                ),
                idempotency_key="purchase:pi_1",
            )
        )
        post(*[transfer("world:USD", "gateway:sandbox:USD", 500, "USD") for _ in range(2)])
        for chapter in range(3):
            post(
                transfer(
                    "reader:1:coins", "coins:spent", 10, "COIN", idempotency_key=f"u:{chapter}"
                ),
                EntrySpec(
                    legs=(
                        LegSpec("coin_sales:USD", "debit", 10),
                        LegSpec("writer:7:earnings:USD", "credit", 7),
                        LegSpec("platform:revenue:USD", "credit", 3),
                    )
                ),
            )
        [tip] = post(transfer("coin_sales:USD", "writer:7:earnings:USD", 70, "USD", pending=True))
        resolve(tip.id, post=True)
        post(transfer("world:USD", "writer:7:earnings:USD", 5000, "USD"))
        [payout] = post(
            transfer("writer:7:earnings:USD", "payouts:in_flight", 2000, "USD", pending=True)
        )
        resolve(payout.id, post=True, amount=1500)
        [failed] = post(
            transfer("writer:7:earnings:USD", "payouts:in_flight", 100, "USD", pending=True)
        )
        resolve(failed.id, post=False, reason="transfer failed")
        [wrong] = post(transfer("world:USD", "writer:7:earnings:USD", 123, "USD"))
        reversal = ledger.reverse_entry(session, wrong.id, actor="ops", reason="mistake")
        return {"purchase": purchase.id, "wrong": wrong.id, "reversal": reversal.id}

    return app.run(story)


def test_an_empty_ledger_verifies(app: Any) -> None:
    report = verify(app)
    assert report.ok
    assert report.as_json() == {
        "ok": True,
        "accounts": 0,
        "entries": 0,
        "sealed_entries": 0,
        "problem_count": 0,
        "problems": [],
    }
    nothing = seal(app)
    assert (nothing.seals, nothing.entries, nothing.last_entry_id) == (0, 0, None)
    assert nothing.last_hash == GENESIS_HASH


def test_a_day_of_business_verifies_before_and_after_sealing(app: Any) -> None:
    ids = a_day_of_business(app)
    entries = scalar(app, "SELECT COUNT(*) FROM ledger_entries")
    report = verify(app)
    assert report.ok, report.problems
    assert (report.entries, report.sealed_entries) == (entries, 0)
    before = {code: balance(app, code) for code in ("platform:revenue:USD", "coin_sales:USD")}
    assert before["platform:revenue:USD"] == (9, 0, 9)

    result = seal(app)
    assert (result.seals, result.entries, result.last_entry_id) == (1, entries, ids["reversal"])
    assert len(result.last_hash) == 64 and result.last_hash != GENESIS_HASH
    report = verify(app)
    assert report.ok, report.problems
    assert report.sealed_entries == entries
    assert {code: balance(app, code) for code in before} == before
    # the hot account's stored totals were rolled up from its legs by the seal
    assert (
        scalar(
            app, "SELECT credits_posted FROM ledger_accounts WHERE code = 'platform:revenue:USD'"
        )
        == 9
    )

    again = seal(app)
    assert (again.seals, again.entries, again.last_hash) == (0, 0, result.last_hash)

    # more business, sealed in small batches that chain onto the first seal
    post(app, *[transfer("world:USD", "platform:revenue:USD", 1, "USD") for _ in range(5)])
    more = seal(app, batch_size=2)
    assert (more.seals, more.entries) == (3, 5)
    links = app.run(
        lambda s: s.execute(
            text("SELECT prev_hash, hash, entry_count FROM ledger_seals ORDER BY to_entry_id")
        ).all(),
        write=False,
    )
    assert links[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(links))
    assert [link.entry_count for link in links] == [entries, 2, 2, 1]
    report = verify(app)
    assert report.ok, report.problems
    assert report.sealed_entries == entries + 5
    assert balance(app, "platform:revenue:USD") == (14, 0, 14)


@pytest.fixture
def sealed(app: Any) -> dict[str, int]:
    ids = a_day_of_business(app)
    seal(app)
    assert verify(app).ok
    return ids


def leg_id(app: Any, entry_id: int, code: str) -> int:
    return scalar(
        app,
        "SELECT l.id FROM ledger_legs l JOIN ledger_accounts a ON a.id = l.account_id "
        "WHERE l.entry_id = :entry AND a.code = :code",
        entry=entry_id,
        code=code,
    )


def tamper(app: Any, statement: str, **params: Any) -> None:
    """Rewrite rows behind the ledger's back. PostgreSQL refuses updates and deletes of journal
    rows (migration 0005), so there this plays someone allowed to bypass triggers."""

    def work(session: Any) -> None:
        if is_postgres(session):
            session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(text(statement), params)

    app.run(work)


def test_changing_a_sealed_leg_amount_is_caught(app: Any, sealed: dict[str, int]) -> None:
    leg = leg_id(app, sealed["wrong"], "writer:7:earnings:USD")
    tamper(app, "UPDATE ledger_legs SET amount = amount + 1000 WHERE id = :id", id=leg)
    report = verify(app)
    assert not report.ok
    codes = problem_codes(report)
    assert {"SEAL_CHAIN", "ENTRY_UNBALANCED", "TOTALS_MISMATCH", "RUNNING_TOTALS"} <= codes
    mismatch = next(p for p in report.problems if p["code"] == "TOTALS_MISMATCH")
    assert mismatch["details"]["account"] == "writer:7:earnings:USD"


def test_a_balanced_rewrite_of_history_is_caught_by_the_seal(
    app: Any, sealed: dict[str, int]
) -> None:
    # Rewrite who made an entry: every total still adds up, only the hash chain knows.
    tamper(app, "UPDATE ledger_entries SET actor = 'intruder' WHERE id = :id", id=sealed["wrong"])
    report = verify(app)
    assert problem_codes(report) == {"SEAL_CHAIN"}
    assert report.problems[0]["details"]["seal_id"] == 1


def test_deleting_a_sealed_entry_is_caught(app: Any, sealed: dict[str, int]) -> None:
    entry = sealed["purchase"]
    tamper(app, "DELETE FROM ledger_legs WHERE entry_id = :id", id=entry)
    tamper(app, "DELETE FROM ledger_entries WHERE id = :id", id=entry)
    report = verify(app)
    codes = problem_codes(report)
    assert {"SEAL_CHAIN", "TOTALS_MISMATCH"} <= codes
    chain = next(p for p in report.problems if p["code"] == "SEAL_CHAIN")
    assert chain["details"]["found_entries"] == chain["details"]["expected_entries"] - 1


def test_editing_an_account_total_is_caught(app: Any, sealed: dict[str, int]) -> None:
    tamper(
        app,
        "UPDATE ledger_accounts SET credits_posted = credits_posted + 100000 "
        "WHERE code = 'writer:7:earnings:USD'",
    )
    report = verify(app)
    assert problem_codes(report) == {"TOTALS_MISMATCH"}
    [problem] = report.problems
    details = problem["details"]
    assert details["account"] == "writer:7:earnings:USD"
    assert details["stored"]["credits_posted"] - details["from_legs"]["credits_posted"] == 100000


def test_editing_a_hot_account_total_is_caught(app: Any, sealed: dict[str, int]) -> None:
    tamper(
        app,
        "UPDATE ledger_accounts SET debits_posted = debits_posted + 1 WHERE code = 'world:USD'",
    )
    report = verify(app)
    assert problem_codes(report) == {"TOTALS_MISMATCH"}
    assert report.problems[0]["details"]["account"] == "world:USD"


def test_editing_a_running_total_is_caught(app: Any, sealed: dict[str, int]) -> None:
    leg = leg_id(app, sealed["wrong"], "writer:7:earnings:USD")
    tamper(
        app,
        "UPDATE ledger_legs SET credits_posted_after = credits_posted_after + 5 WHERE id = :id",
        id=leg,
    )
    report = verify(app)
    # running totals are a derived index, not part of the sealed journal text
    assert problem_codes(report) == {"RUNNING_TOTALS"}
    assert report.problems[0]["details"] == {
        "entry_id": sealed["wrong"],
        "account": "writer:7:earnings:USD",
    }


def test_tampering_with_a_seal_is_caught(app: Any, sealed: dict[str, int]) -> None:
    tamper(app, "UPDATE ledger_seals SET hash = :h", h="f" * 64)
    assert problem_codes(verify(app)) == {"SEAL_CHAIN"}


def test_reopening_a_posted_pending_entry_is_caught(app: Any, sealed: dict[str, int]) -> None:
    tamper(app, "UPDATE ledger_pending SET status = 'pending' WHERE status = 'posted'")
    assert "PENDING_STATE" in problem_codes(verify(app))


def test_a_reversal_that_no_longer_mirrors_is_caught(app: Any, sealed: dict[str, int]) -> None:
    tamper(
        app,
        "UPDATE ledger_legs SET amount = amount - 1 WHERE entry_id = :id",
        id=sealed["reversal"],
    )
    assert {"REVERSAL", "SEAL_CHAIN"} <= problem_codes(verify(app))


def test_an_overdrawn_wallet_is_caught(app: Any, sealed: dict[str, int]) -> None:
    # Inflate a spend and keep totals and running totals in step: only the limit breaks.
    leg = leg_id(app, sealed["purchase"], "reader:1:coins")
    tamper(app, "UPDATE ledger_legs SET amount = 1 WHERE id = :id", id=leg)
    tamper(
        app,
        "UPDATE ledger_legs SET credits_posted_after = credits_posted_after - 1099 "
        "WHERE account_id = (SELECT account_id FROM ledger_legs WHERE id = :id)",
        id=leg,
    )
    tamper(
        app,
        "UPDATE ledger_accounts SET credits_posted = credits_posted - 1099 "
        "WHERE code = 'reader:1:coins'",
    )
    codes = problem_codes(verify(app))
    assert "OVERDRAWN" in codes
    assert "TOTALS_MISMATCH" not in codes
    assert "RUNNING_TOTALS" not in codes


# --- property: any sequence of operations keeps the ledger verifiable ------------------------

WALLETS = ("w1", "w2", "w3")  # no-overdraft, each funded with 1,000 to begin with
PARTIES = (*WALLETS, "suspense", "world:USD")  # suspense may go negative; world is hot
PAIRS = [(a, b) for a in PARTIES[:-1] for b in PARTIES if a != b]
_databases = itertools.count()


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file with the accounts open, copied for every hypothesis example."""
    path = tmp_path_factory.mktemp("ledger-template") / "template.db"
    context = AppContext.create(database_url=f"sqlite:///{path}", actor="setup")

    def accounts(session: Any) -> None:
        for code in WALLETS:
            ledger.open_account(session, code, "USD", no_overdraft=True)
        ledger.open_account(session, "suspense", "USD")
        funding = [transfer("world:USD", code, 1000, "USD") for code in WALLETS]
        ledger.post_entries(session, funding, actor="setup")

    context.run(accounts)
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path


class LedgerMachine(RuleBasedStateMachine):
    """Random postings, reservations, resolutions, reversals, replays and seals, checked after
    every step against a plain model of the four totals of each account."""

    def __init__(self, template: Path, workdir: Path, settings: Any) -> None:
        super().__init__()
        path = workdir / f"prop-{next(_databases)}.db"
        shutil.copyfile(template, path)
        self.app = AppContext(settings=settings, database_url=f"sqlite:///{path}", actor="prop")
        self.totals = {code: [0, 0, 0, 0] for code in PARTIES}  # dp, cp, dpe, cpe
        for code in WALLETS:
            self.move("world:USD", code, posted=1000)
        self.pending: dict[int, tuple[str, str, int]] = {}
        self.reversible: dict[int, tuple[str, str, int]] = {}
        self.keyed: list[tuple[EntrySpec, int]] = []

    def available(self, code: str) -> int:
        dp, cp, dpe, _ = self.totals[code]
        return cp - dp - dpe

    def allowed(self, source: str, amount: int) -> bool:
        return source not in WALLETS or self.available(source) >= amount

    def move(self, source: str, destination: str, posted: int = 0, pending: int = 0) -> None:
        self.totals[source][0] += posted
        self.totals[source][2] += pending
        self.totals[destination][1] += posted
        self.totals[destination][3] += pending

    def attempt(self, work: Any, expect_ok: bool) -> Any:
        if expect_ok:
            return self.app.run(work)
        with pytest.raises(InsufficientFunds):
            self.app.run(work)
        return None

    @rule(wallet=st.sampled_from(WALLETS), amount=st.integers(1, 1000))
    def fund(self, wallet: str, amount: int) -> None:
        spec = transfer("world:USD", wallet, amount, "USD")
        self.app.run(lambda s: ledger.post_entries(s, [spec], actor="prop"))
        self.move("world:USD", wallet, posted=amount)

    @rule(pair=st.sampled_from(PAIRS), amount=st.integers(1, 1200), keyed=st.booleans())
    def spend(self, pair: tuple[str, str], amount: int, keyed: bool) -> None:
        source, destination = pair
        key = f"k{len(self.keyed)}" if keyed else None
        spec = transfer(source, destination, amount, "USD", idempotency_key=key)
        views = self.attempt(
            lambda s: ledger.post_entries(s, [spec], actor="prop"), self.allowed(source, amount)
        )
        if views is not None:
            self.move(source, destination, posted=amount)
            self.reversible[views[0].id] = (source, destination, amount)
            if key:
                self.keyed.append((spec, views[0].id))

    @rule(pair=st.sampled_from(PAIRS), amount=st.integers(1, 1200))
    def reserve(self, pair: tuple[str, str], amount: int) -> None:
        source, destination = pair
        spec = transfer(source, destination, amount, "USD", pending=True)
        views = self.attempt(
            lambda s: ledger.post_entries(s, [spec], actor="prop"), self.allowed(source, amount)
        )
        if views is not None:
            self.move(source, destination, pending=amount)
            self.pending[views[0].id] = (source, destination, amount)

    @precondition(lambda self: self.keyed)
    @rule(pick=st.integers(0, 10**6))
    def replay(self, pick: int) -> None:
        spec, entry_id = self.keyed[pick % len(self.keyed)]
        [view] = self.app.run(lambda s: ledger.post_entries(s, [spec], actor="again"))
        assert (view.id, view.replayed) == (entry_id, True)

    @precondition(lambda self: self.pending)
    @rule(pick=st.integers(0, 10**6), post=st.booleans(), part=st.integers(0, 100))
    def resolve(self, pick: int, post: bool, part: int) -> None:
        entry_id = sorted(self.pending)[pick % len(self.pending)]
        source, destination, reserved = self.pending.pop(entry_id)
        amount = max(1, reserved * part // 100) if post and part < 100 else None
        view = self.app.run(
            lambda s: ledger.resolve_pending(s, entry_id, post=post, amount=amount, actor="prop")
        )
        self.move(source, destination, pending=-reserved)
        if post:
            posted = reserved if amount is None else amount
            self.move(source, destination, posted=posted)
            self.reversible[view.id] = (source, destination, posted)

    @precondition(lambda self: self.reversible)
    @rule(pick=st.integers(0, 10**6))
    def reverse(self, pick: int) -> None:
        entry_id = sorted(self.reversible)[pick % len(self.reversible)]
        source, destination, amount = self.reversible[entry_id]
        view = self.attempt(
            lambda s: ledger.reverse_entry(s, entry_id, actor="prop", reason="property"),
            self.allowed(destination, amount),
        )
        if view is None:
            return
        del self.reversible[entry_id]
        self.move(destination, source, posted=amount)
        self.reversible[view.id] = (destination, source, amount)

    @rule()
    def seal(self) -> None:
        self.app.run(lambda s: ledger.seal(s, actor="prop", batch_size=3))

    @invariant()
    def balances_agree_with_the_model(self) -> None:
        def read(session: Any) -> dict[str, Any]:
            return {code: ledger.get_balance(session, code) for code in PARTIES}

        for code, found in self.app.run(read, write=False).items():
            dp, cp, dpe, cpe = self.totals[code]
            assert (found.posted, found.pending, found.available) == (
                cp - dp,
                cpe - dpe,
                cp - dp - dpe,
            ), code
            if code in WALLETS:
                assert found.available >= 0

    def teardown(self) -> None:
        # verify recomputes everything (and rehashes every seal): once per example is plenty
        report = self.app.run(ledger.verify_ledger, write=False)
        assert report.ok, report.problems


def test_random_operations_keep_the_ledger_consistent(template_db: Path, tmp_path: Path) -> None:
    settings = load_settings(environ={})
    run_state_machine_as_test(
        lambda: LedgerMachine(template_db, tmp_path, settings),
        settings=hypothesis_settings(
            max_examples=8,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
