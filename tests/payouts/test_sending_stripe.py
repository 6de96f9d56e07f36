"""Stripe Connect transfers for payouts, through the official SDK against the Transfers
fake: paid at once, the idempotency key and ``transfer_group`` carry the reference, webhooks
(``transfer.created`` ×3, ``transfer.reversed``) apply once, a refusal and a reversal return
the money exactly, a lost answer is found again by verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from starlette.testclient import TestClient

from legato_pay.gateways.stripe.gateway import StripeGateway
from legato_pay.payouts.sending import run_payouts
from legato_pay.payouts.sending_gateways import Outgoing, StripeSender
from legato_pay.payouts.sending_verify import verify_payouts
from legato_pay.webhooks.app import create_app
from tests.fakes.stripe_transfers import FakeStripeTransfers
from tests.payouts.helpers import VAULT
from tests.payouts.sending_support import (
    USD_50,
    earnings,
    payout,
    request,
    settled,
    writer_paid_through,
)

KEY = "sk_test_transfers_fake"
WEBHOOK_SECRET = "whsec_transfers_fake"


@pytest.fixture
def fake() -> Iterator[tuple[FakeStripeTransfers, str]]:
    transfers = FakeStripeTransfers()
    with transfers.serve() as url:
        yield transfers, url


def senders(url: str, timeout: float = 5) -> dict[str, Any]:
    gateway = StripeGateway(KEY, api_base=url, max_retries=0, timeout_seconds=timeout)
    return {"stripe": StripeSender(gateway)}


@pytest.fixture
def client(app: Any, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    return TestClient(create_app(app))


def post(client: TestClient, event: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    answer = client.post(
        "/webhooks/stripe", content=payload.encode(), headers={"stripe-signature": header}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def stripe_payout(app: Any, transfers: FakeStripeTransfers) -> Any:
    method = writer_paid_through(app, "stripe", "sam", posted=2 * USD_50)
    transfers.add_account("acct_sam0001")
    return request(app, "sam", "USD", USD_50, method.id)


def test_transfer_pays_at_once_and_webhooks_apply_once(
    app: Any, fake: tuple[FakeStripeTransfers, str], client: Any
) -> None:
    transfers, url = fake
    made = stripe_payout(app, transfers)
    [line] = run_payouts(app, senders=senders(url), vault=VAULT).lines
    assert (line.status, line.outcome) == ("paid", "applied")
    reference = f"payout-{made.id}"
    sent = transfers.by_group(reference)
    assert (sent["amount"], sent["currency"], sent["destination"]) == (
        made.net,
        "usd",
        "acct_sam0001",
    )
    assert sent["metadata"] == {"reference": reference}
    assert earnings(app, "sam", "USD") == (USD_50, USD_50)
    assert settled(app, "stripe", "USD", USD_50)
    [created] = transfers.events
    answers = [post(client, created) for _ in range(3)]
    assert answers[0]["status"] == "ignored" and [a["duplicate"] for a in answers[1:]] == [True] * 2
    assert settled(app, "stripe", "USD", USD_50)

    transfers.events.clear()
    transfers.reverse(sent["id"])
    [reversed_event] = transfers.events
    assert post(client, reversed_event)["status"] == "applied"
    assert post(client, reversed_event)["duplicate"] is True
    assert payout(app, made.id).status == "reversed"
    assert earnings(app, "sam", "USD") == (2 * USD_50, 2 * USD_50)
    assert settled(app, "stripe", "USD", 0)


def test_idempotency_key_returns_the_same_transfer(
    app: Any, fake: tuple[FakeStripeTransfers, str]
) -> None:
    transfers, url = fake
    made = stripe_payout(app, transfers)
    run_payouts(app, senders=senders(url), vault=VAULT)
    reference = f"payout-{made.id}"
    first = transfers.by_group(reference)
    item = Outgoing(made.id, reference, made.net, "USD", "acct_sam0001", "Payout")
    again = senders(url)["stripe"].resend(item)
    assert again.transfer_id == first["id"] and transfers.transfer_count(reference) == 1


def test_a_refused_transfer_fails_and_returns_the_money(
    app: Any, fake: tuple[FakeStripeTransfers, str]
) -> None:
    transfers, url = fake
    made = stripe_payout(app, transfers)
    transfers.balance["usd"] = made.net - 1
    [line] = run_payouts(app, senders=senders(url), vault=VAULT).lines
    assert (line.status, line.outcome) == ("failed", "applied")
    assert "insufficient funds" in payout(app, made.id).timeline[-1].reason
    assert earnings(app, "sam", "USD") == (2 * USD_50, 2 * USD_50)
    assert settled(app, "stripe", "USD", 0)


def test_a_lost_answer_is_found_by_transfer_group(
    app: Any, fake: tuple[FakeStripeTransfers, str]
) -> None:
    transfers, url = fake
    made = stripe_payout(app, transfers)
    transfers.delay_after_seconds = 1.0
    [line] = run_payouts(app, senders=senders(url, timeout=0.3), vault=VAULT).lines
    assert (line.status, line.outcome) == ("sending", "pending")
    transfers.delay_after_seconds = 0
    [found] = verify_payouts(app, made.id, senders=senders(url), vault=VAULT)
    assert (found.status, found.outcome) == ("paid", "applied")
    assert transfers.transfer_count(f"payout-{made.id}") == 1
    assert settled(app, "stripe", "USD", USD_50)


def test_a_partial_reversal_is_flagged_not_applied(
    app: Any, fake: tuple[FakeStripeTransfers, str], client: Any
) -> None:
    transfers, url = fake
    made = stripe_payout(app, transfers)
    run_payouts(app, senders=senders(url), vault=VAULT)
    transfers.events.clear()
    transfers.reverse(transfers.by_group(f"payout-{made.id}")["id"], amount=100)
    [partial] = transfers.events
    assert post(client, partial)["status"] == "flagged"
    assert payout(app, made.id).status == "paid"
    assert settled(app, "stripe", "USD", USD_50)
