"""Exit statuses as a shell sees them: through the installed console script, not the runner.

Cron pages the on-call on a non-zero exit, so a status swallowed between Typer and the
process (``standalone_mode=False`` hands an ``Exit``'s code back instead of raising it) would
turn a tampered journal into silence."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "legato-pay"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEGATO_HOME": str(tmp_path / "home")}
    env = {key: value for key, value in env.items() if key not in {"LEGATO_DATABASE_URL"}}
    return subprocess.run(
        [str(BIN), "--db", f"sqlite:///{tmp_path / 'ledger.db'}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ledger_verify_exits_non_zero_on_a_tampered_journal(tmp_path: Path) -> None:
    assert _run(tmp_path, "ledger", "open", "shell:1", "--currency", "USD").returncode == 0
    posted = _run(
        tmp_path,
        "ledger",
        "post",
        "--from",
        "world:USD",
        "--to",
        "shell:1",
        "--amount",
        "1.00",
        "--currency",
        "USD",
    )
    assert posted.returncode == 0, posted.stderr
    assert _run(tmp_path, "ledger", "seal").returncode == 0
    assert _run(tmp_path, "ledger", "verify").returncode == 0

    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute(
            "UPDATE ledger_legs SET amount = amount + 1 WHERE id = (SELECT max(id) FROM ledger_legs)"
        )

    for output in (["-o", "table"], ["-o", "json"], ["-q"]):
        verified = _run(tmp_path, *output, "ledger", "verify")
        assert verified.returncode == 1, (output, verified.stdout, verified.stderr)
