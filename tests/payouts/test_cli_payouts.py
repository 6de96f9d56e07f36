"""``legato-pay payouts …`` as an operator runs it: exit statuses, --yes, formats, and a scan
of every output for secrets (the encryption key, full account numbers, recipient codes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli_runner import CliResult, run_cli
from tests.factories import add_users
from tests.fakes.paystack import FakePaystack
from tests.payouts.helpers import KEY, available, counts, earn

NUBAN = "0123456789"
SANDBOX_NUMBER = "4444333322221111"


@pytest.fixture
def paystack() -> Iterator[tuple[FakePaystack, str]]:
    fake = FakePaystack()
    fake.add_bank_account("058", NUBAN, "WENDY WRITER")
    with fake.serve() as base_url:
        yield fake, base_url


class Operator:
    """Runs commands with the key and Paystack set, keeping every output for the scan."""

    def __init__(self, database_url: str, base_url: str, secret: str) -> None:
        self.url = database_url
        self.env = {
            "LEGATO_ENCRYPTION_KEY": KEY,
            "PAYSTACK_SECRET_KEY": secret,
            "PAYSTACK_BASE_URL": base_url,
        }
        self.seen: list[str] = []

    def __call__(self, *args: str, output: str = "json", **env: str) -> CliResult:
        result = run_cli(self.url, *args, output=output, **{**self.env, **env})
        self.seen += [result.stdout, result.stderr]
        return result


@pytest.fixture
def operator(database_url: str, paystack: tuple[FakePaystack, str]) -> Operator:
    fake, base_url = paystack
    return Operator(database_url, base_url, fake.secret_key)


def test_payouts_end_to_end_without_a_secret_in_any_output(
    app: Any, operator: Operator, paystack: tuple[FakePaystack, str]
) -> None:
    fake, _ = paystack
    add_users(app, wendy="writer", sam="writer")
    earn(app, "wendy", "NGN", posted=100_000_00)

    bank = operator(
        "payouts",
        "methods",
        "add",
        "--writer",
        "wendy",
        "--type",
        "bank",
        "--bank-code",
        "058",
        "--account-number",
        NUBAN,
        "--currency",
        "NGN",
    )
    assert bank.status == 0, bank.stderr
    assert bank.json["account"] == "****6789" and bank.json["account_name"] == "WENDY WRITER"
    sandbox = operator(
        "payouts",
        "methods",
        "add",
        "--writer",
        "sam",
        "--type",
        "sandbox",
        "--currency",
        "NGN",
        "--account-number",
        SANDBOX_NUMBER,
    )
    assert sandbox.status == 0, sandbox.stderr
    stripe = operator(
        "payouts",
        "methods",
        "add",
        "--writer",
        "sam",
        "--type",
        "stripe",
        "--currency",
        "USD",
        "--account",
        "acct_1SecretAcct99",
    )
    assert stripe.status == 0 and stripe.json["account"] == "****ct99"

    request = operator(
        "payouts", "request", "--writer", "wendy", "--amount", "20000.00", "--currency", "NGN"
    )
    assert request.status == 0, request.stderr
    payout = request.json
    assert payout["status"] == "requested"  # the bank method is new: approval needed
    assert (payout["gross"]["amount"], payout["fee"]["amount"], payout["net"]["amount"]) == (
        2_000_000,
        2_500,
        1_997_500,
    )
    for output in ("table", "csv", "json"):
        for args in (
            ("payouts", "methods", "list"),
            ("payouts", "list", "--writer", "wendy"),
            ("payouts", "show", str(payout["id"])),
        ):
            assert operator(*args, output=output).status == 0
    table = operator("payouts", "show", str(payout["id"]), output="table")
    assert "20,000.00 NGN" in table.stdout and "2000000" not in table.stdout

    refused = operator("payouts", "cancel", str(payout["id"]))  # no terminal, no --yes
    assert refused.status == 2
    assert available(app, "wendy") == 80_000_00
    cancelled = operator("payouts", "cancel", str(payout["id"]), "--yes")
    assert cancelled.status == 0 and cancelled.json["status"] == "cancelled"
    assert available(app, "wendy") == 100_000_00
    again = operator("payouts", "cancel", str(payout["id"]), "--yes")
    assert again.status == 6 and again.error["code"] == "INVALID_STATE"

    # refusals, with --debug too: still nothing secret
    unresolvable = operator(
        "--debug",
        "payouts",
        "methods",
        "add",
        "--writer",
        "wendy",
        "--type",
        "bank",
        "--bank-code",
        "058",
        "--account-number",
        "9876543210",
        "--currency",
        "NGN",
    )
    assert unresolvable.status == 7
    operator("payouts", "methods", "rotate-keys")
    removed = operator("payouts", "methods", "remove", str(bank.json["id"]), "--yes")
    assert removed.status == 0 and removed.json["status"] == "removed"

    recipients = [r["recipient_code"] for r in fake.recipients.values()]
    everything = "\n".join(operator.seen)
    for secret in (
        KEY,
        NUBAN,
        "9876543210",
        SANDBOX_NUMBER,
        "acct_1SecretAcct99",
        fake.secret_key,
        *recipients,
    ):
        assert secret not in everything


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["--amount", "4999.99"], 3, "BELOW_MINIMUM"),
        (["--amount", "-5000"], 3, "INVALID_AMOUNT"),
        (["--amount", "6000", "--currency", "EUR"], 3, "INVALID_CURRENCY"),
        (["--amount", "6000", "--method", "42"], 5, "PAYOUT_METHOD_NOT_FOUND"),
        (["--amount", "6000", "--writer", "nobody"], 5, "USER_NOT_FOUND"),
        (["--amount", "999999"], 4, "INSUFFICIENT_FUNDS"),
        (["--all", "--amount", "6000"], 2, "USAGE_ERROR"),
    ],
)
def test_bad_requests_exit_with_their_status_and_change_nothing(
    app: Any, operator: Operator, args: list[str], status: int, code: str
) -> None:
    add_users(app, wendy="writer")
    earn(app, "wendy", "NGN", posted=100_000_00)
    assert (
        operator(
            "payouts",
            "methods",
            "add",
            "--writer",
            "wendy",
            "--type",
            "sandbox",
            "--currency",
            "NGN",
        ).status
        == 0
    )
    before = counts(app)
    base = {"--writer": "wendy", "--currency": "NGN"}
    for flag in ("--writer", "--currency"):
        if flag in args:
            base.pop(flag)
    argv = ["payouts", "request", *[x for pair in base.items() for x in pair], *args]
    result = operator(*argv)
    assert result.status == status, result.stderr
    assert result.stdout == "" and result.error["code"] == code
    assert counts(app) == before


def test_missing_encryption_key_is_config_error(app: Any, operator: Operator) -> None:
    add_users(app, wendy="writer")
    result = operator(
        "payouts",
        "methods",
        "add",
        "--writer",
        "wendy",
        "--type",
        "sandbox",
        "--currency",
        "NGN",
        LEGATO_ENCRYPTION_KEY="",
    )
    assert result.status == 10 and result.error["code"] == "CONFIG_ERROR"
    assert counts(app)["payout_methods"] == 0
    rotate = operator("payouts", "methods", "rotate-keys", LEGATO_ENCRYPTION_KEY="")
    assert rotate.status == 10 and rotate.error["code"] == "CONFIG_ERROR"


def test_unknown_filters_and_ids(app: Any, operator: Operator) -> None:
    assert operator("payouts", "list", "--writer", "nobody").status == 5
    assert operator("payouts", "list", "--status", "lost").status == 3
    assert operator("payouts", "show", "7").error["code"] == "PAYOUT_NOT_FOUND"
    assert operator("payouts", "show", str(2**63)).status == 3
    assert operator("payouts", "methods", "remove", "٣", "--yes").status == 3
    assert operator("payouts", "methods", "list", "--writer", "nobody").status == 5
    listed = operator("payouts", "list")
    assert json.loads(listed.stdout) == {"payouts": [], "next_cursor": None}
