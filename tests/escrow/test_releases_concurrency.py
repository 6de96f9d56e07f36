"""Eight releases of one deposit at once, from eight processes: never more than deposited
moves, the losers answer INSUFFICIENT_FUNDS (4), the balances are exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.escrow.helpers import BIG, app_funds, balances, funded_app
from tests.readers.at_once import run_at_once


def test_eight_releases_never_overdraw(database_url: str, app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app, 100_000, "100")  # USD 1,000
    commands = [
        ["escrow", "release", str(deposit), "--milestone", "beta", "--amount", "300",
         "--key", f"k{i}", "--yes"]
        for i in range(8)
    ]  # fmt: skip
    results = run_at_once(database_url, tmp_path, commands)
    statuses = sorted(r["status"] for r in results)
    assert statuses == [0, 0, 0, 4, 4, 4, 4, 4], results
    assert balances(app, deposit) == {
        "currency": "USD", "deposited": 100_000, "released": 90_000, "refunded": 0,
        "held": 0, "available": 10_000,
    }  # fmt: skip
    assert app_funds(app) == 90_000


def test_eight_held_releases_never_overdraw(database_url: str, app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app, BIG, "100")  # USD 50,000; each asks USD 20,000 (held)
    commands = [
        ["escrow", "release", str(deposit), "--milestone", "beta", "--percentage", "40", "--yes"]
        for _ in range(8)
    ]
    results = run_at_once(database_url, tmp_path, commands)
    assert sorted(r["status"] for r in results) == [0, 0, 4, 4, 4, 4, 4, 4], results
    assert balances(app, deposit) == {
        "currency": "USD", "deposited": BIG, "released": 0, "refunded": 0,
        "held": 4_000_000, "available": 1_000_000,
    }  # fmt: skip
