"""``reports payouts`` and ``reports tax`` on a scripted set of payouts (``payout_story``),
against figures worked out by hand, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.errors import InvalidInput, NotFound
from legato_pay.reporting.payouts import payouts_report
from legato_pay.reporting.tax import tax_report
from tests.reporting.payout_story import NGN, build_story


@pytest.fixture
def story(app: Any) -> dict[str, int]:
    return build_story(app)


def _payouts(app: Any, **kw: Any) -> dict[str, Any]:
    return app.run(lambda s: payouts_report(s, **kw), write=False).as_json()  # type: ignore[no-any-return]


def _tax(app: Any, **kw: Any) -> dict[str, Any]:
    return app.run(lambda s: tax_report(s, **kw), write=False).as_json()  # type: ignore[no-any-return]


def _sums(payouts: int, gross: int, fee: int, tax: int, net: int) -> dict[str, int]:
    return {
        "payouts": payouts,
        "gross_minor": gross,
        "fee_minor": fee,
        "tax_minor": tax,
        "net_minor": net,
    }


def test_payouts_by_gateway_and_currency(app: Any, story: dict[str, int]) -> None:
    report = _payouts(app, period="2026-03")
    assert report["statuses"] == ["requested", "approved", "sending", "paid"]
    assert report["rows"] == [
        # P1 + P2: gross 70,000, fees 25 + 50, tax 500 + 3,000
        {"gateway": "paystack", "currency": "NGN"}
        | _sums(2, 70_000 * NGN, 75 * NGN, 3_500 * NGN, 66_425 * NGN),
        # P3 only: P4 was cancelled
        {"gateway": "sandbox", "currency": "NGN"}
        | _sums(1, 5_000 * NGN, 0, 500 * NGN, 4_500 * NGN),
        {"gateway": "sandbox", "currency": "USD"} | _sums(1, 5_000, 0, 0, 5_000),
    ]
    assert report["totals"] == [
        {"currency": "NGN"} | _sums(3, 75_000 * NGN, 75 * NGN, 4_000 * NGN, 70_925 * NGN),
        {"currency": "USD"} | _sums(1, 5_000, 0, 0, 5_000),
    ]
    for row in report["rows"]:
        assert row["gross_minor"] == row["net_minor"] + row["fee_minor"] + row["tax_minor"]


def test_payouts_filters(app: Any, story: dict[str, int]) -> None:
    cancelled = _payouts(app, status="cancelled")
    assert cancelled["rows"] == [
        {"gateway": "sandbox", "currency": "NGN"} | _sums(1, 7_000 * NGN, 0, 700 * NGN, 6_300 * NGN)
    ]
    wendy = _payouts(app, writer="wendy", status="paid")
    assert [(r["writer"], r["payouts"], r["net_minor"]) for r in wendy["rows"]] == [
        ("wendy", 2, 66_425 * NGN)
    ]
    assert _payouts(app, period="2026-04") == {
        "period": "2026-04",
        "writer": None,
        "statuses": ["requested", "approved", "sending", "paid"],
        "rows": [],
        "totals": [],
    }
    with pytest.raises(NotFound) as unknown:
        _payouts(app, writer="nobody")
    assert unknown.value.code == "USER_NOT_FOUND"
    with pytest.raises(InvalidInput):
        _payouts(app, status="lost")
    with pytest.raises(InvalidInput):
        _payouts(app, period="2026-13")


def _tax_row(
    writer: str, period: str, rate: str, gross: int, withheld: int, remitted: int
) -> dict[str, Any]:
    return {
        "writer": writer,
        "period": period,
        "country": "NG",
        "currency": "NGN",
        "rate_percent": rate,
        "payouts": 1,
        "gross_minor": gross,
        "withheld_minor": withheld,
        "remitted_minor": remitted,
        "outstanding_minor": withheld - remitted,
    }


def test_tax_per_writer_and_month_with_remittances(app: Any, story: dict[str, int]) -> None:
    report = _tax(app, year=2026)
    assert report["rows"] == [
        _tax_row("tunde", "2026-03", "10", 5_000 * NGN, 500 * NGN, 500 * NGN),
        _tax_row("wendy", "2026-03", "5", 10_000 * NGN, 500 * NGN, 500 * NGN),
        # paid 1 April: April's NG withholding is not remitted yet
        _tax_row("wendy", "2026-04", "5", 60_000 * NGN, 3_000 * NGN, 0),
    ]
    assert report["totals"] == [
        {
            "currency": "NGN",
            "payouts": 3,
            "gross_minor": 75_000 * NGN,
            "withheld_minor": 4_000 * NGN,
            "remitted_minor": 1_000 * NGN,
            "outstanding_minor": 3_000 * NGN,
        }
    ]
    assert [r["period"] for r in _tax(app, year="2026", writer="wendy")["rows"]] == [
        "2026-03",
        "2026-04",
    ]
    assert _tax(app, year=2026, country="GH")["rows"] == []
    assert _tax(app, year=2025)["rows"] == []


def test_tax_refusals(app: Any, story: dict[str, int]) -> None:
    with pytest.raises(NotFound):
        _tax(app, year=2026, writer="nobody")
    for bad in ("26", "２０２６", "1969", "year"):
        with pytest.raises(InvalidInput):
            _tax(app, year=bad)
    with pytest.raises(InvalidInput):
        _tax(app, year=2026, country="ng")
