"""The webhook listener: signatures, the exactly-once inbox, operator commands, health, metrics."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
from starlette.testclient import TestClient

from legato_pay.webhooks.app import create_app
from legato_pay.webhooks.signatures import sign_paystack
from tests.cli_runner import run_cli

PAYSTACK_SECRET = "sk_test_paystack_webhook_secret"
STRIPE_SECRET = "whsec_test_secret"


@pytest.fixture
def client(app: Any, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    return TestClient(create_app(app))


def paystack_post(
    client: TestClient,
    event: dict[str, Any],
    *,
    secret: str = PAYSTACK_SECRET,
    tamper: bool = False,
) -> Any:
    body = json.dumps(event).encode()
    signature = sign_paystack(body, secret)
    if tamper:
        body = body.replace(b'"amount": 5000', b'"amount": 9000')
    return client.post(
        "/webhooks/paystack",
        content=body,
        headers={"x-paystack-signature": signature, "content-type": "application/json"},
    )


def stripe_post(
    client: TestClient,
    event: dict[str, Any],
    *,
    secret: str = STRIPE_SECRET,
    timestamp: int | None = None,
) -> Any:
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return client.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={"stripe-signature": header, "content-type": "application/json"},
    )


def transfer_event(status: str = "success", reference: str = "tr_ref_1") -> dict[str, Any]:
    return {
        "event": f"transfer.{status}",
        "data": {
            "id": 991,
            "reference": reference,
            "status": status,
            "amount": 5000,
            "currency": "NGN",
            "transfer_code": "TRF_abc",
        },
    }


def stored_events(app: Any) -> list[dict[str, Any]]:
    from legato_pay.webhooks import inbox

    return app.run(lambda s: inbox.list_events(s), write=False)


def test_valid_paystack_event_is_stored_once_however_often_delivered(client, app):
    for _ in range(3):
        response = paystack_post(client, transfer_event())
        assert response.status_code == 200
    events = stored_events(app)
    assert len(events) == 1
    assert events[0]["provider"] == "paystack"
    assert events[0]["status"] == "ignored"  # no payout was sent as tr_ref_1
    assert events[0]["event_key"] == "transfer.success:991:success"
    assert response.json()["duplicate"] is True


def test_a_new_status_of_the_same_object_is_a_new_event(client, app):
    assert paystack_post(client, transfer_event("success")).status_code == 200
    assert paystack_post(client, transfer_event("reversed")).status_code == 200
    assert len(stored_events(app)) == 2


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: {"secret": "sk_test_wrong"},
        lambda e: {"tamper": True},
    ],
    ids=["wrong-secret", "tampered-body"],
)
def test_bad_paystack_signature_is_refused_and_stores_nothing(client, app, mutate):
    response = paystack_post(client, transfer_event(), **mutate(None))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert stored_events(app) == []


def test_missing_signature_is_refused_and_signed_non_json_is_kept_flagged(client, app):
    response = client.post("/webhooks/paystack", content=b'{"event": "x"}')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert stored_events(app) == []
    body = b"not json at all"
    response = client.post(
        "/webhooks/paystack",
        content=body,
        headers={"x-paystack-signature": sign_paystack(body, PAYSTACK_SECRET)},
    )
    # Paystack signed it: refusing it as a bad signature would have it retried for 72 hours.
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "status": "flagged", "duplicate": False}
    [stored] = stored_events(app)
    assert (stored["type"], stored["status"]) == ("malformed", "flagged")
    assert "not UTF-8 JSON" in stored["outcome"]


def test_oversized_body_is_refused(client, app):
    body = b'{"event": "charge.success", "data": {"pad": "' + b"x" * 1_100_000 + b'"}}'
    response = client.post(
        "/webhooks/paystack",
        content=body,
        headers={"x-paystack-signature": sign_paystack(body, PAYSTACK_SECRET)},
    )
    assert response.status_code == 413
    assert stored_events(app) == []


def test_stripe_event_signed_by_the_sdk_is_stored_and_unknown_types_ignored(client, app):
    event = {
        "id": "evt_test_1",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_1"}},
    }
    assert stripe_post(client, event).status_code == 200
    assert stripe_post(client, event).json()["duplicate"] is True
    [stored] = stored_events(app)
    assert (stored["event_key"], stored["status"]) == ("evt_test_1", "ignored")


def test_stale_or_wrongly_signed_stripe_event_is_refused(client, app):
    event = {"id": "evt_old", "type": "payout.paid", "data": {"object": {"id": "po_1"}}}
    assert stripe_post(client, event, timestamp=int(time.time()) - 301).status_code == 400
    assert stripe_post(client, event, secret="whsec_other").status_code == 400
    response = client.post("/webhooks/stripe", content=json.dumps(event).encode())
    assert response.status_code == 400
    assert stored_events(app) == []


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").json() == {"ok": True}
    assert client.get("/readyz").json() == {"ok": True}
    paystack_post(client, transfer_event())
    paystack_post(client, transfer_event(), secret="sk_test_wrong")
    text = client.get("/metrics").text
    assert (
        'legato_webhook_events_total{provider="paystack",type="transfer.success",outcome="ignored"} 1'
        in text
    )
    assert 'legato_webhook_rejected_total{provider="paystack",code="INVALID_SIGNATURE"} 1' in text
    assert "legato_webhook_processing_seconds_count 1" in text


def test_unconfigured_provider_answers_503_and_stores_nothing(app, monkeypatch):
    monkeypatch.delenv("PAYSTACK_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    client = TestClient(create_app(app))
    body = json.dumps(transfer_event()).encode()
    response = client.post(
        "/webhooks/paystack",
        content=body,
        headers={"x-paystack-signature": sign_paystack(body, PAYSTACK_SECRET)},
    )
    assert response.status_code == 503
    assert stored_events(app) == []


def test_webhooks_commands_list_show_and_replay(client, app, database_url):
    paystack_post(client, transfer_event())
    listed = run_cli(database_url, "webhooks", "list", "--provider", "paystack")
    assert listed.status == 0, listed.stderr
    [event] = listed.json["events"]
    assert listed.json["next_cursor"] is None
    shown = run_cli(database_url, "webhooks", "show", str(event["id"]))
    assert shown.json["payload"]["data"]["reference"] == "tr_ref_1"
    replayed = run_cli(database_url, "webhooks", "replay", str(event["id"]))
    assert replayed.status == 0, replayed.stderr
    assert replayed.json[0]["status"] == "ignored"
    missing = run_cli(database_url, "webhooks", "replay", "999999")
    assert missing.status == 5
    assert missing.error["code"] == "NOT_FOUND"
    assert run_cli(database_url, "webhooks", "replay").status == 2
