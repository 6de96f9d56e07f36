"""The escrow commands' contract: JSON on stdout, errors as one JSON document on stderr with
their documented exit status, never a traceback, nothing changed."""

from __future__ import annotations

from legato_pay.context import AppContext
from tests.cli_runner import run_cli
from tests.escrow.deposit_factory import APP, INVESTOR, app_with_investor, escrow_balance


def test_escrow_commands_print_json_and_documented_errors(database_url: str) -> None:
    app = AppContext.create(database_url=database_url, actor="test")
    app_with_investor(app)
    deposit = ["escrow", "deposit", "--app", APP, "--investor", INVESTOR, "--key", "c1"]

    unknown_app = run_cli(
        database_url, *deposit[:2], "--app", "nope", *deposit[4:], "--amount", "5"
    )
    assert unknown_app.status == 5 and unknown_app.error["code"] == "APP_NOT_FOUND"
    assert unknown_app.stdout == "" and "Traceback" not in unknown_app.stderr
    negative = run_cli(database_url, *deposit, "--amount", "-5")
    assert negative.status == 3 and negative.error["code"] == "INVALID_AMOUNT"

    created = run_cli(database_url, *deposit, "--amount", "12.50", "--units", "5")
    assert created.status == 0, created.stderr
    assert created.json["amount"] == {"amount": 1250, "currency": "USD", "display": "12.50 USD"}
    confirmed = run_cli(database_url, "escrow", "confirm", created.json["reference"])
    assert (confirmed.json["status"], confirmed.json["credited"]) == ("confirmed", True)

    too_much = run_cli(
        database_url, "escrow", "refund", str(created.json["id"]), "--amount", "13", "--reason", "x"
    )
    assert too_much.status == 4 and too_much.error["code"] == "INSUFFICIENT_FUNDS"
    missing = run_cli(database_url, "escrow", "refund", "99", "--reason", "x")
    assert missing.status == 5 and missing.error["code"] == "DEPOSIT_NOT_FOUND"
    unknown_refund = run_cli(database_url, "escrow", "refund-status", "7")
    assert unknown_refund.status == 5 and unknown_refund.error["code"] == "REFUND_NOT_FOUND"
    assert escrow_balance(app, created.json["id"]) == (1250, 1250)

    # expire-deposits: a dry run lists, the real run asks first (--yes for cron), bad input refused
    stale = ["escrow", "expire-deposits", "--older-than", "0"]
    preview = run_cli(database_url, *stale, "--dry-run")
    assert preview.status == 0 and preview.json == {"deposits": [], "counts": {}, "dry_run": True}
    refused = run_cli(database_url, *stale)  # no terminal to ask on
    assert refused.status == 2 and "--yes" in refused.error["message"]
    bad = run_cli(database_url, "escrow", "expire-deposits", "--older-than", "-1", "--yes")
    assert bad.status == 3 and bad.error["code"] == "VALIDATION_ERROR"
    done = run_cli(database_url, *stale, "--yes")
    assert done.status == 0 and done.json["deposits"] == []  # the one deposit was confirmed
