"""Escrow deposits and refunds and writers' payouts, made through the real services, reconcile
against each gateway's records without any hand-written metadata: a month with a deposit, a
partial refund and a paid payout is clean; a transfer the ledger never booked is
``missing_in_ledger`` (exit 12); a payout paid in the ledger but failed at the gateway is a
``status_mismatch``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from legato_pay.context import AppContext
from legato_pay.escrow.deposits import create_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.escrow.refunds import refund_deposit, refund_status
from legato_pay.gateways.paystack.references import transaction_reference
from legato_pay.gateways.stripe.gateway import StripeGateway
from legato_pay.ledger.types import utcnow
from legato_pay.payouts.sending import run_payouts
from legato_pay.payouts.sending_gateways import StripeSender
from legato_pay.payouts.sending_verify import verify_payouts
from legato_pay.reconcile.records import Period
from legato_pay.reconcile.service import ReconcileRequest, open_source, reconcile
from legato_pay.reconcile.sources import Source
from legato_pay.reconcile.storage import RunView
from legato_pay.reconcile.stripe_api import stripe_records
from legato_pay.store.tables import BOOK
from tests.cli_runner import run_cli
from tests.escrow.deposit_factory import APP, INVESTOR, app_with_investor, confirmed_deposit
from tests.fakes.paystack import FakePaystack, transfer_fee
from tests.fakes.stripe_balance import FakeStripeBalance
from tests.fakes.stripe_transfers import FakeStripeTransfers
from tests.payouts.helpers import VAULT
from tests.payouts.sending_support import (
    NGN_10K,
    USD_50,
    paystack_senders,
    request,
    writer_paid_through,
)
from tests.reconcile.helpers import by_kind, kinds


def today() -> Period:
    now = utcnow()
    return Period(now - timedelta(hours=1), now + timedelta(hours=1))


def reconciled(app: AppContext, gateway: str) -> RunView:
    asked = ReconcileRequest(gateway, today())
    return reconcile(app, asked, open_source(app, asked))


def day() -> str:
    return utcnow().strftime("%Y-%m-%d")


@pytest.fixture
def paystack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakePaystack, str]]:
    fake = FakePaystack()
    with fake.serve() as base_url:
        monkeypatch.setenv("PAYSTACK_SECRET_KEY", fake.secret_key)
        monkeypatch.setenv("PAYSTACK_BASE_URL", base_url)
        monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "test")
        yield fake, base_url


def paystack_month(app: AppContext, fake: FakePaystack) -> dict[str, Any]:
    """An investment of NGN 20,000 refunded NGN 5,000, and a writer paid NGN 10,000."""
    app_with_investor(app)
    made = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="20000.00",
        currency="NGN",
        gateway="paystack",
        key="ps-month",
    )
    fake.settle(transaction_reference(made.reference), "success")
    deposit = confirm_deposit(app, made.reference).deposit
    refund = refund_deposit(app, deposit.id, amount="5000.00", reason="part", key="r1")
    assert refund.status == "pending" and refund.provider_refund_id
    fake.set_refund_status(int(refund.provider_refund_id), "processed")
    assert refund_status(app, refund.id).status == "succeeded"
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    payout = request(app, "bola", "NGN", NGN_10K, method.id)
    run_payouts(app, senders=paystack_senders(fake), vault=VAULT)
    fake.set_transfer_status(f"payout-{payout.id}", "success")
    [line] = verify_payouts(app, payout.id, senders=paystack_senders(fake), vault=VAULT)
    assert line.status == "paid"
    return {"deposit": deposit, "refund": refund, "payout": payout}


def test_a_paystack_month_of_escrow_and_payouts_is_clean_then_planted_differences_show(
    app: AppContext, database_url: str, paystack: tuple[FakePaystack, str]
) -> None:
    fake, base_url = paystack
    month = paystack_month(app, fake)
    [listed] = [t for t in fake.transactions.values() if t["metadata"].get("payment_type")]
    assert listed["metadata"]["payment_type"] == "investment"  # the escrow charge, listed

    view = reconciled(app, "paystack")
    assert view.clean, [(i.kind, i.reference, i.note) for i in view.items]
    assert kinds(view) == {"matched": 3}
    matched = {(i.direction, i.ledger_amount, i.gateway_amount) for i in view.items}
    net, fee = month["payout"].net, month["payout"].fee
    assert fee == transfer_fee(net, "NGN")  # the configured tier is Paystack's
    assert matched == {
        ("in", 2_000_000, 2_000_000),
        ("out", 500_000, 500_000),
        ("out", net + fee, net),
    }

    fake.add_transfer("dashboard-transfer-1", 300_000)  # sent from the dashboard, not booked
    env = {"PAYSTACK_SECRET_KEY": fake.secret_key, "PAYSTACK_BASE_URL": base_url}
    args = ["reconcile", "--gateway", "paystack", "--from", day(), "--to", day()]
    result = run_cli(database_url, *args, **env)
    assert result.status == 12, result.stderr
    assert result.json["counts"]["matched"] == 3
    assert result.json["counts"]["missing_in_ledger"] == 1
    [orphan] = [i for i in result.json["items"] if i["kind"] == "missing_in_ledger"]
    assert orphan["reference"] == "dashboard-transfer-1"

    fake.set_transfer_status(f"payout-{month['payout'].id}", "failed")
    [mismatch] = by_kind(reconciled(app, "paystack"), "status_mismatch")
    assert mismatch.reference == f"payout-{month['payout'].id}"
    assert mismatch.gateway_status == "failed"


def test_a_sandbox_month_of_escrow_and_payouts_is_clean_then_planted_differences_show(
    app: AppContext,
) -> None:
    app_with_investor(app)
    deposit = confirmed_deposit(app, key="sbx-month")
    refund = refund_deposit(app, deposit.id, amount="100.00", reason="part", key="r1")
    assert refund.status == "succeeded"
    method = writer_paid_through(app, "sandbox", "wendy", posted=NGN_10K)
    payout = request(app, "wendy", "NGN", NGN_10K, method.id)
    [line] = run_payouts(app).lines
    assert line.status == "paid"

    view = reconciled(app, "sandbox")
    assert view.clean, [(i.kind, i.reference, i.note) for i in view.items]
    assert kinds(view) == {"matched": 3}
    assert {i.reference for i in view.items} >= {deposit.reference, f"payout-{payout.id}"}

    now = utcnow()
    app.run(
        lambda s: s.execute(
            insert(BOOK).values(
                id="sbx_payout-unknown",
                kind="payout",
                reference="payout-unknown",
                amount=70_000,
                currency="NGN",
                payment_method="sandbox_transfer",
                status="succeeded",
                paid_amount=70_000,
                paid_currency="NGN",
                created_at=now,
            )
        )
    )
    app.run(
        lambda s: s.execute(
            update(BOOK).where(BOOK.c.reference == f"payout-{payout.id}").values(status="failed")
        )
    )
    planted = reconciled(app, "sandbox")
    assert kinds(planted) == {"matched": 2, "missing_in_ledger": 1, "status_mismatch": 1}
    assert by_kind(planted, "missing_in_ledger")[0].reference == "payout-unknown"
    assert by_kind(planted, "status_mismatch")[0].reference == f"payout-{payout.id}"


def test_a_payout_reversed_by_paystack_and_in_the_ledger_matches(
    app: AppContext, paystack: tuple[FakePaystack, str]
) -> None:
    fake, _ = paystack
    month = paystack_month(app, fake)
    reference = f"payout-{month['payout'].id}"
    fake.set_transfer_status(reference, "reversed")
    [line] = verify_payouts(app, month["payout"].id, senders=paystack_senders(fake), vault=VAULT)
    assert line.status == "reversed"
    view = reconciled(app, "paystack")
    assert view.clean and kinds(view) == {"matched": 3}
    [reversed_] = [i for i in view.items if i.reference == reference]
    assert (reversed_.gateway_status, reversed_.note) == ("reversed", "reversed on both sides")


def test_a_stripe_payout_matches_its_balance_transaction_and_a_reversal_not_booked_shows(
    app: AppContext,
) -> None:
    balance = FakeStripeBalance()
    transfers = FakeStripeTransfers(balance_book=balance)
    with transfers.serve() as transfers_url, balance.serve() as balance_url:
        method = writer_paid_through(app, "stripe", "sam", posted=2 * USD_50)
        transfers.add_account("acct_sam0001")
        payout = request(app, "sam", "USD", USD_50, method.id)
        sender = StripeSender(StripeGateway("sk_test_recon", api_base=transfers_url, max_retries=0))
        [line] = run_payouts(app, senders={"stripe": sender}, vault=VAULT).lines
        assert line.status == "paid"
        reader = StripeGateway("sk_test_recon", api_base=balance_url, max_retries=0)
        source = Source("api", lambda period: stripe_records(reader, period))

        def stripe_run() -> RunView:
            return reconcile(app, ReconcileRequest("stripe", today()), source)

        view = stripe_run()
        assert view.clean and kinds(view) == {"matched": 1}
        [item] = view.items
        assert item.gateway_id.startswith("txn_") and item.reference == f"payout-{payout.id}"
        assert item.ledger_amount == item.gateway_amount == payout.net

        balance.add_transfer(4_000, reference="by-hand")  # from the dashboard, not booked
        transfers.reverse(transfers.by_group(f"payout-{payout.id}")["id"])  # ledger not told
        planted = stripe_run()
        assert kinds(planted) == {"missing_in_ledger": 1, "status_mismatch": 1}
        assert by_kind(planted, "missing_in_ledger")[0].reference == "by-hand"
        assert by_kind(planted, "status_mismatch")[0].reference == f"payout-{payout.id}"
        assert planted.totals["skipped_records"] == 1  # the reversal's transfer_refund
        reader.close()


def test_a_deposit_refunded_in_full_matches_the_reversed_paystack_charge(
    app: AppContext, paystack: tuple[FakePaystack, str]
) -> None:
    fake, _ = paystack
    app_with_investor(app)
    made = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="3000.00",
        currency="NGN",
        gateway="paystack",
        key="ps-full",
    )
    conformed = transaction_reference(made.reference)
    fake.settle(conformed, "success")
    deposit = confirm_deposit(app, made.reference).deposit
    refund = refund_deposit(app, deposit.id, reason="changed mind", key="all")
    assert refund.provider_refund_id
    fake.set_refund_status(int(refund.provider_refund_id), "processed")
    assert refund_status(app, refund.id).status == "succeeded"
    fake.transactions[conformed]["status"] = "reversed"  # Paystack's word for refunded in full
    view = reconciled(app, "paystack")
    assert view.clean, [(i.kind, i.reference, i.note) for i in view.items]
    assert {(i.direction, i.gateway_status) for i in view.items} == {
        ("in", "reversed"),
        ("out", "processed"),
    }
