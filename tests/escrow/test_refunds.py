"""Refunds of escrow deposits through the sandbox gateway: partial and full with exact
balances, units cancelled pro rata, a declined refund returning the money once, disputes
freezing refunds, idempotent keys, and bad input refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.context import AppContext
from legato_pay.errors import LegatoError, RefundFailed
from legato_pay.escrow.deposits import create_deposit
from legato_pay.escrow.disputes import open_dispute
from legato_pay.escrow.refunds import list_refunds, refund_deposit, units_due
from legato_pay.ledger import get_balance
from legato_pay.shares.register import share_history
from legato_pay.store.tables import ESCROW_REFUNDS
from tests.escrow.deposit_factory import (
    APP,
    INVESTOR,
    app_with_investor,
    confirmed_deposit,
    escrow_balance,
    units_held,
)
from tests.factories import assert_ledger_ok


@pytest.fixture
def funded_app(app: AppContext) -> AppContext:
    app_with_investor(app)
    return app


def gateway_cash(app: AppContext) -> int:
    return app.run(
        lambda s: get_balance(s, chart.gateway_cash("sandbox", "USD")).posted, write=False
    )


def refund_count(app: AppContext) -> int:
    return app.run(
        lambda s: s.execute(select(func.count()).select_from(ESCROW_REFUNDS)).scalar_one(),
        write=False,
    )


def test_partial_then_full_refunds_leave_exact_balances_and_cancel_units_pro_rata(
    funded_app: AppContext,
) -> None:
    app = funded_app
    dep = confirmed_deposit(app, amount="500.00", units=100)
    assert gateway_cash(app) == 50000

    part = refund_deposit(app, dep.id, amount="333.33", reason="scaled down", key="r1")
    assert (part.status, part.amount, part.units_cancelled) == ("succeeded", 33333, 66)
    assert escrow_balance(app, dep.id) == (16667, 16667)
    assert units_held(app) == 34

    rest = refund_deposit(app, dep.id, reason="withdrawn", key="r2")  # everything left
    assert (rest.amount, rest.units_cancelled) == (16667, 34)
    assert escrow_balance(app, dep.id) == (0, 0)
    assert units_held(app) == 0 and gateway_cash(app) == 0
    history, _ = app.run(lambda s: share_history(s, APP), write=False)
    assert [(m.kind, m.units) for m in history] == [("issue", 100), ("cancel", 66), ("cancel", 34)]

    replay = refund_deposit(app, dep.id, amount="333.33", reason="scaled down", key="r1")
    assert (replay.id, replay.replayed) == (part.id, True) and refund_count(app) == 2
    with pytest.raises(LegatoError) as caught:
        refund_deposit(app, dep.id, amount="1.00", reason="other", key="r1")
    assert caught.value.code == "IDEMPOTENCY_CONFLICT"
    assert_ledger_ok(app)


def test_units_due_add_up_to_all_units_over_any_split() -> None:
    deposited, units = 1000, 7
    steps = [1, 333, 333, 333]
    refunded, total = 0, 0
    for amount in steps:
        total += units_due(units, deposited, refunded, refunded + amount)
        refunded += amount
    assert total == units
    assert units_due(3, 100, 0, 50) == 1


def test_a_refund_declined_by_the_gateway_returns_the_money_to_escrow_once(
    funded_app: AppContext,
) -> None:
    app = funded_app
    dep = confirmed_deposit(app, amount="20.00", units=10, payment_method="pm_sandbox_refund_fail")
    with pytest.raises(RefundFailed) as caught:
        refund_deposit(app, dep.id, amount="5.00", reason="try", key="f1")
    assert caught.value.exit_status == 7
    [failed] = app.run(lambda s: list_refunds(s, dep.id), write=False)
    assert failed.status == "failed" and failed.resolution_entry_id is not None
    assert escrow_balance(app, dep.id) == (2000, 2000) and units_held(app) == 10
    replay = refund_deposit(app, dep.id, amount="5.00", reason="try", key="f1")
    assert replay.status == "failed" and escrow_balance(app, dep.id) == (2000, 2000)
    assert_ledger_ok(app)


def test_a_disputed_deposit_refuses_refunds(funded_app: AppContext) -> None:
    app = funded_app
    dep = confirmed_deposit(app, amount="20.00")
    app.run(lambda s: open_dispute(s, app.settings, deposit=dep.id, reason="x", actor="t"))
    with pytest.raises(LegatoError) as caught:
        refund_deposit(app, dep.id, reason="no", key="d1")
    assert (caught.value.code, caught.value.exit_status) == ("DEPOSIT_IN_DISPUTE", 6)
    assert refund_count(app) == 0 and escrow_balance(app, dep.id) == (2000, 2000)


def test_bad_refunds_are_refused_with_their_code_and_change_nothing(
    funded_app: AppContext,
) -> None:
    app = funded_app
    dep = confirmed_deposit(app, amount="20.00")
    pending = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="5.00",
        key="p",
        payment_method="pm_sandbox_pending",
    )
    cases: list[tuple[Any, dict[str, Any], str, int]] = [
        (dep.id, {"amount": "20.01"}, "INSUFFICIENT_FUNDS", 4),
        (dep.id, {"amount": "0"}, "INVALID_AMOUNT", 3),
        (dep.id, {"amount": "-1.00"}, "INVALID_AMOUNT", 3),
        (dep.id, {"reason": " "}, "VALIDATION_ERROR", 3),
        (999, {}, "DEPOSIT_NOT_FOUND", 5),
        ("abc", {}, "DEPOSIT_NOT_FOUND", 5),
        (pending.id, {}, "INVALID_STATE", 6),
    ]
    for deposit_id, change, code, status in cases:
        request: dict[str, Any] = {"reason": "because", "key": "bad"}
        request.update(change)
        with pytest.raises(LegatoError) as caught:
            refund_deposit(app, deposit_id, **request)
        assert (caught.value.code, caught.value.exit_status) == (code, status), change
    assert refund_count(app) == 0 and escrow_balance(app, dep.id) == (2000, 2000)
    refund_deposit(app, dep.id, reason="all", key="all")
    with pytest.raises(LegatoError) as caught:  # nothing left
        refund_deposit(app, dep.id, reason="again", key="again")
    assert caught.value.code == "INSUFFICIENT_FUNDS" and refund_count(app) == 1
