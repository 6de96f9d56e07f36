"""Running several ``legato-pay`` commands released together: each in its own process forked
from one warm interpreter (``tests/ledger_worker.py fork``), every child held on a pipe until
all of them are ready, so their critical sections really overlap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli_runner import ROOT, cli_env

WORKER = ROOT / "tests" / "ledger_worker.py"


def run_at_once(database_url: str, tmp_path: Path, commands: list[list[str]]) -> list[Any]:
    """``[{"status", "stdout", "stderr"}, …]``, one per command, in the order given."""
    results = tmp_path / f"results-{len(list(tmp_path.glob('results-*')))}"
    results.mkdir()
    argv = [sys.executable, str(WORKER), "fork", "--results", str(results), "--commands"]
    argv.append(json.dumps([["--output", "json", *args] for args in commands]))
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
    return [attempts[0] for attempts in json.loads(completed.stdout)]
