"""Two-phase entries: reserve, then post (in full or part) or void; expiry; idempotent resolves.

Balances are (posted, pending, available) in the account's normal-side terms: a reservation
leaving a wallet shows as negative pending and lowers what is available.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from legato_pay import ledger
from legato_pay.errors import (
    EntryNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LegatoError,
    PendingExpired,
)
from legato_pay.ledger import EntrySpec, LegSpec, transfer

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def open_account(app: Any, code: str, currency: str = "USD", **options: Any) -> None:
    app.run(lambda s: ledger.open_account(s, code, currency, **options))


def post(app: Any, *specs: EntrySpec, now: datetime | None = None) -> list[ledger.EntryView]:
    return app.run(lambda s: ledger.post_entries(s, list(specs), actor=app.actor, now=now))


def resolve(app: Any, entry_id: int, **options: Any) -> ledger.EntryView:
    return app.run(lambda s: ledger.resolve_pending(s, entry_id, actor=app.actor, **options))


def balance(app: Any, code: str) -> tuple[int, int, int]:
    result = app.run(lambda s: ledger.get_balance(s, code), write=False)
    return result.posted, result.pending, result.available


def entry(app: Any, entry_id: int) -> ledger.EntryView:
    return app.run(lambda s: ledger.get_entry(s, entry_id), write=False)


def fails(app: Any, work: Callable[[Any], Any], error: type[LegatoError]) -> LegatoError:
    with pytest.raises(error) as caught:
        app.run(work)
    return caught.value


def verify_ok(app: Any) -> None:
    report = app.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems


@pytest.fixture
def hold(app: Any) -> int:
    """A wallet holding 1,000 with 300 of it reserved for a shop."""
    open_account(app, "wallet", no_overdraft=True)
    open_account(app, "shop", no_overdraft=True)
    post(app, transfer("world:USD", "wallet", 1000, "USD"))
    [pending] = post(app, transfer("wallet", "shop", 300, "USD", pending=True, reason="hold"))
    return pending.id


def test_a_reservation_holds_value_without_moving_it(app: Any, hold: int) -> None:
    view = entry(app, hold)
    assert (view.kind, view.status) == ("pending", "pending")
    assert [(leg.account, leg.side, leg.amount, leg.pending_amount) for leg in view.legs] == [
        ("wallet", "debit", 0, 300),
        ("shop", "credit", 0, 300),
    ]
    assert balance(app, "wallet") == (1000, -300, 700)
    # incoming pending value is not available to spend yet
    assert balance(app, "shop") == (0, 300, 0)
    fails(
        app,
        lambda s: ledger.post_entries(s, [transfer("shop", "world:USD", 1, "USD")], actor="t"),
        InsufficientFunds,
    )
    verify_ok(app)


def test_post_in_full(app: Any, hold: int) -> None:
    posted = resolve(app, hold, post=True, reason="shipped")
    assert (posted.kind, posted.target_entry_id, posted.status) == ("post_pending", hold, "posted")
    assert [(leg.account, leg.side, leg.amount, leg.pending_amount) for leg in posted.legs] == [
        ("wallet", "debit", 300, -300),
        ("shop", "credit", 300, -300),
    ]
    assert balance(app, "wallet") == (700, 0, 700)
    assert balance(app, "shop") == (300, 0, 300)
    assert entry(app, hold).status == "posted"
    verify_ok(app)


def test_post_in_part_releases_the_rest(app: Any, hold: int) -> None:
    posted = resolve(app, hold, post=True, amount=200)
    assert [(leg.amount, leg.pending_amount) for leg in posted.legs] == [(200, -300), (200, -300)]
    assert balance(app, "wallet") == (800, 0, 800)
    assert balance(app, "shop") == (200, 0, 200)
    assert entry(app, hold).status == "posted"
    # the pending entry is closed: the released 100 cannot be posted later
    error = fails(
        app, lambda s: ledger.resolve_pending(s, hold, post=True, actor="t"), InvalidState
    )
    assert error.details == {"entry_id": hold, "status": "posted"}
    verify_ok(app)


def test_a_partial_post_cannot_exceed_the_reservation(app: Any, hold: int) -> None:
    error = fails(
        app,
        lambda s: ledger.resolve_pending(s, hold, post=True, amount=301, actor="t"),
        InvalidAmount,
    )
    assert error.details == {"pending": 300, "requested": 301}
    for amount in (0, -1, 2.5):
        fails(
            app,
            lambda s, a=amount: ledger.resolve_pending(s, hold, post=True, amount=a, actor="t"),
            InvalidAmount,
        )
    assert entry(app, hold).status == "pending"
    assert balance(app, "wallet") == (1000, -300, 700)
    # posting exactly the reserved amount is a full post
    resolve(app, hold, post=True, amount=300)
    assert balance(app, "wallet") == (700, 0, 700)


def test_void_returns_the_reserved_value(app: Any, hold: int) -> None:
    fails(
        app,
        lambda s: ledger.resolve_pending(s, hold, post=False, amount=100, actor="t"),
        InvalidInput,
    )
    voided = resolve(app, hold, post=False, reason="cancelled")
    assert (voided.kind, voided.target_entry_id) == ("void_pending", hold)
    assert [(leg.amount, leg.pending_amount) for leg in voided.legs] == [(0, -300), (0, -300)]
    assert balance(app, "wallet") == (1000, 0, 1000)
    assert balance(app, "shop") == (0, 0, 0)
    assert entry(app, hold).status == "voided"
    verify_ok(app)


@pytest.mark.parametrize(("first", "second"), [(True, True), (True, False), (False, True)])
def test_a_resolved_entry_cannot_be_resolved_again(
    app: Any, hold: int, first: bool, second: bool
) -> None:
    resolve(app, hold, post=first)
    before = (balance(app, "wallet"), balance(app, "shop"))
    error = fails(
        app, lambda s: ledger.resolve_pending(s, hold, post=second, actor="t"), InvalidState
    )
    assert (error.code, error.exit_status) == ("INVALID_STATE", 6)
    assert error.details["status"] == ("posted" if first else "voided")
    assert (balance(app, "wallet"), balance(app, "shop")) == before


def test_only_pending_entries_can_be_resolved(app: Any, hold: int) -> None:
    funding_id = hold - 1
    error = fails(
        app, lambda s: ledger.resolve_pending(s, funding_id, post=True, actor="t"), InvalidState
    )
    assert error.details == {"entry_id": funding_id, "kind": "posted"}
    error = fails(
        app, lambda s: ledger.resolve_pending(s, 12345, post=True, actor="t"), EntryNotFound
    )
    assert (error.code, error.exit_status) == ("ENTRY_NOT_FOUND", 5)


def test_resolving_with_a_key_is_idempotent(app: Any, hold: int) -> None:
    first = resolve(app, hold, post=True, amount=250, idempotency_key="settle:1")
    again = resolve(app, hold, post=True, amount=250, idempotency_key="settle:1")
    assert (again.id, again.replayed) == (first.id, True)
    assert balance(app, "shop") == (250, 0, 250)
    error = fails(
        app,
        lambda s: ledger.resolve_pending(
            s, hold, post=True, amount=200, idempotency_key="settle:1", actor="t"
        ),
        IdempotencyConflict,
    )
    assert error.details["entry_id"] == first.id


def test_reservations_are_limited_by_what_is_available(app: Any, hold: int) -> None:
    [second] = post(app, transfer("wallet", "shop", 700, "USD", pending=True))
    assert balance(app, "wallet") == (1000, -1000, 0)
    fails(
        app,
        lambda s: ledger.post_entries(
            s, [transfer("wallet", "shop", 1, "USD", pending=True)], actor="t"
        ),
        InsufficientFunds,
    )
    resolve(app, second.id, post=False)
    post(app, transfer("wallet", "shop", 1, "USD", pending=True))
    assert balance(app, "wallet") == (1000, -301, 699)
    verify_ok(app)


def test_expiry(app: Any) -> None:
    open_account(app, "earnings", no_overdraft=True)
    open_account(app, "payouts:in_flight")
    post(app, transfer("world:USD", "earnings", 5000, "USD"), now=T0)
    expires = T0 + timedelta(hours=1)
    [late, early] = post(
        app,
        transfer("earnings", "payouts:in_flight", 2000, "USD", pending=True, expires_at=expires),
        transfer("earnings", "payouts:in_flight", 1000, "USD", pending=True, expires_at=expires),
        now=T0,
    )
    assert entry(app, late.id).expires_at == expires
    assert app.run(lambda s: ledger.expired_pending_ids(s, now=T0), write=False) == []
    # before the expiry a post goes through
    resolve(app, early.id, post=True, now=T0 + timedelta(minutes=59))
    after = T0 + timedelta(hours=2)
    assert app.run(lambda s: ledger.expired_pending_ids(s, now=after), write=False) == [late.id]
    error = fails(
        app,
        lambda s: ledger.resolve_pending(s, late.id, post=True, actor="t", now=after),
        PendingExpired,
    )
    assert (error.code, error.exit_status) == ("PENDING_EXPIRED", 6)
    assert error.details["entry_id"] == late.id
    # nothing changed: still pending, still reserved
    assert entry(app, late.id).status == "pending"
    assert balance(app, "earnings") == (4000, -2000, 2000)
    # an expired reservation can (and should) still be voided
    resolve(app, late.id, post=False, reason="expired", now=after)
    assert app.run(lambda s: ledger.expired_pending_ids(s, now=after), write=False) == []
    assert balance(app, "earnings") == (4000, 0, 4000)
    verify_ok(app)


def test_expiry_compares_moments_not_wall_clocks(app: Any) -> None:
    open_account(app, "earnings", no_overdraft=True)
    post(app, transfer("world:USD", "earnings", 100, "USD"))
    lagos = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=1)))  # 13:00 UTC
    [pending] = post(
        app, transfer("earnings", "world:USD", 100, "USD", pending=True, expires_at=lagos), now=T0
    )
    # 12:30 UTC is before 14:00+01:00 (13:00 UTC); 13:30 UTC is after it
    half_past_noon = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert app.run(lambda s: ledger.expired_pending_ids(s, now=half_past_noon), write=False) == []
    assert app.run(
        lambda s: ledger.expired_pending_ids(s, now=half_past_noon + timedelta(hours=1)),
        write=False,
    ) == [pending.id]


def test_a_multi_leg_reservation_posts_in_full(app: Any) -> None:
    open_account(app, "writer", no_overdraft=True)
    open_account(app, "platform", hot=True)
    [pending] = post(
        app,
        EntrySpec(
            legs=(
                LegSpec("world:USD", "debit", 1000),
                LegSpec("writer", "credit", 700),
                LegSpec("platform", "credit", 300),
            ),
            pending=True,
        ),
    )
    assert balance(app, "writer") == (0, 700, 0)
    assert balance(app, "platform") == (0, 300, 0)
    error = fails(
        app,
        lambda s: ledger.resolve_pending(s, pending.id, post=True, amount=500, actor="t"),
        InvalidInput,
    )
    assert error.details == {"legs": 3}
    resolve(app, pending.id, post=True)
    assert balance(app, "writer") == (700, 0, 700)
    assert balance(app, "platform") == (300, 0, 300)
    assert balance(app, "world:USD") == (-1000, 0, -1000)
    verify_ok(app)


def test_reversals_around_pending_entries(app: Any, hold: int) -> None:
    posted = resolve(app, hold, post=True, amount=120)
    reversal = app.run(
        lambda s: ledger.reverse_entry(s, posted.id, actor="t", reason="customer refund")
    )
    assert [(leg.account, leg.side, leg.amount, leg.pending_amount) for leg in reversal.legs] == [
        ("wallet", "credit", 120, 0),
        ("shop", "debit", 120, 0),
    ]
    assert balance(app, "wallet") == (1000, 0, 1000)
    assert balance(app, "shop") == (0, 0, 0)
    # a reservation or a void moved no posted value: there is nothing to reverse
    [other] = post(app, transfer("wallet", "shop", 10, "USD", pending=True))
    voided = resolve(app, other.id, post=False)
    for target in (hold, other.id, voided.id):
        fails(
            app,
            lambda s, t=target: ledger.reverse_entry(s, t, actor="t", reason="no"),
            InvalidState,
        )
    verify_ok(app)
