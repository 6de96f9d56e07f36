"""Payout requests on the ledger: only released earnings, minimum, fee, the approval rule,
idempotency, cancel returning the money exactly once, and refusals that change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.errors import (
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    LegatoError,
    NotFound,
    UsageError,
)
from legato_pay.ledger import verify_ledger
from legato_pay.payouts.requests import list_payouts, request_payout
from legato_pay.payouts.status import cancel_payout, mark_approved, mark_rejected
from legato_pay.payouts.views import get_payout
from tests.factories import add_users
from tests.payouts.helpers import (
    available,
    counts,
    in_flight_pending,
    sandbox_method,
    writer_with_money,
)

NGN_1000 = 100_000  # NGN 1,000.00 in kobo


def _request(app: Any, writer: str = "wendy", **kw: Any) -> Any:
    kw.setdefault("currency", "NGN")
    return app.run(
        lambda s: request_payout(s, app.settings, actor=kw.pop("actor", "ops"), writer=writer, **kw)
    )


def test_only_released_earnings_are_reserved(app: Any) -> None:
    writer_with_money(app, posted=20 * NGN_1000, held=50 * NGN_1000)

    payout = _request(app, all_available=True)

    assert payout.gross == 20 * NGN_1000  # the held 50,000 stays on hold
    assert payout.status == "approved"  # below the threshold, method not recently changed
    assert available(app, "wendy") == 0
    assert in_flight_pending(app) == 20 * NGN_1000
    with pytest.raises(InsufficientFunds):
        _request(app, amount="5000.00")
    assert app.run(lambda s: verify_ledger(s), write=False).ok


def test_exact_amounts_and_timeline(app: Any) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    payout = _request(app, amount="60000.00", actor="alice")
    assert (payout.gross, payout.fee, payout.tax, payout.net) == (6_000_000, 0, 0, 6_000_000)
    shown = app.run(lambda s: get_payout(s, payout.id), write=False)
    assert [(t.action, t.to_status, t.actor) for t in shown.timeline] == [
        ("requested", "requested", "alice"),
        ("auto_approved", "approved", "system:payouts"),
    ]
    assert available(app, "wendy") == 40 * NGN_1000


def test_bank_fee_tiers_apply(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    from sqlalchemy import update

    from legato_pay.store.tables import PAYOUT_METHODS

    app.run(lambda s: s.execute(update(PAYOUT_METHODS).values(type="bank")))  # as Paystack's
    small = _request(app, amount="5000.00")
    middle = _request(app, amount="5000.01")
    large = _request(app, amount="50000.01")
    assert [(p.fee, p.net) for p in (small, middle, large)] == [
        (1_000, 499_000),
        (2_500, 497_501),
        (5_000, 4_995_001),
    ]
    for payout in (small, middle, large):
        assert payout.gross == payout.net + payout.fee + payout.tax


def test_withholding_seam_is_used_and_recorded(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    monkeypatch.setattr(
        "legato_pay.payouts.requests.withholding_for",
        lambda session, settings, writer, gross, currency: (gross // 20, "5", "NG"),
    )
    payout = _request(app, amount="10000.00")
    assert (payout.gross, payout.tax, payout.net, payout.tax_rate, payout.tax_country) == (
        1_000_000,
        50_000,
        950_000,
        "5",
        "NG",
    )


def test_a_writer_with_a_nigerian_profile_has_tax_withheld(app: Any) -> None:
    from legato_pay.payouts.tax import set_tax_profile

    writer_with_money(app, posted=50 * NGN_1000)
    app.run(
        lambda s: set_tax_profile(
            s,
            app.settings,
            writer="wendy",
            country="NG",
            payee_type="individual",
            tin="12345678-0001",
            actor="ops",
        )
    )
    payout = _request(app, amount="10000.00")
    assert (payout.gross, payout.tax) == (1_000_000, 50_000)  # 5 % of 10,000.00 NGN
    assert payout.gross == payout.net + payout.fee + payout.tax


def test_approval_needed_at_threshold_or_for_a_recent_method(app: Any) -> None:
    writer_with_money(app, posted=600 * NGN_1000)  # NGN threshold is 500,000.00
    big = _request(app, amount="500000.00")
    assert big.status == "requested"
    assert "threshold" in (big.timeline[0].reason or "")

    add_users(app, rex="writer")
    from tests.payouts.helpers import earn

    earn(app, "rex", "NGN", posted=50 * NGN_1000)
    sandbox_method(app, "rex", recent=True)
    small_to_new = _request(app, "rex", amount="10000.00")
    assert small_to_new.status == "requested"
    assert "method changed recently" in (small_to_new.timeline[0].reason or "")

    approved = app.run(lambda s: mark_approved(s, big.id, actor="checker"))
    assert approved.status == "approved" and approved.timeline[-1].actor == "checker"
    with pytest.raises(InvalidState):
        app.run(lambda s: mark_approved(s, big.id, actor="checker"))


def test_cancel_returns_the_money_exactly_once(app: Any) -> None:
    writer_with_money(app, posted=30 * NGN_1000)
    payout = _request(app, amount="10000.00")
    assert available(app, "wendy") == 20 * NGN_1000

    cancelled = app.run(lambda s: cancel_payout(s, payout.id, actor="ops", reason="typo"))

    assert cancelled.status == "cancelled" and cancelled.resolution_entry_id is not None
    assert available(app, "wendy") == 30 * NGN_1000
    assert in_flight_pending(app) == 0
    with pytest.raises(InvalidState):
        app.run(lambda s: cancel_payout(s, payout.id, actor="ops"))
    assert available(app, "wendy") == 30 * NGN_1000
    assert app.run(lambda s: verify_ledger(s), write=False).ok


def test_reject_voids_the_reservation(app: Any) -> None:
    writer_with_money(app, posted=600 * NGN_1000)
    payout = _request(app, amount="550000.00")
    with pytest.raises(InvalidInput):
        app.run(lambda s: mark_rejected(s, payout.id, actor="checker", reason=" "))
    rejected = app.run(lambda s: mark_rejected(s, payout.id, actor="checker", reason="unknown"))
    assert rejected.status == "cancelled" and rejected.timeline[-1].action == "rejected"
    assert available(app, "wendy") == 600 * NGN_1000


def test_a_key_replays_and_refuses_a_different_request(app: Any) -> None:
    writer_with_money(app, posted=30 * NGN_1000)
    first = _request(app, amount="10000.00", key="k-1")
    again = _request(app, amount="10000.00", key="k-1")
    assert again.id == first.id and again.replayed
    assert available(app, "wendy") == 20 * NGN_1000
    with pytest.raises(IdempotencyConflict):
        _request(app, amount="10000.01", key="k-1")


@pytest.mark.parametrize(
    ("kw", "error", "code"),
    [
        ({"amount": "4999.99"}, InvalidAmount, "BELOW_MINIMUM"),
        ({"amount": "-100.00"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"amount": "0"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"amount": "1e5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"amount": "200000.00"}, InsufficientFunds, "INSUFFICIENT_FUNDS"),
        ({"amount": "6000", "currency": "XXX"}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"amount": "6000", "currency": "GBP"}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"amount": "6000", "currency": "USD"}, NotFound, "PAYOUT_METHOD_NOT_FOUND"),
        ({"amount": "6000", "method": "99"}, NotFound, "PAYOUT_METHOD_NOT_FOUND"),
        ({"amount": "6000", "method": "1x"}, InvalidInput, "VALIDATION_ERROR"),
        ({"amount": "6000", "method": str(2**63)}, InvalidInput, "VALIDATION_ERROR"),
        ({"amount": "6000", "all_available": True}, UsageError, "USAGE_ERROR"),
        ({}, UsageError, "USAGE_ERROR"),
        ({"amount": "6000", "writer": "nobody"}, NotFound, "USER_NOT_FOUND"),
        ({"amount": "6000", "writer": "rita"}, InvalidInput, "VALIDATION_ERROR"),
        ({"amount": "6000", "key": ""}, InvalidInput, "INVALID_IDEMPOTENCY_KEY"),
    ],
)
def test_bad_requests_change_nothing(
    app: Any, kw: dict[str, Any], error: type[LegatoError], code: str
) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    add_users(app, rita="reader")
    before = counts(app)
    with pytest.raises(error) as refused:
        _request(app, **kw)
    assert refused.value.code == code
    assert counts(app) == before
    assert available(app, "wendy") == 100 * NGN_1000


def test_method_in_another_currency_is_a_mismatch(app: Any) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    usd = sandbox_method(app, "wendy", "USD")
    with pytest.raises(CurrencyMismatch):
        _request(app, amount="6000", method=str(usd.id))


def test_all_below_minimum_is_refused(app: Any) -> None:
    writer_with_money(app, posted=4_000_00)
    with pytest.raises(InvalidAmount) as refused:
        _request(app, all_available=True)
    assert refused.value.code == "BELOW_MINIMUM"


def test_list_filters_and_pages(app: Any) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    ids = [_request(app, amount="6000").id for _ in range(3)]
    app.run(lambda s: cancel_payout(s, ids[1], actor="ops"))
    page, cursor = app.run(lambda s: list_payouts(s, writer="wendy", limit=2), write=False)
    assert [p.id for p in page] == ids[:2] and cursor == ids[1]
    rest, end = app.run(lambda s: list_payouts(s, after=cursor, limit=2), write=False)
    assert [p.id for p in rest] == ids[2:] and end is None
    cancelled, _ = app.run(lambda s: list_payouts(s, status="cancelled"), write=False)
    assert [p.id for p in cancelled] == [ids[1]]
    with pytest.raises(InvalidInput):
        app.run(lambda s: list_payouts(s, status="lost"), write=False)
    with pytest.raises(NotFound):
        app.run(lambda s: list_payouts(s, writer="nobody"), write=False)


def test_fee_and_tax_swallowing_the_gross_is_refused(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer_with_money(app, posted=100 * NGN_1000)
    monkeypatch.setattr(
        "legato_pay.payouts.requests.withholding_for",
        lambda session, settings, writer, gross, currency: (gross, "100", "NG"),
    )
    before = counts(app)
    with pytest.raises(InvalidAmount) as refused:
        _request(app, amount="6000")
    assert refused.value.code == "AMOUNT_TOO_SMALL"
    assert counts(app) == before and available(app, "wendy") == 100 * NGN_1000


def test_approval_content_names_what_is_approved(app: Any) -> None:
    from legato_pay.payouts.views import approval_content

    method = writer_with_money(app, posted=100 * NGN_1000)
    payout = _request(app, amount="6000")
    assert approval_content(payout) == {
        "payout": payout.id,
        "amount": 600_000,
        "currency": "NGN",
        "source": "writer:wendy:earnings:NGN",
        "destination": {
            "method": method.id,
            "type": "sandbox",
            "account": method.as_json()["account"],
        },
    }
