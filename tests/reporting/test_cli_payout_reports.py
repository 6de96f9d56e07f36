"""``reports payouts|tax|apps`` and ``tax certificate`` as an operator runs them: JSON documents,
CSV with data rows only (totals on stderr), the certificate's files, and exit statuses."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from legato_pay.context import AppContext
from tests.cli_runner import run_cli
from tests.reporting.payout_story import build_story


def test_reports_and_certificate_through_the_cli(database_url: str, tmp_path: Path) -> None:
    build_story(AppContext.create(database_url=database_url, actor="t"))

    doc = run_cli(database_url, "reports", "payouts", "--period", "2026-03").json
    assert [(r["gateway"], r["currency"], r["net_minor"]) for r in doc["rows"]] == [
        ("paystack", "NGN", 6_642_500),
        ("sandbox", "NGN", 450_000),
        ("sandbox", "USD", 5_000),
    ]
    as_csv = run_cli(database_url, "reports", "payouts", "--period", "2026-03", output="csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 3 and rows[0]["gross_minor"] == "7000000"
    assert list(rows[0]) == [
        "gateway", "currency", "payouts", "gross_minor", "fee_minor", "tax_minor", "net_minor",
    ]  # fmt: skip
    assert "# total: NGN gross 75,000.00 NGN" in as_csv.stderr
    table = run_cli(database_url, "reports", "payouts", "--writer", "wendy", output="table")
    assert "66,425.00 NGN" in table.stdout and "6642500" not in table.stdout

    tax = run_cli(database_url, "reports", "tax", "--year", "2026", output="csv")
    tax_rows = list(csv.DictReader(io.StringIO(tax.stdout)))
    assert [(r["writer"], r["period"], r["outstanding_minor"]) for r in tax_rows] == [
        ("tunde", "2026-03", "0"),
        ("wendy", "2026-03", "0"),
        ("wendy", "2026-04", "300000"),
    ]
    assert "NGN outstanding 3,000.00 NGN" in tax.stderr

    out = tmp_path / "wendy.json"
    made = run_cli(database_url, "tax", "certificate", "--writer", "wendy", "--year", "2026",
                   "--out", str(out))  # fmt: skip
    assert made.status == 0 and made.json["files"] == [str(out)]
    assert json.loads(out.read_text())["totals"][0]["withheld_minor"] == 350_000

    assert run_cli(database_url, "reports", "apps").json["rows"] == []
    for args, status, code in (
        (["reports", "payouts", "--writer", "nobody"], 5, "USER_NOT_FOUND"),
        (["reports", "payouts", "--status", "lost"], 3, "VALIDATION_ERROR"),
        (["reports", "tax", "--year", "20x6"], 3, "VALIDATION_ERROR"),
        (["reports", "apps", "--app", "nope"], 5, "APP_NOT_FOUND"),
        (["tax", "certificate", "--writer", "nobody", "--year", "2026", "--out",
          str(tmp_path / "x")], 5, "USER_NOT_FOUND"),
    ):  # fmt: skip
        result = run_cli(database_url, *args)
        assert (result.status, result.error["code"]) == (status, code), args
    assert not (tmp_path / "x.html").exists()
