"""Deposits into escrow through the sandbox gateway: recorded pending, confirmed exactly once
(escrow credited, units issued once), flagged when the payment differs, idempotent by key, and
bad input refused with its documented code, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from legato_pay.config import Settings
from legato_pay.context import AppContext
from legato_pay.errors import GatewayError, LegatoError
from legato_pay.escrow.deposits import create_deposit, list_deposits
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.store.tables import ESCROW_DEPOSITS, ESCROW_EVENTS, MOVEMENTS
from tests.escrow.deposit_factory import (
    APP,
    INVESTOR,
    app_with_investor,
    confirmed_deposit,
    deposit,
    entries_keyed,
    escrow_balance,
    units_held,
)
from tests.factories import add_users, assert_ledger_ok


@pytest.fixture
def funded_app(app: AppContext) -> AppContext:
    app_with_investor(app)
    return app


def count(app: AppContext, table: Any) -> int:
    return app.run(
        lambda s: s.execute(select(func.count()).select_from(table)).scalar_one(), write=False
    )


def test_a_deposit_is_pending_until_confirmed_then_credits_escrow_and_issues_units_once(
    funded_app: AppContext,
) -> None:
    app = funded_app
    view = create_deposit(
        app, app_id=APP, investor=INVESTOR, amount="500.00", gateway="sandbox", units=100, key="k"
    )
    assert (view.status, view.amount, view.currency, view.units) == ("pending", 50000, "USD", 100)
    assert view.reference.startswith("dep_") and view.checkout_url
    assert escrow_balance(app, view.id) == (0, 0)

    first = confirm_deposit(app, view.reference)
    again = confirm_deposit(app, str(view.id))
    assert (first.credited, again.credited) == (True, False)
    confirmed = deposit(app, view.id)
    assert confirmed.status == "confirmed" and confirmed.entry_id and confirmed.movement_id
    assert confirmed.confirmed_at is not None
    assert escrow_balance(app, view.id) == (50000, 50000)
    assert entries_keyed(app, f"escrow-deposit:{view.id}") == 1
    assert units_held(app) == 100 and count(app, MOVEMENTS) == 1
    actions = app.run(
        lambda s: [
            r.action for r in s.execute(select(ESCROW_EVENTS.c.action).order_by(ESCROW_EVENTS.c.id))
        ],
        write=False,
    )
    assert actions == ["deposit_requested", "deposit_confirmed"]
    assert_ledger_ok(app)


def test_the_same_key_returns_the_same_deposit_and_another_request_conflicts(
    funded_app: AppContext,
) -> None:
    app = funded_app
    first = create_deposit(app, app_id=APP, investor=INVESTOR, amount="10.00", key="same")
    again = create_deposit(app, app_id=APP, investor=INVESTOR, amount="10.00", key="same")
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    with pytest.raises(LegatoError) as caught:
        create_deposit(app, app_id=APP, investor=INVESTOR, amount="11.00", key="same")
    assert caught.value.code == "IDEMPOTENCY_CONFLICT" and caught.value.exit_status == 6
    assert count(app, ESCROW_DEPOSITS) == 1


def test_a_payment_that_differs_flags_the_deposit_and_credits_nothing(
    funded_app: AppContext,
) -> None:
    app = funded_app
    cases = [("pm_sandbox_underpay", "paid 9.99 USD"), ("pm_sandbox_wrong_currency", "EUR")]
    for method, reason in cases:
        view = create_deposit(
            app,
            app_id=APP,
            investor=INVESTOR,
            amount="10.00",
            units=5,
            key=method,
            payment_method=method,
        )
        with pytest.raises(GatewayError) as caught:
            confirm_deposit(app, view.reference)
        assert caught.value.code == "PAYMENT_MISMATCH" and caught.value.exit_status == 7
        flagged = deposit(app, view.id)
        assert flagged.status == "flagged" and reason in (flagged.flag_reason or "")
        assert flagged.entry_id is None and escrow_balance(app, view.id) == (0, 0)
        assert units_held(app) == 0
        with pytest.raises(GatewayError):  # asking again changes nothing
            confirm_deposit(app, view.reference)
        assert deposit(app, view.id).status == "flagged"


def test_a_declined_payment_fails_the_deposit(funded_app: AppContext) -> None:
    app = funded_app
    view = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="10.00",
        key="d",
        payment_method="pm_sandbox_fail",
    )
    with pytest.raises(GatewayError) as caught:
        confirm_deposit(app, view.reference)
    assert caught.value.code == "PAYMENT_FAILED"
    assert deposit(app, view.id).status == "failed" and escrow_balance(app, view.id) == (0, 0)
    with pytest.raises(GatewayError):  # asking again records nothing more
        confirm_deposit(app, view.reference)
    failures = app.run(
        lambda s: s.execute(
            select(func.count()).where(ESCROW_EVENTS.c.action == "deposit_failed")
        ).scalar_one(),
        write=False,
    )
    assert failures == 1


BAD_DEPOSITS = [
    ({"amount": "-5.00"}, "INVALID_AMOUNT", 3),
    ({"amount": "0"}, "INVALID_AMOUNT", 3),
    ({"amount": "1.234"}, "INVALID_AMOUNT", 3),
    ({"app_id": "nope"}, "APP_NOT_FOUND", 5),
    ({"investor": "ghost"}, "USER_NOT_FOUND", 5),
    ({"investor": "rita"}, "NOT_AN_INVESTOR", 3),
    ({"currency": "XYZ"}, "INVALID_CURRENCY", 3),
    ({"units": "0"}, "INVALID_UNITS", 3),
    ({"units": "-3"}, "INVALID_UNITS", 3),
    ({"gateway": "paypal"}, "VALIDATION_ERROR", 3),
]


def test_bad_input_is_refused_with_its_code_and_records_nothing(funded_app: AppContext) -> None:
    app = funded_app
    add_users(app, rita="reader")
    for change, code, status in BAD_DEPOSITS:
        request: dict[str, Any] = {"app_id": APP, "investor": INVESTOR, "amount": "10.00"}
        request.update(change, key="b")
        with pytest.raises(LegatoError) as caught:
            create_deposit(app, **request)
        assert (caught.value.code, caught.value.exit_status) == (code, status), change
    assert count(app, ESCROW_DEPOSITS) == 0 and count(app, ESCROW_EVENTS) == 0


def test_with_multi_currency_off_only_the_base_currency_is_taken(funded_app: AppContext) -> None:
    app = funded_app
    settings = app.settings.model_dump()
    settings["features"]["enable_multi_currency"] = False
    app.settings = Settings.model_validate(settings)
    with pytest.raises(LegatoError) as caught:
        create_deposit(app, app_id=APP, investor=INVESTOR, amount="10.00", currency="NGN", key="n")
    assert caught.value.code == "MULTI_CURRENCY_DISABLED" and caught.value.exit_status == 3
    assert count(app, ESCROW_DEPOSITS) == 0
    ok = create_deposit(app, app_id=APP, investor=INVESTOR, amount="10.00", currency="USD", key="u")
    assert ok.currency == "USD"


def test_list_deposits_filters_and_pages(funded_app: AppContext) -> None:
    app = funded_app
    first = confirmed_deposit(app, key="one", amount="1.00")
    create_deposit(app, app_id=APP, investor=INVESTOR, amount="2.00", key="two")
    page, cursor = app.run(lambda s: list_deposits(s, app_id=APP, limit=1), write=False)
    assert [v.id for v in page] == [first.id] and cursor == first.id
    confirmed, _ = app.run(lambda s: list_deposits(s, status="confirmed"), write=False)
    assert [v.id for v in confirmed] == [first.id]
    with pytest.raises(LegatoError) as caught:
        app.run(lambda s: list_deposits(s, app_id="nope"), write=False)
    assert caught.value.code == "APP_NOT_FOUND"
