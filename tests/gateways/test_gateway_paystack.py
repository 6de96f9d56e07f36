"""The Paystack client and gateway against the fake Paystack, with faults injected by transport."""

from __future__ import annotations

import http.server
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from legato_pay.config import load_settings
from legato_pay.context import AppContext
from legato_pay.errors import (
    AlreadyExists,
    ConfigError,
    GatewayError,
    GatewayUnavailable,
    IdempotencyConflict,
    InvalidCurrency,
    InvalidInput,
    LegatoError,
    NotFound,
)
from legato_pay.gateways import get_gateway
from legato_pay.gateways.base import PaymentRequest, RecipientDetails, TransferRequest
from legato_pay.gateways.paystack.gateway import (
    PaystackClient,
    PaystackGateway,
    project_reference,
    transaction_reference,
    transfer_reference,
)
from legato_pay.webhooks.signatures import verify_paystack
from tests.fakes import free_port
from tests.fakes.paystack import FakePaystack, post_paystack_webhook, sign_paystack_webhook

SECRET = "sk_test_fakepaystack"


@pytest.fixture
def fake() -> FakePaystack:
    return FakePaystack(SECRET)


@pytest.fixture
def served(fake: FakePaystack) -> Iterator[str]:
    with fake.serve() as base_url:
        yield base_url


@pytest.fixture
def gateway(served: str) -> Iterator[PaystackGateway]:
    with PaystackGateway(SECRET, base_url=served, backoff_seconds=0) as gw:
        yield gw


def payment(amount: int = 150000, currency: str = "NGN", **fields: Any) -> PaymentRequest:
    reference = fields.pop("reference", f"purchase-{uuid.uuid4().hex[:12]}")
    return PaymentRequest(
        reference=reference,
        amount=amount,
        currency=currency,
        idempotency_key=f"idem-{reference}",
        customer_id="user-42",
        customer_email=fields.pop("customer_email", "reader@example.com"),
        **fields,
    )


def transfer(amount: int = 500000, **fields: Any) -> TransferRequest:
    reference = fields.pop("reference", f"payout-{uuid.uuid4().hex[:12]}")
    recipient = fields.pop(
        "recipient",
        RecipientDetails(name="Ada Writer", account_number="0001234567", bank_code="058"),
    )
    return TransferRequest(
        reference=reference,
        amount=amount,
        currency=fields.pop("currency", "NGN"),
        recipient=recipient,
        reason="Writer earnings",
        idempotency_key=f"idem-{reference}",
    )


def no_secret_in(error: LegatoError) -> None:
    text = " ".join([str(error), repr(error), json.dumps(error.as_dict(), default=str)])
    assert SECRET not in text
    assert "Bearer" not in text and "authorization" not in text.lower()


# -- payments -----------------------------------------------------------------------------------


def test_initialize_gives_a_payment_url_and_a_pending_payment(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    request = payment(150000, "NGN")
    session = gateway.create_payment(request)
    assert session.provider == "paystack" and session.status == "pending"
    assert session.payment_url and session.payment_url.startswith("https://checkout.paystack.test/")
    assert session.provider_payment_id == request.reference
    assert session.client_secret and session.client_secret in session.payment_url

    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/transaction/initialize")
    assert sent.body["amount"] == 150000 and isinstance(sent.body["amount"], int)
    assert sent.body["currency"] == "NGN" and sent.body["email"] == "reader@example.com"
    assert sent.body["metadata"]["reference"] == request.reference
    assert sent.body["metadata"]["customer"] == "user-42"

    status = gateway.verify_payment(request.reference, session.provider_payment_id)
    assert (status.status, status.raw_status, status.amount) == ("pending", "abandoned", 150000)


def test_successful_payment_verifies_with_amount_currency_and_id(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    request = payment(250000, "GHS")
    gateway.create_payment(request)
    fake.settle(request.reference, "success")
    status = gateway.verify_payment(request.reference, None)
    assert (status.status, status.amount, status.currency) == ("succeeded", 250000, "GHS")
    assert status.provider_payment_id == str(fake.transaction(request.reference)["id"])
    assert status.failure_reason is None and status.raw_status == "success"


def test_underpayment_is_reported_as_paid(gateway: PaystackGateway, fake: FakePaystack) -> None:
    request = payment(150000)
    gateway.create_payment(request)
    fake.settle(request.reference, "success", amount=149999)
    status = gateway.verify_payment(request.reference, None)
    assert (status.status, status.amount) == ("succeeded", 149999)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("failed", "failed"),
        ("abandoned", "pending"),  # not paid yet, still payable: see the expiry test
        ("reversed", "failed"),
        ("ongoing", "pending"),
        ("processing", "pending"),
        ("queued", "pending"),
    ],
)
def test_verify_maps_paystack_statuses(
    gateway: PaystackGateway, fake: FakePaystack, raw: str, expected: str
) -> None:
    request = payment()
    gateway.create_payment(request)
    fake.settle(request.reference, raw)
    status = gateway.verify_payment(request.reference, None)
    assert (status.status, status.raw_status) == (expected, raw)
    assert (status.failure_reason is not None) == (expected == "failed")


def test_an_unpaid_checkout_is_abandoned_and_payable_until_it_expires(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    request = payment()
    gateway.create_payment(request)
    # Paystack answers "abandoned" for an initialized transaction the customer has not paid.
    assert fake.transaction(request.reference)["status"] == "abandoned"
    status = gateway.verify_payment(request.reference, None)
    assert (status.status, status.raw_status, status.failure_reason) == (
        "pending",
        "abandoned",
        None,
    )
    # Paid later after all: success.
    fake.settle(request.reference, "success")
    assert gateway.verify_payment(request.reference, None).status == "succeeded"

    stale = payment()
    gateway.create_payment(stale)
    opened = time.gmtime(time.time() - gateway.checkout_expiry_seconds - 60)
    fake.transaction(stale.reference)["created_at"] = time.strftime(
        "%Y-%m-%dT%H:%M:%S.000Z", opened
    )
    expired = gateway.verify_payment(stale.reference, None)
    assert (expired.status, expired.raw_status) == ("failed", "abandoned")
    assert expired.failure_reason == "abandoned: the checkout was not paid within 24 h"


def test_verify_answers_200_for_a_failed_payment(served: str, fake: FakePaystack) -> None:
    with PaystackClient(SECRET, served) as client:
        client.initialize_transaction(email="a@example.com", amount=1000, reference="ref-failed-1")
        fake.settle("ref-failed-1", "failed", gateway_response="Declined by bank")
        data = client.verify_transaction("ref-failed-1")
    assert (data["status"], data["gateway_response"]) == ("failed", "Declined by bank")


def test_reused_reference_is_already_exists(gateway: PaystackGateway) -> None:
    request = payment()
    gateway.create_payment(request)
    with pytest.raises(AlreadyExists) as caught:
        gateway.create_payment(request)
    details = caught.value.details
    assert (details["provider"], details["http_status"]) == ("paystack", 400)
    assert details["paystack_code"] == "duplicate_reference" and details["attempts"] == 1


def test_unknown_reference_is_not_found(gateway: PaystackGateway) -> None:
    with pytest.raises(NotFound) as caught:
        gateway.verify_payment("purchase-never-made", None)
    assert caught.value.details["paystack_code"] == "transaction_not_found"


def test_references_are_made_to_conform(gateway: PaystackGateway, fake: FakePaystack) -> None:
    odd = "purchase:42/Ab Cd"
    made = transaction_reference(odd)
    assert re.fullmatch(r"[A-Za-z0-9.=-]+", made)
    assert made == transaction_reference(odd) != transaction_reference("purchase-42-Ab-Cd")
    assert transaction_reference("plain-ref.1=x") == "plain-ref.1=x"
    assert re.fullmatch(r"[a-z0-9_-]+", transfer_reference("Payout:ABC.1"))
    assert transfer_reference("payout_ok-1") == "payout_ok-1"
    assert transfer_reference("A") != transfer_reference("a")
    with pytest.raises(InvalidInput):
        transaction_reference("")

    request = payment(reference=odd)
    session = gateway.create_payment(request)
    assert session.provider_payment_id == made and session.reference == odd
    assert fake.transaction(made)["metadata"]["reference"] == odd
    fake.settle(made, "success")
    assert gateway.verify_payment(odd, None).status == "succeeded"
    event = fake.charge_event(made)["data"]
    assert event["reference"] == made and project_reference(event) == odd
    assert project_reference({**event, "metadata": json.dumps({"reference": odd})}) == odd
    assert project_reference({"reference": "plain-ref", "metadata": ""}) == "plain-ref"


def test_payment_needs_an_email_and_a_paystack_currency(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    with pytest.raises(InvalidInput, match="email"):
        gateway.create_payment(payment(customer_email=None))
    with pytest.raises(InvalidCurrency):
        gateway.create_payment(payment(1000, "EUR"))
    assert fake.requests == []


# -- refunds ------------------------------------------------------------------------------------


def paid(gateway: PaystackGateway, fake: FakePaystack, amount: int = 50000) -> str:
    request = payment(amount)
    gateway.create_payment(request)
    fake.settle(request.reference, "success")
    return request.reference


def test_refund_is_pending_then_processed(gateway: PaystackGateway, fake: FakePaystack) -> None:
    reference = paid(gateway, fake, 50000)
    refund = gateway.refund(
        provider_payment_id=reference,
        reference=reference,
        amount=20000,
        currency="NGN",
        idempotency_key="refund-1",
    )
    assert (refund.status, refund.amount, refund.currency) == ("pending", 20000, "NGN")
    stored = fake.refunds[int(refund.provider_refund_id)]
    assert stored["transaction"]["reference"] == reference
    assert "refund-1" in stored["merchant_note"]

    fake.set_refund_status(int(refund.provider_refund_id), "processed")
    event = fake.refund_event(int(refund.provider_refund_id))
    assert event["event"] == "refund.processed" and event["data"]["amount"] == "20000"


def test_refund_by_transaction_id_and_beyond_what_is_left(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    reference = paid(gateway, fake, 50000)
    transaction_id = gateway.verify_payment(reference, None).provider_payment_id
    assert transaction_id is not None
    first = gateway.refund(
        provider_payment_id=transaction_id,
        reference=reference,
        amount=50000,
        currency="NGN",
        idempotency_key="refund-all",
    )
    assert first.amount == 50000
    with pytest.raises(GatewayError) as caught:
        gateway.refund(
            provider_payment_id=transaction_id,
            reference=reference,
            amount=1,
            currency="NGN",
            idempotency_key="refund-more",
        )
    assert type(caught.value) is GatewayError and caught.value.code == "PAYMENT_FAILED"
    assert caught.value.details["http_status"] == 400
    no_secret_in(caught.value)


def test_refund_of_an_unpaid_transaction_is_refused(gateway: PaystackGateway) -> None:
    request = payment()
    gateway.create_payment(request)
    with pytest.raises(GatewayError, match="not successful"):
        gateway.refund(
            provider_payment_id=request.reference,
            reference=request.reference,
            amount=100,
            currency="NGN",
            idempotency_key="r",
        )


# -- transfers ----------------------------------------------------------------------------------


def test_transfer_sets_up_the_recipient_then_transfers(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    request = transfer(500000)
    result = gateway.create_transfer(request)
    assert (result.status, result.raw_status) == ("pending", "pending")
    assert result.provider_transfer_id and result.provider_transfer_id.startswith("TRF_")
    assert result.recipient_code and result.recipient_code.startswith("RCP_")
    assert (result.amount, result.currency, result.reference) == (500000, "NGN", request.reference)
    assert fake.count("POST", "/transferrecipient") == 1
    sent = next(r for r in fake.requests if r.path == "/transfer")
    assert sent.body["source"] == "balance" and sent.body["recipient"] == result.recipient_code
    assert sent.body["reference"] == transfer_reference(request.reference)

    assert gateway.verify_transfer(request.reference).status == "pending"
    fake.set_transfer_status(transfer_reference(request.reference), "success")
    verified = gateway.verify_transfer(request.reference)
    assert (verified.status, verified.recipient_code) == ("succeeded", result.recipient_code)
    assert fake.transfer_event(transfer_reference(request.reference))["event"] == "transfer.success"

    fake.set_transfer_status(transfer_reference(request.reference), "reversed")
    reversed_ = gateway.verify_transfer(request.reference)
    assert (reversed_.status, reversed_.failure_reason) == ("failed", "reversed")


def test_recipient_code_given_skips_recipient_setup(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    first = gateway.create_transfer(transfer())
    again = gateway.create_transfer(
        transfer(recipient=RecipientDetails("Ada", "", "", recipient_code=first.recipient_code))
    )
    assert again.recipient_code == first.recipient_code
    assert fake.count("POST", "/transferrecipient") == 1
    assert fake.count("POST", "/transfer") == 2


def test_otp_transfer_is_finalized(gateway: PaystackGateway, fake: FakePaystack) -> None:
    fake.otp_required = True
    request = transfer()
    result = gateway.create_transfer(request)
    assert (result.status, result.raw_status) == ("otp_required", "otp")
    assert result.provider_transfer_id is not None
    with pytest.raises(GatewayError, match="Invalid OTP"):
        gateway.finalize_transfer(request.reference, result.provider_transfer_id, "000000")
    done = gateway.finalize_transfer(request.reference, result.provider_transfer_id, fake.otp_code)
    assert done.status == "succeeded" and done.provider_transfer_id == result.provider_transfer_id
    assert gateway.verify_transfer(request.reference).status == "succeeded"


def test_repeated_transfer_reference_pays_once(
    gateway: PaystackGateway, fake: FakePaystack
) -> None:
    request = transfer(70000)
    first = gateway.create_transfer(request)
    second = gateway.create_transfer(request)
    assert second.provider_transfer_id == first.provider_transfer_id
    assert len(fake.transfers) == 1
    with pytest.raises(IdempotencyConflict):
        gateway.create_transfer(transfer(80000, reference=request.reference))
    assert len(fake.transfers) == 1


def test_unknown_transfer_is_not_found(gateway: PaystackGateway) -> None:
    with pytest.raises(NotFound):
        gateway.verify_transfer("payout-never-made")


def test_unresolvable_account_is_refused(gateway: PaystackGateway, fake: FakePaystack) -> None:
    bad = RecipientDetails(name="X", account_number="not-digits", bank_code="058")
    with pytest.raises(GatewayError, match="Cannot resolve account"):
        gateway.create_transfer(transfer(recipient=bad))
    assert fake.count("POST", "/transfer") == 0


# -- the wire: auth, timeouts, retries ----------------------------------------------------------


def test_wrong_key_is_unavailable_naming_the_variable(served: str) -> None:
    other = "sk_test_not_the_right_key"
    with (
        PaystackGateway(other, base_url=served) as gateway,
        pytest.raises(GatewayUnavailable) as caught,
    ):
        gateway.verify_payment("any", None)
    assert "PAYSTACK_SECRET_KEY" in caught.value.message
    assert caught.value.details["http_status"] == 401
    assert other not in str(caught.value) and other not in json.dumps(caught.value.details)


def test_slow_paystack_times_out_as_unavailable(served: str, fake: FakePaystack) -> None:
    fake.delay_seconds = 1.0
    with (
        PaystackGateway(SECRET, base_url=served, timeout_seconds=0.2, max_retries=0) as gateway,
        pytest.raises(GatewayUnavailable, match="timed out") as caught,
    ):
        gateway.verify_payment("purchase-slow", None)
    assert caught.value.details["error"] == "ReadTimeout"
    no_secret_in(caught.value)


def test_unreachable_paystack_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        PaystackGateway(SECRET, base_url=url, max_retries=1, backoff_seconds=0) as gateway,
        pytest.raises(GatewayUnavailable, match="unreachable") as caught,
    ):
        gateway.create_payment(payment())
    assert caught.value.details["attempts"] == 2  # connection refused: never sent, so retried
    no_secret_in(caught.value)


class Faulty(httpx.BaseTransport):
    """Injects transport faults into chosen calls (by exact path, or by prefix when it ends in
    ``/``), counting every call per (method, path)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.faults: list[tuple[str, str, Callable[[httpx.Request], httpx.Response]]] = []
        self.calls: dict[tuple[str, str], int] = {}

    def fail(
        self,
        method: str,
        path: str,
        fault: Callable[[httpx.Request], httpx.Response],
        times: int = 1,
    ) -> None:
        self.faults.extend([(method, path, fault)] * times)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        self.calls[key] = self.calls.get(key, 0) + 1
        for index, (method, prefix, fault) in enumerate(self.faults):
            path = request.url.path
            if method == request.method and (
                path == prefix or (prefix.endswith("/") and path.startswith(prefix))
            ):
                del self.faults[index]
                return fault(request)
        return self.inner.handle_request(request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out waiting for the answer", request=request)


def make_landed_then_lost(inner: httpx.BaseTransport) -> Callable[[httpx.Request], httpx.Response]:
    """The request reaches Paystack and is applied, but the answer never comes back."""

    def fault(request: httpx.Request) -> httpx.Response:
        inner.handle_request(request)
        raise httpx.ReadTimeout("answer lost", request=request)

    return fault


@pytest.fixture
def faulty(fake: FakePaystack) -> Faulty:
    return Faulty(fake.transport())


@pytest.fixture
def flaky_gateway(faulty: Faulty) -> Iterator[PaystackGateway]:
    with PaystackGateway(
        SECRET,
        base_url="https://api.paystack.test",
        transport=faulty,
        max_retries=2,
        backoff_seconds=0,
    ) as gw:
        yield gw


def made(flaky_gateway: PaystackGateway, fake: FakePaystack, amount: int = 50000) -> str:
    request = payment(amount)
    flaky_gateway.create_payment(request)
    fake.settle(request.reference, "success")
    return request.reference


def test_verify_is_retried_after_read_timeouts(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    reference = made(flaky_gateway, fake)
    faulty.fail("GET", "/transaction/verify/", read_timeout, times=2)
    assert flaky_gateway.verify_payment(reference, None).status == "succeeded"
    assert faulty.calls[("GET", f"/transaction/verify/{reference}")] == 3


def test_verify_gives_up_after_max_retries(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    reference = made(flaky_gateway, fake)
    faulty.fail("GET", "/transaction/verify/", read_timeout, times=3)
    with pytest.raises(GatewayUnavailable) as caught:
        flaky_gateway.verify_payment(reference, None)
    assert caught.value.details["attempts"] == 3
    assert faulty.calls[("GET", f"/transaction/verify/{reference}")] == 3


def test_server_errors_and_rate_limits_on_get_are_retried(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    reference = made(flaky_gateway, fake)
    fake.fail_next(503)
    fake.fail_next(429)
    assert flaky_gateway.verify_payment(reference, None).status == "succeeded"
    assert faulty.calls[("GET", f"/transaction/verify/{reference}")] == 3


def test_refund_is_not_replayed_once_sent(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    reference = made(flaky_gateway, fake)
    faulty.fail("POST", "/refund", make_landed_then_lost(faulty.inner))
    with pytest.raises(GatewayUnavailable, match="timed out"):
        flaky_gateway.refund(
            provider_payment_id=reference,
            reference=reference,
            amount=100,
            currency="NGN",
            idempotency_key="r1",
        )
    assert faulty.calls[("POST", "/refund")] == 1
    assert len(fake.refunds) == 1  # it landed once; a replay would have refunded twice

    fake.fail_next(503)
    with pytest.raises(GatewayUnavailable):
        flaky_gateway.refund(
            provider_payment_id=reference,
            reference=reference,
            amount=100,
            currency="NGN",
            idempotency_key="r2",
        )
    assert faulty.calls[("POST", "/refund")] == 2


def test_refund_is_retried_when_the_connection_failed_before_sending(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    reference = made(flaky_gateway, fake)
    faulty.fail("POST", "/refund", refused)
    refund = flaky_gateway.refund(
        provider_payment_id=reference,
        reference=reference,
        amount=100,
        currency="NGN",
        idempotency_key="r1",
    )
    assert refund.status == "pending"
    assert faulty.calls[("POST", "/refund")] == 2 and len(fake.refunds) == 1


def test_initialize_replay_after_a_lost_answer_is_refused_not_repeated(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    faulty.fail("POST", "/transaction/initialize", make_landed_then_lost(faulty.inner))
    request = payment()
    with pytest.raises(AlreadyExists) as caught:
        flaky_gateway.create_payment(request)
    assert caught.value.details["attempts"] == 2
    assert faulty.calls[("POST", "/transaction/initialize")] == 2
    assert len(fake.transactions) == 1
    assert flaky_gateway.verify_payment(request.reference, None).status == "pending"


def test_initialize_is_retried_after_a_server_error(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    fake.fail_next(502)
    assert flaky_gateway.create_payment(payment()).status == "pending"
    assert faulty.calls[("POST", "/transaction/initialize")] == 2


def test_transfer_replay_after_a_lost_answer_reports_the_one_transfer(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack
) -> None:
    faulty.fail("POST", "/transfer", make_landed_then_lost(faulty.inner))
    request = transfer(90000)
    result = flaky_gateway.create_transfer(request)
    assert (result.status, result.amount) == ("pending", 90000)
    assert faulty.calls[("POST", "/transfer")] == 2
    assert len(fake.transfers) == 1
    assert result.provider_transfer_id == next(iter(fake.transfers.values()))["transfer_code"]


@pytest.mark.parametrize("path", ["/transferrecipient", "/transfer/finalize_transfer"])
def test_unreferenced_posts_are_not_replayed(
    flaky_gateway: PaystackGateway, faulty: Faulty, fake: FakePaystack, path: str
) -> None:
    fake.otp_required = True
    request = transfer()
    if path == "/transfer/finalize_transfer":
        code = flaky_gateway.create_transfer(request).provider_transfer_id
        assert code is not None
    faulty.fail("POST", path, read_timeout)
    with pytest.raises(GatewayUnavailable):
        if path == "/transferrecipient":
            flaky_gateway.create_transfer(request)
        else:
            flaky_gateway.finalize_transfer(request.reference, code, fake.otp_code)
    assert faulty.calls[("POST", path)] == 1


def test_secret_never_reaches_errors_or_logs(
    flaky_gateway: PaystackGateway,
    faulty: Faulty,
    fake: FakePaystack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[LegatoError] = []
    faulty.fail("GET", "/transaction/verify/", read_timeout, times=5)
    fake.fail_next(500, times=3)
    for call in (
        lambda: flaky_gateway.verify_payment("ref-1", None),
        lambda: flaky_gateway.create_payment(payment()),
        lambda: flaky_gateway.verify_transfer("nothing-here"),
        lambda: flaky_gateway.refund(
            provider_payment_id="x", reference="x", amount=1, currency="NGN", idempotency_key="k"
        ),
    ):
        with pytest.raises(LegatoError) as caught:
            call()
        errors.append(caught.value)
    assert {e.code for e in errors} >= {"GATEWAY_UNAVAILABLE", "NOT_FOUND"}
    for error in errors:
        no_secret_in(error)
    assert "paystack GET" in caplog.text and "retrying" in caplog.text
    assert SECRET not in caplog.text and "Bearer" not in caplog.text


# -- keys, modes and wiring ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "secret", "public", "names"),
    [
        ("test", "sk_live_abc123", None, "PAYSTACK_SECRET_KEY"),
        ("live", "sk_test_abc123", None, "PAYSTACK_SECRET_KEY"),
        ("live", "sk_live_abc123", "pk_test_abc123", "PAYSTACK_PUBLIC_KEY"),
        ("test", "sk_test_abc123", "pk_live_abc123", "PAYSTACK_PUBLIC_KEY"),
    ],
)
def test_keys_of_the_other_mode_are_refused(
    mode: str, secret: str, public: str | None, names: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        PaystackGateway(secret, public_key=public, mode=mode)
    assert caught.value.exit_status == 10
    assert names in caught.value.message and f"running in {mode} mode" in caught.value.message
    assert secret not in str(caught.value) and (public or "-") not in str(caught.value)


def context() -> AppContext:
    return AppContext(settings=load_settings(environ={}), database_url="sqlite://", actor="test")


def test_get_gateway_builds_paystack_from_the_environment(
    served: str, fake: FakePaystack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYMENT_GATEWAY_MODE", raising=False)
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", SECRET)
    monkeypatch.setenv("PAYSTACK_PUBLIC_KEY", "pk_test_fakepaystack")
    monkeypatch.setenv("PAYSTACK_BASE_URL", served)
    monkeypatch.setenv("PAYSTACK_CALLBACK_URL", "https://legato.example/paid")
    gateway = get_gateway(context(), "paystack")
    assert isinstance(gateway, PaystackGateway)
    try:
        gateway.create_payment(payment())
    finally:
        gateway.close()
    assert fake.requests[-1].body["callback_url"] == "https://legato.example/paid"

    monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "live")
    with pytest.raises(ConfigError, match="live mode"):
        get_gateway(context(), "paystack")
    monkeypatch.delenv("PAYSTACK_SECRET_KEY")
    with pytest.raises(ConfigError, match="PAYSTACK_SECRET_KEY is not set"):
        get_gateway(context(), "paystack")


# -- the fake itself: HTTP hooks and webhooks ---------------------------------------------------


def test_fake_answers_like_paystack_over_http(served: str, fake: FakePaystack) -> None:
    with httpx.Client(base_url=served) as http:
        assert http.post("/transaction/initialize", json={}).status_code == 401
        auth = {"Authorization": f"Bearer {SECRET}"}
        created = http.post(
            "/transferrecipient",
            json={"type": "nuban", "name": "A", "account_number": "0123456789", "bank_code": "058"},
            headers=auth,
        )
        assert created.status_code == 201 and created.json()["data"]["recipient_code"].startswith(
            "RCP_"
        )
        http.post(
            "/transaction/initialize",
            json={"email": "a@b.c", "amount": 500, "reference": "hook-1"},
            headers=auth,
        )
        hooked = http.post("/_fake/transactions/hook-1", json={"status": "success", "amount": 400})
        assert hooked.status_code == 200
    assert fake.transaction("hook-1")["status"] == "success"
    assert fake.charge_event("hook-1")["data"]["amount"] == 400


def test_webhook_helpers_sign_like_paystack(gateway: PaystackGateway, fake: FakePaystack) -> None:
    request = payment()
    gateway.create_payment(request)
    fake.settle(request.reference, "success")
    event = fake.charge_event(request.reference)
    body, headers = sign_paystack_webhook(event, SECRET)
    verify_paystack(body, headers["x-paystack-signature"], SECRET)  # raises if it does not match
    assert json.loads(body)["event"] == "charge.success"
    assert event["data"]["metadata"]["reference"] == request.reference

    received: list[tuple[str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (
                    self.headers["x-paystack-signature"],
                    self.rfile.read(int(self.headers["content-length"])),
                )
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        response = post_paystack_webhook(
            f"http://127.0.0.1:{server.server_address[1]}/webhooks/paystack", event, SECRET
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert response.status_code == 200
    assert received == [(headers["x-paystack-signature"], body)]
