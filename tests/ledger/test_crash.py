"""Crash tests: a process killed with SIGKILL inside a big posting transaction leaves no trace,
and rerunning the same batch (same idempotency keys) posts every entry exactly once.

On SQLite and PostgreSQL. Two kill points: ``ledger post-batch`` killed while its transaction is
under way (PostgreSQL: its backend has been writing for a moment; SQLite: it has held the write
lock for a moment), and a worker killed after every row of the batch is written but before the
commit.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from legato_pay import ledger
from tests.conftest import ROOT, cli_env, run_cli

WORKER = Path(__file__).resolve().parent.parent / "ledger_worker.py"

pytestmark = pytest.mark.slow


def write_batch(path: Path, size: int, prefix: str) -> None:
    """``size`` lines (a multiple of 3): fund the wallet 0.03, spend 0.02, reserve 0.01."""
    assert size % 3 == 0
    lines = []
    for i in range(size):
        item: dict[str, Any] = {"currency": "USD", "key": f"{prefix}-{i}"}
        if i % 3 == 0:
            item.update({"from": "world:USD", "to": "wallet", "amount": "0.03"})
        elif i % 3 == 1:
            item.update({"from": "wallet", "to": "shop", "amount": "0.02"})
        else:
            item.update({"from": "wallet", "to": "shop", "amount": "0.01", "pending": True})
        lines.append(json.dumps(item))
    path.write_text("\n".join(lines) + "\n")


def setup_ledger(app: Any) -> None:
    """The wallet, the shop and one entry from before the batch."""

    def work(session: Any) -> None:
        ledger.open_account(session, "wallet", "USD", no_overdraft=True)
        ledger.open_account(session, "shop", "USD")
        spec = ledger.transfer("world:USD", "shop", 100, "USD", idempotency_key="before")
        ledger.post_entries(session, [spec], actor="test")

    app.run(work)


def state(database_url: str, app: Any) -> tuple[dict[str, Any], tuple[int, ...], tuple[int, ...]]:
    """``ledger verify`` from the command line, and the two balances (posted, pending, available)."""
    verify = run_cli(database_url, "ledger", "verify")
    assert verify.status == 0, (verify.stdout, verify.stderr)

    def work(session: Any) -> list[tuple[int, ...]]:
        found = [ledger.get_balance(session, code) for code in ("wallet", "shop")]
        return [(b.posted, b.pending, b.available) for b in found]

    wallet, shop = app.run(work, write=False)
    return verify.json, wallet, shop


def assert_untouched(database_url: str, app: Any) -> None:
    verify, wallet, shop = state(database_url, app)
    assert verify["ok"] is True, verify["problems"]
    assert verify["entries"] == 1  # only the entry from before the batch
    assert wallet == (0, 0, 0)
    assert shop == (100, 0, 100)


def assert_posted_once(database_url: str, app: Any, size: int) -> None:
    third = size // 3
    verify, wallet, shop = state(database_url, app)
    assert verify["ok"] is True, verify["problems"]
    assert verify["entries"] == 1 + size
    assert wallet == (third, -third, 0)
    assert shop[:2] == (100 + 2 * third, third)


Probe = tuple[Callable[[], bool], Callable[[], None]]  # (ready?, close)


def postgres_writing(database_url: str, hold_for: float) -> Probe:
    """True once another backend of this database has been in a transaction that wrote (it has
    a transaction id: it updated account totals or inserted rows) for ``hold_for`` seconds."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    connection = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    since: list[float] = []

    def probe() -> bool:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        ).fetchone()
        if not (row and row[0]):
            since.clear()
            return False
        since.append(since[0] if since else time.monotonic())
        return time.monotonic() - since[0] >= hold_for

    return probe, connection.close


def sqlite_write_locked(database_url: str, hold_for: float) -> Probe:
    """True once another connection has held the write lock for ``hold_for`` seconds."""
    path = database_url.removeprefix("sqlite:///")
    since: list[float] = []

    def probe() -> bool:
        connection = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            since.clear()
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc) or "busy" in str(exc), exc
            since.append(since[0] if since else time.monotonic())
            return time.monotonic() - since[0] >= hold_for
        finally:
            connection.close()

    return probe, lambda: None


def kill_when(process: subprocess.Popen[str], probe: Probe, timeout: float) -> None:
    ready, close = probe
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, (
                f"finished before the kill: {process.communicate()[1][-2000:]}"
            )
            assert time.monotonic() < deadline, "never saw the transaction"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        close()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_post_batch_killed_mid_transaction(database_url: str, app: Any, tmp_path: Path) -> None:
    size = 4500
    batch = tmp_path / "batch.jsonl"
    write_batch(batch, size, "crash")
    setup_ledger(app)
    process = subprocess.Popen(
        [sys.executable, "-m", "commands.main", "-o", "json", "ledger", "post-batch", str(batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(database_url),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    if database_url.startswith("postgresql"):
        probe = postgres_writing(database_url, hold_for=0.02)
    else:
        probe = sqlite_write_locked(database_url, hold_for=0.3)

    kill_when(process, probe, timeout=120)

    assert_untouched(database_url, app)
    rerun = run_cli(database_url, "ledger", "post-batch", str(batch))
    assert rerun.status == 0, rerun.stderr
    assert (rerun.json["posted"], rerun.json["replayed"]) == (size, 0)
    assert len(set(rerun.json["entry_ids"])) == size
    assert_posted_once(database_url, app, size)


def test_killed_before_commit_then_rerun(database_url: str, app: Any, tmp_path: Path) -> None:
    size = 1500
    batch = tmp_path / "batch.jsonl"
    marker = tmp_path / "written"
    write_batch(batch, size, "hold")
    setup_ledger(app)
    process = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", "--batch", str(batch), "--marker", str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(database_url),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    kill_when(process, (marker.exists, lambda: None), timeout=120)

    assert_untouched(database_url, app)
    first = run_cli(database_url, "ledger", "post-batch", str(batch))
    assert first.status == 0, first.stderr
    assert (first.json["posted"], first.json["replayed"]) == (size, 0)
    again = run_cli(database_url, "ledger", "post-batch", str(batch))
    assert again.status == 0, again.stderr
    assert (again.json["posted"], again.json["replayed"]) == (0, size)
    assert again.json["entry_ids"] == first.json["entry_ids"]
    assert_posted_once(database_url, app, size)
