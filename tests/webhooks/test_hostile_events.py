"""Signed but hostile or careless webhook bodies: each is stored ``flagged`` (bounded fields) and
answered 200 so the provider stops retrying, never 500 and never with SQL text; a payment event
naming the right purchase but another payment changes nothing; Stripe timestamps are checked
in both directions; amounts are read in ASCII digits only."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from legato_pay.gateways.base import PaymentStatus
from legato_pay.readers import purchases
from legato_pay.readers.packages import ensure_default_packages
from legato_pay.webhooks import inbox
from legato_pay.webhooks.app import create_app
from legato_pay.webhooks.signatures import sign_paystack
from tests.factories import add_user, assert_ledger_ok, insert_purchase

PAYSTACK_SECRET = "sk_test_hostile_paystack"
STRIPE_SECRET = "whsec_hostile"
READER = "reader-hostile"
COINS, BONUS, USD_PRICE, NGN_PRICE = 1000, 100, 999, 1_500_000
SQL_WORDS = ("INSERT", "SELECT", "UPDATE", "webhook_events", "psycopg", "sqlite3")


@pytest.fixture
def client(app: Any, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    return TestClient(create_app(app), raise_server_exceptions=False)


def post_stripe(client: TestClient, body: bytes | dict[str, Any], *, at: int | None = None) -> Any:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        header = stripe.WebhookSignature.generate_signature_header(
            payload.decode("utf-8"), STRIPE_SECRET, timestamp=at
        )
    except UnicodeDecodeError:  # the SDK signs text: Stripe's scheme over the raw bytes
        moment = int(time.time()) if at is None else at
        digest = hmac.new(STRIPE_SECRET.encode(), b"%d." % moment + payload, hashlib.sha256)
        header = f"t={moment},v1={digest.hexdigest()}"
    return client.post("/webhooks/stripe", content=payload, headers={"stripe-signature": header})


def post_paystack(client: TestClient, body: bytes | dict[str, Any]) -> Any:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = sign_paystack(payload, PAYSTACK_SECRET)
    return client.post(
        "/webhooks/paystack", content=payload, headers={"x-paystack-signature": signature}
    )


def stored(app: Any) -> list[dict[str, Any]]:
    return app.run(lambda s: inbox.list_events(s), write=False)  # type: ignore[no-any-return]


def assert_flagged(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "flagged", response.text
    assert not any(word in response.text for word in SQL_WORDS)


def intent(
    reference: str | None = "pur_hostile_1", intent_id: Any = "pi_h_1", **fields: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": USD_PRICE,
        "amount_received": USD_PRICE,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"reference": reference} if reference else {},
    }
    obj.update(fields)
    return obj


def stripe_event(obj: Any, *, event_id: Any = None, kind: str = "payment_intent.succeeded") -> Any:
    return {
        "id": event_id or f"evt_h_{time.time_ns()}",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def stripe_purchase(app: Any, reference: str = "pur_hostile_1", intent_id: str = "pi_h_1") -> None:
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
            payment_id=intent_id,
            at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        )

    app.run(seed)


def purchase(app: Any, reference: str = "pur_hostile_1") -> purchases.PurchaseView:
    return app.run(lambda s: purchases.get_purchase(s, reference), write=False)


HOSTILE_STRIPE = {
    "json-array": b'[{"id": "evt_1", "type": "payment_intent.succeeded"}]',
    "not-json": b"<html>hello</html>",
    "not-utf8": b'{"id": "evt_\xff\xfe", "type": "x", "data": {"object": {}}}',
    "not-utf8-in-a-note": b'{"id": "evt_nb", "type": "customer.created", "data": {"object": {"n": "\xff"}}}',
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
    "data-list": json.dumps({"id": "evt_dl", "type": "payment_intent.succeeded", "data": []}),
    "object-string": json.dumps(stripe_event("pi_string", event_id="evt_os")),
    "missing-data": json.dumps({"id": "evt_md", "type": "payment_intent.succeeded"}),
    "id-an-object": json.dumps(stripe_event(intent(), event_id={"x": 1})),
    "nul-in-id": json.dumps(stripe_event(intent(), event_id="evt_\u0000nul")),
    "huge-id": json.dumps(stripe_event(intent(), event_id="evt_" + "x" * 100_000)),
    "huge-type": json.dumps({"id": "evt_ht", "type": "t" * 5000, "data": {"object": {}}}),
    "nul-in-object-id": json.dumps(stripe_event(intent(intent_id="pi_\u0000"), event_id="evt_n")),
    "amount-exponent": json.dumps(stripe_event(intent(amount_received="1e3"), event_id="evt_e")),
    "amount-arabic": json.dumps(stripe_event(intent(amount_received="٩٩٩"), event_id="evt_ar")),
    "amount-negative": json.dumps(stripe_event(intent(amount_received=-999), event_id="evt_ng")),
    "amount-object": json.dumps(stripe_event(intent(amount_received={"v": 1}), event_id="evt_o")),
    "amount-float": json.dumps(stripe_event(intent(amount_received=9.99), event_id="evt_f")),
    "currency-unknown": json.dumps(stripe_event(intent(currency="xyz"), event_id="evt_cu")),
    "currency-number": json.dumps(stripe_event(intent(currency=840), event_id="evt_cn")),
    "metadata-list": json.dumps(stripe_event(intent(metadata=["x"]), event_id="evt_ml")),
    "reference-object": json.dumps(
        stripe_event(intent(reference=None, metadata={"reference": {}}), event_id="evt_ro")
    ),
    "refunds-not-list": json.dumps(
        stripe_event(
            {"id": "ch_1", "object": "charge", "refunds": {"data": "x"}},
            event_id="evt_rl",
            kind="charge.refunded",
        )
    ),
}


@pytest.mark.parametrize("body", list(HOSTILE_STRIPE.values()), ids=list(HOSTILE_STRIPE))
def test_signed_malformed_stripe_bodies_are_kept_flagged_and_answered_200(
    app: Any, client: TestClient, body: str | bytes
) -> None:
    stripe_purchase(app)
    raw = body if isinstance(body, bytes) else body.encode()
    response = post_stripe(client, raw)
    assert_flagged(response)
    [event] = stored(app)
    assert event["status"] == "flagged" and event["outcome"]
    assert len(event["event_key"]) <= 300 and "\x00" not in event["event_key"]
    assert len(event["type"]) <= 100
    # The same body again is a duplicate of the stored one, still 200: the provider stops.
    again = post_stripe(client, raw)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert purchase(app).status == "pending"  # nothing credited
    # The inbox commands read it back, and a replay flags it again.
    shown = app.run(lambda s: inbox.show_event(s, event["id"]), write=False)
    assert shown["status"] == "flagged"
    assert app.run(lambda s: inbox.replay(s, event["id"]))["status"] == "flagged"
    assert_ledger_ok(app)


HOSTILE_PAYSTACK = {
    "not-json": b"event=charge.success",
    "nul-byte": b"\x00\x00",
    "json-string": b'"charge.success"',
    "data-list": json.dumps({"event": "charge.success", "data": [1]}),
    "no-id": json.dumps({"event": "charge.success", "data": {"status": "success"}}),
    "huge-reference": json.dumps({"event": "charge.success", "data": {"reference": "r" * 100_000}}),
    "nul-reference": json.dumps({"event": "charge.success", "data": {"reference": "a\u0000b"}}),
}


@pytest.mark.parametrize("body", list(HOSTILE_PAYSTACK.values()), ids=list(HOSTILE_PAYSTACK))
def test_signed_malformed_paystack_bodies_are_kept_flagged(
    app: Any, client: TestClient, body: str | bytes
) -> None:
    response = post_paystack(client, body if isinstance(body, bytes) else body.encode())
    assert_flagged(response)
    [event] = stored(app)
    assert event["status"] == "flagged"


def paystack_purchase(app: Any, reference: str = "pur_ps_hostile") -> None:
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
            currency="NGN",
            amount=NGN_PRICE,
            gateway="paystack",
            payment_id="pur-ps-hostile-0123456789ab",
            at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        )

    app.run(seed)


def charge(amount: Any, *, reference: str = "pur-ps-hostile-0123456789ab", txn: int = 77) -> Any:
    return {
        "event": "charge.success",
        "data": {
            "id": txn,
            "reference": reference,
            "status": "success",
            "amount": amount,
            "currency": "NGN",
            "metadata": {"reference": "pur_ps_hostile"},
        },
    }


@pytest.mark.parametrize("amount", ["١٥٠٠٠٠٠", "1500000.0", "1e6", " 1_500_000", True, None])
def test_paystack_amounts_in_other_digits_are_flagged_and_credit_nothing(
    app: Any, client: TestClient, amount: Any
) -> None:
    paystack_purchase(app)
    response = post_paystack(client, charge(amount))
    assert_flagged(response)
    assert "cannot be read" in stored(app)[0]["outcome"]
    assert purchase(app, "pur_ps_hostile").status == "pending"
    # The right amount, in ASCII digits (even as a string), credits it.
    assert post_paystack(client, charge(str(NGN_PRICE), txn=78)).json()["status"] == "applied"
    assert purchase(app, "pur_ps_hostile").status == "succeeded"
    assert_ledger_ok(app)


def test_a_paystack_charge_of_another_transaction_for_our_purchase_is_flagged(
    app: Any, client: TestClient
) -> None:
    paystack_purchase(app)
    other = charge(NGN_PRICE, reference="T-someone-else", txn=91)
    assert_flagged(post_paystack(client, other))
    view = purchase(app, "pur_ps_hostile")
    assert (view.status, view.gateway_payment_id) == ("pending", "pur-ps-hostile-0123456789ab")
    # Its own transaction credits it and records Paystack's id for it.
    assert post_paystack(client, charge(NGN_PRICE)).json()["status"] == "applied"
    view = purchase(app, "pur_ps_hostile")
    assert (view.status, view.gateway_payment_id) == ("succeeded", "77")


def test_another_payment_intent_for_our_purchase_is_flagged_and_changes_nothing(
    app: Any, client: TestClient
) -> None:
    stripe_purchase(app)
    response = post_stripe(client, stripe_event(intent(intent_id="pi_other")))
    assert_flagged(response)
    assert "PAYMENT_MISMATCH" in stored(app)[0]["outcome"]
    view = purchase(app)
    assert (view.status, view.gateway_payment_id) == ("pending", "pi_h_1")
    # A failure of that other intent does not fail ours either.
    failed = intent(intent_id="pi_other", status="requires_payment_method")
    assert_flagged(post_stripe(client, stripe_event(failed, kind="payment_intent.payment_failed")))
    assert purchase(app).status == "pending"

    # The recorded intent credits it; a second intent succeeding afterwards is flagged.
    ours = post_stripe(client, stripe_event(intent()))
    assert ours.json()["status"] == "applied"
    assert purchase(app).status == "succeeded"
    assert_flagged(post_stripe(client, stripe_event(intent(intent_id="pi_second"))))
    view = purchase(app)
    assert (view.status, view.gateway_payment_id) == ("succeeded", "pi_h_1")
    # The same intent again (a new event id) is still fine: applied, nothing credited twice.
    assert post_stripe(client, stripe_event(intent())).json()["status"] == "applied"
    assert_ledger_ok(app)


def test_settling_matches_the_recorded_payment_id(app: Any) -> None:
    stripe_purchase(app)
    other = PaymentStatus("stripe", "pur_hostile_1", "pi_x", "succeeded", USD_PRICE, "USD")
    result = app.run(lambda s: purchases.settle_payments(s, [other], actor="test"))[0]
    assert result.error is not None and result.error.code == "PAYMENT_MISMATCH"
    assert purchase(app).gateway_payment_id == "pi_h_1"


@pytest.mark.parametrize(
    ("offset", "status"),
    [(0, 200), (-250, 200), (250, 200), (-301, 400), (301, 400), (365 * 86400, 400)],
    ids=["now", "recent", "slightly-ahead", "stale", "too-far-ahead", "a-year-ahead"],
)
def test_stripe_timestamps_are_checked_in_both_directions(
    app: Any, client: TestClient, offset: int, status: int
) -> None:
    event = stripe_event({"id": "cus_1"}, kind="customer.created")
    response = post_stripe(client, event, at=int(time.time()) + offset)
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["code"] == "INVALID_SIGNATURE"
        assert stored(app) == []


def test_a_handler_crash_is_kept_failed_answered_500_without_its_text(
    app: Any, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 500 path and ``keep_failure``: the event is kept as failed for replay, the answer
    and the stored error carry the error's type, never its text (SQL, parameters)."""

    def crash(*_: Any, **__: Any) -> Any:
        raise RuntimeError("INSERT INTO secret_table VALUES ('sk_live_leak')")

    monkeypatch.setattr("legato_pay.webhooks.inbox.handle_many", crash)
    response = post_stripe(client, stripe_event({"id": "cus_1"}, kind="customer.created"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "sk_live_leak" not in response.text and "INSERT" not in response.text
    [event] = stored(app)
    assert (event["status"], event["attempts"]) == ("failed", 1)
    assert event["last_error"] == "RuntimeError"
    monkeypatch.undo()
    assert app.run(lambda s: inbox.replay(s, event["id"]))["status"] == "ignored"


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["pur_hostile_1", "pi_h_1", "usd", "ngn", "١٢٣", "1e3", "\x00", "x" * 400]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_stripe_bodies = st.fixed_dictionaries(
    {},
    optional={
        "id": _values,
        "type": st.sampled_from(
            [
                "payment_intent.succeeded",
                "payment_intent.payment_failed",
                "charge.refunded",
                "refund.updated",
                "customer.created",
            ]
        )
        | _values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "object": st.fixed_dictionaries(
                    {},
                    optional={
                        "id": _values,
                        "object": st.sampled_from(["charge", "refund", "payment_intent"]),
                        "amount": _values,
                        "amount_received": _values,
                        "currency": _values,
                        "status": _values,
                        "metadata": st.fixed_dictionaries({}, optional={"reference": _values})
                        | _values,
                        "refunds": st.fixed_dictionaries({}, optional={"data": _values}) | _values,
                    },
                )
                | _values
            },
        )
        | _values,
    },
)
_paystack_bodies = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(
            ["charge.success", "refund.processed", "refund.failed", "transfer.success"]
        )
        | _values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                key: _values
                for key in (
                    "id",
                    "reference",
                    "status",
                    "amount",
                    "currency",
                    "metadata",
                    "transaction_reference",
                    "refund_reference",
                )
            },
        )
        | _values,
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stripe_body=_stripe_bodies | _values, paystack_body=_paystack_bodies | _values)
def test_signed_hostile_bodies_never_answer_500_or_sql(
    app: Any, client: TestClient, stripe_body: Any, paystack_body: Any
) -> None:
    """Whatever a provider signs, the answer is 200 (stored, however odd) and never carries
    SQL; the ledger stays consistent."""
    if not app.run(lambda s: inbox.list_events(s, limit=1), write=False):
        stripe_purchase(app)  # once per database: payment events may name it
    for answer in (
        post_stripe(client, json.dumps(stripe_body).encode()),
        post_paystack(client, json.dumps(paystack_body).encode()),
    ):
        assert answer.status_code == 200, answer.text
        assert not any(word in answer.text for word in SQL_WORDS)
        assert answer.json()["received"] is True
    assert_ledger_ok(app)
