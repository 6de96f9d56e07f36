"""``tax remit`` as a story on both databases: a month's withholding moves from the liability to
the tax cash account once, with its due date; twice, early, or with nothing withheld is refused
and changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from legato_pay import chart
from legato_pay.errors import AlreadyExists, InvalidInput, InvalidState
from legato_pay.payouts.tax import due_date, list_remittances, remit_tax, withheld_in_period
from tests.factories import assert_ledger_ok
from tests.tax.helpers import post_withholding, posted

JUNE = datetime(2026, 6, 10, tzinfo=UTC)
JULY = datetime(2026, 7, 2, tzinfo=UTC)
LATER = datetime(2026, 8, 1, tzinfo=UTC)
LIABILITY = chart.tax_withholding("NG", "NGN")


def remit(app: Any, period: str = "2026-06", **kw: Any) -> Any:
    settings = app.settings
    kw.setdefault("now", LATER)
    return app.run(
        lambda s: remit_tax(
            s,
            settings,
            country=kw.pop("country", "NG"),
            period=period,
            reference=kw.pop("reference", "FIRS-0001"),
            actor="ops",
            **kw,
        )
    )


def test_a_month_is_remitted_once_with_its_due_date(app: Any) -> None:
    post_withholding(app, 50_000, JUNE)
    post_withholding(app, 2_500, datetime(2026, 6, 30, 23, 59, tzinfo=UTC))
    post_withholding(app, 7_000, JULY)  # July's: stays owed
    assert app.run(lambda s: withheld_in_period(s, "NG", "NGN", "2026-06")) == 52_500

    [view] = remit(app)
    assert (view.amount, view.currency, view.due_date) == (52_500, "NGN", date(2026, 7, 21))
    assert view.as_json()["late"] is True  # recorded on 1 August, due 21 July
    assert posted(app, LIABILITY) == 7_000
    assert posted(app, chart.tax_cash("NGN")) == -52_500  # paid out of the tax bank account
    # The remittance entry itself is not June's withholding, whatever its date.
    assert app.run(lambda s: withheld_in_period(s, "NG", "NGN", "2026-06")) == 52_500

    with pytest.raises(AlreadyExists):
        remit(app, reference="FIRS-0002")
    with pytest.raises(AlreadyExists):
        remit(app, reference="FIRS-0002", currency="NGN")
    assert posted(app, LIABILITY) == 7_000
    assert [r.reference for r in app.run(lambda s: list_remittances(s), write=False)] == [
        "FIRS-0001"
    ]

    [july] = remit(app, "2026-07", reference="FIRS-0003")
    assert july.amount == 7_000 and posted(app, LIABILITY) == 0
    assert_ledger_ok(app)  # the accounts have the chart's shapes; the journal balances


def test_each_currency_is_remitted_separately(app: Any) -> None:
    post_withholding(app, 400, JUNE, currency="USD")
    post_withholding(app, 9_000, JUNE)
    views = remit(app, currency="USD")
    assert [(v.currency, v.amount) for v in views] == [("USD", 400)]
    rest = remit(app, reference="FIRS-0009")  # the currencies not yet remitted
    assert [(v.currency, v.amount) for v in rest] == [("NGN", 9_000)]
    with pytest.raises(AlreadyExists):
        remit(app, reference="FIRS-0010")


def test_refusals_change_nothing(app: Any) -> None:
    post_withholding(app, 50_000, JUNE)
    with pytest.raises(InvalidState) as caught:  # June is not over on 30 June
        remit(app, now=datetime(2026, 6, 30, 12, tzinfo=UTC))
    assert caught.value.code == "PERIOD_OPEN"
    with pytest.raises(InvalidState) as caught:
        remit(app, "2026-05")
    assert caught.value.code == "NOTHING_TO_REMIT"
    for bad in ({"period": "2026-13"}, {"period": "2026-6"}, {"period": "２０２６-06"}):
        with pytest.raises(InvalidInput):
            remit(app, **bad)
    with pytest.raises(InvalidInput):
        remit(app, reference="bad ref")
    with pytest.raises(InvalidInput):
        remit(app, country="ng")
    assert posted(app, LIABILITY) == 50_000
    assert app.run(lambda s: list_remittances(s), write=False) == []


def test_due_dates(app: Any) -> None:
    settings = app.settings
    assert due_date(settings, "NG", "2026-12") == date(2027, 1, 21)
    assert due_date(settings, "NG", "2026-01") == date(2026, 2, 21)


def test_the_operator_cannot_open_tax_accounts(app: Any) -> None:
    from legato_pay.errors import InvalidInput as Refused

    with pytest.raises(Refused) as caught:
        app.run(lambda s: chart.open_operator_account(s, "tax:withholding:NG:NGN", "NGN"))
    assert caught.value.code == "RESERVED_ACCOUNT"
    assert chart.expected_account("tax:withholding:NG:NGN") == chart.tax_withholding_account(
        "NG", "NGN"
    )
    assert chart.expected_account("platform:cash:tax:USD") == chart.tax_cash_account("USD")
