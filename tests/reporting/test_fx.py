"""reports fx: rates used, volume per pair and rate age at use, on the scripted month."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.reporting.fx import fx_report
from legato_pay.reporting.periods import parse_period
from tests.cli_runner import run_cli
from tests.reporting.ops_month import RATE_SOURCE, build_month

JANUARY = parse_period("2026-01")
HOUR_MS = 3_600_000


@pytest.fixture
def month(app: Any) -> Any:
    build_month(app)
    return app


def test_pairs_rates_and_ages(month: Any) -> None:
    report = month.run(lambda s: fx_report(s, window=JANUARY), write=False)
    # q1 1 h after rate 1, q2 49 h after rate 1, q3 34 h after rate 2: p50 34 h, max 49 h
    assert report.pairs == [
        {
            "base": "USD",
            "quote": "NGN",
            "currency": "NGN",
            "conversions": 3,
            "volume_minor": 450000,
            "paid_minor": 150000,
            "age_p50_ms": 34 * HOUR_MS,
            "age_max_ms": 49 * HOUR_MS,
        }
    ]
    assert [(r["rate_id"], r["rate"], r["uses"]) for r in report.rates] == [
        (1, "1500", 2),
        (2, "1510", 1),
    ]
    assert report.rates[0]["source"] == RATE_SOURCE
    assert report.rates[0]["as_of"] == "2026-01-10T09:00:00+00:00"
    assert report.series == {
        "conversions": [("2026-01-10", 1), ("2026-01-12", 1), ("2026-01-20", 1)]
    }
    assert report.totals == {"conversions": 3, "pairs": 1, "rates_used": 2}


def test_currency_filter_and_empty_period(month: Any) -> None:
    usd = month.run(lambda s: fx_report(s, window=JANUARY, currency="USD"), write=False)
    assert usd.totals["conversions"] == 3
    cad = month.run(lambda s: fx_report(s, window=JANUARY, currency="CAD"), write=False)
    assert (cad.pairs, cad.rates, cad.totals["conversions"]) == ([], [], 0)
    december = month.run(lambda s: fx_report(s, window=parse_period("2025-12")), write=False)
    assert december.pairs == [] and december.series == {"conversions": []}


def test_cli_shapes(month: Any, database_url: str) -> None:
    data = run_cli(database_url, "reports", "fx", "--period", "2026-Q1", "--by", "month").json
    assert data["series"] == {"conversions": [["2026-01", 3]]}
    assert data["rows"][0]["volume_minor"] == 450000
    table = run_cli(database_url, "reports", "fx", "--period", "2026-01", output="table")
    assert "4,500.00 NGN" in table.stdout and "rates used" in table.stdout
    bad = run_cli(database_url, "reports", "fx", "--by", "hour")
    assert bad.status == 3 and bad.error["code"] == "VALIDATION_ERROR"


def test_pairs_per_bucket_with_by(month: Any) -> None:
    """--by week: one row per pair and ISO week, rate age per week; totals the same."""
    report = month.run(
        lambda s: fx_report(s, window=JANUARY, by="week", bucket_rows=True), write=False
    )
    names = ("quote", "bucket", "conversions", "volume_minor", "paid_minor")
    assert [tuple(r[n] for n in (*names, "age_p50_ms", "age_max_ms")) for r in report.pairs] == [
        # q1 (week 2) 1 h after rate 1, q2 (week 3) 49 h after it, q3 (week 4) 34 h after rate 2
        ("NGN", "2026-W02", 1, 150000, 150000, HOUR_MS, HOUR_MS),
        ("NGN", "2026-W03", 1, 150000, 0, 49 * HOUR_MS, 49 * HOUR_MS),
        ("NGN", "2026-W04", 1, 150000, 0, 34 * HOUR_MS, 34 * HOUR_MS),
    ]
    assert report.totals == {"conversions": 3, "pairs": 1, "rates_used": 2}


def test_cli_by_month_rows_json_and_csv(month: Any, database_url: str) -> None:
    args = ("reports", "fx", "--period", "2026-Q1", "--by", "month")
    data = run_cli(database_url, *args).json
    assert [(r["bucket"], r["conversions"]) for r in data["rows"]] == [("2026-01", 3)]
    csv = run_cli(database_url, *args, output="csv").stdout.splitlines()
    assert csv[0].startswith("base,quote,currency,bucket,conversions,")
    assert csv[1].startswith("USD,NGN,NGN,2026-01,3,450000,150000,")
