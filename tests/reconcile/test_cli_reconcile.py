"""``legato-pay reconcile`` end to end: clean → 0, discrepancies → 12 after the report, runs
stored and read back, bad input refused with its documented status and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legato_pay.ledger.types import utcnow
from legato_pay.readers import purchases
from legato_pay.readers.users import add_user
from tests.cli_runner import run_cli
from tests.fakes.paystack import FakePaystack
from tests.reconcile.helpers import book


@pytest.fixture
def paystack() -> Iterator[tuple[FakePaystack, str]]:
    fake = FakePaystack()
    with fake.serve() as base_url:
        yield fake, base_url


def day() -> str:
    return utcnow().strftime("%Y-%m-%d")


def test_a_clean_sandbox_run_exits_0_and_is_stored(app: Any, database_url: str) -> None:
    app.run(lambda s: add_user(s, "reader-1"))
    created = purchases.create_purchase(app, user_id="reader-1", package_id="popular")
    purchases.verify_purchase(app, created.purchase.reference)
    result = run_cli(
        database_url, "reconcile", "--gateway", "sandbox", "--from", day(), "--to", day()
    )
    assert result.status == 0, result.stderr
    report = result.json
    assert report["status"] == "clean" and report["counts"]["matched"] == 1
    assert report["items"][0]["ledger"]["amount"] == report["items"][0]["gateway"]["amount"]
    listed = run_cli(database_url, "reconcile", "list").json["runs"]
    assert [run["id"] for run in listed] == [report["id"]]


def test_discrepancies_exit_12_after_the_report(
    app: Any, database_url: str, paystack: tuple[FakePaystack, str]
) -> None:
    fake, base_url = paystack
    fake.add_transaction("T-orphan", 250_000, metadata={"reference": "pur_orphan"})
    book(app, "paystack", 99_000, "NGN", at=utcnow(), reference="pur_ghost")
    env = {"PAYSTACK_SECRET_KEY": fake.secret_key, "PAYSTACK_BASE_URL": base_url}
    args = ["reconcile", "--gateway", "paystack", "--from", day(), "--to", day()]
    result = run_cli(database_url, *args, **env)
    assert result.status == 12
    assert result.error["code"] == "RECONCILE_DISCREPANCIES"
    report = result.json
    assert report["status"] == "discrepancies"
    assert report["counts"]["missing_in_ledger"] == report["counts"]["missing_at_gateway"] == 1
    shown = run_cli(
        database_url, "reconcile", "show", str(report["id"]), "--kind", "missing_in_ledger"
    )
    assert shown.status == 0
    assert [i["reference"] for i in shown.json["items"]] == ["pur_orphan"]
    ghost = run_cli(
        database_url, "reconcile", "show", str(report["id"]), "--kind", "missing_at_gateway"
    )
    assert [i["reference"] for i in ghost.json["items"]] == ["pur_ghost"]
    table = run_cli(database_url, *args, output="table", **env)
    assert table.status == 12 and "missing_at_gateway" in table.stdout
    assert "RECONCILE_DISCREPANCIES" in table.stderr


def test_bad_input_is_refused_and_nothing_is_stored(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "export.csv"
    bad.write_text("reference,amount,currency,status,paid_at\nT-1,12.345,NGN,success,2026-11-30\n")
    cases = [
        (["--gateway", "sandbox", "--from", "2026-11-30", "--to", "2026-11-01"], 3, "INVALID_TIME"),
        (
            ["--gateway", "bitpay", "--from", "2026-11-01", "--to", "2026-11-30"],
            3,
            "VALIDATION_ERROR",
        ),
        (
            [
                "--gateway",
                "paystack",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
                "--file",
                str(bad),
            ],
            3,
            "INVALID_CSV",
        ),
        (["--gateway", "sandbox", "--from", "2026-11-01"], 2, "USAGE_ERROR"),
    ]
    for args, status, code in cases:
        result = run_cli(database_url, "reconcile", *args)
        assert (result.status, result.error["code"]) == (status, code), result.stderr
    assert "line 2" in run_cli(database_url, "reconcile", *cases[2][0]).error["message"]
    assert run_cli(database_url, "reconcile", "list").json["runs"] == []
    missing = run_cli(database_url, "reconcile", "show", "7")
    assert (missing.status, missing.error["code"]) == (5, "RUN_NOT_FOUND")
