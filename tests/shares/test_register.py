"""The share register through its services, on SQLite and PostgreSQL: issues, transfers, the
register at past times, priced transfers paid in the same transaction, and refusals that
change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from legato_pay import chart
from legato_pay.errors import LegatoError
from legato_pay.shares.apps import get_app, list_apps
from legato_pay.shares.distributions import distribute_revenue
from legato_pay.shares.register import share_history, share_register
from tests.shares.helpers import counts, holdings, issue, make_app, move, posted

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def error_of(call: Any) -> LegatoError:
    with pytest.raises(LegatoError) as caught:
        call()
    return caught.value


def test_issue_and_transfer_keep_the_register(app: Any) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 600)
    issue(app, "bob", 400)
    move(app, "alice", "bob", 150)

    assert holdings(app) == {"alice": 450, "bob": 550}
    view = app.run(lambda s: share_register(s, "quill"), write=False)
    assert [(h.investor, h.percent) for h in view.holders] == [
        ("alice", "45.0000"),
        ("bob", "55.0000"),
    ]
    shown = app.run(lambda s: get_app(s, "quill"), write=False)
    assert (shown.owner, shown.holders, shown.units) == ("olga", 2, 1000)
    assert [a.id for a in app.run(lambda s: list_apps(s), write=False)] == ["quill"]


def test_register_as_of_any_past_time(app: Any) -> None:
    make_app(app, "quill", "alice", "bob", "carol")
    issue(app, "alice", 100, at=T0)
    issue(app, "bob", 100, at=T0 + timedelta(days=1))
    move(app, "alice", "carol", 40, at=T0 + timedelta(days=2))
    move(app, "bob", "alice", 100, at=T0 + timedelta(days=3))

    assert holdings(app, as_of=T0 - timedelta(seconds=1)) == {}
    assert holdings(app, as_of=T0) == {"alice": 100}
    assert holdings(app, as_of=T0 + timedelta(days=1, hours=1)) == {"alice": 100, "bob": 100}
    assert holdings(app, as_of=T0 + timedelta(days=2)) == {"alice": 60, "bob": 100, "carol": 40}
    # bob sold everything: he is no longer a holder, and the journal agrees with the holdings
    assert holdings(app, as_of=T0 + timedelta(days=3)) == {"alice": 160, "carol": 40}
    assert holdings(app) == {"alice": 160, "carol": 40}


def test_a_movement_with_an_earlier_time_is_stamped_after_the_holdings_last_change(
    app: Any,
) -> None:
    """A caller's time before the last change of a holding it moves (a backdated call, two
    hosts' clocks) must not put units leaving before they came in the register's past."""
    make_app(app, "quill", "alice", "bob", "carol")
    issue(app, "alice", 100, at=T0 + timedelta(days=2))
    late = move(app, "alice", "bob", 40, at=T0 + timedelta(days=1))
    assert late.created_at == T0 + timedelta(days=2)
    issue(app, "carol", 5, at=T0)  # carol's holding had no change: her time stands

    assert holdings(app, as_of=T0 + timedelta(days=1)) == {"carol": 5}
    assert holdings(app, as_of=T0 + timedelta(days=2)) == {"alice": 60, "bob": 40, "carol": 5}


def test_never_more_units_than_held_and_nothing_changes(app: Any) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 10)
    before = counts(app)

    error = error_of(lambda: move(app, "alice", "bob", 11))

    assert (error.code, error.exit_status) == ("INSUFFICIENT_UNITS", 4)
    assert error.details == {"app": "quill", "investor": "alice", "held": 10, "requested": 11}
    assert counts(app) == before
    assert holdings(app) == {"alice": 10}


@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        (lambda a: issue(a, "alice", 0), "INVALID_UNITS", 3),
        (lambda a: issue(a, "alice", -5), "INVALID_UNITS", 3),
        (lambda a: move(a, "alice", "bob", "1.5"), "INVALID_UNITS", 3),
        (lambda a: move(a, "alice", "bob", 0), "INVALID_UNITS", 3),
        (lambda a: issue(a, "nobody", 5), "USER_NOT_FOUND", 5),
        (lambda a: move(a, "alice", "nobody", 1), "USER_NOT_FOUND", 5),
        (lambda a: issue(a, "olga", 5), "NOT_AN_INVESTOR", 3),
        (lambda a: issue(a, "alice", 5, app_id="nope"), "APP_NOT_FOUND", 5),
        (lambda a: move(a, "alice", "alice", 1), "SELF_TRANSFER", 3),
        (lambda a: move(a, "alice", "bob", 1, price="-5", currency="USD"), "INVALID_AMOUNT", 3),
        (lambda a: move(a, "alice", "bob", 1, price="5"), "VALIDATION_ERROR", 3),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    app: Any, call: Any, code: str, status: int
) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 10)
    before = counts(app)

    error = error_of(lambda: call(app))

    assert (error.code, error.exit_status) == (code, status)
    assert counts(app) == before


def test_priced_transfer_pays_the_seller_in_the_same_transaction(app: Any) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 100, at=T0)
    issue(app, "bob", 100, at=T0)
    app.run(
        lambda s: distribute_revenue(
            s, actor="test", app_id="quill", amount="50.00", currency="USD", record_date=T0
        )
    )
    bob, alice = chart.investor_earnings("bob", "USD"), chart.investor_earnings("alice", "USD")
    assert (posted(app, alice), posted(app, bob)) == (2500, 2500)

    view = move(app, "alice", "bob", 30, price="20.00", currency="usd", key="sale-1")

    assert view.entry_id is not None and (view.price, view.currency) == (2000, "USD")
    assert (posted(app, alice), posted(app, bob)) == (4500, 500)
    assert holdings(app) == {"alice": 70, "bob": 130}
    # a retry with the same key moves neither units nor money again
    again = move(app, "alice", "bob", 30, price="20.00", currency="USD", key="sale-1")
    assert (again.id, again.replayed) == (view.id, True)
    assert holdings(app) == {"alice": 70, "bob": 130}
    assert posted(app, bob) == 500
    # the same key for another request is a conflict
    conflict = error_of(lambda: move(app, "alice", "bob", 31, key="sale-1"))
    assert conflict.code == "IDEMPOTENCY_CONFLICT"


def test_a_buyer_without_the_money_moves_no_units(app: Any) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 100)
    before = counts(app)

    error = error_of(lambda: move(app, "alice", "bob", 10, price="1.00", currency="USD"))

    assert (error.code, error.exit_status) == ("INSUFFICIENT_FUNDS", 4)
    assert counts(app) == before
    assert holdings(app) == {"alice": 100}


def test_history_pages_in_order(app: Any) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 5)
    move(app, "alice", "bob", 2)
    move(app, "bob", "alice", 1)

    first, cursor = app.run(lambda s: share_history(s, "quill", limit=2), write=False)
    rest, end = app.run(lambda s: share_history(s, "quill", after=cursor, limit=2), write=False)

    assert [(m.kind, m.from_investor, m.to_investor, m.units) for m in first + rest] == [
        ("issue", None, "alice", 5),
        ("transfer", "alice", "bob", 2),
        ("transfer", "bob", "alice", 1),
    ]
    assert cursor == first[-1].id and end is None
