"""Purchases as an operator meets them: a refused create records nothing, an unknown gateway
outcome is resolved under the same reference, Paystack channels, ``cancel``, REFUND_FAILED,
and ``list`` by date and page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from legato_pay import gateways
from legato_pay.context import AppContext
from legato_pay.errors import (
    AlreadyExists,
    ConfigError,
    GatewayError,
    GatewayUnavailable,
    InvalidInput,
    InvalidState,
    RefundFailed,
)
from legato_pay.gateways.base import PaymentRequest, PaymentSession, PaymentStatus
from legato_pay.readers import purchases
from legato_pay.readers.users import add_user
from legato_pay.store.tables import PURCHASES
from tests.cli_runner import run_cli
from tests.fakes.paystack import FakePaystack

READER = "reader1"
PAYSTACK_SECRET = "sk_test_fakepaystack_channels"
#: No gateway keys at all: what a new operator's shell has.
NO_KEYS = {
    "STRIPE_SECRET_KEY": "",
    "PAYSTACK_SECRET_KEY": "",
    "PAYSTACK_PUBLIC_KEY": "",
    "PAYMENT_GATEWAY_MODE": "",
}


def add_reader(app: AppContext, user: str = READER, email: str | None = None) -> None:
    app.run(lambda s: add_user(s, user, email=email))


def stored(app: AppContext) -> list[purchases.PurchaseView]:
    return app.run(lambda s: purchases.list_purchases(s, limit=10000), write=False)


def get(app: AppContext, reference: str) -> purchases.PurchaseView:
    return app.run(lambda s: purchases.get_purchase(s, reference), write=False)


@pytest.fixture
def paystack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakePaystack, dict[str, str]]]:
    """The fake Paystack over HTTP, and the environment that points a CLI run at it."""
    fake = FakePaystack(PAYSTACK_SECRET)
    with fake.serve() as base_url:
        env = {
            "PAYSTACK_SECRET_KEY": PAYSTACK_SECRET,
            "PAYSTACK_BASE_URL": base_url,
            "PAYMENT_GATEWAY_MODE": "test",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield fake, env


# -- a refused create records nothing --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "status", "code"),
    [
        (["--gateway", "stripe"], {}, 10, "CONFIG_ERROR"),
        (["--gateway", "paystack", "-c", "NGN"], {}, 10, "CONFIG_ERROR"),
        (["--gateway", "stripe"], {"STRIPE_SECRET_KEY": "sk_live_abc123"}, 10, "CONFIG_ERROR"),
        (["--gateway", "stripe"], {"STRIPE_SECRET_KEY": "nonsense"}, 10, "CONFIG_ERROR"),
        (
            ["--gateway", "stripe"],
            {"STRIPE_SECRET_KEY": "sk_test_abc123", "PAYMENT_GATEWAY_MODE": "prod"},
            10,
            "CONFIG_ERROR",
        ),
        (
            ["--gateway", "paystack", "-c", "NGN"],
            {"PAYSTACK_SECRET_KEY": "sk_live_abc123"},
            10,
            "CONFIG_ERROR",
        ),
        # A configured Paystack refuses a payer without an email before any call is made.
        (
            ["--gateway", "paystack", "-c", "NGN"],
            {"PAYSTACK_SECRET_KEY": "sk_test_abc", "PAYSTACK_BASE_URL": "http://127.0.0.1:9"},
            3,
            "VALIDATION_ERROR",
        ),
        (
            ["--gateway", "paystack", "-c", "EUR"],
            {"PAYSTACK_SECRET_KEY": "sk_test_abc", "PAYSTACK_BASE_URL": "http://127.0.0.1:9"},
            3,
            "INVALID_CURRENCY",
        ),
        (["--channels", "card"], {}, 3, "VALIDATION_ERROR"),
        (["--gateway", "stripe", "--payment-method", "pm_" + "x" * 200], {}, 3,
         "VALIDATION_ERROR"),
        (["--payment-method", "pm_sandbox_ok\n"], {}, 3, "VALIDATION_ERROR"),
        (["--gateway", "stripe", "--channels", "card"], {}, 3, "VALIDATION_ERROR"),
        (["--gateway", "paystack", "-c", "NGN", "--channels", "card,cash"], {}, 3,
         "VALIDATION_ERROR"),
        (["--gateway", "paystack", "-c", "NGN", "--channels", ","], {}, 3, "VALIDATION_ERROR"),
    ],
)  # fmt: skip
def test_a_refused_create_leaves_no_purchase(
    database_url: str, args: list[str], env: dict[str, str], status: int, code: str
) -> None:
    app = AppContext.create(database_url=database_url, actor="test")
    add_reader(app)  # no email
    for attempt in range(2):  # a retry is refused the same way and adds nothing either
        result = run_cli(
            database_url,
            "purchases", "create", "--user", READER, "--package", "popular", *args,
            **{**NO_KEYS, **env},
        )  # fmt: skip
        assert result.status == status, (attempt, result.stderr)
        assert result.error["code"] == code
        assert result.stdout == ""
        assert "sk_live_abc123" not in result.stderr and "sk_test_abc" not in result.stderr
    assert stored(app) == []


def test_channels_reach_paystack_and_are_recorded(
    database_url: str, paystack: tuple[FakePaystack, dict[str, str]]
) -> None:
    fake, env = paystack
    app = AppContext.create(database_url=database_url, actor="test")
    add_reader(app, email="reader1@example.com")
    created = run_cli(
        database_url,
        "purchases", "create", "--user", READER, "--package", "popular", "-c", "NGN",
        "--gateway", "paystack", "--channels", "USSD, bank_transfer,ussd", "--key", "ch-1",
        **env,
    )  # fmt: skip
    assert created.status == 0, created.stderr
    assert created.json["channels"] == ["ussd", "bank_transfer"]
    sent = [r for r in fake.requests if r.path == "/transaction/initialize"]
    assert [r.body["channels"] for r in sent] == [["ussd", "bank_transfer"]]
    reference = created.json["reference"]

    shown = run_cli(database_url, "purchases", "show", reference, **env)
    assert shown.status == 0, shown.stderr
    assert shown.json["channels"] == ["ussd", "bank_transfer"]
    table = run_cli(database_url, "purchases", "show", reference, output="table", **env)
    assert "ussd,bank_transfer" in table.stdout.replace(", ", ",")

    # The same key with other channels is another request; without --channels, every channel.
    other = run_cli(
        database_url,
        "purchases", "create", "--user", READER, "--package", "popular", "-c", "NGN",
        "--gateway", "paystack", "--channels", "card", "--key", "ch-1", **env,
    )  # fmt: skip
    assert (other.status, other.error["code"]) == (6, "IDEMPOTENCY_CONFLICT")
    plain = purchases.create_purchase(
        app, user_id=READER, package_id="basic", currency="NGN", gateway="paystack"
    )
    assert plain.purchase.channels == () and plain.as_json()["channels"] is None
    assert "channels" not in fake.requests[-1].body


def test_parse_channels() -> None:
    assert purchases.parse_channels(None) == ()
    assert purchases.parse_channels(["QR", "card", "qr"]) == ("qr", "card")
    assert purchases.parse_channels("mobile_money") == ("mobile_money",)
    for bad in ("", "card,", "card\n", "bank transfer", "cárd"):
        with pytest.raises(InvalidInput):
            purchases.parse_channels(bad)


# -- the gateway's answer to create: refused, unknown, already there -------------------------


class Scripted:
    """The sandbox behind a gateway that first answers ``create_payment`` with ``outcomes``
    (an exception to raise, or ``"landed"``: the payment is made, then the answer is lost)."""

    name = "sandbox"

    def __init__(self, app: AppContext, outcomes: list[Any]) -> None:
        from legato_pay.gateways.sandbox import SandboxGateway

        self.inner = SandboxGateway(app.engine)
        self.outcomes = outcomes
        self.calls: list[PaymentRequest] = []

    def check_payment(self, request: PaymentRequest) -> None:
        self.inner.check_payment(request)

    def create_payment(self, request: PaymentRequest) -> PaymentSession:
        self.calls.append(request)
        if self.outcomes:
            outcome = self.outcomes.pop(0)
            if outcome == "landed":
                self.inner.create_payment(request)
                raise AlreadyExists("the gateway already has this reference")
            raise outcome
        return self.inner.create_payment(request)

    def verify_payment(self, reference: str, provider_payment_id: str | None) -> PaymentStatus:
        return self.inner.verify_payment(reference, provider_payment_id)


@pytest.fixture
def scripted(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def install(*outcomes: Any) -> Scripted:
        gateway = Scripted(app, list(outcomes))
        monkeypatch.setattr(gateways, "get_gateway", lambda _app, _name: gateway)
        return gateway

    add_reader(app)
    yield install


def test_a_definite_refusal_fails_the_purchase(app: AppContext, scripted: Any) -> None:
    scripted(GatewayError("card_declined: your card was declined"))
    with pytest.raises(GatewayError):
        purchases.create_purchase(app, user_id=READER, package_id="popular", key="k1")
    (purchase,) = stored(app)
    assert (purchase.status, purchase.gateway_payment_id) == ("failed", None)
    assert "card_declined" in (purchase.failure_reason or "")


def test_an_unknown_outcome_stays_pending_and_is_retried_under_the_same_reference(
    app: AppContext, scripted: Any
) -> None:
    gateway = scripted(GatewayUnavailable("timed out"))
    with pytest.raises(GatewayUnavailable):
        purchases.create_purchase(app, user_id=READER, package_id="popular", key="k1")
    (purchase,) = stored(app)
    assert (purchase.status, purchase.gateway_payment_id) == ("pending", None)
    assert "outcome unknown" in (purchase.failure_reason or "")

    again = purchases.create_purchase(app, user_id=READER, package_id="popular", key="k1")
    assert again.purchase.reference == purchase.reference
    assert again.purchase.status == "pending" and again.purchase.gateway_payment_id
    assert again.purchase.failure_reason is None
    assert [call.reference for call in gateway.calls] == [purchase.reference] * 2
    assert len({call.idempotency_key for call in gateway.calls}) == 1
    assert len(stored(app)) == 1


def test_a_payment_that_landed_is_looked_up_not_sent_again(app: AppContext, scripted: Any) -> None:
    gateway = scripted("landed")
    created = purchases.create_purchase(app, user_id=READER, package_id="popular")
    assert len(gateway.calls) == 1
    assert created.purchase.status == "pending"
    assert (
        created.purchase.gateway_payment_id
        == gateway.inner.verify_payment(created.purchase.reference, None).provider_payment_id
    )
    assert purchases.verify_purchase(app, created.purchase.reference).credited


# -- cancel ----------------------------------------------------------------------------------


def test_cancel_a_stale_pending_purchase(app: AppContext) -> None:
    add_reader(app)
    created = purchases.create_purchase(
        app, user_id=READER, package_id="popular", key="k1", payment_method="pm_sandbox_pending"
    )
    reference = created.purchase.reference
    result = purchases.cancel_purchase(app, reference)
    assert (result.purchase.status, result.gateway_status) == ("cancelled", "pending")
    assert result.as_json()["status"] == "cancelled"
    with pytest.raises(InvalidState):
        purchases.cancel_purchase(app, reference)
    # A retry under the key returns the cancelled purchase; it is never reopened.
    again = purchases.create_purchase(
        app, user_id=READER, package_id="popular", key="k1", payment_method="pm_sandbox_pending"
    )
    assert (again.replayed, again.purchase.status) == (True, "cancelled")
    listed = app.run(lambda s: purchases.list_purchases(s, status="cancelled"), write=False)
    assert [p.reference for p in listed] == [reference]
    # Should the reader pay after all, the payment is still credited: they paid.
    paid = PaymentStatus("sandbox", reference, None, "succeeded", 999, "USD")
    settled = app.run(lambda s: purchases.apply_payment_status(s, paid))
    assert (settled.credited, settled.purchase.status) == (True, "succeeded")


def test_cancel_refuses_a_purchase_the_gateway_reports_paid(app: AppContext) -> None:
    add_reader(app)
    created = purchases.create_purchase(app, user_id=READER, package_id="popular")
    reference = created.purchase.reference  # the sandbox took the payment; nobody verified
    with pytest.raises(InvalidState) as caught:
        purchases.cancel_purchase(app, reference)
    assert "purchases verify" in caught.value.message
    assert get(app, reference).status == "pending"
    assert purchases.verify_purchase(app, reference).credited
    with pytest.raises(InvalidState):  # succeeded now: not pending
        purchases.cancel_purchase(app, reference)


def _as_stripe_without_payment(app: AppContext, reference: str, **values: Any) -> None:
    app.run(
        lambda s: s.execute(
            update(PURCHASES)
            .where(PURCHASES.c.reference == reference)
            .values(gateway="stripe", gateway_payment_id=None, **values)
        )
    )


def test_cancel_without_gateway_keys(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NO_KEYS:
        monkeypatch.delenv(name, raising=False)
    add_reader(app)
    never_opened = purchases.create_purchase(app, user_id=READER, package_id="popular").purchase
    _as_stripe_without_payment(app, never_opened.reference)  # what the old create left behind
    result = purchases.cancel_purchase(app, never_opened.reference)
    assert (result.purchase.status, result.gateway_status) == ("cancelled", "not_asked")

    # A purchase the gateway may hold a payment for cannot be cancelled without asking it.
    maybe = purchases.create_purchase(app, user_id=READER, package_id="basic").purchase
    _as_stripe_without_payment(app, maybe.reference, failure_reason="outcome unknown (…)")
    opened = purchases.create_purchase(app, user_id=READER, package_id="premium").purchase
    app.run(
        lambda s: s.execute(
            update(PURCHASES)
            .where(PURCHASES.c.reference == opened.reference)
            .values(gateway="stripe")
        )
    )
    for reference in (maybe.reference, opened.reference):
        with pytest.raises(ConfigError):
            purchases.cancel_purchase(app, reference)
        assert get(app, reference).status == "pending"


def test_cancel_cli(database_url: str) -> None:
    app = AppContext.create(database_url=database_url, actor="test")
    add_reader(app)
    pending = purchases.create_purchase(
        app, user_id=READER, package_id="popular", payment_method="pm_sandbox_pending"
    ).purchase
    asked = run_cli(database_url, "purchases", "cancel", pending.reference)
    assert (asked.status, asked.error["code"]) == (2, "USAGE_ERROR")
    assert "--yes" in asked.error["message"]
    assert get(app, pending.reference).status == "pending"
    done = run_cli(database_url, "purchases", "cancel", pending.reference, "--yes")
    assert done.status == 0, done.stderr
    assert (done.json["status"], done.json["gateway_status"]) == ("cancelled", "pending")
    again = run_cli(database_url, "purchases", "cancel", pending.reference, "--yes")
    assert (again.status, again.error["code"]) == (6, "INVALID_STATE")
    missing = run_cli(database_url, "purchases", "cancel", "pur_nope", "--yes")
    assert (missing.status, missing.error["code"]) == (5, "NOT_FOUND")


# -- refunds the gateway declines ------------------------------------------------------------


def test_a_declined_refund_is_refund_failed(database_url: str) -> None:
    app = AppContext.create(database_url=database_url, actor="test")
    add_reader(app)
    created = purchases.create_purchase(
        app, user_id=READER, package_id="popular", payment_method="pm_sandbox_refund_fail"
    )
    reference = created.purchase.reference
    purchases.verify_purchase(app, reference)
    with pytest.raises(RefundFailed) as caught:
        purchases.refund_purchase(app, reference, amount="1.00")
    assert (caught.value.code, caught.value.exit_status) == ("REFUND_FAILED", 7)
    assert caught.value.details["purchase"] == reference
    result = run_cli(database_url, "purchases", "refund", reference, "--yes")
    assert (result.status, result.error["code"]) == (7, "REFUND_FAILED")
    after = get(app, reference)
    assert (after.status, after.refunded_amount) == ("succeeded", 0)
    assert [refund.status for refund in after.refunds] == ["failed", "failed"]


# -- listing by date, a page at a time -------------------------------------------------------


def test_list_by_date_and_page(database_url: str) -> None:
    from datetime import UTC, datetime

    app = AppContext.create(database_url=database_url, actor="test")
    add_reader(app)
    add_reader(app, "reader2")
    made = []
    for day in range(1, 6):  # one purchase a day, 2026-01-01 … 2026-01-05
        reference = purchases.create_purchase(app, user_id=READER, package_id="basic")
        moment = datetime(2026, 1, day, 12, tzinfo=UTC)
        app.run(
            lambda s, r=reference.purchase.reference, m=moment: s.execute(
                update(PURCHASES).where(PURCHASES.c.reference == r).values(created_at=m)
            )
        )
        made.append(reference.purchase.reference)
    newest_first = made[::-1]

    window = run_cli(
        database_url, "purchases", "list", "--from", "2026-01-02", "--to", "2026-01-04T12:00:00Z"
    )
    assert window.status == 0, window.stderr
    assert [p["reference"] for p in window.json["purchases"]] == newest_first[2:4]

    seen, cursor, pages = [], None, 0
    while True:
        args = ["purchases", "list", "--user", READER, "--limit", "2"]
        page = run_cli(database_url, *args, *(["--cursor", cursor] if cursor else []))
        assert page.status == 0, page.stderr
        seen += [p["reference"] for p in page.json["purchases"]]
        cursor, pages = page.json["next_cursor"], pages + 1
        if cursor is None:
            break
    assert (seen, pages) == (newest_first, 3)

    csv = run_cli(database_url, "purchases", "list", "--limit", "2", output="csv")
    assert csv.status == 0, csv.stderr
    header, *rows = csv.stdout.splitlines()
    assert header.split(",")[:7] == [
        "reference", "user", "package", "status", "amount_minor", "currency", "display",
    ]  # fmt: skip
    assert len(rows) == 2 and rows[0].split(",")[4] == "499"
    assert "# next_cursor=" in csv.stderr
    table = run_cli(database_url, "purchases", "list", "--limit", "2", output="table")
    assert "4.99 USD" in table.stdout and "amount_minor" not in table.stdout
    assert "next_cursor=" in table.stdout

    other = run_cli(database_url, "purchases", "list", "--user", "reader2")
    assert (other.status, other.json) == (0, {"purchases": [], "next_cursor": None})
