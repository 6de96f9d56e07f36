"""The sandbox gateway reconciled against its own book, through real purchases and refunds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from legato_pay.context import AppContext
from legato_pay.errors import InvalidInput, NotFound
from legato_pay.ledger.types import utcnow
from legato_pay.readers import purchases
from legato_pay.readers.users import add_user
from legato_pay.reconcile.records import Period
from legato_pay.reconcile.service import ReconcileRequest, check_request, open_source, reconcile
from legato_pay.reconcile.storage import list_runs, show_run
from legato_pay.store.tables import BOOK
from tests.reconcile.helpers import book, by_kind, kinds

READER = "reader-1"


def today() -> Period:
    now = utcnow()
    return Period(now - timedelta(hours=1), now + timedelta(hours=1))


def sandbox_run(app: AppContext, *, dry_run: bool = False) -> Any:
    request = ReconcileRequest("sandbox", today(), dry_run=dry_run)
    return reconcile(app, request, open_source(app, request))


def buy(app: AppContext, **options: Any) -> Any:
    created = purchases.create_purchase(app, user_id=READER, package_id="popular", **options)
    return purchases.verify_purchase(app, created.purchase.reference).purchase


@pytest.fixture
def shop(app: AppContext) -> AppContext:
    app.run(lambda s: add_user(s, READER))
    return app


def test_purchases_and_refunds_match_the_sandbox_book(shop: AppContext) -> None:
    first, second = buy(shop), buy(shop)
    purchases.refund_purchase(shop, second.reference)
    view = sandbox_run(shop)
    assert view.clean and view.id is not None
    assert kinds(view) == {"matched": 3}
    assert {i.direction for i in view.items} == {"in", "out"}
    assert {i.entry_id for i in view.items} >= {first.entry_id, second.entry_id}
    stored = shop.run(lambda s: show_run(s, view.id), write=False)
    assert stored.counts == view.counts and len(stored.items) == 3
    assert stored.totals["ledger"]["USD"] == stored.totals["gateway"]["USD"]


def test_planted_discrepancies_are_each_reported(shop: AppContext) -> None:
    buy(shop)
    failed = purchases.create_purchase(
        shop, user_id=READER, package_id="popular", payment_method="pm_sandbox_pending"
    ).purchase
    # The book holds a payment the ledger never booked, and the ledger one the book lacks.
    shop.run(
        lambda s: s.execute(
            insert(BOOK).values(
                id="sbx_pay_orphan",
                kind="payment",
                reference="pur_orphan",
                amount=499,
                currency="USD",
                payment_method="pm_sandbox_ok",
                status="succeeded",
                paid_amount=499,
                paid_currency="USD",
                created_at=utcnow(),
            )
        )
    )
    ghost = book(shop, "sandbox", 1999, "USD", at=utcnow(), reference="pur_ghost")
    # A ledger booking of the pending payment: the sandbox says it is not paid.
    unpaid = book(shop, "sandbox", 999, "USD", at=utcnow(), reference=failed.reference)
    view = sandbox_run(shop)
    assert kinds(view) == {
        "matched": 1,
        "missing_in_ledger": 1,
        "missing_at_gateway": 1,
        "status_mismatch": 1,
    }
    assert by_kind(view, "missing_in_ledger")[0].gateway_id == "sbx_pay_orphan"
    assert by_kind(view, "missing_at_gateway")[0].entry_id == ghost
    status = by_kind(view, "status_mismatch")[0]
    assert (status.entry_id, status.gateway_status) == (unpaid, "pending")
    only = shop.run(lambda s: show_run(s, view.id, kind="missing_at_gateway"), write=False)
    assert [i.entry_id for i in only.items] == [ghost]


def test_an_underpaid_purchase_flagged_by_verify_is_not_booked_so_nothing_is_missing(
    shop: AppContext,
) -> None:
    with pytest.raises(Exception, match="flagged"):
        buy(shop, payment_method="pm_sandbox_underpay")
    view = sandbox_run(shop)
    # The book says the payment succeeded; the ledger credited nothing: missing in the ledger.
    assert kinds(view) == {"missing_in_ledger": 1}


def test_a_dry_run_stores_nothing_and_runs_list_newest_first(shop: AppContext) -> None:
    buy(shop)
    assert sandbox_run(shop, dry_run=True).id is None
    assert shop.run(lambda s: list_runs(s), write=False) == []
    first, second = sandbox_run(shop), sandbox_run(shop)
    listed = shop.run(lambda s: list_runs(s, gateway="sandbox"), write=False)
    assert [r.id for r in listed] == [second.id, first.id]
    assert shop.run(lambda s: list_runs(s, gateway="stripe"), write=False) == []
    with pytest.raises(InvalidInput):
        shop.run(lambda s: list_runs(s, gateway="bitpay"), write=False)
    with pytest.raises(InvalidInput):
        shop.run(lambda s: list_runs(s, limit=0), write=False)


def test_show_refuses_an_unknown_run_or_kind(app: AppContext) -> None:
    with pytest.raises(NotFound) as missing:
        app.run(lambda s: show_run(s, 999), write=False)
    assert missing.value.code == "RUN_NOT_FOUND"
    with pytest.raises(InvalidInput):
        app.run(lambda s: show_run(s, 1, kind="lost"), write=False)


def test_requests_are_checked_before_anything_is_read() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(InvalidInput) as reversed_range:
        check_request("sandbox", start, start - timedelta(seconds=1))
    assert reversed_range.value.code == "INVALID_TIME"
    with pytest.raises(InvalidInput):
        check_request("bitpay", start, start)
    with pytest.raises(InvalidInput):
        check_request("sandbox", start, start, file=__import__("pathlib").Path("x.csv"))
    whole_day = check_request("sandbox", start, start, to_text="2026-11-01")
    assert whole_day.period.end == datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=UTC)
    exact = check_request("sandbox", start, start, to_text="2026-11-01T00:00:00Z")
    assert exact.period.end == start


def test_a_reversed_booking_and_its_reversal_leave_the_payment_unbooked(shop: AppContext) -> None:
    from legato_pay.ledger import reverse_entry

    bought = buy(shop)
    shop.run(lambda s: reverse_entry(s, bought.entry_id, actor="test", reason="booked by mistake"))
    view = sandbox_run(shop)
    assert kinds(view) == {"missing_in_ledger": 1}
    assert by_kind(view, "missing_in_ledger")[0].reference == bought.reference
