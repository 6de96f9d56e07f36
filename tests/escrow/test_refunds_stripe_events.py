"""Stripe refund webhooks (``refund.updated`` / ``charge.refunded``) settle escrow refunds
exactly once, found by our reference in the refund's metadata. Through a stub Stripe gateway,
since localstripe sends no refund events; the events are signed and delivered to the webhook
app as Stripe does."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
import stripe
from starlette.testclient import TestClient

from legato_pay.context import AppContext
from legato_pay.escrow.deposits import create_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.escrow.refunds import get_refund, refund_deposit
from legato_pay.gateways.base import PaymentRequest, PaymentSession, PaymentStatus, RefundResult
from legato_pay.webhooks.app import create_app
from tests.escrow.deposit_factory import APP, INVESTOR, app_with_investor, escrow_balance

SECRET = "whsec_escrow_refunds"
_events = itertools.count(1)


class StubStripe:
    """Payments that succeed at once, refunds Stripe answers ``pending``."""

    name = "stripe"

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.refunds: dict[str, RefundResult] = {}

    def check_payment(self, request: PaymentRequest) -> None:
        return None

    def create_payment(self, request: PaymentRequest) -> PaymentSession:
        self.request = request
        return PaymentSession("stripe", request.reference, "pi_escrow_1", "succeeded", "cs_1")

    def verify_payment(self, reference: str, provider_payment_id: str | None) -> PaymentStatus:
        return PaymentStatus(
            "stripe", reference, "pi_escrow_1", "succeeded", self.request.amount, "USD"
        )

    def refund(self, *, amount: int, currency: str, reference: str, **_: Any) -> RefundResult:
        result = RefundResult("stripe", f"re_{next(self.ids)}", "pending", amount, currency)
        self.refunds[reference] = result
        return result

    def find_refund(self, *, reference: str, **_: Any) -> RefundResult | None:
        return self.refunds.get(reference)


def deliver(client: TestClient, event_type: str, obj: dict[str, Any]) -> str:
    payload = json.dumps(
        {
            "id": f"evt_escrow_{next(_events)}_{time.time_ns()}",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    response = client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={"stripe-signature": header, "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()["status"]  # type: ignore[no-any-return]


def stripe_refund(refund_id: str, amount: int, status: str, reference: str) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "payment_intent": "pi_escrow_1",
        "status": status,
        "metadata": {"reference": reference},
    }


def test_stripe_refund_events_settle_escrow_refunds_once(
    app: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_with_investor(app)
    stub = StubStripe()
    monkeypatch.setattr("legato_pay.gateways.get_gateway", lambda _app, _name: stub)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    client = TestClient(create_app(app))
    view = create_deposit(
        app, app_id=APP, investor=INVESTOR, amount="100.00", gateway="stripe", units=10, key="s"
    )
    assert stub.request.metadata["payment_type"] == "investment"
    assert confirm_deposit(app, view.reference).credited
    first = refund_deposit(app, view.id, amount="30.00", reason="a", key="a")
    second = refund_deposit(app, view.id, amount="20.00", reason="b", key="b")
    assert (first.provider_refund_id, second.provider_refund_id) == ("re_1", "re_2")
    assert escrow_balance(app, view.id) == (10000, 5000)

    done = stripe_refund("re_1", 3000, "succeeded", f"escrow-refund-{first.id}")
    assert deliver(client, "refund.updated", done) == "applied"
    assert deliver(client, "refund.updated", done) == "applied"  # a second event: no change
    charge = {
        "id": "ch_1",
        "object": "charge",
        "refunds": {"data": [stripe_refund("re_2", 2000, "failed", f"escrow-refund-{second.id}")]},
    }
    assert deliver(client, "charge.refunded", charge) == "applied"

    settled = [app.run(lambda s: get_refund(s, first.id), write=False)]
    settled.append(app.run(lambda s: get_refund(s, second.id), write=False))
    assert [(r.status, r.units_cancelled) for r in settled] == [("succeeded", 3), ("failed", 0)]
    assert escrow_balance(app, view.id) == (7000, 7000)
