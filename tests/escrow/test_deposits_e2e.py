"""End to end through a real ``serve-webhooks`` process and the ``legato-pay`` CLI: a Paystack
``charge.success`` delivered three times at once while ``escrow confirm`` runs credits the
deposit once; a Stripe deposit on localstripe is confirmed by its ``payment_intent.succeeded``
webhook and refunded through the CLI, a rerun of the refund finding the one refund."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from legato_pay.context import AppContext
from legato_pay.escrow.deposits import create_deposit
from legato_pay.gateways.paystack.references import transaction_reference
from tests.cli_runner import run_cli
from tests.escrow.conftest import PAYSTACK_SECRET
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
from tests.fakes.listener import Listener
from tests.fakes.localstripe import (
    TEST_SECRET_KEY,
    localstripe_fixture,  # noqa: F401  (the module-scoped ``localstripe`` fixture)
    register_webhook,
)
from tests.fakes.paystack import FakePaystack, sign_paystack_webhook

T = TypeVar("T")
STRIPE_WEBHOOK_SECRET = "whsec_escrow_e2e"


def context(database_url: str) -> AppContext:
    app = AppContext.create(database_url=database_url, actor="test")
    _ = app.engine  # the schema exists before the listener looks at it
    app_with_investor(app)
    return app


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def test_three_charge_webhooks_racing_escrow_confirm_credit_once(
    database_url: str, paystack: FakePaystack, tmp_path: Path
) -> None:
    app = context(database_url)
    view = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="15000.00",
        currency="NGN",
        gateway="paystack",
        units=30,
        key="race",
    )
    paystack.settle(transaction_reference(view.reference), "success")
    body, headers = sign_paystack_webhook(
        paystack.charge_event(transaction_reference(view.reference)), PAYSTACK_SECRET
    )
    with Listener(database_url, tmp_path, name="escrow-listener") as listener:
        start = threading.Barrier(4)

        def webhook() -> int:
            start.wait()
            with httpx.Client(timeout=30) as http:
                response = http.post(
                    listener.url("/webhooks/paystack"), content=body, headers=headers
                )
            return response.status_code

        def confirm() -> Any:
            start.wait()
            return run_cli(database_url, "escrow", "confirm", view.reference)

        with ThreadPoolExecutor(4) as pool:
            hooks = [pool.submit(webhook) for _ in range(3)]
            confirmed = pool.submit(confirm)
            statuses = [hook.result() for hook in hooks]
            result = confirmed.result()
        assert statuses == [200, 200, 200], listener.log()
    assert result.status == 0, result.stderr
    assert result.json["status"] == "confirmed"
    assert deposit(app, view.id).status == "confirmed"
    assert entries_keyed(app, f"escrow-deposit:{view.id}") == 1
    assert escrow_balance(app, view.id, "NGN") == (1_500_000, 1_500_000)
    assert units_held(app) == 30
    assert_ledger_ok(app)


@pytest.fixture
def stripe_env(localstripe: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STRIPE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET)
    monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "test")
    return localstripe


def test_a_stripe_deposit_is_confirmed_by_its_webhook_and_refunded_once(
    sqlite_url: str, stripe_env: str, tmp_path: Path
) -> None:
    """SQLite only: the database side of this path is the race test's, on both."""
    database_url = sqlite_url
    app = context(database_url)
    with Listener(database_url, tmp_path, name="escrow-stripe") as listener:
        register_webhook(
            stripe_env,
            "escrow-e2e",
            listener.url("/webhooks/stripe"),
            STRIPE_WEBHOOK_SECRET,
            events=["payment_intent.succeeded"],
        )
        created = run_cli(
            database_url,
            *("escrow", "deposit", "--app", APP, "--investor", INVESTOR, "--amount", "250.00"),
            *("--currency", "USD", "--gateway", "stripe", "--payment-method", "pm_card_visa"),
            *("--units", "10", "--key", "stripe-1"),
        )
        assert created.status == 0, created.stderr
        deposit_id = created.json["id"]
        assert created.json["provider_payment_id"].startswith("pi_")
        wait_for(
            lambda: deposit(app, deposit_id).status == "confirmed",
            f"payment_intent.succeeded to confirm deposit {deposit_id}\n{listener.log()}",
        )
    assert escrow_balance(app, deposit_id) == (25000, 25000) and units_held(app) == 10

    refund = ["escrow", "refund", str(deposit_id), "--amount", "100.00", "--reason", "r"]
    first = run_cli(database_url, *refund, "--key", "rk")
    assert first.status == 0, first.stderr
    assert (first.json["status"], first.json["units_cancelled"]) == ("succeeded", 4)
    again = run_cli(database_url, *refund, "--key", "rk")
    assert (again.status, again.json["id"], again.json["replayed"]) == (0, first.json["id"], True)
    listed = httpx.get(
        f"{stripe_env}/v1/refunds",
        params={"payment_intent": created.json["provider_payment_id"]},
        headers={"Authorization": f"Bearer {TEST_SECRET_KEY}"},
    ).json()["data"]
    assert len(listed) == 1 and listed[0]["amount"] == 10000
    assert escrow_balance(app, deposit_id) == (15000, 15000) and units_held(app) == 6
    assert_ledger_ok(app)
