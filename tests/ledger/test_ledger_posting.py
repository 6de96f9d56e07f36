"""Accounts and postings: balanced entries, limits, idempotency, batches and reversals.

Every test runs on SQLite and (with ``LEGATO_TEST_DATABASE_URL``) on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from legato_pay import ledger
from legato_pay.errors import (
    AccountNotFound,
    AlreadyExists,
    AlreadyReversed,
    CurrencyMismatch,
    EntryNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    LegatoError,
    UnbalancedEntry,
)
from legato_pay.ledger import EntrySpec, LegSpec, transfer
from legato_pay.store.tables import ENTRIES, LEGS

# --- helpers -------------------------------------------------------------------------------


def open_account(app: Any, code: str, currency: str = "USD", **options: Any) -> ledger.Account:
    return app.run(lambda s: ledger.open_account(s, code, currency, **options))


def post(app: Any, *specs: EntrySpec) -> list[ledger.EntryView]:
    return app.run(lambda s: ledger.post_entries(s, list(specs), actor=app.actor))


def fund(app: Any, code: str, amount: int, currency: str = "USD") -> ledger.EntryView:
    return post(app, transfer(f"world:{currency}", code, amount, currency))[0]


def balance(app: Any, code: str) -> tuple[int, int, int]:
    result = app.run(lambda s: ledger.get_balance(s, code), write=False)
    return result.posted, result.pending, result.available


def counts(app: Any) -> tuple[int, int]:
    def work(session: Any) -> tuple[int, int]:
        entries = session.execute(select(func.count()).select_from(ENTRIES)).scalar_one()
        legs = session.execute(select(func.count()).select_from(LEGS)).scalar_one()
        return entries, legs

    return app.run(work, write=False)


def fails(app: Any, work: Callable[[Any], Any], error: type[LegatoError]) -> LegatoError:
    with pytest.raises(error) as caught:
        app.run(work)
    return caught.value


def verify_ok(app: Any) -> None:
    report = app.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems


# --- opening accounts ----------------------------------------------------------------------


def test_open_account_defaults_and_metadata(app: Any) -> None:
    account = open_account(app, "user:42:coins:paid", "coin", no_overdraft=True, metadata={"u": 42})
    assert account.id > 0
    assert account.code == "user:42:coins:paid"
    assert account.currency == "COIN"
    assert account.normal_side == "credit"
    assert account.no_overdraft is True
    assert account.hot is False
    assert account.metadata == {"u": 42}
    assert account.created_at is not None and account.created_at.tzinfo is not None
    found = app.run(lambda s: ledger.get_account(s, "user:42:coins:paid"), write=False)
    assert found == account
    assert balance(app, "user:42:coins:paid") == (0, 0, 0)


def test_duplicate_account_is_already_exists(app: Any) -> None:
    first = open_account(app, "escrow:deal-1", "USD", no_overdraft=True)
    error = fails(app, lambda s: ledger.open_account(s, "escrow:deal-1", "USD"), AlreadyExists)
    assert error.code == "ALREADY_EXISTS"
    assert error.exit_status == 6
    assert error.details["code"] == "escrow:deal-1"
    # exist_ok returns an identical account, but never one that differs
    same = open_account(app, "escrow:deal-1", "USD", no_overdraft=True, exist_ok=True)
    assert same.id == first.id
    fails(
        app,
        lambda s: ledger.open_account(s, "escrow:deal-1", "NGN", no_overdraft=True, exist_ok=True),
        AlreadyExists,
    )


def test_bad_account_codes_are_refused(app: Any) -> None:
    for code in (
        "",
        " ",
        "has space",
        ":leading-colon",
        "-dash",
        "x" * 201,
        "naïve",
        "a\nb",
        "a;b",
    ):
        error = fails(app, lambda s, c=code: ledger.open_account(s, c, "USD"), InvalidInput)
        assert error.code == "INVALID_ACCOUNT_CODE"
        assert error.exit_status == 3
        assert error.details == {"code": code}
    assert open_account(app, "a" * 200).code == "a" * 200
    assert open_account(app, "user:42:coins:paid/x@y.z-1_2").id > 0


def test_hot_accounts_cannot_have_a_limit(app: Any) -> None:
    error = fails(
        app,
        lambda s: ledger.open_account(s, "platform:revenue", "USD", hot=True, no_overdraft=True),
        InvalidInput,
    )
    assert error.details == {"code": "platform:revenue"}
    fails(app, lambda s: ledger.get_account(s, "platform:revenue"), AccountNotFound)


def test_unknown_currency_and_bad_side_are_refused(app: Any) -> None:
    error = fails(app, lambda s: ledger.open_account(s, "a", "XYZ"), InvalidCurrency)
    assert error.code == "INVALID_CURRENCY"
    fails(app, lambda s: ledger.open_account(s, "a", "USD", normal_side="left"), InvalidInput)
    assert app.run(lambda s: ledger.list_accounts(s), write=False) == []


def test_world_accounts_open_on_first_use_and_are_hot(app: Any) -> None:
    world = app.run(lambda s: ledger.get_account(s, "world:NGN"))
    assert (world.currency, world.hot, world.no_overdraft) == ("NGN", True, False)
    fails(app, lambda s: ledger.get_account(s, "world:XYZ"), InvalidCurrency)
    error = fails(app, lambda s: ledger.get_account(s, "nobody"), AccountNotFound)
    assert (error.code, error.exit_status, error.details) == (
        "ACCOUNT_NOT_FOUND",
        5,
        {"account": "nobody"},
    )


def test_list_accounts_by_prefix_escapes_wildcards(app: Any) -> None:
    for code in ("user_1", "userX1", "user_2", "writer:1", "writer:2", "writer:3"):
        open_account(app, code)
    listed = app.run(lambda s: ledger.list_accounts(s, prefix="user_"), write=False)
    assert [a.code for a in listed] == ["user_1", "user_2"]
    page = app.run(
        lambda s: ledger.list_accounts(s, prefix="writer:", limit=2, after="writer:1"), write=False
    )
    assert [a.code for a in page] == ["writer:2", "writer:3"]


# --- postings ------------------------------------------------------------------------------


def test_a_balanced_transfer_moves_value(app: Any) -> None:
    open_account(app, "alice")
    open_account(app, "bob")
    funding = fund(app, "alice", 1000)
    assert (funding.kind, funding.status, funding.replayed) == ("posted", "posted", False)
    [spend] = post(app, transfer("alice", "bob", 250, "USD", reason="lunch", metadata={"n": 1}))
    assert balance(app, "alice") == (750, 0, 750)
    assert balance(app, "bob") == (250, 0, 250)
    assert balance(app, "world:USD") == (-1000, 0, -1000)
    stored = app.run(lambda s: ledger.get_entry(s, spend.id), write=False)
    assert stored == spend
    assert stored.actor == "test"
    assert stored.reason == "lunch"
    assert stored.metadata == {"n": 1}
    assert [(leg.account, leg.side, leg.amount, leg.pending_amount) for leg in stored.legs] == [
        ("alice", "debit", 250, 0),
        ("bob", "credit", 250, 0),
    ]
    verify_ok(app)


def test_multi_leg_entry_splits_one_payment(app: Any) -> None:
    open_account(app, "writer:7:earnings:USD", no_overdraft=True)
    open_account(app, "platform:revenue:USD", hot=True)
    [entry] = post(
        app,
        EntrySpec(
            legs=(
                LegSpec("world:USD", "debit", 1000, "USD"),
                LegSpec("writer:7:earnings:USD", "credit", 700, "USD"),
                LegSpec("platform:revenue:USD", "credit", 300),
            ),
            idempotency_key="unlock:1",
        ),
    )
    assert len(entry.legs) == 3
    assert balance(app, "writer:7:earnings:USD") == (700, 0, 700)
    assert balance(app, "platform:revenue:USD") == (300, 0, 300)
    assert balance(app, "world:USD")[0] == -1000
    verify_ok(app)


def test_an_entry_may_span_currencies_if_each_balances(app: Any) -> None:
    open_account(app, "usd-wallet", "USD")
    open_account(app, "ngn-wallet", "NGN")
    open_account(app, "fx:USD", "USD")
    open_account(app, "fx:NGN", "NGN")
    fund(app, "usd-wallet", 1000)
    post(
        app,
        EntrySpec(
            legs=(
                LegSpec("usd-wallet", "debit", 100, "USD"),
                LegSpec("fx:USD", "credit", 100, "USD"),
                LegSpec("fx:NGN", "debit", 150025, "NGN"),
                LegSpec("ngn-wallet", "credit", 150025, "NGN"),
            )
        ),
    )
    assert balance(app, "usd-wallet")[0] == 900
    assert balance(app, "ngn-wallet")[0] == 150025
    assert balance(app, "fx:NGN")[0] == -150025
    verify_ok(app)


def test_unbalanced_entries_are_refused(app: Any) -> None:
    open_account(app, "a")
    open_account(app, "b")
    open_account(app, "n", "NGN")
    spec = EntrySpec(legs=(LegSpec("a", "debit", 100), LegSpec("b", "credit", 99)))
    error = fails(app, lambda s: ledger.post_entries(s, [spec], actor="t"), UnbalancedEntry)
    assert (error.code, error.exit_status) == ("UNBALANCED_ENTRY", 3)
    assert error.details == {"difference": {"USD": 1}}
    # the same number in two currencies does not balance either
    mixed = EntrySpec(legs=(LegSpec("a", "debit", 100), LegSpec("n", "credit", 100)))
    error = fails(app, lambda s: ledger.post_entries(s, [mixed], actor="t"), UnbalancedEntry)
    assert error.details == {"difference": {"USD": 100, "NGN": -100}}
    lonely = EntrySpec(legs=(LegSpec("a", "debit", 100),))
    fails(app, lambda s: ledger.post_entries(s, [lonely], actor="t"), UnbalancedEntry)
    assert counts(app) == (0, 0)


def test_currency_mismatch_is_refused(app: Any) -> None:
    open_account(app, "naira", "NGN")
    spec = transfer("world:USD", "naira", 100, "USD")
    error = fails(app, lambda s: ledger.post_entries(s, [spec], actor="t"), CurrencyMismatch)
    assert (error.code, error.exit_status) == ("CURRENCY_MISMATCH", 3)
    assert error.details == {
        "account": "naira",
        "account_currency": "NGN",
        "currency": "USD",
    }
    assert balance(app, "naira") == (0, 0, 0)


def test_an_entry_needs_two_different_accounts(app: Any) -> None:
    open_account(app, "a")
    spec = transfer("a", "a", 100, "USD")
    error = fails(app, lambda s: ledger.post_entries(s, [spec], actor="t"), InvalidInput)
    assert (error.code, error.exit_status) == ("SAME_ACCOUNT", 3)


def test_bad_leg_amounts_are_refused(app: Any) -> None:
    open_account(app, "a")
    for amount in (0, -5, 1.5, 2.0, True, "100", 10**15 + 1):
        spec = transfer("world:USD", "a", amount, "USD")  # type: ignore[arg-type]
        error = fails(
            app, lambda s, sp=spec: ledger.post_entries(s, [sp], actor="t"), InvalidAmount
        )
        assert error.code == "INVALID_AMOUNT"
    assert counts(app) == (0, 0)


def test_other_malformed_entries(app: Any) -> None:
    open_account(app, "a")
    sideways = EntrySpec(legs=(LegSpec("world:USD", "up", 5), LegSpec("a", "down", 5)))  # type: ignore[arg-type]
    fails(app, lambda s: ledger.post_entries(s, [sideways], actor="t"), InvalidInput)
    from datetime import UTC, datetime

    expiring = transfer("world:USD", "a", 5, "USD", expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    error = fails(app, lambda s: ledger.post_entries(s, [expiring], actor="t"), InvalidInput)
    assert error.details == {"field": "expires_at"}
    ghost = transfer("world:USD", "ghost", 5, "USD")
    fails(app, lambda s: ledger.post_entries(s, [ghost], actor="t"), AccountNotFound)
    assert counts(app) == (0, 0)


# --- limits --------------------------------------------------------------------------------


def test_no_overdraft_refuses_and_changes_nothing(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    fund(app, "wallet", 500)
    before = counts(app)
    error = fails(
        app,
        lambda s: ledger.post_entries(s, [transfer("wallet", "shop", 501, "USD")], actor="t"),
        InsufficientFunds,
    )
    assert (error.code, error.exit_status) == ("INSUFFICIENT_FUNDS", 4)
    assert error.details == {
        "account": "wallet",
        "currency": "USD",
        "available": 500,
        "requested": 501,
    }
    assert counts(app) == before
    assert balance(app, "wallet") == (500, 0, 500)
    assert balance(app, "shop") == (0, 0, 0)
    # exactly the available amount is fine, and then nothing more
    post(app, transfer("wallet", "shop", 500, "USD"))
    assert balance(app, "wallet") == (0, 0, 0)
    fails(
        app,
        lambda s: ledger.post_entries(s, [transfer("wallet", "shop", 1, "USD")], actor="t"),
        InsufficientFunds,
    )
    verify_ok(app)


def test_accounts_without_a_limit_may_go_negative(app: Any) -> None:
    open_account(app, "suspense")
    post(app, transfer("suspense", "world:USD", 100, "USD"))
    assert balance(app, "suspense") == (-100, 0, -100)


def test_debit_normal_accounts_limit_credits(app: Any) -> None:
    open_account(app, "receivable", normal_side="debit", no_overdraft=True)
    post(app, transfer("receivable", "world:USD", 100, "USD"))  # a debit: the asset grows
    assert balance(app, "receivable") == (100, 0, 100)
    fails(
        app,
        lambda s: ledger.post_entries(
            s, [transfer("world:USD", "receivable", 101, "USD")], actor="t"
        ),
        InsufficientFunds,
    )
    post(app, transfer("world:USD", "receivable", 100, "USD"))
    assert balance(app, "receivable") == (0, 0, 0)
    verify_ok(app)


def test_reservations_count_against_the_limit(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    fund(app, "wallet", 500)
    post(app, transfer("wallet", "shop", 300, "USD", pending=True))
    assert balance(app, "wallet") == (500, -300, 200)
    fails(
        app,
        lambda s: ledger.post_entries(s, [transfer("wallet", "shop", 201, "USD")], actor="t"),
        InsufficientFunds,
    )
    post(app, transfer("wallet", "shop", 200, "USD"))
    assert balance(app, "wallet") == (300, -300, 0)


# --- idempotency ---------------------------------------------------------------------------


def test_same_key_same_content_replays_the_original(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    spec = transfer("world:USD", "wallet", 500, "USD", idempotency_key="purchase:pi_1")
    [first] = post(app, spec)
    before = counts(app)
    [again] = post(app, spec)
    assert again.replayed is True
    assert first.replayed is False
    assert again.id == first.id
    assert again.legs == first.legs
    assert counts(app) == before
    assert balance(app, "wallet") == (500, 0, 500)
    # reason, metadata and actor are not part of what a key promises
    [third] = app.run(
        lambda s: ledger.post_entries(
            s,
            [
                transfer(
                    "world:USD",
                    "wallet",
                    500,
                    "USD",
                    idempotency_key="purchase:pi_1",
                    reason="retry",
                )
            ],
            actor="someone-else",
        )
    )
    assert (third.id, third.replayed, third.actor) == (first.id, True, "test")
    assert balance(app, "wallet") == (500, 0, 500)


def test_same_key_different_content_is_a_conflict(app: Any) -> None:
    open_account(app, "wallet")
    open_account(app, "other")
    [first] = post(app, transfer("world:USD", "wallet", 500, "USD", idempotency_key="k"))
    for different in (
        transfer("world:USD", "wallet", 501, "USD", idempotency_key="k"),
        transfer("world:USD", "other", 500, "USD", idempotency_key="k"),
        transfer("world:USD", "wallet", 500, "USD", idempotency_key="k", pending=True),
    ):
        error = fails(
            app, lambda s, d=different: ledger.post_entries(s, [d], actor="t"), IdempotencyConflict
        )
        assert (error.code, error.exit_status) == ("IDEMPOTENCY_CONFLICT", 6)
        assert error.details == {"key": "k", "entry_id": first.id}
    assert balance(app, "wallet") == (500, 0, 500)
    assert balance(app, "other") == (0, 0, 0)


def test_a_batch_may_mix_replays_and_new_entries(app: Any) -> None:
    open_account(app, "wallet")
    [first] = post(app, transfer("world:USD", "wallet", 100, "USD", idempotency_key="a"))
    views = post(
        app,
        transfer("world:USD", "wallet", 100, "USD", idempotency_key="a"),
        transfer("world:USD", "wallet", 40, "USD", idempotency_key="b"),
    )
    assert [v.replayed for v in views] == [True, False]
    assert views[0].id == first.id
    assert views[1].id > first.id
    assert balance(app, "wallet")[0] == 140


def test_bad_idempotency_keys(app: Any) -> None:
    open_account(app, "wallet")
    for key in ("", "   ", "k" * 201):
        spec = transfer("world:USD", "wallet", 1, "USD", idempotency_key=key)
        error = fails(app, lambda s, sp=spec: ledger.post_entries(s, [sp], actor="t"), InvalidInput)
        assert error.code == "INVALID_IDEMPOTENCY_KEY"
    twice = [transfer("world:USD", "wallet", 1, "USD", idempotency_key="dup")] * 2
    fails(app, lambda s: ledger.post_entries(s, twice, actor="t"), InvalidInput)
    assert counts(app) == (0, 0)


# --- batches -------------------------------------------------------------------------------


def test_one_bad_entry_posts_none_of_the_batch(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    fund(app, "wallet", 100)
    before = counts(app)
    good = transfer("world:USD", "shop", 50, "USD", idempotency_key="good")
    unbalanced = EntrySpec(legs=(LegSpec("world:USD", "debit", 5), LegSpec("shop", "credit", 4)))
    fails(
        app,
        lambda s: ledger.post_entries(
            s, [good, good.__class__(legs=good.legs), unbalanced], actor="t"
        ),
        UnbalancedEntry,
    )
    overdraw = transfer("wallet", "shop", 101, "USD")
    fails(app, lambda s: ledger.post_entries(s, [good, overdraw], actor="t"), InsufficientFunds)
    assert counts(app) == before
    assert balance(app, "shop") == (0, 0, 0)
    assert balance(app, "wallet") == (100, 0, 100)
    # the key of the refused batch was never used
    [posted] = post(app, good)
    assert posted.replayed is False


def test_a_batch_applies_its_entries_in_order(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    spend = transfer("wallet", "shop", 80, "USD")
    top_up = transfer("world:USD", "wallet", 100, "USD")
    # spending first overdraws even though the batch as a whole would not
    fails(app, lambda s: ledger.post_entries(s, [spend, top_up], actor="t"), InsufficientFunds)
    assert counts(app) == (0, 0)
    views = post(app, top_up, spend)
    assert views[0].id < views[1].id
    assert balance(app, "wallet") == (20, 0, 20)
    page = app.run(lambda s: ledger.history(s, "wallet"), write=False)
    assert [row["balance_after"] for row in page.rows] == [20, 100]
    verify_ok(app)


# --- reversals -----------------------------------------------------------------------------


def test_a_reversal_restores_balances_once(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    fund(app, "wallet", 1000)
    [spend] = post(app, transfer("wallet", "shop", 300, "USD"))
    reversal = app.run(
        lambda s: ledger.reverse_entry(s, spend.id, actor="ops", reason="refund, wrong item")
    )
    assert reversal.kind == "reversal"
    assert reversal.reverses_entry_id == spend.id
    assert reversal.reason == "refund, wrong item"
    assert [(leg.account, leg.side, leg.amount) for leg in reversal.legs] == [
        ("wallet", "credit", 300),
        ("shop", "debit", 300),
    ]
    assert balance(app, "wallet") == (1000, 0, 1000)
    assert balance(app, "shop") == (0, 0, 0)
    error = fails(
        app,
        lambda s: ledger.reverse_entry(s, spend.id, actor="ops", reason="again"),
        AlreadyReversed,
    )
    assert (error.code, error.exit_status) == ("ALREADY_REVERSED", 6)
    assert error.details == {"entry_id": spend.id, "reversal_entry_id": reversal.id}
    assert balance(app, "wallet") == (1000, 0, 1000)
    # the original is untouched: entries are never edited
    original = app.run(lambda s: ledger.get_entry(s, spend.id), write=False)
    assert original == spend
    verify_ok(app)


def test_a_reversal_with_a_key_replays(app: Any) -> None:
    open_account(app, "shop")
    funding = fund(app, "shop", 100)
    first = app.run(
        lambda s: ledger.reverse_entry(s, funding.id, actor="t", reason="x", idempotency_key="r1")
    )
    again = app.run(
        lambda s: ledger.reverse_entry(s, funding.id, actor="t", reason="x", idempotency_key="r1")
    )
    assert (again.id, again.replayed) == (first.id, True)
    assert balance(app, "shop") == (0, 0, 0)


def test_a_reversal_needs_a_reason(app: Any) -> None:
    open_account(app, "shop")
    funding = fund(app, "shop", 100)
    for reason in ("", "   "):
        error = fails(
            app,
            lambda s, r=reason: ledger.reverse_entry(s, funding.id, actor="t", reason=r),
            InvalidInput,
        )
        assert error.details == {"field": "reason"}
    assert balance(app, "shop") == (100, 0, 100)


def test_reversing_a_pending_entry_is_invalid_state(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    fund(app, "wallet", 100)
    [hold] = post(app, transfer("wallet", "shop", 60, "USD", pending=True))
    error = fails(
        app, lambda s: ledger.reverse_entry(s, hold.id, actor="t", reason="x"), InvalidState
    )
    assert (error.code, error.details["kind"]) == ("INVALID_STATE", "pending")
    fails(app, lambda s: ledger.reverse_entry(s, 999, actor="t", reason="x"), EntryNotFound)
    assert balance(app, "wallet") == (100, -60, 40)


def test_a_reversal_cannot_overdraw(app: Any) -> None:
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    funding = fund(app, "wallet", 100)
    post(app, transfer("wallet", "shop", 100, "USD"))
    # the coins are spent: clawing the purchase back would make the wallet negative
    fails(
        app,
        lambda s: ledger.reverse_entry(s, funding.id, actor="t", reason="chargeback"),
        InsufficientFunds,
    )
    assert balance(app, "wallet") == (0, 0, 0)
    verify_ok(app)


def test_a_reversal_can_itself_be_reversed(app: Any) -> None:
    open_account(app, "shop")
    funding = fund(app, "shop", 100)
    undo = app.run(lambda s: ledger.reverse_entry(s, funding.id, actor="t", reason="oops"))
    redo = app.run(lambda s: ledger.reverse_entry(s, undo.id, actor="t", reason="oops, not"))
    assert redo.reverses_entry_id == undo.id
    assert balance(app, "shop") == (100, 0, 100)
    verify_ok(app)


# --- the pipelined bulk API ----------------------------------------------------------------


def test_post_entry_batches_posts_each_batch_atomically_in_order_and_reruns_safely(
    app: Any,
) -> None:
    """One transaction per batch; a batch that fails stops the run with the batches before it
    posted and nothing of it or after it; a rerun with the same keys replays, then continues."""
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop")
    fund(app, "wallet", 100)

    def batch(name: str, amounts: list[int]) -> list[EntrySpec]:
        return [
            transfer("wallet", "shop", amount, "USD", idempotency_key=f"{name}:{n}")
            for n, amount in enumerate(amounts)
        ]

    batches = [batch("a", [10, 20]), batch("b", [30, 50]), batch("c", [5])]  # b needs 80 of 70
    posted: list[list[ledger.EntryView]] = []
    interval = sys.getswitchinterval()
    with pytest.raises(InsufficientFunds):
        for entries in ledger.post_entry_batches(app.engine, batches, actor="bulk"):
            assert sys.getswitchinterval() <= 0.0005  # the writer gets the GIL back quickly
            posted.append(entries)
    assert sys.getswitchinterval() == interval  # and the process's setting is restored
    assert [[entry.legs[0].amount for entry in entries] for entries in posted] == [[10, 20]]
    assert balance(app, "wallet") == (70, 0, 70)
    assert counts(app) == (3, 6)  # the funding and batch a only: b and c wrote nothing

    fund(app, "wallet", 15)
    rerun = list(ledger.post_entry_batches(app.engine, batches, actor="bulk"))
    assert [entry.replayed for entry in rerun[0]] == [True, True]
    assert [entry.replayed for entry in rerun[1] + rerun[2]] == [False, False, False]
    assert [entry.id for entry in rerun[0]] == [entry.id for entry in posted[0]]
    ids = [entry.id for entries in rerun for entry in entries]
    assert ids == sorted(ids)
    assert balance(app, "wallet") == (0, 0, 0)
    verify_ok(app)


@given(
    kind=st.sampled_from(["posted", "pending", "post", "void", "reversal"]),
    target=st.none() | st.integers(min_value=1, max_value=2**62),
    legs=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=30),
            st.sampled_from(["debit", "credit"]),
            st.integers(min_value=1, max_value=10**15),
            st.integers(min_value=0, max_value=10**15),
        ),
        min_size=2,
        max_size=6,
    ),
)
def test_content_hash_is_the_hash_of_the_json_it_promises(
    kind: str, target: int | None, legs: list[tuple[str, str, int, int]]
) -> None:
    """The hand-written payload must stay byte for byte what stored hashes were made from."""
    from legato_pay.ledger.shaping import hash_content

    payload = json.dumps([kind, target, sorted(legs)], separators=(",", ":"))
    assert hash_content(kind, target, legs) == hashlib.sha256(payload.encode()).hexdigest()
