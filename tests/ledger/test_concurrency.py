"""Real parallel processes against one ledger, on SQLite and PostgreSQL.

Each worker runs the real command line, ``commands.main.run`` (the console script's entry point)
with ``--output json``, and starts its attempts at the same moment as every other worker. The
spend test starts eight interpreters (``tests/ledger_worker.py cli``); the others fork eight
processes from one interpreter after its imports (``fork``), which costs far less CPU.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from legato_pay import ledger
from tests.cli_runner import ROOT, cli_env, run_cli

WORKER = Path(__file__).resolve().parent.parent / "ledger_worker.py"
WORKERS = 8

pytestmark = pytest.mark.slow


def run_workers(
    database_url: str, tmp_path: Path, commands: list[list[str]], *, attempts: int
) -> list[list[dict[str, Any]]]:
    """Start one process per command, release them together, return each one's results."""
    go = tmp_path / "go"
    os.mkfifo(go)
    processes = []
    for index, args in enumerate(commands):
        argv = [sys.executable, str(WORKER), "cli", "--ready", str(tmp_path / f"ready-{index}")]
        argv += ["--go", str(go), "--attempts", str(attempts), "--", "--output", "json", *args]
        processes.append(
            subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(database_url),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
            )
        )
    writer = None
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{i}").exists() for i in range(len(commands))):
            dead = [p for p in processes if p.poll() is not None]
            assert not dead, f"a worker died before the start: {dead[0].communicate()}"
            assert time.monotonic() < deadline, "workers did not get ready within 60 s"
            time.sleep(0.02)
        while writer is None:  # non-blocking open fails until some worker waits on the FIFO
            try:
                writer = os.open(go, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                assert exc.errno == errno.ENXIO and time.monotonic() < deadline
                time.sleep(0.001)
        results = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=90)
            assert process.returncode == 0, f"worker failed: {stderr}"
            results.append(json.loads(stdout))
        return results
    finally:
        if writer is not None:
            os.close(writer)
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def run_forked(
    database_url: str, tmp_path: Path, commands: list[list[str]], *, attempts: int
) -> list[list[dict[str, Any]]]:
    """Like ``run_workers``, in processes forked from one worker after its imports (cheaper)."""
    results = tmp_path / "results"
    results.mkdir()
    argv = [sys.executable, str(WORKER), "fork", "--attempts", str(attempts)]
    argv += ["--results", str(results), "--commands"]
    argv.append(json.dumps([["--output", "json", *args] for args in commands]))
    completed = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=cli_env(database_url),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def parallel_cli(database_url: str, *commands: list[str]) -> list[Any]:
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: run_cli(database_url, *args), commands))


def assert_ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result["status"] == 0, result
    assert result["stderr"] == ""
    return json.loads(result["stdout"])  # type: ignore[no-any-return]


def balances(app: Any, *codes: str) -> dict[str, tuple[int, int, int]]:
    def work(session: Any) -> dict[str, tuple[int, int, int]]:
        found = {}
        for code in codes:
            balance = ledger.get_balance(session, code)
            found[code] = (balance.posted, balance.pending, balance.available)
        return found

    return app.run(work, write=False)  # type: ignore[no-any-return]


def open_funded(app: Any, funding: dict[str, int], others: tuple[str, ...] = ()) -> None:
    def work(session: Any) -> None:
        for code in funding:
            ledger.open_account(session, code, "USD", no_overdraft=True)
        for code in others:
            ledger.open_account(session, code, "USD")
        specs = [
            ledger.transfer("world:USD", code, amount, "USD", idempotency_key=f"fund:{code}")
            for code, amount in funding.items()
        ]
        ledger.post_entries(session, specs, actor="test")

    app.run(work)


def test_concurrent_spends_never_overdraw(database_url: str, app: Any, tmp_path: Path) -> None:
    spends = 10  # the account holds exactly this many spends of 1.00
    attempts = 3  # 8 workers x 3 = 24 attempts for 10 spends
    open_funded(app, {"acct": spends * 100}, others=("sink",))
    post = ["ledger", "post", "--from", "acct", "--to", "sink", "--amount", "1.00", "-c", "USD"]

    results = [
        r
        for worker in run_workers(database_url, tmp_path, [post] * WORKERS, attempts=attempts)
        for r in worker
    ]

    assert Counter(r["status"] for r in results) == {0: spends, 4: WORKERS * attempts - spends}
    entry_ids = [assert_ok(r)["id"] for r in results if r["status"] == 0]
    assert len(set(entry_ids)) == spends
    for result in results:
        if result["status"] == 4:
            assert result["stdout"] == ""
            error = json.loads(result["stderr"])["error"]
            assert error["code"] == "INSUFFICIENT_FUNDS"
            assert error["details"]["account"] == "acct"
            assert error["details"]["available"] < 100
    balance, verify = parallel_cli(
        database_url, ["ledger", "balance", "acct"], ["ledger", "verify"]
    )
    assert balance.status == 0
    assert balance.json == {
        "account": "acct",
        "currency": "USD",
        "posted_minor": 0,
        "pending_minor": 0,
        "available_minor": 0,
    }
    assert balances(app, "sink")["sink"] == (spends * 100, 0, spends * 100)
    assert verify.status == 0, verify.stdout
    assert verify.json["ok"] is True
    assert verify.json["entries"] == spends + 1


def test_same_idempotency_key_concurrently_posts_once(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    open_funded(app, {"acct": 1000}, others=("sink",))
    post = ["ledger", "post", "--from", "acct", "--to", "sink", "--amount", "2.50", "-c", "USD"]
    post += ["--key", "order-42"]

    results = run_forked(database_url, tmp_path, [post] * WORKERS, attempts=1)
    views = [assert_ok(worker[0]) for worker in results]

    assert len({view["id"] for view in views}) == 1
    assert sorted(view["replayed"] for view in views) == [False] + [True] * (WORKERS - 1)
    assert balances(app, "acct", "sink") == {"acct": (750, 0, 750), "sink": (250, 0, 250)}
    verify = run_cli(database_url, "ledger", "verify")
    assert verify.status == 0
    assert verify.json["ok"] is True
    assert verify.json["entries"] == 2  # the funding entry and one posting


def test_opposite_directions_never_deadlock(database_url: str, app: Any, tmp_path: Path) -> None:
    """A→B against B→A, and batches locking A, B, C against C, B, A: all succeed, no error."""
    attempts = 4
    open_funded(app, {"A": 5000, "B": 5000, "C": 5000})
    forward = tmp_path / "forward.jsonl"
    backward = tmp_path / "backward.jsonl"
    lines = {
        forward: [("A", "B", "3.00"), ("B", "C", "1.00")],
        backward: [("C", "B", "2.00"), ("B", "A", "1.00")],
    }
    for path, moves in lines.items():
        path.write_text(
            "".join(
                json.dumps({"from": a, "to": b, "amount": amount, "currency": "USD"}) + "\n"
                for a, b, amount in moves
            )
        )

    def post(source: str, destination: str) -> list[str]:
        move = ["--from", source, "--to", destination]
        return ["ledger", "post", *move, "--amount", "1.00", "--currency", "USD"]

    commands = [
        post("A", "B"),
        post("B", "A"),
        ["ledger", "post-batch", str(forward)],
        ["ledger", "post-batch", str(backward)],
    ] * (WORKERS // 4)

    results = run_forked(database_url, tmp_path, commands, attempts=attempts)

    for worker in results:
        for result in worker:
            assert_ok(result)  # no deadlock, serialization or lock error reaches the user
    n = (WORKERS // 4) * attempts  # runs of each of the four commands
    assert balances(app, "A", "B", "C") == {
        "A": (5000 - 200 * n, 0, 5000 - 200 * n),
        "B": (5000 + 300 * n, 0, 5000 + 300 * n),
        "C": (5000 - 100 * n, 0, 5000 - 100 * n),
    }
    verify = run_cli(database_url, "ledger", "verify")
    assert verify.status == 0
    assert verify.json["ok"] is True
    assert verify.json["entries"] == 3 + 6 * n  # three fundings
