"""Crash tests: a process killed with SIGKILL inside a big posting transaction leaves no trace,
and rerunning the same batch (same idempotency keys) posts every entry exactly once.

On SQLite and PostgreSQL. The worker (``tests/ledger_worker.py``) says over a pipe when it is
inside its transaction with every row written, then blocks; only then does the test send
SIGKILL, so the kill point never depends on timing or load. Two workers: the real
``ledger post-batch`` command line, stopped as its transaction is about to commit, and the
library's ``post_entries`` stopped after its flush; each batch is then rerun.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from legato_pay import ledger
from tests.cli_runner import ROOT, cli_env, run_cli

WORKER = Path(__file__).resolve().parent.parent / "ledger_worker.py"

#: How long a worker may take to start, import and write its batch (generous: loaded machines).
SIGNAL_TIMEOUT = 300.0

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


def start_worker(database_url: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Start ``tests/ledger_worker.py ARGS… --signal-fd N``; return it and the pipe's read end,
    on which it writes ``inside`` once it is inside its transaction with every row written."""
    read_end, write_end = os.pipe()
    mode, *rest = args
    try:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), mode, "--signal-fd", str(write_end), *rest],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(database_url),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            pass_fds=(write_end,),
        )
    finally:
        os.close(write_end)  # the worker holds the only write end: EOF if it dies first
    return process, read_end


def kill_inside_transaction(process: subprocess.Popen[str], signal_read: int) -> None:
    """Wait (at most ``SIGNAL_TIMEOUT``) for the worker's word that it is inside its open
    transaction, then SIGKILL it: the kill point is the one the test chose, however loaded the
    machine is."""
    try:
        ready, _, _ = select.select([signal_read], [], [], SIGNAL_TIMEOUT)
        said = os.read(signal_read, 64) if ready else b""
        if said == b"inside\n":
            process.send_signal(signal.SIGKILL)
    finally:
        os.close(signal_read)
        if process.poll() is None:
            process.kill()  # no word from it: stop it before reporting
        _, stderr = process.communicate(timeout=30)
    assert said == b"inside\n", f"the worker never got inside its transaction: {stderr[-2000:]}"
    assert process.returncode == -signal.SIGKILL, stderr[-2000:]


def test_post_batch_killed_mid_transaction(database_url: str, app: Any, tmp_path: Path) -> None:
    size = 4500
    batch = tmp_path / "batch.jsonl"
    write_batch(batch, size, "crash")
    setup_ledger(app)
    # The real ``ledger post-batch``, stopped as its one transaction is about to commit.
    process, signal_read = start_worker(
        database_url,
        "cli-hold",
        "--entries-before",
        "1",
        "--",
        "-o",
        "json",
        "ledger",
        "post-batch",
        str(batch),
    )
    kill_inside_transaction(process, signal_read)

    assert_untouched(database_url, app)
    rerun = run_cli(database_url, "ledger", "post-batch", str(batch))
    assert rerun.status == 0, rerun.stderr
    assert (rerun.json["posted"], rerun.json["replayed"]) == (size, 0)
    assert len(set(rerun.json["entry_ids"])) == size
    assert_posted_once(database_url, app, size)


def test_killed_before_commit_then_rerun(database_url: str, app: Any, tmp_path: Path) -> None:
    size = 1500
    batch = tmp_path / "batch.jsonl"
    write_batch(batch, size, "hold")
    setup_ledger(app)
    process, signal_read = start_worker(database_url, "hold", "--batch", str(batch))
    kill_inside_transaction(process, signal_read)

    assert_untouched(database_url, app)
    first = run_cli(database_url, "ledger", "post-batch", str(batch))
    assert first.status == 0, first.stderr
    assert (first.json["posted"], first.json["replayed"]) == (size, 0)
    again = run_cli(database_url, "ledger", "post-batch", str(batch))
    assert again.status == 0, again.stderr
    assert (again.json["posted"], again.json["replayed"]) == (0, size)
    assert again.json["entry_ids"] == first.json["entry_ids"]
    assert_posted_once(database_url, app, size)
