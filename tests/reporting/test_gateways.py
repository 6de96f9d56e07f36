"""reports gateways: figures against the scripted month worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.errors import InvalidCurrency
from legato_pay.reporting.gateways import error_code, gateways_report, percent
from legato_pay.reporting.periods import parse_period
from tests.cli_runner import run_cli
from tests.reporting.ops_month import build_month

JANUARY = parse_period("2026-01")


@pytest.fixture
def month(app: Any) -> Any:
    build_month(app)
    return app


def test_payments_per_gateway_and_currency(month: Any) -> None:
    report = month.run(lambda s: gateways_report(s, window=JANUARY), write=False)
    assert report.payments == [
        {
            "gateway": "paystack",
            "currency": "NGN",
            "created": 3,
            "succeeded": 1,
            "failed": 1,
            "flagged": 1,
            "success_rate": "33.33",
            "volume_minor": 150000,
            "credit_p50_ms": 1000,
            "credit_p95_ms": 1000,
        },
        {
            # p1, p2, p4 paid (p4 refunded later: it still succeeded); p5 is February's
            "gateway": "stripe",
            "currency": "USD",
            "created": 4,
            "succeeded": 3,
            "failed": 1,
            "flagged": 0,
            "success_rate": "75.00",
            "volume_minor": 1997,
            # credited after 2, 4 and 10 s: p50 4 s; p95 at rank 1.9: 4 + 0.9 × 6 = 9.4 s
            "credit_p50_ms": 4000,
            "credit_p95_ms": 9400,
        },
    ]
    assert report.totals == {
        "created": 7,
        "succeeded": 4,
        "failed": 2,
        "success_rate": "57.14",
        "events": 5,
    }


def test_webhooks_and_errors(month: Any) -> None:
    report = month.run(lambda s: gateways_report(s, window=JANUARY), write=False)
    assert report.webhooks == [
        # applied after 0.5 and 1.5 s: p50 1 s, p95 0.5 + 0.95 × 1 = 1.45 s
        {
            "provider": "paystack",
            "events": 3,
            "applied": 2,
            "failed": 1,
            "waiting": 0,
            "apply_p50_ms": 1000,
            "apply_p95_ms": 1450,
        },
        {
            "provider": "stripe",
            "events": 2,
            "applied": 1,
            "failed": 0,
            "waiting": 1,
            "apply_p50_ms": 200,
            "apply_p95_ms": 200,
        },
    ]
    assert report.errors == [
        {
            "gateway": "paystack",
            "source": "payment",
            "code": "GATEWAY_ERROR",
            "count": 1,
            "rate": "33.33",
        },
        {
            "gateway": "paystack",
            "source": "webhook",
            "code": "VALIDATION_ERROR",
            "count": 1,
            "rate": "33.33",
        },
        {
            "gateway": "stripe",
            "source": "payment",
            "code": "card_declined",
            "count": 1,
            "rate": "25.00",
        },
    ]


def test_series_by_week_and_currency_filter(month: Any) -> None:
    report = month.run(
        lambda s: gateways_report(s, window=JANUARY, by="week", currency="ngn"), write=False
    )
    assert [row["gateway"] for row in report.payments] == ["paystack"]
    assert report.series == {
        "created": [("2026-W02", 1), ("2026-W03", 1), ("2026-W04", 1)],
        "succeeded": [("2026-W02", 1), ("2026-W03", 0), ("2026-W04", 0)],
    }
    everything = month.run(lambda s: gateways_report(s, window=JANUARY, by="week"), write=False)
    assert everything.series["created"][0] == ("2026-W02", 5)


def test_empty_period_and_bad_currency(month: Any) -> None:
    report = month.run(lambda s: gateways_report(s, window=parse_period("2025")), write=False)
    assert (report.payments, report.webhooks, report.errors) == ([], [], [])
    assert report.totals["created"] == 0 and report.totals["success_rate"] == "0.00"
    with pytest.raises(InvalidCurrency):
        month.run(lambda s: gateways_report(s, window=JANUARY, currency="XXX"), write=False)


def test_error_codes_and_percent() -> None:
    assert error_code("GATEWAY_UNAVAILABLE: Paystack timed out") == "GATEWAY_UNAVAILABLE"
    assert error_code("card_declined") == "card_declined"
    assert error_code("paid 1.00 USD, expected 2.00 USD") == "OTHER"
    assert error_code(None) == "UNKNOWN"
    assert percent(2, 3) == "66.67" and percent(1, 8) == "12.50" and percent(0, 0) == "0.00"


def test_cli_json_csv_and_bad_input(month: Any, database_url: str) -> None:
    data = run_cli(database_url, "reports", "gateways", "--period", "2026-01").json
    assert data["totals"]["created"] == 7 and data["period"] == "2026-01"
    assert data["rows"][1]["volume_minor"] == 1997
    csv = run_cli(database_url, "reports", "gateways", "--period", "2026-01", output="csv")
    lines = csv.stdout.splitlines()
    assert lines[0].startswith("gateway,currency,created") and len(lines) == 3
    assert "# total" in csv.stderr
    assert run_cli(database_url, "reports", "gateways", "--period", "2026-13").status == 3
    both = run_cli(
        database_url, "reports", "gateways", "--period", "2026-01", "--from", "2026-01-01"
    )
    assert both.status == 2
    reversed_range = run_cli(
        database_url,
        "-o",
        "json",
        "reports",
        "gateways",
        "--from",
        "2026-02-01",
        "--to",
        "2026-01-01",
    )
    assert reversed_range.error["code"] == "INVALID_TIME"
    table = run_cli(
        database_url, "reports", "gateways", "--period", "2026-01", "--chart", output="table"
    )
    assert table.status == 0 and "1,500.00 NGN" in table.stdout and "█" in table.stdout


def test_rows_per_bucket_with_by(month: Any) -> None:
    """--by day splits the payment rows (percentiles per bucket); totals stay the same."""
    report = month.run(
        lambda s: gateways_report(s, window=JANUARY, by="day", bucket_rows=True), write=False
    )
    figures = [
        (
            r["gateway"],
            r["bucket"],
            r["created"],
            r["succeeded"],
            r["failed"],
            r["flagged"],
            r["success_rate"],
            r["volume_minor"],
            r["credit_p50_ms"],
            r["credit_p95_ms"],
        )
        for r in report.payments
    ]
    assert figures == [
        ("paystack", "2026-01-10", 1, 1, 0, 0, "100.00", 150000, 1000, 1000),
        ("paystack", "2026-01-12", 1, 0, 1, 0, "0.00", 0, None, None),
        ("paystack", "2026-01-20", 1, 0, 0, 1, "0.00", 0, None, None),
        # p1, p2 credited after 2 and 4 s: p50 3 s, p95 2 + 0.95 × 2 = 3.9 s
        ("stripe", "2026-01-05", 2, 2, 0, 0, "100.00", 1498, 3000, 3900),
        ("stripe", "2026-01-06", 1, 0, 1, 0, "0.00", 0, None, None),
        ("stripe", "2026-01-07", 1, 1, 0, 0, "100.00", 499, 10000, 10000),
    ]
    plain = month.run(lambda s: gateways_report(s, window=JANUARY), write=False)
    assert report.totals == plain.totals and report.errors == plain.errors
    assert "bucket" not in plain.payments[0]
    assert report.results()[0].columns[:3] == ["gateway", "currency", "bucket"]


def test_cli_by_week_rows_json_and_csv(month: Any, database_url: str) -> None:
    args = ("reports", "gateways", "--period", "2026-01", "--currency", "NGN", "--by", "week")
    data = run_cli(database_url, *args).json
    assert [(r["bucket"], r["created"], r["volume_minor"]) for r in data["rows"]] == [
        ("2026-W02", 1, 150000),
        ("2026-W03", 1, 0),
        ("2026-W04", 1, 0),
    ]
    assert data["by"] == "week" and data["totals"]["created"] == 3
    csv = run_cli(database_url, *args, output="csv").stdout.splitlines()
    assert csv[0].startswith("gateway,currency,bucket,created,")
    assert csv[1].startswith("paystack,NGN,2026-W02,1,1,0,0,100.00,150000,")
    plain = run_cli(database_url, "reports", "gateways", "--period", "2026-01").json
    assert "bucket" not in plain["rows"][0] and plain["by"] == "day"
