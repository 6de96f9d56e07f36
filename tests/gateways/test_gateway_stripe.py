"""The Stripe gateway: against localstripe, and against canned answers for what it lacks."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from requests.structures import CaseInsensitiveDict

from legato_pay.config import load_settings
from legato_pay.context import AppContext
from legato_pay.errors import (
    ConfigError,
    GatewayError,
    GatewayUnavailable,
    IdempotencyConflict,
    InvalidInput,
    LegatoError,
    NotFound,
)
from legato_pay.gateways import get_gateway, get_transfer_gateway
from legato_pay.gateways.base import PaymentRequest, RecipientDetails, TransferRequest, describe
from legato_pay.gateways.stripe.gateway import StripeGateway, intent_status
from tests.cli_runner import ROOT
from tests.fakes import free_port
from tests.fakes.localstripe import (
    TEST_SECRET_KEY,
    localstripe_fixture,  # noqa: F401  (the module-scoped ``localstripe`` fixture)
    register_webhook,
)


def payment(amount: int = 1234, currency: str = "USD", **fields: Any) -> PaymentRequest:
    reference = fields.pop("reference", f"purchase-{uuid.uuid4().hex[:12]}")
    return PaymentRequest(
        reference=reference,
        amount=amount,
        currency=currency,
        idempotency_key=f"idem-{reference}",
        customer_id="user-42",
        **fields,
    )


def no_secret_in(error: LegatoError, secret: str = TEST_SECRET_KEY) -> None:
    text = " ".join([str(error), repr(error), json.dumps(error.as_dict(), default=str)])
    assert secret not in text
    assert "Bearer" not in text


@pytest.fixture
def gateway(localstripe: str) -> Iterator[StripeGateway]:
    with StripeGateway(TEST_SECRET_KEY, api_base=localstripe, max_retries=0) as gw:
        yield gw


@pytest.fixture
def raw(localstripe: str) -> Any:
    """The SDK itself, to look behind the gateway's back."""
    return stripe.StripeClient(TEST_SECRET_KEY, base_addresses={"api": localstripe})


# -- payments against localstripe ---------------------------------------------------------------


def test_confirmed_card_payment_succeeds_and_verifies(gateway: StripeGateway, raw: Any) -> None:
    request = payment(1234, "USD", payment_method="pm_card_visa")
    session = gateway.create_payment(request)
    assert session.provider == "stripe"
    assert session.status == "succeeded"
    assert session.provider_payment_id.startswith("pi_")
    assert session.client_secret and session.client_secret.startswith(session.provider_payment_id)

    status = gateway.verify_payment(request.reference, session.provider_payment_id)
    assert (status.status, status.amount, status.currency) == ("succeeded", 1234, "USD")
    assert status.raw_status == "succeeded" and status.failure_reason is None

    intent = raw.v1.payment_intents.retrieve(session.provider_payment_id).to_dict()
    assert intent["metadata"] == {"reference": request.reference, "customer": "user-42"}
    assert (intent["amount"], intent["currency"]) == (1234, "usd")


def test_unconfirmed_payment_is_pending_with_a_client_secret(gateway: StripeGateway) -> None:
    request = payment(999, "CAD")
    session = gateway.create_payment(request)
    assert session.status == "pending"
    assert session.client_secret and "_secret_" in session.client_secret
    status = gateway.verify_payment(request.reference, session.provider_payment_id)
    assert (status.status, status.raw_status) == ("pending", "requires_payment_method")
    assert (status.amount, status.currency) == (999, "CAD")


def test_zero_decimal_currency_is_passed_unchanged(gateway: StripeGateway, raw: Any) -> None:
    request = payment(500, "JPY", payment_method="pm_card_visa")
    session = gateway.create_payment(request)
    assert raw.v1.payment_intents.retrieve(session.provider_payment_id).amount == 500
    status = gateway.verify_payment(request.reference, session.provider_payment_id)
    assert (status.amount, status.currency) == (500, "JPY")


def test_declined_card_is_payment_failed_with_provider_details(
    gateway: StripeGateway, raw: Any
) -> None:
    request = payment(2500, "USD", payment_method="pm_card_chargeCustomerFail")
    with pytest.raises(GatewayError) as caught:
        gateway.create_payment(request)
    error = caught.value
    assert not isinstance(error, GatewayUnavailable)
    assert error.code == "PAYMENT_FAILED" and error.exit_status == 7
    assert error.details["provider"] == "stripe"
    assert error.details["http_status"] == 402
    assert error.details["stripe_code"] == "card_declined"
    assert "request_id" in error.details and error.details["reference"] == request.reference
    no_secret_in(error)

    # The declined intent stays behind in requires_payment_method: verify calls it failed.
    intents = [i.to_dict() for i in raw.v1.payment_intents.list(params={"limit": 100}).data]
    declined = next(i for i in intents if i["metadata"].get("reference") == request.reference)
    status = gateway.verify_payment(request.reference, declined["id"])
    assert (status.status, status.raw_status) == ("failed", "requires_payment_method")
    assert status.failure_reason == "card_declined"


def test_canceled_intent_is_failed(gateway: StripeGateway, raw: Any) -> None:
    request = payment()
    session = gateway.create_payment(request)
    raw.v1.payment_intents.cancel(session.provider_payment_id)
    status = gateway.verify_payment(request.reference, session.provider_payment_id)
    assert (status.status, status.raw_status) == ("failed", "canceled")


def test_verify_refuses_an_intent_of_another_reference(gateway: StripeGateway) -> None:
    session = gateway.create_payment(payment())
    with pytest.raises(GatewayError, match="belongs to"):
        gateway.verify_payment("purchase-someone-else", session.provider_payment_id)


def test_unknown_intent_is_not_found(gateway: StripeGateway) -> None:
    with pytest.raises(NotFound) as caught:
        gateway.verify_payment("purchase-x", "pi_doesnotexist")
    assert caught.value.details["http_status"] == 404
    no_secret_in(caught.value)


def test_full_and_partial_refunds(gateway: StripeGateway, raw: Any) -> None:
    request = payment(1000, "USD", payment_method="pm_card_visa")
    paid = gateway.create_payment(request)
    partial = gateway.refund(
        provider_payment_id=paid.provider_payment_id,
        reference=request.reference,
        amount=300,
        currency="USD",
        idempotency_key=f"refund-1-{request.reference}",
    )
    rest = gateway.refund(
        provider_payment_id=paid.provider_payment_id,
        reference=request.reference,
        amount=700,
        currency="USD",
        idempotency_key=f"refund-2-{request.reference}",
    )
    assert (partial.status, partial.amount, partial.currency) == ("succeeded", 300, "USD")
    assert (rest.status, rest.amount) == ("succeeded", 700)
    assert partial.provider_refund_id.startswith("re_")
    assert partial.provider_refund_id != rest.provider_refund_id
    stored = raw.v1.refunds.retrieve(partial.provider_refund_id).to_dict()
    assert stored["payment_intent"] == paid.provider_payment_id
    assert stored["metadata"] == {"reference": request.reference}


def test_refund_of_an_unpaid_intent_is_payment_failed(gateway: StripeGateway) -> None:
    request = payment()
    session = gateway.create_payment(request)
    with pytest.raises(GatewayError) as caught:
        gateway.refund(
            provider_payment_id=session.provider_payment_id,
            reference=request.reference,
            amount=100,
            currency="USD",
            idempotency_key="refund-unpaid",
        )
    assert type(caught.value) is GatewayError
    assert caught.value.details["http_status"] == 400


def test_coins_are_refused_before_calling_stripe(gateway: StripeGateway) -> None:
    with pytest.raises(LegatoError) as caught:
        gateway.create_payment(payment(100, "COIN"))
    assert caught.value.code == "INVALID_CURRENCY"


# -- payouts ------------------------------------------------------------------------------------


def transfer(amount: int = 5000, currency: str = "EUR") -> TransferRequest:
    reference = f"payout-{uuid.uuid4().hex[:12]}"
    return TransferRequest(
        reference=reference,
        amount=amount,
        currency=currency,
        recipient=RecipientDetails(name="Ada Writer", account_number="0001234567", bank_code="058"),
        reason="Writer earnings",
        idempotency_key=f"idem-{reference}",
    )


def test_payout_in_eur_and_verify(gateway: StripeGateway, raw: Any) -> None:
    request = transfer(5000, "EUR")
    result = gateway.create_transfer(request)
    assert result.provider_transfer_id and result.provider_transfer_id.startswith("po_")
    assert (result.status, result.raw_status) == ("pending", "pending")
    assert (result.amount, result.currency, result.reference) == (5000, "EUR", request.reference)
    payout = raw.v1.payouts.retrieve(result.provider_transfer_id).to_dict()
    assert payout["metadata"] == {"reference": request.reference}
    assert payout["description"] == "Writer earnings"

    again = gateway.verify_transfer(request.reference, result.provider_transfer_id)
    assert describe(again) == describe(result)
    with pytest.raises(InvalidInput, match="po_"):
        gateway.verify_transfer(request.reference)


def test_payout_in_a_currency_localstripe_refuses_is_payment_failed(gateway: StripeGateway) -> None:
    with pytest.raises(GatewayError) as caught:
        gateway.create_transfer(transfer(5000, "USD"))
    assert type(caught.value) is GatewayError and caught.value.details["http_status"] == 400


# -- keys, modes and wiring ---------------------------------------------------------------------


def test_rejected_key_is_unavailable_and_names_the_variable(localstripe: str) -> None:
    key = "rk_test_notacceptedbylocalstripe"
    with (
        StripeGateway(key, api_base=localstripe, max_retries=0) as gateway,
        pytest.raises(GatewayUnavailable) as caught,
    ):
        gateway.verify_payment("purchase-x", "pi_whatever")
    error = caught.value
    assert "STRIPE_SECRET_KEY" in error.message and "test mode" in error.message
    assert error.details["http_status"] == 401 and error.details["provider"] == "stripe"
    no_secret_in(error, key)


def test_unreachable_stripe_is_unavailable() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    with (
        StripeGateway(TEST_SECRET_KEY, api_base=base, max_retries=0) as gateway,
        pytest.raises(GatewayUnavailable) as caught,
    ):
        gateway.create_payment(payment())
    assert caught.value.code == "GATEWAY_UNAVAILABLE"
    assert caught.value.details["http_status"] is None
    no_secret_in(caught.value)


@pytest.mark.parametrize(
    ("mode", "key", "says"),
    [
        ("test", "sk_live_abcdef123456", "running in test mode"),
        ("live", "sk_test_abcdef123456", "running in live mode"),
        ("test", "pk_test_abcdef123456", "running in test mode"),
        ("live", "not-a-key-at-all", "running in live mode"),
    ],
)
def test_keys_of_the_other_mode_are_refused(mode: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StripeGateway(key, mode=mode)
    assert caught.value.exit_status == 10
    assert says in caught.value.message and "STRIPE_SECRET_KEY" in caught.value.message
    assert key not in str(caught.value) and key not in json.dumps(caught.value.details)


def test_live_key_in_live_mode_is_accepted() -> None:
    with StripeGateway("sk_live_abcdef123456", mode="live") as gateway:
        assert gateway.mode == "live"


def test_from_env_reads_mode_and_refuses_missing_keys() -> None:
    settings = load_settings(environ={}).gateways
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY is not set"):
        StripeGateway.from_env(settings, {})
    with pytest.raises(ConfigError, match="live mode"):
        StripeGateway.from_env(
            settings, {"STRIPE_SECRET_KEY": TEST_SECRET_KEY, "PAYMENT_GATEWAY_MODE": "live"}
        )
    with pytest.raises(ConfigError, match="PAYMENT_GATEWAY_MODE"):
        StripeGateway.from_env(
            settings, {"STRIPE_SECRET_KEY": TEST_SECRET_KEY, "PAYMENT_GATEWAY_MODE": "prod"}
        )
    live = load_settings(environ={"LEGATO_GATEWAYS__MODE": "live"}).gateways
    with pytest.raises(ConfigError, match="live mode"):
        StripeGateway.from_env(live, {"STRIPE_SECRET_KEY": TEST_SECRET_KEY})
    with StripeGateway.from_env(live, {"STRIPE_SECRET_KEY": "sk_live_x1234567"}) as gateway:
        assert gateway.mode == "live"


def context() -> AppContext:
    return AppContext(settings=load_settings(environ={}), database_url="sqlite://", actor="test")


def test_get_gateway_builds_stripe_from_the_environment(
    localstripe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYMENT_GATEWAY_MODE", raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    gateway = get_gateway(context(), "stripe")
    assert isinstance(gateway, StripeGateway)
    try:
        assert gateway.create_payment(payment(payment_method="pm_card_visa")).status == "succeeded"
    finally:
        gateway.close()
    assert get_transfer_gateway(context(), "stripe").name == "stripe"

    monkeypatch.delenv("STRIPE_SECRET_KEY")
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        get_gateway(context(), "stripe")


def test_sandbox_cannot_make_transfers() -> None:
    with pytest.raises(GatewayUnavailable, match="cannot make transfers"):
        get_transfer_gateway(context(), "sandbox")


def test_importing_the_gateways_does_not_import_stripe() -> None:
    code = (
        "import sys, legato_pay.gateways, legato_pay.gateways.stripe.gateway, legato_pay.gateways.paystack.gateway;"
        "print('stripe' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "False"


# -- what localstripe cannot show: canned Stripe answers ----------------------------------------


class CannedStripe(stripe.HTTPClient):
    """Answers from a list, records what was asked (headers included: never shown in errors)."""

    name = "canned"

    def __init__(self, *answers: tuple[int, dict[str, Any], dict[str, str]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, **_: Any) -> Any:
        self.calls.append({"method": method, "url": url, "headers": dict(headers or {})})
        status, body, extra = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return json.dumps(body), status, CaseInsensitiveDict(extra)

    def close(self) -> None:
        pass


def canned(
    *answers: tuple[int, dict[str, Any], dict[str, str]], retries: int = 0
) -> tuple[StripeGateway, CannedStripe]:
    http = CannedStripe(*answers)
    return StripeGateway(TEST_SECRET_KEY, max_retries=retries, http_client=http), http


def intent(status: str, created: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"pi_{status}_{created}",
        "object": "payment_intent",
        "amount": 1500,
        "amount_received": 1500 if status == "succeeded" else 0,
        "currency": "usd",
        "status": status,
        "created": created,
        "metadata": {"reference": "purchase-7"},
        **extra,
    }


def test_every_mutating_call_carries_the_callers_idempotency_key() -> None:
    gateway, http = canned((200, intent("requires_payment_method", 1), {}))
    gateway.create_payment(payment(reference="purchase-7"))
    assert http.calls[0]["method"] == "post"
    assert http.calls[0]["headers"]["Idempotency-Key"] == "idem-purchase-7"


def test_verify_without_an_id_searches_by_reference_and_prefers_a_success() -> None:
    found = {
        "object": "search_result",
        "data": [intent("succeeded", 1), intent("canceled", 2)],
        "has_more": False,
    }
    gateway, http = canned((200, found, {}))
    status = gateway.verify_payment("purchase-7", None)
    assert (status.status, status.provider_payment_id, status.amount) == (
        "succeeded",
        "pi_succeeded_1",
        1500,
    )
    assert "/v1/payment_intents/search" in http.calls[0]["url"]
    query = parse_qs(urlsplit(http.calls[0]["url"]).query)
    assert query["query"] == ["metadata['reference']:'purchase-7'"]

    gateway, _ = canned((200, {"object": "search_result", "data": [], "has_more": False}, {}))
    with pytest.raises(NotFound):
        gateway.verify_payment("purchase-7", None)


def test_server_errors_are_retried_then_unavailable() -> None:
    broken = (500, {"error": {"type": "api_error", "message": "boom"}}, {"request-id": "req_500"})
    gateway, http = canned(broken, retries=1)
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.verify_payment("purchase-7", "pi_1")
    assert len(http.calls) == 2  # one try, one retry
    assert caught.value.details["http_status"] == 500
    assert caught.value.details["request_id"] == "req_500"


def test_rate_limit_is_unavailable() -> None:
    limited = (
        429,
        {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow down"}},
        {},
    )
    gateway, _ = canned(limited)
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.verify_payment("purchase-7", "pi_1")
    assert caught.value.details["http_status"] == 429


def test_a_stripe_message_quoting_the_key_is_redacted() -> None:
    said = f"Invalid API Key provided: {TEST_SECRET_KEY[:8]}****{TEST_SECRET_KEY[-4:]}"
    unauthorized = (
        401,
        {"error": {"type": "invalid_request_error", "message": said}},
        {"request-id": "req_401"},
    )
    gateway, _ = canned(unauthorized)
    with pytest.raises(GatewayUnavailable) as caught:
        gateway.create_payment(payment())
    assert caught.value.details["request_id"] == "req_401"
    assert "sk_test" not in str(caught.value) and "STRIPE_SECRET_KEY" in str(caught.value)

    card = (
        402,
        {
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": f"declined for {TEST_SECRET_KEY}",
                "payment_intent": {"id": "pi_9"},
            }
        },
        {},
    )
    gateway, _ = canned(card)
    with pytest.raises(GatewayError) as caught:
        gateway.create_payment(payment())
    assert caught.value.details["decline_code"] == "insufficient_funds"
    assert caught.value.details["provider_payment_id"] == "pi_9"
    assert "insufficient_funds" in caught.value.message
    no_secret_in(caught.value)


def test_reused_idempotency_key_is_a_conflict() -> None:
    reused = (
        400,
        {
            "error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters",
            }
        },
        {},
    )
    gateway, _ = canned(reused)
    with pytest.raises(IdempotencyConflict) as caught:
        gateway.create_payment(payment())
    assert caught.value.exit_status == 6 and caught.value.details["provider"] == "stripe"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "succeeded"}, ("succeeded", None)),
        ({"status": "processing"}, ("pending", None)),
        ({"status": "requires_action"}, ("pending", None)),
        ({"status": "requires_payment_method"}, ("pending", None)),
        (
            {
                "status": "requires_payment_method",
                "last_payment_error": {"code": "card_declined", "decline_code": "lost_card"},
            },
            ("failed", "lost_card"),
        ),
        ({"status": "canceled"}, ("failed", "canceled")),
    ],
)
def test_intent_statuses_map_onto_three(
    fields: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    assert intent_status(fields) == expected


# -- localstripe's webhooks (the helper the webhook tests use) -----------------------------------


def test_registered_localstripe_webhook_delivers_signed_events(
    gateway: StripeGateway, localstripe: str
) -> None:
    received: list[tuple[str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.headers["Stripe-Signature"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        register_webhook(
            localstripe,
            "legato-test",
            f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe",
            "whsec_legato_test",
            events=["payment_intent.succeeded"],
        )
        request = payment(payment_method="pm_card_visa")
        gateway.create_payment(request)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            request.reference.encode() in b for _, b in received
        ):
            time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    ours = [(sig, body) for sig, body in received if request.reference.encode() in body]
    assert ours, "localstripe delivered no webhook for the payment within 10 s"
    signature, body = ours[0]
    event = stripe.Webhook.construct_event(body.decode(), signature, "whsec_legato_test")
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.metadata.reference == request.reference
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), signature, "whsec_other")
