"""Runs that cron can trust: repeated, dry, killed with SIGKILL mid-run, raced, refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.errors import Busy, LegatoError
from legato_pay.revenue.runs import run_revenue
from legato_pay.store.tables import ENTRIES, LINES, RUNS
from tests.cli_runner import ROOT, cli_env, run_cli
from tests.factories import assert_ledger_ok, balance, make_users, snapshot
from tests.revenue.helpers import AFTER, PERIOD, amounts, read, subscribe, writers_with_content

WRITERS = [f"w{i}" for i in range(7)]


@pytest.fixture
def period(app: Any) -> Any:
    """Seven writers, five subscribers with odd fees, uneven reading."""
    writers_with_content(app, *WRITERS)
    readers = [f"r{i}" for i in range(5)]
    make_users(app, *readers)
    for index, reader in enumerate(readers):
        subscribe(app, reader, 499 + 250 * index + index % 2)
    read(
        app,
        *[
            (reader, writer, 1 + (3 * i + 5 * j) % 17)
            for i, reader in enumerate(readers)
            for j, writer in enumerate(WRITERS)
            if (i + j) % 3
        ],
    )
    return app


def _count(app: Any, table: Any) -> int:
    return int(
        app.run(
            lambda s: s.execute(select(func.count()).select_from(table)).scalar_one(), write=False
        )
    )


def _expected_pool(app: Any) -> int:
    return balance(app, chart.subscription_pool(PERIOD, "USD")).available


def test_a_run_repeated_prints_the_first_result_and_changes_nothing(period: Any) -> None:
    pool = _expected_pool(period)
    [first] = run_revenue(period, period=PERIOD, now=AFTER)
    before = snapshot(period)
    entries = _count(period, ENTRIES)
    [again] = run_revenue(period, period=PERIOD, model="user-centric", now=AFTER)
    assert again.replayed and again.id == first.id and again.model == "pro-rata"
    assert again.totals == first.totals
    assert snapshot(period) == before and _count(period, ENTRIES) == entries
    paid = sum(amounts(first, period).values())
    assert paid + first.totals["USD"]["platform"] == pool
    assert_ledger_ok(period)


def test_a_dry_run_writes_nothing_and_shows_what_a_run_posts(period: Any) -> None:
    before = snapshot(period)
    [dry] = run_revenue(period, period=PERIOD, dry_run=True, now=AFTER)
    assert dry.dry_run and dry.id is None
    assert snapshot(period) == before and _count(period, RUNS) == 0
    [real] = run_revenue(period, period=PERIOD, now=AFTER)
    assert {line.writer_id: line.amount for line in dry.lines} == amounts(real, period)
    assert dry.totals == real.totals


def _runner(
    database_url: str, tmp_path: Path, name: str
) -> tuple[subprocess.Popen[str], Path, Path]:
    started, release = tmp_path / f"{name}.started", tmp_path / f"{name}.release"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.revenue.runner",
            database_url,
            PERIOD,
            str(started),
            str(release),
        ],
        cwd=ROOT,
        env=cli_env(database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, started, release


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the runner never started posting"
        time.sleep(0.02)


def test_killed_mid_run_then_rerun_pays_everyone_exactly_once(
    period: Any, database_url: str, tmp_path: Path
) -> None:
    [dry] = run_revenue(period, period=PERIOD, dry_run=True, now=AFTER)
    before = snapshot(period)
    process, started, _ = _runner(database_url, tmp_path, "killed")
    _wait_for(started, process)  # two entries posted inside the run's transaction
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)  # closes its pipes too
    assert process.returncode == -signal.SIGKILL
    assert snapshot(period) == before and _count(period, RUNS) == 0  # nothing half-done
    [rerun] = run_revenue(period, period=PERIOD, now=AFTER)
    assert not rerun.replayed
    assert amounts(rerun, period) == {line.writer_id: line.amount for line in dry.lines}
    for line in dry.lines:
        earned = balance(period, chart.writer_earnings(line.writer_id, "USD"))
        assert earned.posted + earned.pending == line.amount
    assert _count(period, LINES) == len(dry.lines)
    assert_ledger_ok(period)


def test_a_second_runner_while_one_runs_exits_run_in_progress(
    period: Any, database_url: str, tmp_path: Path
) -> None:
    process, started, release = _runner(database_url, tmp_path, "first")
    _wait_for(started, process)
    second = run_cli(database_url, "revenue", "run", "--period", PERIOD)
    assert second.status == 9 and second.error["code"] == "RUN_IN_PROGRESS", second.stderr
    release.write_text("go")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert json.loads(out)["replayed"] is False
    third = run_cli(database_url, "revenue", "run", "--period", PERIOD)
    assert third.status == 0 and third.json["replayed"] is True
    assert _count(period, RUNS) == 1
    assert_ledger_ok(period)


def test_runners_released_together_pay_once(period: Any) -> None:
    """Four threads through one barrier: one run posts; the others are refused as busy or
    replay it, and nothing is paid twice."""
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def runner() -> None:
        barrier.wait()
        try:
            [view] = run_revenue(period, period=PERIOD, now=AFTER)
            outcomes.append("replayed" if view.replayed else "ran")
        except Busy:
            outcomes.append("busy")
        except LegatoError as error:  # pragma: no cover - shown if it happens
            outcomes.append(error.code)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes.count("ran") == 1 and set(outcomes) <= {"ran", "busy", "replayed"}, outcomes
    assert _count(period, RUNS) == 1
    assert_ledger_ok(period)


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["run", "--period", "2026-13"], 3, "INVALID_PERIOD"),
        (["run", "--period", "26-01"], 3, "INVALID_PERIOD"),
        (["run", "--period", "２０２６-01"], 3, "INVALID_PERIOD"),
        (["run", "--period", PERIOD, "--stream", "royalties"], 3, "VALIDATION_ERROR"),
        (["run", "--period", PERIOD, "--model", "fair"], 3, "VALIDATION_ERROR"),
        (["run", "--period", "2999-01"], 6, "PERIOD_OPEN"),
        (["run", "--period", "2999-01", "--force", " "], 3, "VALIDATION_ERROR"),
        (["simulate", "--period", "2026"], 3, "INVALID_PERIOD"),
        (["show", "99"], 5, "RUN_NOT_FOUND"),
        (["show", "99999999999999999999"], 3, "VALIDATION_ERROR"),
        (["lines", "0"], 3, "VALIDATION_ERROR"),
        (["lines", "1x"], 3, "VALIDATION_ERROR"),
        (["list", "--stream", "nope"], 3, "VALIDATION_ERROR"),
    ],
)
def test_bad_input_exits_with_its_status_and_changes_nothing(
    period: Any, database_url: str, args: list[str], status: int, code: str
) -> None:
    before = snapshot(period)
    result = run_cli(database_url, "revenue", *args)
    assert result.status == status, result.stderr
    assert result.error["code"] == code
    assert snapshot(period) == before and _count(period, RUNS) == 0


def test_a_dry_run_may_look_at_an_open_period(period: Any, database_url: str) -> None:
    before = snapshot(period)
    result = run_cli(database_url, "revenue", "run", "--period", "2999-01", "--dry-run")
    assert result.status == 0 and result.json["dry_run"] is True
    assert snapshot(period) == before


def test_the_cli_runs_shows_and_lists(period: Any, database_url: str) -> None:
    ran = run_cli(database_url, "revenue", "run", "--period", PERIOD, output="table")
    assert ran.status == 0 and ran.stderr == ""  # no progress bar without a terminal
    assert "subscription" in ran.stdout and "_minor" not in ran.stdout
    ran = run_cli(database_url, "revenue", "run", "--period", PERIOD)
    assert ran.json["replayed"] is True
    run_id = str(ran.json["id"])
    shown = run_cli(database_url, "revenue", "show", run_id).json
    assert shown["percentages"] == {"writer": "65", "platform": "35"}
    assert shown["actor"] == "test-cli"
    listed = run_cli(database_url, "revenue", "list").json
    assert [run["id"] for run in listed["runs"]] == [ran.json["id"]]
    lines = run_cli(database_url, "revenue", "lines", run_id, "--writer", "w1").json["lines"]
    assert [line["writer"] for line in lines] == ["w1"]
    nobody = run_cli(database_url, "revenue", "lines", run_id, "--writer", "nobody")
    assert nobody.status == 5
    table = run_cli(database_url, "revenue", "lines", run_id, output="table")
    assert "USD" in table.stdout and "_minor" not in table.stdout
    csv = run_cli(database_url, "revenue", "lines", run_id, output="csv")
    assert csv.stdout.splitlines()[0].startswith("writer,") and "total" not in csv.stdout
    assert "# total" in csv.stderr
