"""The ``apps``, ``shares`` and ``revenue distribute|distributions`` commands as an operator runs
them: outputs, the documented exit statuses, and bad input that changes nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import run_cli
from tests.shares.helpers import counts

SETUP = [
    ["users", "add", "olga", "--writer"],
    ["users", "add", "alice", "--investor"],
    ["users", "add", "bob", "--investor"],
    ["users", "add", "rita"],
    ["apps", "add", "quill", "--name", "Quill Reader", "--owner", "olga"],
    ["shares", "issue", "--app", "quill", "--to", "alice", "--units", "600", "--key", "i-1"],
    ["shares", "issue", "--app", "quill", "--to", "bob", "--units", "401"],
]
DISTRIBUTE = ["revenue", "distribute", "--app", "quill", "--amount", "100.00", "--currency", "USD"]
DISTRIBUTE += [
    "--record-date",
    "2026-01-01",
    "--key",
    "q4",
]  # the date is replaced where it matters


def ok(url: str, *args: str, output: str = "json") -> Any:
    result = run_cli(url, *args, output=output)
    assert result.status == 0, result.stderr
    return result.json if output == "json" else result


def state_of(url: str) -> dict[str, Any]:
    """Everything the commands below could change, read straight from the database."""
    from legato_pay.context import AppContext

    return counts(AppContext.create(database_url=url, actor="test"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """The set-up run once through the commands; each test gets a copy of its database."""
    target = tmp_path_factory.mktemp("shares-cli") / "legato.db"
    shutil.copyfile(sqlite_template, target)
    for args in SETUP:
        ok(f"sqlite:///{target}", *args)
    return target


@pytest.fixture
def url(prepared: Path, tmp_path: Path) -> str:
    from legato_pay.store.engine import dispose_engines

    dispose_engines()  # a copied file under a new URL: nothing cached about another one
    shutil.copyfile(prepared, tmp_path / "legato.db")
    return f"sqlite:///{tmp_path / 'legato.db'}"


def test_apps_and_register_commands(url: str) -> None:
    shown = ok(url, "apps", "show", "quill")
    assert (shown["owner"], shown["holders"], shown["units"]) == ("olga", 2, 1001)
    assert [a["id"] for a in ok(url, "apps", "list", "--owner", "olga")] == ["quill"]
    moved = ok(
        url,
        "shares",
        "transfer",
        "--app",
        "quill",
        "--from",
        "bob",
        "--to",
        "alice",
        "--units",
        "1",
    )
    assert (moved["from"], moved["to"], moved["units"], moved["price"]) == ("bob", "alice", 1, None)
    register = ok(url, "shares", "register", "--app", "quill")
    assert register["holders"] == [
        {"investor": "alice", "units": 601, "percent": "60.0400"},
        {"investor": "bob", "units": 400, "percent": "39.9600"},
    ]
    assert ok(url, "shares", "register", "--app", "quill", "--as-of", "2020-01-01")["holders"] == []
    # CSV holds data rows only: the total goes to stderr
    csv = ok(url, "shares", "register", "--app", "quill", output="csv")
    assert csv.stdout.splitlines() == [
        "investor,units,percent",
        "alice,601,60.0400",
        "bob,400,39.9600",
    ]
    assert "# total: units 1001" in csv.stderr
    page = ok(url, "shares", "history", "--app", "quill", "--limit", "2")
    assert [m["kind"] for m in page["movements"]] == ["issue", "issue"]
    rest = ok(url, "shares", "history", "--app", "quill", "--cursor", page["next_cursor"])
    assert [m["kind"] for m in rest["movements"]] == ["transfer"] and rest["next_cursor"] is None


def test_distribute_asks_dry_runs_pays_once(url: str) -> None:
    before = state_of(url)
    record_date = datetime.now(UTC).isoformat()  # after the set-up's issues
    command = [*DISTRIBUTE[:9], record_date, *DISTRIBUTE[10:]]
    refused = run_cli(url, *command)  # no terminal, no --yes
    assert (refused.status, refused.error["code"]) == (2, "USAGE_ERROR")
    dry = ok(url, *command, "--dry-run")
    assert dry["dry_run"] is True and dry["id"] is None
    assert state_of(url) == before

    paid = ok(url, *command, "--yes")
    again = ok(url, *command)  # a replay pays nothing, so it needs no confirmation
    assert [
        (line["investor"], line["amount_minor"], line["remainder_units"]) for line in paid["lines"]
    ] == [
        ("alice", 5994, 0),
        ("bob", 4006, 1),
    ]
    assert (again["id"], again["replayed"]) == (paid["id"], True)
    balance = ok(url, "ledger", "balance", "investor:bob:earnings:USD")
    assert balance["posted_minor"] == 4006
    listed = ok(url, "revenue", "distributions", "--app", "quill")["distributions"]
    assert [(d["id"], d["amount_minor"], d["holders"]) for d in listed] == [(paid["id"], 10000, 2)]
    table = ok(url, "revenue", "distributions", "--app", "quill", output="table")
    assert "100.00 USD" in table.stdout and "10000" not in table.stdout


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["apps", "add", "quill", "--name", "Again", "--owner", "olga"], 6, "ALREADY_EXISTS"),
        (["apps", "add", "inkwell", "--name", "Ink", "--owner", "nobody"], 5, "USER_NOT_FOUND"),
        (["apps", "add", "bad id", "--name", "Ink", "--owner", "olga"], 3, "VALIDATION_ERROR"),
        (["apps", "show", "nope"], 5, "APP_NOT_FOUND"),
        (["apps", "list", "--owner", "nobody"], 5, "USER_NOT_FOUND"),
        (["shares", "issue", "--app", "nope", "--to", "alice", "--units", "5"], 5, "APP_NOT_FOUND"),
        (
            ["shares", "issue", "--app", "quill", "--to", "nobody", "--units", "5"],
            5,
            "USER_NOT_FOUND",
        ),
        (
            ["shares", "issue", "--app", "quill", "--to", "rita", "--units", "5"],
            3,
            "NOT_AN_INVESTOR",
        ),
        (
            ["shares", "issue", "--app", "quill", "--to", "alice", "--units", "0"],
            3,
            "INVALID_UNITS",
        ),
        (
            ["shares", "issue", "--app", "quill", "--to", "alice", "--units", "-3"],
            3,
            "INVALID_UNITS",
        ),
        (
            ["shares", "issue", "--app", "quill", "--to", "alice", "--units", "١٢"],
            3,
            "INVALID_UNITS",
        ),
        (
            ["shares", "issue", "--app", "quill", "--to", "bob", "--units", "5", "--key", "i-1"],
            6,
            "IDEMPOTENCY_CONFLICT",
        ),
        (
            [
                "shares",
                "transfer",
                "--app",
                "quill",
                "--from",
                "bob",
                "--to",
                "alice",
                "--units",
                "402",
            ],
            4,
            "INSUFFICIENT_UNITS",
        ),
        (
            [
                "shares",
                "transfer",
                "--app",
                "quill",
                "--from",
                "bob",
                "--to",
                "alice",
                "--units",
                "1",
                "--price",
                "5.00",
                "--currency",
                "USD",
            ],
            4,
            "INSUFFICIENT_FUNDS",
        ),
        (
            [
                "shares",
                "transfer",
                "--app",
                "quill",
                "--from",
                "bob",
                "--to",
                "alice",
                "--units",
                "1",
                "--price",
                "-5.00",
                "--currency",
                "USD",
            ],
            3,
            "INVALID_AMOUNT",
        ),
        (["shares", "register", "--app", "quill", "--as-of", "yesterday"], 3, "INVALID_TIME"),
        (["shares", "register", "--app", "nope"], 5, "APP_NOT_FOUND"),
        (["shares", "history", "--app", "quill", "--limit", str(2**63)], 3, "VALIDATION_ERROR"),
        (["shares", "history", "--app", "quill", "--cursor", "abc"], 3, "VALIDATION_ERROR"),
        ([*DISTRIBUTE[:5], "-1.00", *DISTRIBUTE[6:], "--yes"], 3, "INVALID_AMOUNT"),
        (["revenue", "distribute", "--app", "nope", *DISTRIBUTE[4:], "--yes"], 5, "APP_NOT_FOUND"),
        ([*DISTRIBUTE[:9], "2999-01-01", "--yes"], 3, "INVALID_TIME"),
        ([*DISTRIBUTE[:9], "2020-01-01", "--yes"], 6, "NO_HOLDERS"),
        (["revenue", "distributions", "--app", "nope"], 5, "APP_NOT_FOUND"),
    ],
)
def test_bad_input_exits_with_its_status_and_changes_nothing(
    url: str, args: list[str], status: int, code: str
) -> None:
    before = state_of(url)

    result = run_cli(url, *args)

    assert (result.status, result.error["code"]) == (status, code), result.stderr
    assert result.stdout == ""
    assert state_of(url) == before
