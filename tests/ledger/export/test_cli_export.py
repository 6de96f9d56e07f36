"""``legato-pay ledger export`` as an operator runs it: a file or stdout, and its refusals."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import run_cli
from tests.ledger.export.books import check_beancount, check_hledger


def _seed(url: str) -> None:
    for args in (
        ("ledger", "open", "ops:float", "--currency", "USD", "--normal", "debit"),
        ("ledger", "post", "--from", "ops:float", "--to", "world:USD", "--amount", "12.34",
         "-c", "USD", "--reason", 'float "in"; first'),
        ("ledger", "post", "--from", "ops:float", "--to", "world:USD", "--amount", "1.00",
         "-c", "USD", "--pending"),
    ):  # fmt: skip
        assert run_cli(url, *args).status == 0


def test_export_writes_the_books_to_a_file(sqlite_url: str, tmp_path: Path) -> None:
    _seed(sqlite_url)
    books = tmp_path / "out" / "books.beancount"
    books.parent.mkdir()
    result = run_cli(sqlite_url, "ledger", "export", "--format", "beancount", "--out", str(books))
    assert result.status == 0, result.stderr
    assert {k: result.json[k] for k in ("format", "entries", "legs", "accounts", "file")} == {
        "format": "beancount",
        "entries": 1,  # the pending reservation moves nothing yet
        "legs": 2,
        "accounts": 2,
        "file": str(books),
    }
    assert len(check_beancount(books)) == 2
    assert [p.name for p in books.parent.iterdir()] == ["books.beancount"]  # no temporary left


def test_export_to_stdout_prints_only_the_books(sqlite_url: str, tmp_path: Path) -> None:
    _seed(sqlite_url)
    result = run_cli(sqlite_url, "ledger", "export", "--format", "hledger", output="table")
    assert result.status == 0, result.stderr
    journal = tmp_path / "books.journal"
    journal.write_text(result.stdout)
    assert check_hledger(journal) == {
        "Assets:Other:Ops-float--" + result.stdout.split("Assets:Other:Ops-float--")[1][:10]: 1234,
        "Equity:World:USD": -1234,
    }
    legs = run_cli(
        sqlite_url, "ledger", "export", "--format", "csv", "--to", "2000-01-01", output="csv"
    )
    assert legs.stdout == "entry_id,created_at,account,currency,debit_minor,credit_minor\n"


def test_export_refusals_are_documented_statuses(sqlite_url: str, tmp_path: Path) -> None:
    reversed_range = run_cli(
        sqlite_url, "ledger", "export", "--format", "csv",
        "--from", "2026-02-01", "--to", "2026-01-01",
    )  # fmt: skip
    assert (reversed_range.status, reversed_range.error["code"]) == (3, "INVALID_TIME")
    unknown = run_cli(sqlite_url, "ledger", "export", "--format", "xlsx")
    assert (unknown.status, unknown.error["code"]) == (3, "VALIDATION_ERROR")
    nowhere = run_cli(
        sqlite_url, "ledger", "export", "--format", "csv",
        "--out", str(tmp_path / "missing" / "books.csv"),
    )  # fmt: skip
    assert (nowhere.status, nowhere.error["code"]) == (3, "VALIDATION_ERROR")
    device = run_cli(sqlite_url, "ledger", "export", "--format", "csv", "--out", "/dev/null")
    assert (device.status, device.error["code"]) == (3, "VALIDATION_ERROR")
    assert Path("/dev/null").is_char_device()  # refused, never replaced
    # under --output json stdout is the summary's: the books need a file
    no_file = run_cli(sqlite_url, "ledger", "export", "--format", "csv")
    assert (no_file.status, no_file.error["code"]) == (2, "USAGE_ERROR")
    for refused in (reversed_range, unknown, nowhere, device, no_file):
        assert refused.stdout == "" and "Traceback" not in refused.stderr
