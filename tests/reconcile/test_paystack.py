"""Paystack reconciled through its list endpoints (the fake, in process), every kind of
discrepancy planted, paging over several pages, and the transactions CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from legato_pay.context import AppContext
from legato_pay.errors import InvalidInput
from legato_pay.gateways.paystack.client import PaystackClient
from legato_pay.gateways.paystack.references import transaction_reference
from legato_pay.ledger.types import utcnow
from legato_pay.reconcile import paystack_api
from legato_pay.reconcile.records import Period
from legato_pay.reconcile.service import ReconcileRequest, open_source
from legato_pay.reconcile.sources import Source
from tests.fakes.paystack import FakePaystack, transfer_fee
from tests.reconcile.helpers import book, by_kind, kinds, run


@pytest.fixture
def fake() -> FakePaystack:
    return FakePaystack()


@pytest.fixture
def client(fake: FakePaystack) -> Iterator[PaystackClient]:
    with PaystackClient(fake.secret_key, transport=fake.transport(), max_retries=0) as made:
        yield made


def today() -> Period:
    now = utcnow()
    return Period(now - timedelta(hours=1), now + timedelta(hours=1))


def api(client: PaystackClient, per_page: int = 2) -> Source:
    return Source(
        "api",
        lambda period: paystack_api.paystack_records(client, period, per_page),
        paystack_api.reference_forms,
    )


def paid(fake: FakePaystack, reference: str, amount: int, currency: str = "NGN", **kw: Any) -> Any:
    """A paid Paystack transaction for the project's ``reference`` (conformed as the gateway
    does, the original in ``metadata.reference``)."""
    return fake.add_transaction(
        transaction_reference(reference),
        amount,
        currency,
        metadata={"reference": reference},
        **kw,
    )


def now_book(app: AppContext, amount: int, currency: str = "NGN", **kw: Any) -> int:
    return book(app, "paystack", amount, currency, at=utcnow(), **kw)


def test_every_planted_discrepancy_is_reported_and_the_fees_totalled(
    app: AppContext, fake: FakePaystack, client: PaystackClient
) -> None:
    ok = paid(fake, "pur_ok", 500_000)
    now_book(app, 500_000, reference="pur_ok")
    orphan = paid(fake, "pur_orphan", 250_000)  # paid at Paystack, never booked
    ghost = now_book(app, 120_000, reference="pur_ghost")  # booked, unknown to Paystack
    paid(fake, "pur_short", 499_900)
    short = now_book(app, 500_000, reference="pur_short")
    paid(fake, "pur_ghs", 300_000, "GHS")
    cedi = now_book(app, 300_000, "NGN", reference="pur_ghs")
    paid(fake, "pur_back", 200_000, status="reversed")  # refunded at Paystack, not in the ledger
    back = now_book(app, 200_000, reference="pur_back")
    fake.add_transaction("T-abandoned", 90_000, status="abandoned")  # no money moved: skipped

    view = run(app, "paystack", api(client), today())

    assert kinds(view) == {
        "matched": 1,
        "missing_in_ledger": 1,
        "missing_at_gateway": 1,
        "amount_mismatch": 1,
        "currency_mismatch": 1,
        "status_mismatch": 1,
    }
    assert not view.clean
    assert by_kind(view, "matched")[0].gateway_id == str(ok["id"])
    assert by_kind(view, "missing_in_ledger")[0].gateway_id == str(orphan["id"])
    assert by_kind(view, "missing_at_gateway")[0].entry_id == ghost
    amount = by_kind(view, "amount_mismatch")[0]
    assert (amount.entry_id, amount.ledger_amount, amount.gateway_amount) == (
        short,
        500_000,
        499_900,
    )
    currency = by_kind(view, "currency_mismatch")[0]
    assert (currency.entry_id, currency.ledger_currency, currency.gateway_currency) == (
        cedi,
        "NGN",
        "GHS",
    )
    status = by_kind(view, "status_mismatch")[0]
    assert (status.entry_id, status.gateway_status) == (back, "reversed")
    fees = {t["currency"]: 0 for t in fake.transactions.values()}
    for t in fake.transactions.values():
        if t["status"] in ("success", "reversed"):
            fees[t["currency"]] += t["fees"]
    assert view.totals["fees"] == {c: v for c, v in fees.items() if v}
    assert view.totals["skipped_records"] == 1


def test_a_refund_and_a_transfer_booked_in_the_ledger_match(
    app: AppContext, fake: FakePaystack, client: PaystackClient
) -> None:
    txn = paid(fake, "pur_refunded", 400_000)
    now_book(app, 400_000, reference="pur_refunded")
    refund = client.create_refund(transaction=txn["reference"], amount=150_000)
    fake.set_refund_status(refund["id"], "processed")
    fake.transactions[txn["reference"]]["status"] = "reversed"
    now_book(app, 150_000, out=True, gateway_refund_id=str(refund["id"]), purchase="pur_refunded")
    fake.add_bank_account("058", "0123456789", "ADA WRITER")
    recipient = client.create_transfer_recipient(
        type="nuban", name="Ada", account_number="0123456789", bank_code="058", currency="NGN"
    )
    transfer = client.initiate_transfer(
        amount=80_000,
        recipient=recipient["recipient_code"],
        reference="payout-7",
        reason="payout",
        currency="NGN",
    )
    fake.set_transfer_status("payout-7", "success")
    # As the payout's settlement books it: the transfer and the fee Paystack took on top.
    fee = transfer_fee(80_000, "NGN")
    now_book(app, 80_000 + fee, out=True, gateway_ref=transfer["transfer_code"], kind="payout")

    view = run(app, "paystack", api(client), today())

    assert view.clean, view.items
    assert kinds(view) == {"matched": 3}
    assert {i.direction for i in view.items} == {"in", "out"}
    assert view.totals["ledger"] == {"NGN": {"in": 400_000, "out": 231_000}}
    assert view.totals["gateway"] == {"NGN": {"in": 400_000, "out": 230_000}}


def test_lists_are_read_page_by_page_until_the_page_count(
    app: AppContext, fake: FakePaystack, client: PaystackClient
) -> None:
    for number in range(7):
        paid(fake, f"pur_{number}", 10_000 + number)
        now_book(app, 10_000 + number, reference=f"pur_{number}")
    view = run(app, "paystack", api(client, per_page=3), today())
    assert kinds(view) == {"matched": 7}
    pages = [r for r in fake.requests if r.path == "/transaction"]
    assert len(pages) == 3  # 3 + 3 + 1
    assert fake.count("GET", "/refund") == fake.count("GET", "/transfer") == 1


def test_records_outside_the_period_are_left_out_but_still_pair_across_a_boundary(
    app: AppContext, fake: FakePaystack, client: PaystackClient
) -> None:
    period = today()
    before = (period.start - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    paid(fake, "pur_old", 70_000, at=before)  # paid before the period, booked inside it
    now_book(app, 70_000, reference="pur_old")
    paid(fake, "pur_older", 60_000, at=before)  # entirely before the period: not reported
    view = run(app, "paystack", api(client), period)
    assert kinds(view) == {"matched": 1}


def test_the_transactions_export_is_read_as_the_api(app: AppContext, tmp_path: Path) -> None:
    export = tmp_path / "paystack.csv"
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S")
    ref_ok, ref_lost = transaction_reference("pur_csv1"), transaction_reference("pur_csv2")
    export.write_text(
        "Reference,Amount,Currency,Status,Fees,Paid At,Channel\n"
        f"{ref_ok},5000.00,NGN,success,85.00,{stamp},card\n"
        f"{ref_lost},1200.50,NGN,success,28.01,{stamp},card\n"
        f"T-failed,700.00,NGN,failed,0,{stamp},card\n",
        encoding="utf-8",
    )
    now_book(app, 500_000, reference="pur_csv1")
    request = ReconcileRequest("paystack", today(), file=export)
    view = run(app, "paystack", open_source(app, request), today())
    assert view.source == "csv" and view.file_name == "paystack.csv"
    assert kinds(view) == {"matched": 1, "missing_in_ledger": 1}
    assert by_kind(view, "missing_in_ledger")[0].gateway_amount == 120_050
    assert view.totals["fees"] == {"NGN": 8_500 + 2_801}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "Reference,Amount,Currency,Status,Paid At\nr1,10.00,NGN,success,2026-11-30\nr2,1e3,NGN,success,2026-11-30\n",
            3,
        ),
        ("Reference,Amount,Currency,Status,Paid At\nr1,10.00,NGN,success,yesterday\n", 2),
        ("Reference,Amount,Currency,Status,Paid At\nr1,10.00,NGN\n", 2),
        ("Reference,Amount,Currency\nr1,10.00,NGN\n", 1),
        ('Reference,Amount,Currency,Status,Paid At\nr1,"10.00,NGN,success,2026-11-30\n', 2),
    ],
    ids=["amount", "time", "fields", "header", "quote"],
)
def test_a_malformed_export_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int
) -> None:
    from legato_pay.reconcile.csv_exports import read_export

    export = tmp_path / "bad.csv"
    export.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        read_export("paystack", export)
    assert refused.value.code == "INVALID_CSV"
    assert refused.value.details["line"] == line
    assert f"line {line}" in refused.value.message


def test_an_unreadable_or_binary_export_is_refused(tmp_path: Path) -> None:
    from legato_pay.reconcile.csv_exports import read_export

    with pytest.raises(InvalidInput, match="cannot read"):
        read_export("paystack", tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\xff\xfe" * 10)
    with pytest.raises(InvalidInput) as refused:
        read_export("stripe", binary)
    assert refused.value.code == "INVALID_CSV" and refused.value.details["line"] == 1
