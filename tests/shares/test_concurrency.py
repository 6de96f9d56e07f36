"""Share transfers raced: eight ``legato-pay shares transfer`` processes from one holder,
released together (forked after their imports by ``tests/ledger_worker.py fork``, which holds
them on a pipe until every one is ready), on SQLite and PostgreSQL. Never more units leave
than the holder has; a key shared by racing retries moves the units once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import ROOT, cli_env
from tests.shares.helpers import counts, holdings, issue, make_app

WORKER = ROOT / "tests" / "ledger_worker.py"
WORKERS = 8
BUYERS = [f"buyer{index}" for index in range(WORKERS)]

pytestmark = pytest.mark.slow


def run_together(database_url: str, tmp_path: Path, commands: list[list[str]]) -> list[Any]:
    """One forked process per command, all released at the same moment; their results."""
    results = tmp_path / "results"
    results.mkdir()
    argv = [sys.executable, str(WORKER), "fork", "--attempts", "1", "--results", str(results)]
    argv += ["--commands", json.dumps([["--output", "json", *args] for args in commands])]
    completed = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=cli_env(database_url),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    return [worker[0] for worker in json.loads(completed.stdout)]


def test_eight_transfers_from_one_holder_never_oversell(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    make_app(app, "quill", "alice", *BUYERS)
    issue(app, "alice", 10)  # room for exactly three transfers of 3 units
    transfers = [
        ["shares", "transfer", "--app", "quill", "--from", "alice", "--to", buyer, "--units", "3"]
        for buyer in BUYERS
    ]

    results = run_together(database_url, tmp_path, transfers)

    assert Counter(r["status"] for r in results) == {0: 3, 4: WORKERS - 3}
    for result in results:
        if result["status"] == 4:
            assert result["stdout"] == ""
            error = json.loads(result["stderr"])["error"]
            assert error["code"] == "INSUFFICIENT_UNITS"
            assert error["details"]["held"] < 3
    winners = {json.loads(r["stdout"])["to"] for r in results if r["status"] == 0}
    assert holdings(app) == {"alice": 1, **dict.fromkeys(winners, 3)}
    assert counts(app)["share_movements"] == 1 + 3
    assert counts(app)["units"] == 10


def test_racing_retries_with_one_key_move_the_units_once(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 10)
    retry = ["shares", "transfer", "--app", "quill", "--from", "alice", "--to", "bob"]
    retry += ["--units", "4", "--key", "sale-7"]

    results = run_together(database_url, tmp_path, [retry] * WORKERS)

    assert [r["status"] for r in results] == [0] * WORKERS, results
    views = [json.loads(r["stdout"]) for r in results]
    assert len({view["id"] for view in views}) == 1
    assert sorted(view["replayed"] for view in views) == [False] + [True] * (WORKERS - 1)
    assert holdings(app) == {"alice": 6, "bob": 4}
