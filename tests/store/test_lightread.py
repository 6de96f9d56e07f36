"""The light read path: plain SQL on sqlite3 for an up-to-date file, the full path for the rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from legato_pay import ledger
from legato_pay.errors import AccountNotFound
from legato_pay.ledger.current import current_balance, current_balances
from legato_pay.ledger.types import transfer
from legato_pay.store.lightread import Deferred, LightPathUnavailable, sqlite_file, sqlite_rows


def test_only_a_plain_sqlite_file_url_is_light(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_file("sqlite:///relative/b.db") == Path("relative/b.db")
    for url in (
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///a.db?mode=ro",
        "sqlite:///a%20b.db",
        "postgresql+psycopg://postgres@127.0.0.1:5432/x",
    ):
        assert sqlite_file(url) is None, url
    missing = f"sqlite:///{tmp_path}/missing.db"
    with pytest.raises(LightPathUnavailable), sqlite_rows(missing, busy_timeout_ms=100):
        pass  # no file: the full path creates it
    assert not (tmp_path / "missing.db").exists()


def test_a_schema_behind_the_code_goes_to_the_full_path(sqlite_url: str) -> None:
    path = sqlite_file(sqlite_url)
    assert path is not None
    with sqlite_rows(sqlite_url, busy_timeout_ms=100) as rows:  # at head: light
        assert rows.one("SELECT 1") == (1,)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0021_older'")
    with pytest.raises(LightPathUnavailable), sqlite_rows(sqlite_url, busy_timeout_ms=100):
        pass


def test_a_driver_error_inside_the_read_goes_to_the_full_path(sqlite_url: str) -> None:
    with pytest.raises(LightPathUnavailable), sqlite_rows(sqlite_url, busy_timeout_ms=100) as rows:
        rows.one("SELECT * FROM no_such_table")


def test_current_balances_of_ordinary_hot_and_pending_accounts(app: Any) -> None:
    """Hot accounts add the legs since their last seal; pending amounts show in ``pending`` and
    reduce ``available`` on the outgoing side. Figures worked out by hand."""

    def open_all(s: Any) -> None:
        ledger.open_account(s, "cash:USD", "USD", normal_side="debit")
        ledger.open_account(s, "hot:USD", "USD", hot=True)
        ledger.open_account(s, "plain:USD", "USD")

    app.run(open_all)
    post(app, "cash:USD", "hot:USD", 700)
    app.run(lambda s: ledger.seal(s, actor="t"))  # 700 rolled up onto the hot account's row
    post(app, "cash:USD", "hot:USD", 50)
    post(app, "hot:USD", "plain:USD", 120)
    post(app, "plain:USD", "cash:USD", 20, pending=True)
    codes = ["cash:USD", "hot:USD", "plain:USD", "absent:USD"]
    full = app.run(lambda s: {code: ledger.get_balance(s, code) for code in codes[:3]})
    assert {code: (b.posted, b.pending, b.available) for code, b in full.items()} == {
        "cash:USD": (750, -20, 730),  # debit-normal: 750 debited; 20 coming back, pending
        "hot:USD": (630, 0, 630),  # 700 sealed + 50 since - 120
        "plain:USD": (120, -20, 100),  # 20 reserved going out
    }
    assert app.read(lambda rows: current_balances(rows, codes)) == full  # absent: left out
    with pytest.raises(AccountNotFound):  # an unknown code: the full path words the error
        app.read(current_balance("absent:USD"), full=lambda s: ledger.get_balance(s, "absent:USD"))
    if app.database_url.startswith("sqlite"):
        with sqlite_rows(app.database_url, busy_timeout_ms=100) as rows:
            assert current_balances(rows, codes) == full
            with pytest.raises(Deferred):
                current_balance("absent:USD")(rows)


def post(app: Any, source: str, destination: str, amount: int, *, pending: bool = False) -> None:
    spec = transfer(source, destination, amount, "USD", pending=pending)
    app.run(lambda s: ledger.post_entries(s, [spec], actor="t"))
