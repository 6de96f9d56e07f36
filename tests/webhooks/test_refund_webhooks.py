"""Refund outcomes from the gateways: Paystack ``refund.*`` and Stripe ``refund.*`` /
``charge.refunded`` complete, confirm, release or undo our refunds, exactly once.

Paystack refunds go through the fake Paystack (its ``refund_event`` sends what Paystack's
refund webhooks carry: no refund id, the amount as a string; our refund is found by the
purchase and the amount). Without an id, an operator's replay of an OLD failure after the
refund was retried under the same key cannot be told from a new failure: that one test gives
the event an id. Stripe refunds through a stub gateway, since localstripe
sends no refund events. Events are delivered signed to the webhook app, as the providers do.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from sqlalchemy import func, select
from starlette.testclient import TestClient

from legato_pay import chart
from legato_pay.context import AppContext
from legato_pay.errors import InvalidState
from legato_pay.gateways.base import PaymentStatus, RefundResult
from legato_pay.ledger import get_balance
from legato_pay.readers import purchases
from legato_pay.readers.packages import ensure_default_packages
from legato_pay.readers.purchases import refunds as purchase_refunds
from legato_pay.readers.users import add_user
from legato_pay.store.tables import ENTRIES
from legato_pay.webhooks import inbox
from legato_pay.webhooks.app import create_app
from tests.cli_runner import run_cli
from tests.factories import assert_ledger_ok, insert_purchase
from tests.factories import wallet_json as wallet
from tests.fakes.paystack import FakePaystack, sign_paystack_webhook

PAYSTACK_SECRET = "sk_test_fakepaystack_refunds"
STRIPE_SECRET = "whsec_refund_tests"
READER = "reader-rf"
#: The ``popular`` package: 1000 coins + 100 bonus, NGN 15,000.00 (fixed) or USD 9.99.
COINS, BONUS, NGN_PRICE, USD_PRICE = 1000, 100, 1_500_000, 999


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture
def paystack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePaystack]:
    fake = FakePaystack(PAYSTACK_SECRET)
    with fake.serve() as base_url:
        monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
        monkeypatch.setenv("PAYSTACK_BASE_URL", base_url)
        monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "test")
        yield fake


@pytest.fixture
def client(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    return TestClient(create_app(app))


def deliver_paystack(client: TestClient, event: dict[str, Any]) -> str:
    body, headers = sign_paystack_webhook(event, PAYSTACK_SECRET)
    response = client.post("/webhooks/paystack", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["status"]  # type: ignore[no-any-return]


_event_ids = itertools.count(1)


def deliver_stripe(client: TestClient, event_type: str, obj: dict[str, Any]) -> str:
    event = {
        "id": f"evt_refund_{next(_event_ids)}_{time.time_ns()}",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET)
    response = client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={"stripe-signature": header, "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.json()["status"]  # type: ignore[no-any-return]


def last_event(app: AppContext) -> dict[str, Any]:
    return app.run(lambda s: inbox.list_events(s, limit=1), write=False)[0]  # type: ignore[no-any-return]


def replay(app: AppContext, event_id: int) -> str:
    return app.run(lambda s: inbox.replay(s, event_id))["status"]  # type: ignore[no-any-return]


def get_purchase(app: AppContext, reference: str) -> purchases.PurchaseView:
    return app.run(lambda s: purchases.get_purchase(s, reference), write=False)


def refund_row(app: AppContext, reference: str, index: int = 0) -> purchases.RefundView:
    return get_purchase(app, reference).refunds[index]


def coins(app: AppContext) -> tuple[int, int]:
    found = wallet(app, READER)
    return found["paid"], found["bonus"]


def entries_keyed(app: AppContext, prefix: str) -> int:
    query = (
        select(func.count())
        .select_from(ENTRIES)
        .where(ENTRIES.c.idempotency_key.like(f"{prefix}%"))
    )
    return app.run(lambda s: s.execute(query).scalar_one(), write=False)  # type: ignore[no-any-return]


def cash(app: AppContext, gateway: str, currency: str) -> int:
    code = chart.gateway_cash(gateway, currency)
    return app.run(lambda s: get_balance(s, code).available, write=False)  # type: ignore[no-any-return]


def spend(app: AppContext, amount: int) -> None:
    """Spend coins the way unlocks do (bonus first), so a refund finds some gone."""
    from legato_pay.ledger import EntrySpec, post_entries
    from legato_pay.readers.coins import lock_wallet, plan_spend, spend_legs

    def work(session: Any) -> None:
        chart.open_system(session, chart.COINS_REDEEMED, chart.COIN)
        plan = plan_spend(lock_wallet(session, READER), amount, "bonus_first", user_id=READER)
        legs = tuple(spend_legs(READER, plan, chart.COINS_REDEEMED))
        post_entries(session, [EntrySpec(legs=legs)], actor="test")

    app.run(work)


def paid_paystack_purchase(app: AppContext, fake: FakePaystack) -> str:
    app.run(lambda s: add_user(s, READER, email=f"{READER}@example.com"))
    created = purchases.create_purchase(
        app, user_id=READER, package_id="popular", currency="NGN", gateway="paystack"
    )
    reference = created.purchase.reference
    fake.settle(reference, "success")
    assert purchases.verify_purchase(app, reference).credited
    assert coins(app) == (COINS, BONUS)
    return reference


def paystack_refund_id(fake: FakePaystack, refund: purchases.RefundView) -> int:
    assert refund.gateway_refund_id is not None
    return int(refund.gateway_refund_id)


def paystack_event(fake: FakePaystack, refund_id: int, status: str) -> dict[str, Any]:
    fake.set_refund_status(refund_id, status)
    event = fake.refund_event(refund_id)
    assert isinstance(event["data"]["amount"], str)  # as Paystack sometimes sends it
    return event


def interrupt_bookkeeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway accepts the refund, then our second transaction never happens."""

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("killed after the gateway accepted the refund")

    monkeypatch.setattr(purchase_refunds, "apply_refund", crash)


# -- Paystack --------------------------------------------------------------------------------


def test_processed_confirms_a_booked_refund(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    reference = paid_paystack_purchase(app, paystack)
    outcome = purchases.refund_purchase(app, reference, key="k1")
    assert (outcome.refund.status, outcome.purchase.status) == ("succeeded", "refunded")
    before = get_purchase(app, reference)
    refund_id = paystack_refund_id(paystack, outcome.refund)

    assert deliver_paystack(client, paystack_event(paystack, refund_id, "pending")) == "applied"
    assert deliver_paystack(client, paystack_event(paystack, refund_id, "processed")) == "applied"
    assert "confirmed" in last_event(app)["outcome"]
    assert replay(app, last_event(app)["id"]) == "applied"
    assert get_purchase(app, reference) == before
    assert coins(app) == (0, 0)
    assert entries_keyed(app, "purchase-refund") == 1
    assert_ledger_ok(app)


def test_failed_after_booking_is_undone_once(
    app: AppContext, client: TestClient, paystack: FakePaystack, database_url: str
) -> None:
    reference = paid_paystack_purchase(app, paystack)
    spend(app, 150)  # 100 bonus + 50 paid: the second refund finds some coins gone
    first = purchases.refund_purchase(app, reference, amount="5000.00", key="k1").refund
    after_first = coins(app)
    second = purchases.refund_purchase(app, reference, amount="10000.00", key="k2")
    assert (second.purchase.status, second.purchase.refunded_amount) == ("refunded", NGN_PRICE)
    assert second.refund.coins_lost > 0 and coins(app) == (0, 0)

    # Paystack fails the second refund after all: it is undone, coins back in the wallet.
    failed = paystack_event(paystack, paystack_refund_id(paystack, second.refund), "failed")
    assert deliver_paystack(client, failed) == "applied"
    event = last_event(app)
    assert "undone" in event["outcome"]
    purchase = get_purchase(app, reference)
    assert (purchase.status, purchase.refunded_amount) == ("partially_refunded", first.amount)
    assert (purchase.coins_clawed_back, purchase.coins_lost) == (
        first.coins_clawed_back,
        first.coins_lost,
    )
    assert [r.status for r in purchase.refunds] == ["succeeded", "failed"]
    assert coins(app) == after_first
    assert cash(app, "paystack", "NGN") == NGN_PRICE - first.amount

    # The same event again (a provider retry, an operator's replay): nothing doubles.
    assert deliver_paystack(client, failed) == "applied"
    assert replay(app, event["id"]) == "applied"
    replayed = run_cli(database_url, "webhooks", "replay", str(event["id"]))
    assert replayed.status == 0, replayed.stderr
    assert get_purchase(app, reference) == purchase
    assert coins(app) == after_first
    assert entries_keyed(app, "purchase-refund-failed:") == 1

    # The first refund fails too: the purchase is back where it was before any refund.
    first_failed = paystack_event(paystack, paystack_refund_id(paystack, first), "failed")
    assert deliver_paystack(client, first_failed) == "applied"
    purchase = get_purchase(app, reference)
    assert (purchase.status, purchase.refunded_amount) == ("succeeded", 0)
    assert (purchase.coins_clawed_back, purchase.coins_lost) == (0, 0)
    assert coins(app) == (COINS - 50, 0)
    assert cash(app, "paystack", "NGN") == NGN_PRICE
    assert entries_keyed(app, "purchase-refund-failed:") == 2
    assert_ledger_ok(app)
    verified = run_cli(database_url, "ledger", "verify")
    assert verified.status == 0 and verified.json["ok"] is True, verified.stdout

    # An undone refund's key cannot be reused (its ledger entry key is taken): a new key can.
    with pytest.raises(InvalidState):
        purchases.refund_purchase(app, reference, amount="10000.00", key="k2")
    again = purchases.refund_purchase(app, reference, amount="10000.00", key="k3")
    assert again.purchase.status == "partially_refunded"
    assert_ledger_ok(app)


@pytest.mark.parametrize("with_id", [True, False], ids=["refund-id", "no-refund-id"])
def test_processed_completes_an_interrupted_refund_once(
    app: AppContext,
    client: TestClient,
    paystack: FakePaystack,
    monkeypatch: pytest.MonkeyPatch,
    with_id: bool,
) -> None:
    reference = paid_paystack_purchase(app, paystack)
    with monkeypatch.context() as patch:
        interrupt_bookkeeping(patch)
        with pytest.raises(RuntimeError):
            purchases.refund_purchase(app, reference, amount="3000.00", key="k1")
    refund = refund_row(app, reference)
    assert (refund.status, refund.gateway_refund_id) == ("requested", None)
    assert coins(app) == (COINS, BONUS)  # nothing clawed back yet

    [paystack_id] = paystack.refunds
    event = paystack_event(paystack, paystack_id, "processed")
    assert "id" not in event["data"]  # Paystack's refund events name no refund id
    if with_id:  # should one carry it, it is remembered; else purchase and amount match
        event["data"]["id"] = paystack_id
    assert deliver_paystack(client, event) == "applied"
    assert "completed" in last_event(app)["outcome"]
    refund = refund_row(app, reference)
    assert refund.status == "succeeded"
    assert refund.gateway_refund_id == (str(paystack_id) if with_id else None)
    assert refund.coins_clawed_back == 220  # a fifth of 1000 + 100
    assert coins(app) == (800, 80)

    assert replay(app, last_event(app)["id"]) == "applied"
    assert "confirmed" in last_event(app)["outcome"]
    assert coins(app) == (800, 80)
    assert entries_keyed(app, "purchase-refund:") == 1
    assert get_purchase(app, reference).refunded_amount == 300_000
    assert_ledger_ok(app)


def test_two_partial_refunds_of_one_transaction_are_each_applied(
    app: AppContext,
    client: TestClient,
    paystack: FakePaystack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Paystack's refund events carry no refund id: two partial refunds of one transaction
    share its reference and status, so the inbox keys them by the refund (its reference and
    amount too) and neither is taken for a repeat of the other."""
    reference = paid_paystack_purchase(app, paystack)
    with monkeypatch.context() as patch:
        interrupt_bookkeeping(patch)
        for key, amount in (("k1", "3000.00"), ("k2", "2000.00")):
            with pytest.raises(RuntimeError):
                purchases.refund_purchase(app, reference, amount=amount, key=key)
    first_id, second_id = sorted(paystack.refunds)
    first = paystack_event(paystack, first_id, "processed")
    second = paystack_event(paystack, second_id, "processed")
    assert "id" not in first["data"] and "id" not in second["data"]
    assert first["data"]["transaction_reference"] == second["data"]["transaction_reference"]

    for event in (first, second):
        body, headers = sign_paystack_webhook(event, PAYSTACK_SECRET)
        answer = client.post("/webhooks/paystack", content=body, headers=headers).json()
        assert answer == {"received": True, "status": "applied", "duplicate": False}
        assert "completed" in last_event(app)["outcome"]
    purchase = get_purchase(app, reference)
    assert [(r.amount, r.status) for r in purchase.refunds] == [
        (300_000, "succeeded"),
        (200_000, "succeeded"),
    ]
    assert purchase.refunded_amount == 500_000
    assert entries_keyed(app, "purchase-refund:") == 2
    # Each delivered again is a duplicate; nothing more happens.
    assert deliver_paystack(client, first) == "applied"
    assert get_purchase(app, reference) == purchase
    keys = {e["event_key"] for e in app.run(lambda s: inbox.list_events(s), write=False)}
    assert len(keys) == 2
    assert_ledger_ok(app)


def test_failed_releases_an_interrupted_refund_and_a_retry_is_left_alone(
    app: AppContext, client: TestClient, paystack: FakePaystack, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = paid_paystack_purchase(app, paystack)
    with monkeypatch.context() as patch:
        interrupt_bookkeeping(patch)
        with pytest.raises(RuntimeError):
            purchases.refund_purchase(app, reference, amount="3000.00", key="k1")
    assert get_purchase(app, reference).refunded_amount == 300_000  # reserved
    [old_id] = paystack.refunds
    failed = paystack_event(paystack, old_id, "failed")
    # Told apart from the retry below by the refund's id: without one, a replay of this old
    # failure after the retry could not be (module docstring).
    failed["data"]["id"] = old_id
    assert deliver_paystack(client, failed) == "applied"
    failed_event = last_event(app)
    assert "released" in failed_event["outcome"]
    purchase = get_purchase(app, reference)
    assert (purchase.status, purchase.refunded_amount) == ("succeeded", 0)
    assert [r.status for r in purchase.refunds] == ["failed"]
    assert coins(app) == (COINS, BONUS)

    # The operator retries with the same key; replaying the old failure must not touch it.
    retried = purchases.refund_purchase(app, reference, amount="3000.00", key="k1")
    assert retried.refund.status == "succeeded" and retried.refund.id == purchase.refunds[0].id
    assert replay(app, failed_event["id"]) == "ignored"
    purchase = get_purchase(app, reference)
    assert (purchase.status, purchase.refunded_amount) == ("partially_refunded", 300_000)
    assert coins(app) == (800, 80)
    assert_ledger_ok(app)


def test_needs_attention_is_flagged_and_pending_changes_nothing(
    app: AppContext, client: TestClient, paystack: FakePaystack
) -> None:
    reference = paid_paystack_purchase(app, paystack)
    refund = purchases.refund_purchase(app, reference, key="k1").refund
    before = get_purchase(app, reference)
    refund_id = paystack_refund_id(paystack, refund)
    assert deliver_paystack(client, paystack_event(paystack, refund_id, "processing")) == "applied"
    assert deliver_paystack(client, paystack_event(paystack, refund_id, "needs-attention")) == (
        "flagged"
    )
    assert "needs-attention" in last_event(app)["outcome"]
    assert get_purchase(app, reference) == before
    assert_ledger_ok(app)


def test_unknown_refunds_are_ignored(app: AppContext, client: TestClient) -> None:
    unknown = {
        "event": "refund.processed",
        "data": {
            "id": 424242,
            "status": "processed",
            "transaction_reference": "pur-000000000000000000000000-0123456789ab",
            "amount": "150000",
            "currency": "NGN",
        },
    }
    assert deliver_paystack(client, unknown) == "ignored"
    assert deliver_stripe(client, "refund.updated", stripe_refund("re_unknown", 999)) == "ignored"
    assert deliver_stripe(client, "charge.refunded", {"id": "ch_1", "object": "charge"}) == (
        "ignored"
    )


# -- Stripe ----------------------------------------------------------------------------------


class StubStripe:
    """Stripe's refund call as the gateway protocol sees it (localstripe sends no refund
    events, and its refunds are always ``succeeded``)."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def refund(self, *, amount: int, currency: str, **_: Any) -> RefundResult:
        return RefundResult("stripe", f"re_{next(self.ids)}", "pending", amount, currency)


def stripe_refund(refund_id: str, amount: int, status: str = "succeeded", **extra: Any) -> Any:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "payment_intent": "pi_rf_1",
        "status": status,
        **extra,
    }


@pytest.fixture
def stripe_purchase(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> str:
    """A credited USD purchase made through Stripe; refunds go to ``StubStripe``."""
    reference = "pur_stripe_refunds_1"
    now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def seed(session: Any) -> None:
        ensure_default_packages(session, app.settings)
        add_user(session, READER, email=f"{READER}@example.com")
        insert_purchase(
            session,
            reference,
            READER,
            package="popular",
            coins=COINS,
            bonus=BONUS,
            currency="USD",
            amount=USD_PRICE,
            gateway="stripe",
            payment_id="pi_rf_1",
            at=now,
        )

    app.run(seed)
    paid = PaymentStatus("stripe", reference, "pi_rf_1", "succeeded", USD_PRICE, "USD")
    app.run(lambda s: purchases.settle_payment(s, paid, actor="test"))
    stub = StubStripe()
    monkeypatch.setattr("legato_pay.gateways.get_gateway", lambda _app, _name: stub)
    return reference


def test_stripe_refund_failed_undoes_a_booked_refund(
    app: AppContext, client: TestClient, stripe_purchase: str
) -> None:
    reference = stripe_purchase
    refund = purchases.refund_purchase(app, reference, key="k1").refund
    assert (refund.gateway_refund_id, coins(app)) == ("re_1", (0, 0))
    assert deliver_stripe(client, "refund.created", stripe_refund("re_1", 999, "pending")) == (
        "applied"
    )
    failed = stripe_refund("re_1", 999, "failed", failure_reason="expired_or_canceled_card")
    assert deliver_stripe(client, "refund.failed", failed) == "applied"
    assert deliver_stripe(client, "refund.updated", failed) == "applied"  # a second word on it
    assert "already failed" in last_event(app)["outcome"]
    purchase = get_purchase(app, reference)
    assert (purchase.status, purchase.refunded_amount, purchase.coins_clawed_back) == (
        "succeeded",
        0,
        0,
    )
    assert purchase.refunds[0].status == "failed"
    assert coins(app) == (COINS, BONUS)
    assert cash(app, "stripe", "USD") == USD_PRICE
    assert entries_keyed(app, "purchase-refund-failed:") == 1
    assert_ledger_ok(app)


def test_stripe_charge_refunded_handles_each_refund_in_it(
    app: AppContext, client: TestClient, stripe_purchase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = stripe_purchase
    booked = purchases.refund_purchase(app, reference, amount="4.00", key="k1").refund
    with monkeypatch.context() as patch:
        interrupt_bookkeeping(patch)
        with pytest.raises(RuntimeError):
            purchases.refund_purchase(app, reference, amount="2.00", key="k2")
    assert [r.status for r in get_purchase(app, reference).refunds] == ["succeeded", "requested"]
    charge = {
        "id": "ch_rf_1",
        "object": "charge",
        "amount": USD_PRICE,
        "amount_refunded": 600,
        "payment_intent": "pi_rf_1",
        "refunds": {
            "object": "list",
            "data": [
                stripe_refund("re_2", 200, metadata={"reference": reference}),
                stripe_refund("re_1", 400, metadata={"reference": reference}),
            ],
        },
    }
    assert deliver_stripe(client, "charge.refunded", charge) == "applied"
    outcome = last_event(app)["outcome"]
    assert "completed" in outcome and "confirmed" in outcome
    purchase = get_purchase(app, reference)
    assert [(r.status, r.gateway_refund_id) for r in purchase.refunds] == [
        ("succeeded", booked.gateway_refund_id),
        ("succeeded", "re_2"),
    ]
    assert (purchase.status, purchase.refunded_amount) == ("partially_refunded", 600)
    clawed = coins(app)
    assert replay(app, last_event(app)["id"]) == "applied"
    assert coins(app) == clawed
    assert entries_keyed(app, "purchase-refund:") == 2
    assert_ledger_ok(app)
