"""Deposits and refunds through the fake Paystack, their webhooks delivered signed to the
webhook app: ``charge.success`` (``metadata.payment_type: investment``) confirms a deposit
once however often it arrives, an event for an unknown deposit is flagged and credits
nothing, and ``refund.*`` events settle escrow refunds exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from legato_pay.context import AppContext
from legato_pay.errors import GatewayUnavailable
from legato_pay.escrow.deposits import create_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.escrow.refunds import (
    RefundView,
    get_refund,
    list_refunds,
    refund_deposit,
    refund_status,
)
from legato_pay.gateways.paystack.references import transaction_reference
from legato_pay.webhooks import inbox
from legato_pay.webhooks.app import create_app
from tests.escrow.conftest import PAYSTACK_SECRET as SECRET
from tests.escrow.deposit_factory import (
    APP,
    INVESTOR,
    app_with_investor,
    deposit,
    entries_keyed,
    escrow_balance,
    units_held,
)
from tests.factories import assert_ledger_ok
from tests.fakes.paystack import FakePaystack, sign_paystack_webhook


@pytest.fixture
def client(app: AppContext, paystack: FakePaystack) -> TestClient:
    app_with_investor(app)
    return TestClient(create_app(app))


def deliver(client: TestClient, event: dict[str, Any]) -> str:
    body, headers = sign_paystack_webhook(event, SECRET)
    response = client.post("/webhooks/paystack", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["status"]  # type: ignore[no-any-return]


def last_event(app: AppContext) -> dict[str, Any]:
    return app.run(lambda s: inbox.list_events(s, limit=1), write=False)[0]


def refund_now(app: AppContext, refund_id: int) -> RefundView:
    return app.run(lambda s: get_refund(s, refund_id), write=False)


def paid_deposit(app: AppContext, fake: FakePaystack, units: int | None = 40) -> Any:
    view = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="20000.00",
        currency="NGN",
        gateway="paystack",
        units=units,
        key="ps-1",
    )
    assert view.checkout_url and view.checkout_url.startswith("https://checkout.paystack.test/")
    [initialize] = [r for r in fake.requests if r.path == "/transaction/initialize"]
    assert initialize.body["metadata"]["payment_type"] == "investment"
    assert initialize.body["metadata"]["deposit"] == str(view.id)
    assert (initialize.body["metadata"]["app"], initialize.body["metadata"]["investor"]) == (
        APP,
        INVESTOR,
    )
    fake.settle(transaction_reference(view.reference), "success")
    return view


def test_charge_success_confirms_once_however_often_it_arrives(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    view = paid_deposit(app, paystack)
    event = paystack.charge_event(transaction_reference(view.reference))
    assert deliver(client, event) == "applied"
    for _ in range(2):  # Paystack retries: the inbox dedups; a confirm after it credits nothing
        deliver(client, event)
    assert confirm_deposit(app, view.reference).credited is False
    confirmed = deposit(app, view.id)
    assert confirmed.status == "confirmed" and confirmed.provider_payment_id
    assert escrow_balance(app, view.id, "NGN") == (2_000_000, 2_000_000)
    assert entries_keyed(app, f"escrow-deposit:{view.id}") == 1 and units_held(app) == 40
    assert_ledger_ok(app)


def test_a_charge_for_another_amount_flags_the_deposit(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    view = paid_deposit(app, paystack)
    paystack.settle(transaction_reference(view.reference), "success", amount=1_000_000)
    assert (
        deliver(client, paystack.charge_event(transaction_reference(view.reference))) == "flagged"
    )
    flagged = deposit(app, view.id)
    assert flagged.status == "flagged" and "10,000.00 NGN" in (flagged.flag_reason or "")
    assert escrow_balance(app, view.id, "NGN") == (0, 0) and units_held(app) == 0


def test_an_investment_charge_for_an_unknown_deposit_is_stored_flagged(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    view = paid_deposit(app, paystack)
    event = paystack.charge_event(transaction_reference(view.reference))
    event["data"]["metadata"] = {**event["data"]["metadata"], "reference": "dep_unknown"}
    event["data"]["id"] = 987654
    assert deliver(client, event) == "flagged"
    stored = last_event(app)
    assert "unknown deposit dep_unknown" in stored["outcome"]
    assert deposit(app, view.id).status == "pending"
    assert escrow_balance(app, view.id, "NGN") == (0, 0)


def test_refund_webhooks_settle_escrow_refunds_exactly_once(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    view = paid_deposit(app, paystack)
    assert confirm_deposit(app, view.reference).credited
    first = refund_deposit(app, view.id, amount="5000.00", reason="part", key="a")
    second = refund_deposit(app, view.id, amount="1000.00", reason="fails", key="b")
    assert (first.status, second.status) == ("pending", "pending")  # Paystack answers pending
    assert escrow_balance(app, view.id, "NGN") == (2_000_000, 1_400_000)  # both reserved
    assert first.provider_refund_id and second.provider_refund_id

    again = refund_deposit(app, view.id, amount="5000.00", reason="part", key="a")
    assert again.id == first.id and paystack.count("POST", "/refund") == 2  # found, not resent

    paystack.set_refund_status(int(first.provider_refund_id), "processed")
    processed = paystack.refund_event(int(first.provider_refund_id))
    assert deliver(client, processed) == "applied"
    processed["data"]["status"] = "processed"
    deliver(client, processed)  # a retry: nothing more
    paystack.set_refund_status(int(second.provider_refund_id), "failed")
    assert deliver(client, paystack.refund_event(int(second.provider_refund_id))) == "applied"

    settled = [refund_now(app, r.id) for r in (first, second)]
    assert [r.status for r in settled] == ["succeeded", "failed"]
    assert settled[0].units_cancelled == 10  # floor(40 × 5000 / 20000)
    assert escrow_balance(app, view.id, "NGN") == (1_500_000, 1_500_000)
    assert units_held(app) == 30
    assert entries_keyed(app, f"escrow-refund:{first.id}:post") == 1
    assert_ledger_ok(app)


def test_a_refund_whose_outcome_is_unknown_stays_pending_until_refund_status(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    view = paid_deposit(app, paystack, units=None)
    confirm_deposit(app, view.reference)
    paystack.fail_next(503)
    with pytest.raises(GatewayUnavailable):
        refund_deposit(app, view.id, amount="100.00", reason="timeout", key="t")
    [pending] = app.run(lambda s: list_refunds(s, view.id), write=False)
    assert pending.status == "pending" and pending.provider_refund_id is None
    assert escrow_balance(app, view.id, "NGN") == (2_000_000, 1_990_000)

    checked = refund_status(app, pending.id)  # not at the gateway: sent now, under its key
    assert checked.status == "pending" and checked.provider_refund_id
    assert refund_status(app, pending.id).provider_refund_id == checked.provider_refund_id
    assert paystack.count("POST", "/refund") == 2  # the refused attempt and the one refund
    paystack.set_refund_status(int(checked.provider_refund_id), "processed")
    assert refund_status(app, pending.id).status == "succeeded"
    assert escrow_balance(app, view.id, "NGN") == (1_990_000, 1_990_000)
