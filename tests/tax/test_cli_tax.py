"""``payouts tax-profile|tax-profiles`` (through ``commands.tax_profile.register``, as the payouts
group wires it) and ``tax remit|remittances`` as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer

from commands.tax_profile import register
from legato_pay.errors import LegatoError
from tests.cli_runner import run_cli
from tests.readers.at_once import run_at_once as run_together
from tests.tax.helpers import post_withholding


def run_payouts(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, Any]:
    """``legato-pay -o json payouts ARGS`` in-process, with the error boundary's statuses."""
    from commands.main import main as global_options
    from commands.output import report_error

    cli = typer.Typer()
    cli.callback()(global_options)
    payouts = typer.Typer()
    register(payouts)
    cli.add_typer(payouts, name="payouts")
    argv = ["--db", url, "--output", "json", "--actor", "ops", "payouts", *args]
    capsys.readouterr()
    try:
        cli(args=argv, prog_name="legato-pay", standalone_mode=False)
        status = 0
    except LegatoError as error:
        status = report_error(error, argv)
    out, err = capsys.readouterr()
    return status, json.loads(out or err)


def test_tax_profile_set_show_list(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(database_url, "users", "add", "wendy", "--writer").status == 0
    status, doc = run_payouts(
        capsys, database_url, "tax-profile", "--writer", "wendy", "--country", "NG",
        "--type", "individual", "--tin", "12345678-0001",
    )  # fmt: skip
    assert status == 0 and doc["rate_percent"] == "5" and doc["tin"] == "12345678-0001"
    status, doc = run_payouts(capsys, database_url, "tax-profile", "--writer", "wendy")
    assert status == 0 and (doc["country"], doc["type"]) == ("NG", "individual")
    status, doc = run_payouts(capsys, database_url, "tax-profiles", "--country", "NG")
    assert status == 0 and [row["writer"] for row in doc] == ["wendy"]

    status, doc = run_payouts(
        capsys, database_url, "tax-profile", "--writer", "wendy", "--country", "NG",
        "--type", "individual", "--tin", "123",
    )  # fmt: skip
    assert status == 3 and doc["error"]["code"] == "INVALID_TIN"
    status, doc = run_payouts(
        capsys, database_url, "tax-profile", "--writer", "nobody", "--country", "NG",
        "--type", "individual",
    )  # fmt: skip
    assert status == 5 and doc["error"]["code"] == "USER_NOT_FOUND"
    status, doc = run_payouts(capsys, database_url, "tax-profile", "--writer", "wendy", "--type", "corporate")  # fmt: skip
    assert status == 2
    status, doc = run_payouts(capsys, database_url, "tax-profile", "--writer", "wendy")
    assert doc["tin"] == "12345678-0001" and doc["type"] == "individual"  # nothing changed


def _withheld(url: str, amount: int) -> None:
    from legato_pay.context import AppContext

    post_withholding(
        AppContext.create(database_url=url, actor="t"), amount, datetime(2026, 6, 5, tzinfo=UTC)
    )


def test_tax_remit(database_url: str) -> None:
    _withheld(database_url, 52_500)
    remit = ["tax", "remit", "--country", "NG", "--period", "2026-06", "--reference", "R-1"]
    unconfirmed = run_cli(database_url, *remit)
    assert unconfirmed.status == 2
    done = run_cli(database_url, *remit, "--yes")
    assert done.status == 0, done.stderr
    [row] = done.json["remittances"]
    assert (row["amount_minor"], row["due_date"], row["currency"]) == (52_500, "2026-07-21", "NGN")
    twice = run_cli(database_url, *remit[:-1], "R-2", "--yes")
    assert twice.status == 6 and twice.error["code"] == "ALREADY_EXISTS"
    table = run_cli(database_url, "tax", "remittances", output="table")
    assert "525.00 NGN" in table.stdout and "52500" not in table.stdout
    listed = run_cli(database_url, "tax", "remittances", "--country", "NG")
    assert [r["reference"] for r in listed.json] == ["R-1"]
    early = run_cli(database_url, *remit[:5], "2999-01", *remit[6:], "--yes")
    assert early.status == 6 and early.error["code"] == "PERIOD_OPEN"


def test_concurrent_remits_pay_once(database_url: str, tmp_path: Path) -> None:
    _withheld(database_url, 10_000)
    remit = ["tax", "remit", "--country", "NG", "--period", "2026-06", "--yes", "--reference"]
    results = run_together(database_url, tmp_path, [[*remit, ref] for ref in "ABCD"])
    assert sorted(r["status"] for r in results) == [0, 6, 6, 6], results
    balance = run_cli(database_url, "ledger", "balance", "tax:withholding:NG:NGN")
    assert balance.status == 0, balance.stderr
    assert balance.json["posted_minor"] == 0
