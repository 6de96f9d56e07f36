"""``escrow show|list|releases`` and ``reports escrow`` as operators run them, plus the CLI's
statuses for the escrow commands (JSON errors on stderr, flags through the environment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from legato_pay.errors import LegatoError, Unauthorized
from legato_pay.escrow.releases import list_releases
from legato_pay.escrow.show import list_deposits
from tests.cli_runner import CliResult, run_cli
from tests.escrow.deposit_factory import Keys
from tests.escrow.helpers import BIG, approve, balances, funded_app, release, tales_deposit


def cli(url: str, *args: str, actor: str = "ops", **env: str) -> CliResult:
    return run_cli(url, *args, LEGATO_ACTOR=actor, **env)


def test_release_approve_show_and_report(database_url: str, app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app, BIG, "40")
    keys = Keys(app, tmp_path)
    made = cli(database_url, "escrow", "release", str(deposit), "--milestone", "beta",
               "--key", "k1", "--yes", actor="maker")  # fmt: skip
    assert made.status == 0, made.stderr
    assert (made.json["status"], made.json["amount_minor"]) == ("held", 2_000_000)
    release = str(made.json["id"])
    own = cli(database_url, "escrow", "approve", release, "--key-file", keys["carol"],
              actor="maker")  # fmt: skip
    assert (own.status, own.error["code"]) == (8, "UNAUTHORIZED")
    with pytest.raises(Unauthorized):  # a key on no list (the CLI's exit 8 is checked above)
        approve(app, int(release), keys, "mallory")
    for who in ("carol", "dave"):
        signed = cli(database_url, "escrow", "approve", release, "--key-file", keys[who],
                     actor=f"{who}-laptop")  # fmt: skip
        assert signed.status == 0, signed.stderr
    assert signed.json["status"] == "posted" and signed.json["approval"]["posted_now"]

    shown = cli(database_url, "escrow", "show", str(deposit))
    assert shown.status == 0, shown.stderr
    assert {k: shown.json["balances"][k] for k in ("deposited", "released", "held", "available")} == {
        "deposited": BIG, "released": 2_000_000, "held": 0, "available": BIG - 2_000_000,
    }  # fmt: skip
    actions = [(step["action"], step["actor"]) for step in shown.json["timeline"]]
    assert ("release_held", "maker") in actions
    assert ("signature", "carol-laptop") in actions and ("released", "dave-laptop") in actions
    table = cli(database_url, "escrow", "show", str(deposit), output="table")
    assert table.status == 0 and "released 20,000.00 USD" in table.stdout

    report = cli(database_url, "reports", "escrow", "--app", "tales")
    assert report.status == 0, report.stderr
    (row,) = report.json["rows"]
    assert (row["deposited_minor"], row["released_minor"], row["held_minor"]) == (
        BIG, 2_000_000, 0,
    )  # fmt: skip
    assert report.json["totals"]["USD"]["released_minor"] == 2_000_000
    csv = cli(database_url, "reports", "escrow", output="csv")
    assert csv.status == 0 and csv.stdout.splitlines()[0].startswith("period,app,currency")
    assert "# total" in csv.stderr and "total" not in csv.stdout
    bad = cli(database_url, "reports", "escrow", "--period", "2026-13")
    assert (bad.status, bad.error["code"]) == (3, "INVALID_PERIOD")
    unknown = cli(database_url, "reports", "escrow", "--app", "nope")
    assert (unknown.status, unknown.error["code"]) == (5, "APP_NOT_FOUND")


def test_list_pages_and_filters(database_url: str, app: Any) -> None:
    funded_app(app)
    for _ in range(2):
        tales_deposit(app)
    tales_deposit(app, confirmed=False)
    first = cli(database_url, "escrow", "list", "--app", "tales", "--limit", "2")
    assert first.status == 0, first.stderr
    assert len(first.json["deposits"]) == 2 and first.json["next_cursor"]
    rest = cli(database_url, "escrow", "list", "--limit", "2", "--cursor",
               first.json["next_cursor"])  # fmt: skip
    assert [d["status"] for d in rest.json["deposits"]] == ["confirmed", "pending"]
    assert rest.json["next_cursor"] is None
    pending = cli(database_url, "escrow", "list", "--status", "pending", "--investor", "ivan")
    assert len(pending.json["deposits"]) == 1
    for filters, code in (
        ({"app": "nope"}, "APP_NOT_FOUND"),
        ({"investor": "nobody"}, "USER_NOT_FOUND"),
        ({"status": "weird"}, "VALIDATION_ERROR"),
    ):
        with pytest.raises(LegatoError) as failed:
            app.run(lambda s, f=filters: list_deposits(s, **f), write=False)
        assert failed.value.code == code
    release(app, 1, amount="10")
    listed = cli(database_url, "escrow", "releases", "--deposit", "1", "--status", "posted")
    assert [r["amount_minor"] for r in listed.json["releases"]] == [1000]
    missing = cli(database_url, "escrow", "releases", "--deposit", "99")
    assert (missing.status, missing.error["code"]) == (5, "DEPOSIT_NOT_FOUND")


def test_cli_statuses_and_flags(database_url: str, app: Any) -> None:
    deposit = funded_app(app)
    over = cli(database_url, "escrow", "milestones", "add", "--app", "tales", "--name", "x",
               "--percent", "60.01")  # fmt: skip
    assert (over.status, over.error["code"]) == (3, "MILESTONES_OVER_100")
    listed = cli(database_url, "escrow", "milestones", "list", "--app", "tales")
    assert listed.json["total_percent"] == "40"
    off = cli(database_url, "escrow", "dispute", "open", str(deposit), "--reason", "x",
              LEGATO_ENABLE_DISPUTE_RESOLUTION="false")  # fmt: skip
    assert (off.status, off.error["code"]) == (14, "FEATURE_DISABLED")
    opened = cli(database_url, "escrow", "dispute", "open", str(deposit), "--reason", "x")
    assert opened.status == 0, opened.stderr
    asked = cli(database_url, "escrow", "release", str(deposit), "--milestone", "beta")
    assert (asked.status, asked.error["code"]) == (2, "USAGE_ERROR")  # no terminal, no --yes
    frozen = cli(database_url, "escrow", "release", str(deposit), "--milestone", "beta", "--yes")
    assert (frozen.status, frozen.error["code"]) == (6, "DEPOSIT_IN_DISPUTE")
    split = cli(database_url, "escrow", "dispute", "resolve", str(opened.json["id"]),
                "--split", "70/20", "--reason", "x")  # fmt: skip
    assert (split.status, split.error["code"]) == (3, "VALIDATION_ERROR")
    threshold = cli(database_url, "escrow", "milestones", "add", "--app", "tales", "--name",
                    "y", "--percent", "10", ESCROW_RELEASE_THRESHOLD="ten")  # fmt: skip
    assert (threshold.status, threshold.error["code"]) == (10, "CONFIG_ERROR")


def test_approving_an_expired_release_exits_6(database_url: str, app: Any, tmp_path: Path) -> None:
    from datetime import timedelta

    from legato_pay.ledger.types import utcnow

    deposit = funded_app(app, BIG, "40")
    keys = Keys(app, tmp_path)
    old = release(app, deposit, now=utcnow() - timedelta(hours=80)).id
    late = cli(database_url, "escrow", "approve", str(old), "--key-file", keys["carol"])
    assert (late.status, late.error["code"]) == (6, "RELEASE_EXPIRED")
    expired, _ = app.run(lambda s: list_releases(s, status="expired"), write=False)
    assert [r.id for r in expired] == [old]  # the expiry was kept
    assert (balances(app, deposit)["held"], balances(app, deposit)["available"]) == (0, BIG)
