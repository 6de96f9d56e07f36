"""Licensing and ads receipts: split by config, keyed, imported all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from legato_pay import chart
from tests.cli_runner import run_cli
from tests.factories import add_content, assert_ledger_ok, balance, make_users, snapshot


@pytest.fixture
def writers(app: Any) -> Any:
    make_users(app, "wendy", "walt", kind="writer")
    make_users(app, "rita")
    add_content(app, "ch-1", "wendy")
    return app


def _earned(app: Any, writer: str, currency: str = "USD") -> tuple[int, int]:
    found = balance(app, chart.writer_earnings(writer, currency))
    return found.posted, found.pending


def test_licensing_is_split_85_15_and_a_repeat_changes_nothing(
    writers: Any, database_url: str
) -> None:
    args = [
        "revenue", "record", "--stream", "licensing", "--writer", "wendy", "--content", "ch-1",
        "--amount", "100.01", "--currency", "USD", "--source", "Audible option", "--key", "lic-1",
    ]  # fmt: skip
    first = run_cli(database_url, *args)
    assert first.status == 0, first.stderr
    # 10001 × 0.85 = 8500.85 and × 0.15 = 1500.15: floors 8500 + 1500, the unit to .85
    assert first.json["writer_share"]["amount"] == 8501
    assert first.json["platform_share"]["amount"] == 1500
    assert _earned(writers, "wendy") == (0, 8501)  # under the refund hold
    assert balance(writers, chart.platform_revenue("licensing", "USD")).posted == 1500
    received = balance(writers, chart.revenue_receipts("licensing", "USD"))
    assert received.posted + received.pending == 10001  # the writer's part is pending
    before = snapshot(writers)
    again = run_cli(database_url, *args)
    assert again.status == 0 and again.json["replayed"] is True
    assert snapshot(writers) == before
    changed = run_cli(database_url, *[a if a != "100.01" else "100.02" for a in args])
    assert changed.status == 6 and changed.error["code"] == "IDEMPOTENCY_CONFLICT"
    assert snapshot(writers) == before
    assert_ledger_ok(writers)


def test_ads_split_60_40(writers: Any, database_url: str) -> None:
    result = run_cli(
        database_url, "revenue", "record", "--stream", "ads", "--writer", "walt",
        "--amount", "0.05", "--currency", "USD", "--source", "ad network", "--key", "ads-1",
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert (result.json["writer_share"]["amount"], result.json["platform_share"]["amount"]) == (
        3,
        2,
    )


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"--amount": "-5"}, 3, "INVALID_AMOUNT"),
        ({"--amount": "0"}, 3, "INVALID_AMOUNT"),
        ({"--amount": "1.001"}, 3, "INVALID_AMOUNT"),
        ({"--currency": "XXX"}, 3, "INVALID_CURRENCY"),
        ({"--stream": "royalties"}, 3, "VALIDATION_ERROR"),
        ({"--writer": "nobody"}, 5, "USER_NOT_FOUND"),
        ({"--writer": "rita"}, 3, "NOT_A_WRITER"),
        ({"--writer": "walt", "--content": "ch-1"}, 3, "VALIDATION_ERROR"),  # wendy's work
        ({"--content": "missing"}, 5, "CONTENT_NOT_FOUND"),
        ({"--source": " "}, 3, "VALIDATION_ERROR"),
        ({"--key": " "}, 3, "INVALID_IDEMPOTENCY_KEY"),
    ],
)
def test_bad_receipts_exit_with_their_status_and_change_nothing(
    writers: Any, database_url: str, change: dict[str, str], status: int, code: str
) -> None:
    options = {
        "--stream": "licensing",
        "--writer": "wendy",
        "--amount": "10",
        "--currency": "USD",
        "--source": "x",
        "--key": "k",
        **change,
    }
    before = snapshot(writers)
    result = run_cli(
        database_url, "revenue", "record", *[part for pair in options.items() for part in pair]
    )
    assert result.status == status, result.stderr
    assert result.error["code"] == code
    assert snapshot(writers) == before


CSV = """stream,writer,content,amount,currency,source,key
licensing,wendy,ch-1,10.01,USD,film option,r-1
ads,walt,,3.33,USD,banner,r-2
ads,wendy,,7,NGN,banner,r-3
"""


def test_a_file_imported_twice_changes_nothing(
    writers: Any, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "receipts.csv"
    path.write_text(CSV)
    first = run_cli(database_url, "revenue", "import", str(path))
    assert first.status == 0, first.stderr
    assert first.json == {
        "imported": 3,
        "replayed": 0,
        "amounts_minor": {"USD": 1334, "NGN": 700},
    }
    before = snapshot(writers)
    second = run_cli(database_url, "revenue", "import", str(path))
    assert second.json["imported"] == 0 and second.json["replayed"] == 3
    assert snapshot(writers) == before
    # 333 × 0.6 = 199.8 and × 0.4 = 133.2: floors 199 + 133, the unit to .8
    assert _earned(writers, "walt") == (0, 200)
    assert_ledger_ok(writers)


@pytest.mark.parametrize(
    ("row", "line", "status"),
    [
        ("ads,walt,,-1,USD,banner,r-9", 3, 3),
        ("ads,walt,,1,USD,banner,r-1", 3, 3),  # the same key twice in one file
        ("ads,nobody,,1,USD,banner,r-9", 3, 3),
        ("ads,walt,,1,USD,banner", 3, 3),
    ],
)
def test_a_bad_row_names_its_line_and_nothing_is_applied(
    writers: Any, database_url: str, tmp_path: Path, row: str, line: int, status: int
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV.splitlines()[0] + "\n" + CSV.splitlines()[1] + "\n" + row + "\n")
    before = snapshot(writers)
    result = run_cli(database_url, "revenue", "import", str(path))
    assert result.status == status, result.stderr
    assert result.error["code"] == "INVALID_ROW"
    assert result.error["details"]["line"] == line
    assert snapshot(writers) == before


def test_a_csv_the_csv_module_cannot_read_is_invalid_csv_naming_the_line() -> None:
    from legato_pay.errors import InvalidInput
    from legato_pay.revenue.receipts import read_receipts_csv

    header = "stream,writer,content,amount,currency,source,key\n"
    with pytest.raises(InvalidInput) as raised:
        read_receipts_csv(header + "ads,w,,1.00,USD," + "x" * 140_000 + ",k\n")
    assert (raised.value.code, raised.value.details["line"]) == ("INVALID_CSV", 2)
