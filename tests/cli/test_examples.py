"""The README's and examples/' commands do what they say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import ROOT, cli_env, run_cli

BIN = Path(sys.executable).parent


def test_ci_smoke_script_passes(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'unused.db'}")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["LEGATOPAY_BIN"] = str(BIN / "legato-pay")
    completed = subprocess.run(
        ["bash", str(ROOT / "examples" / "ci-smoke.sh")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert "smoke ok" in completed.stdout


def test_demo_runs_a_day_twice_and_the_ledger_stays_verified(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = run_cli(url, "demo", "--readers", "6", timeout=600)
    assert first.status == 0, first.stderr
    summary = first.json["summary"]
    assert summary["verify"]["ok"] is True
    assert summary["counts"]["purchases"] == 5
    assert summary["counts"]["purchases_failed"] == 1
    assert summary["counts"]["refunds"] == 1
    assert set(summary["paid"]) == {"USD", "NGN", "CAD"}
    second = run_cli(url, "demo", "--readers", "6", timeout=600)
    assert second.status == 0, second.stderr
    assert second.json["summary"]["verify"]["ok"] is True
    assert second.json["summary"]["verify"]["entries"] > summary["verify"]["entries"]
    verify = run_cli(url, "ledger", "verify")
    assert verify.status == 0 and verify.json["problems"] == []


def test_demo_table_output_prints_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    shown = run_cli(url, "demo", "--readers", "4", output="table", timeout=600)
    assert shown.status == 0, shown.stderr
    for heading in ("What happened", "Top reader balances", "Content revenue", "ledger verify: ok"):
        assert heading in shown.stdout
