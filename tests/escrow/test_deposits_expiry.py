"""Stale pending deposits (``escrow expire-deposits``): the gateway is asked first; a payment it
holds is applied as ``escrow confirm`` would (credited once), otherwise the deposit expires;
an unreachable gateway leaves it pending. A dry run and a second run change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update

from legato_pay import gateways
from legato_pay.context import AppContext
from legato_pay.errors import GatewayError, GatewayUnavailable
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.escrow.deposits_expiry import expire_stale_deposits
from legato_pay.ledger.types import utcnow
from legato_pay.store.tables import BOOK, ESCROW_DEPOSITS
from tests.escrow.deposit_factory import (
    app_with_investor,
    deposit,
    escrow_balance,
    pending_deposit,
    units_held,
)


@pytest.fixture
def funded_app(app: AppContext) -> AppContext:
    app_with_investor(app)
    return app


def age(app: AppContext, deposit_id: int, hours: int) -> None:
    """Back-date a deposit's recording by ``hours``."""
    when = utcnow() - timedelta(hours=hours)
    app.run(
        lambda s: s.execute(
            update(ESCROW_DEPOSITS)
            .where(ESCROW_DEPOSITS.c.id == deposit_id)
            .values(created_at=when)
        )
    )


def outcomes(results: list[Any]) -> dict[int, tuple[str, str]]:
    return {result.deposit: (result.outcome, result.gateway_status) for result in results}


def test_stale_deposits_are_settled_by_the_gateway_or_expired(funded_app: AppContext) -> None:
    app = funded_app
    abandoned = pending_deposit(app, key="a", payment_method="pm_sandbox_pending")
    paid = pending_deposit(app, key="b", units=10)  # the sandbox took it; no confirm arrived
    lost = pending_deposit(app, key="c", payment_method="pm_sandbox_pending")
    fresh = pending_deposit(app, key="d", payment_method="pm_sandbox_pending")
    for view in (abandoned, paid, lost):
        age(app, view.id, hours=73)  # escrow.deposit_ttl_hours is 72
    app.run(lambda s: s.execute(delete(BOOK).where(BOOK.c.reference == lost.reference)))

    preview = expire_stale_deposits(app, dry_run=True)
    assert outcomes(preview) == {
        abandoned.id: ("due", "not_asked"),
        paid.id: ("due", "not_asked"),
        lost.id: ("due", "not_asked"),
    }
    assert {deposit(app, v.id).status for v in (abandoned, paid, lost)} == {"pending"}

    assert outcomes(expire_stale_deposits(app)) == {
        abandoned.id: ("expired", "pending"),  # the checkout is still open: closed here
        paid.id: ("confirmed", "succeeded"),  # the money arrived: credited, never expired
        lost.id: ("expired", "none"),  # the gateway never saw a payment
    }
    assert deposit(app, abandoned.id).status == "expired"
    assert deposit(app, abandoned.id).flag_reason == "no payment within escrow.deposit_ttl_hours"
    assert deposit(app, paid.id).status == "confirmed"
    assert escrow_balance(app, paid.id) == (50000, 50000) and units_held(app) == 10
    assert escrow_balance(app, abandoned.id) == (0, 0)
    assert deposit(app, fresh.id).status == "pending"  # not past its time

    assert expire_stale_deposits(app) == []  # a second run: nothing left to do
    assert escrow_balance(app, paid.id) == (50000, 50000) and units_held(app) == 10
    with pytest.raises(GatewayError):  # a late payment for an expired deposit needs a person
        confirm_deposit(app, abandoned.reference)
    assert escrow_balance(app, abandoned.id) == (0, 0)


def test_an_unreachable_gateway_leaves_the_deposit_pending(
    funded_app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = funded_app
    view = pending_deposit(app, key="a", payment_method="pm_sandbox_pending")
    age(app, view.id, hours=100)

    class Down:
        def verify_payment(self, reference: str, payment_id: str | None) -> Any:
            raise GatewayUnavailable("sandbox down")

    monkeypatch.setattr(gateways, "get_gateway", lambda app, name: Down())
    assert outcomes(expire_stale_deposits(app)) == {view.id: ("unknown", "unreachable")}
    assert deposit(app, view.id).status == "pending"
    monkeypatch.undo()
    assert outcomes(expire_stale_deposits(app)) == {view.id: ("expired", "pending")}


def test_the_ttl_can_be_given_per_run(funded_app: AppContext) -> None:
    app = funded_app
    view = pending_deposit(app, key="a", payment_method="pm_sandbox_pending")
    age(app, view.id, hours=5)
    assert expire_stale_deposits(app) == []  # 5 h < 72 h
    assert outcomes(expire_stale_deposits(app, older_than_hours=4)) == {
        view.id: ("expired", "pending")
    }
