"""Stripe reconciled through balance transactions (the official SDK against the fake, paged
by ``starting_after``) and through the Balance history CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from legato_pay.context import AppContext
from legato_pay.gateways.stripe.gateway import StripeGateway
from legato_pay.ledger.types import utcnow
from legato_pay.reconcile.records import Period
from legato_pay.reconcile.service import ReconcileRequest, open_source
from legato_pay.reconcile.sources import Source
from legato_pay.reconcile.stripe_api import stripe_records
from tests.fakes.stripe_balance import FakeStripeBalance
from tests.reconcile.helpers import book, by_kind, kinds, run


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeStripeBalance, str]]:
    fake = FakeStripeBalance()
    with fake.serve() as base_url:
        yield fake, base_url


@pytest.fixture
def fake(served: tuple[FakeStripeBalance, str]) -> FakeStripeBalance:
    served[0].transactions.clear()
    served[0].requests.clear()
    return served[0]


@pytest.fixture
def source(served: tuple[FakeStripeBalance, str]) -> Iterator[Source]:
    gateway = StripeGateway("sk_test_reconcile", api_base=served[1], max_retries=0)
    yield Source("api", lambda period: stripe_records(gateway, period))
    gateway.close()


def today() -> Period:
    now = utcnow()
    return Period(now - timedelta(hours=1), now + timedelta(hours=1))


def now_book(app: AppContext, amount: int, currency: str = "USD", **kw: Any) -> int:
    return book(app, "stripe", amount, currency, at=utcnow(), **kw)


def test_charges_refunds_and_transfers_match_by_their_stripe_ids(
    app: AppContext, fake: FakeStripeBalance, source: Source
) -> None:
    charge = fake.add_charge(999, "usd", payment_intent="pi_ok")
    now_book(app, 999, gateway_payment_id="pi_ok")
    refund = fake.add_refund(charge, 400)
    refund_id = fake.objects[refund["source"]]["id"]
    now_book(app, 400, out=True, gateway_refund_id=refund_id, refund_of="pi_ok")
    transfer = fake.add_transfer(5_000, reference="payout-9")
    now_book(app, 5_000, out=True, gateway_ref=transfer["source"], kind="payout")
    fake.add_payout(3_000)  # to the platform's bank: not booked on clearing, skipped
    view = run(app, "stripe", source, today())
    assert view.clean, view.items
    assert kinds(view) == {"matched": 3}
    assert view.totals["fees"] == {"USD": charge["fee"]}
    assert view.totals["skipped_records"] == 1


def test_every_planted_discrepancy_is_reported(
    app: AppContext, fake: FakeStripeBalance, source: Source
) -> None:
    orphan = fake.add_charge(1_500, payment_intent="pi_orphan")
    ghost = now_book(app, 700, gateway_payment_id="pi_ghost")
    fake.add_charge(2_000, payment_intent="pi_short")
    short = now_book(app, 2_500, gateway_payment_id="pi_short")
    fake.add_charge(1_000, "cad", payment_intent="pi_cad")
    loonie = now_book(app, 1_000, "USD", gateway_payment_id="pi_cad")
    fake.add_charge(3_000, payment_intent="pi_back", refunded=True)
    back = now_book(app, 3_000, gateway_payment_id="pi_back")
    view = run(app, "stripe", source, today())
    assert kinds(view) == {
        "missing_in_ledger": 1,
        "missing_at_gateway": 1,
        "amount_mismatch": 1,
        "currency_mismatch": 1,
        "status_mismatch": 1,
    }
    assert by_kind(view, "missing_in_ledger")[0].gateway_id == orphan["id"]
    assert by_kind(view, "missing_at_gateway")[0].entry_id == ghost
    assert by_kind(view, "amount_mismatch")[0].entry_id == short
    assert by_kind(view, "currency_mismatch")[0].entry_id == loonie
    assert by_kind(view, "status_mismatch")[0].entry_id == back


def test_balance_transactions_are_read_across_pages(
    app: AppContext, fake: FakeStripeBalance, source: Source
) -> None:
    for _ in range(130):
        fake.add_payout(100)
    fake.add_charge(4_200, payment_intent="pi_paged")
    now_book(app, 4_200, gateway_payment_id="pi_paged")
    view = run(app, "stripe", source, today())
    assert kinds(view) == {"matched": 1}
    assert view.totals["skipped_records"] == 130
    assert len(fake.requests) == 2
    assert "starting_after" in fake.requests[1] and "created%5Bgte%5D" in fake.requests[0]


def test_the_balance_history_export_is_read(app: AppContext, tmp_path: Path) -> None:
    stamp = utcnow().strftime("%Y-%m-%d %H:%M")
    export = tmp_path / "balance_history.csv"
    export.write_text(
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),"
        "PaymentIntent ID,Description\n"
        f"txn_1,charge,ch_1,19.99,0.88,19.11,usd,{stamp},{stamp},pi_csv,Coins\n"
        f"txn_2,refund,re_1,-5.00,0.00,-5.00,usd,{stamp},{stamp},,Refund\n"
        f"txn_3,payout,po_1,-100.00,0.00,-100.00,usd,{stamp},{stamp},,Payout\n",
        encoding="utf-8",
    )
    now_book(app, 1_999, gateway_payment_id="pi_csv")
    request = ReconcileRequest("stripe", today(), file=export)
    view = run(app, "stripe", open_source(app, request), today())
    assert kinds(view) == {"matched": 1, "missing_in_ledger": 1}
    assert by_kind(view, "missing_in_ledger")[0].gateway_amount == 500
    assert view.totals["fees"] == {"USD": 88}
