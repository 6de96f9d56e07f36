"""Exit statuses as a shell sees them: through the installed console script, not the runner.

Cron pages the on-call on a non-zero exit, so a status swallowed between Typer and the
process (``standalone_mode=False`` hands an ``Exit``'s code back instead of raising it) would
turn a tampered journal into silence. Each documented status is produced here by a real
command, in its own process, and read as the shell reads it."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from legato_pay.errors import EXIT_STATUSES

BIN = Path(sys.executable).parent / "legato-pay"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEGATO_")}
    env.update(LEGATO_HOME=str(tmp_path / "home"), NO_COLOR="1", **extra)
    return env


def _run(
    tmp_path: Path, *args: str, db: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    url = db or f"sqlite:///{tmp_path / 'ledger.db'}"
    return subprocess.run(
        [str(BIN), "--db", url, *args],
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _tamper_then_verify(tmp_path: Path, url: str) -> None:
    assert _run(tmp_path, "ledger", "open", "shell:1", "--currency", "USD", db=url).returncode == 0
    posted = _run(
        tmp_path,
        *("ledger", "post", "--from", "world:USD", "--to", "shell:1"),
        *("--amount", "1.00", "--currency", "USD", "--key", "shell-1"),
        db=url,
    )
    assert posted.returncode == 0, posted.stderr
    assert _run(tmp_path, "ledger", "seal", db=url).returncode == 0
    assert _run(tmp_path, "ledger", "verify", db=url).returncode == 0

    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # as a superuser would, past the triggers
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text(
                "UPDATE ledger_legs SET amount = amount + 1 "
                "WHERE id = (SELECT max(id) FROM ledger_legs)"
            )
        )
    engine.dispose()

    for output in (["-o", "table"], ["-o", "json"], ["-q"]):
        verified = _run(tmp_path, *output, "ledger", "verify", db=url)
        assert verified.returncode == 1, (output, verified.stdout, verified.stderr)
        assert verified.stderr == "" or "Traceback" not in verified.stderr


def test_ledger_verify_exits_non_zero_on_a_tampered_journal(tmp_path: Path) -> None:
    _tamper_then_verify(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")


@pytest.mark.postgres
def test_ledger_verify_exits_non_zero_on_a_tampered_postgres_journal(
    tmp_path: Path, postgres_url: str
) -> None:
    _tamper_then_verify(tmp_path, postgres_url)


def _status_cases(tmp_path: Path, declined: str) -> dict[int, tuple[list[str], dict[str, str]]]:
    """One command per documented status (8 and 9 need a payout and a held run claim: see the
    two tests at the end; 130 the pty test)."""
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("coins: [unclosed\n")
    return {
        0: (["users", "add", "alice", "--email", "alice@example.com"], {}),
        2: (["users", "add"], {}),
        3: (["ledger", "open", "bad code", "--currency", "USD"], {}),
        4: (
            [
                *("ledger", "post", "--from", "exit:poor", "--to", "exit:rich"),
                *("--amount", "1.00", "--currency", "USD"),
            ],
            {},
        ),
        5: (["users", "show", "nobody"], {}),
        6: (["users", "add", "alice"], {}),
        7: (["purchases", "verify", declined], {}),
        10: (["--config", str(bad_config), "users", "list"], {}),
        11: (["users", "list"], {"db": "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none"}),
    }


def test_every_documented_status_reaches_the_shell(tmp_path: Path) -> None:
    setup = [
        ["ledger", "open", "exit:poor", "--currency", "USD", "--no-overdraft"],
        ["ledger", "open", "exit:rich", "--currency", "USD"],
    ]
    for args in setup:
        assert _run(tmp_path, *args).returncode == 0
    assert _run(tmp_path, "users", "add", "bob", "--email", "bob@example.com").returncode == 0
    created = _run(
        tmp_path,
        *("-o", "json", "purchases", "create", "--user", "bob", "--package", "starter"),
        *("--currency", "USD", "--payment-method", "pm_sandbox_fail", "--key", "exit-7"),
    )
    declined = json.loads(created.stdout)["reference"]
    for status, (args, extra) in _status_cases(tmp_path, declined).items():
        db = extra.pop("db", None)
        table = _run(tmp_path, *args, db=db)
        assert table.returncode == status, (args, table.stdout, table.stderr)
        if status == 0:
            continue
        assert "Traceback" not in table.stderr
        if status == 0 or (status == 2 and args == ["users", "add"]):
            continue
        as_json = _run(tmp_path, "-o", "json", *args, db=db)
        assert as_json.returncode == status, (args, as_json.stderr)
        assert as_json.stdout == ""
        error = json.loads(as_json.stderr)["error"]
        assert error["code"] != "INTERNAL_ERROR"
        assert "s3cret" not in as_json.stderr
    assert {0, 2, 3, 4, 5, 6, 7, 10, 11} <= set(EXIT_STATUSES)


def test_an_unreachable_database_names_the_host_never_the_password(tmp_path: Path) -> None:
    result = _run(
        tmp_path, "-o", "json", "balances", "list", db="postgresql://ops:hunter2@127.0.0.1:1/books"
    )
    assert result.returncode == 11
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "DATABASE_UNAVAILABLE"
    assert "127.0.0.1:1/books" in error["message"]
    assert "hunter2" not in result.stderr


def _run_on_a_terminal(tmp_path: Path, args: list[str], answer: bytes) -> tuple[int, str]:
    """Run the console script with a pseudo-terminal on stdin/stdout, type ``answer`` at the
    first prompt, and return its exit status and what the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, on the terminal
        os.execve(
            str(BIN),
            [str(BIN), "--db", f"sqlite:///{tmp_path / 'ledger.db'}", *args],
            _env(tmp_path, COLUMNS="80"),
        )
    shown = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(fd, answer)
                answered = True
    _, wait_status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(wait_status), shown.decode(errors="replace")


def test_a_declined_prompt_exits_130_and_changes_nothing(tmp_path: Path) -> None:
    assert _run(tmp_path, "users", "add", "alice", "--email", "a@example.com").returncode == 0
    bought = _run(
        tmp_path,
        *("-o", "json", "purchases", "create", "--user", "alice", "--package", "starter"),
        *("--currency", "USD", "--key", "exit-130"),
    )
    assert bought.returncode == 0, bought.stderr
    reference = json.loads(bought.stdout)["reference"]
    assert _run(tmp_path, "purchases", "verify", reference).returncode == 0

    status, shown = _run_on_a_terminal(tmp_path, ["purchases", "refund", reference], b"n\n")
    assert status == 130, shown
    assert "ABORTED" in shown
    after = _run(tmp_path, "-o", "json", "purchases", "show", reference)
    assert json.loads(after.stdout)["status"] == "succeeded"


def test_a_destructive_command_without_a_terminal_asks_for_yes(tmp_path: Path) -> None:
    assert _run(tmp_path, "users", "add", "alice", "--email", "a@example.com").returncode == 0
    bought = _run(
        tmp_path,
        *("-o", "json", "purchases", "create", "--user", "alice", "--package", "starter"),
        *("--currency", "USD", "--key", "exit-yes"),
    )
    reference = json.loads(bought.stdout)["reference"]
    assert _run(tmp_path, "purchases", "verify", reference).returncode == 0
    refused = _run(tmp_path, "-o", "json", "purchases", "refund", reference)
    assert refused.returncode == 2, refused.stderr
    assert "--yes" in json.loads(refused.stderr)["error"]["message"]
    refunded = _run(tmp_path, "-o", "json", "purchases", "refund", reference, "--yes")
    assert refunded.returncode == 0, refunded.stderr


@pytest.mark.parametrize("spelling", ["JSON", "Json", " json"])
def test_output_format_names_are_case_insensitive(tmp_path: Path, spelling: str) -> None:
    result = _run(tmp_path, "-o", spelling, "users", "list")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"users": [], "next_cursor": None}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_numbers_the_database_cannot_hold_are_invalid_input(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    for args in (["ledger", "entry", str(2**63)], ["users", "list", "--limit", str(10**20)]):
        result = _run(tmp_path, "-o", "json", *args, db=url)
        assert result.returncode == 3, (args, result.stderr)
        error = json.loads(result.stderr)["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert "SELECT" not in result.stderr and "Traceback" not in result.stderr


def test_an_actor_the_audit_trail_cannot_hold_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, "-o", "json", "--actor", "a" * 201, "users", "add", "zed")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stderr)["error"]["details"]["field"] == "actor"
    assert json.loads(_run(tmp_path, "-o", "json", "users", "list").stdout)["users"] == []


def test_an_argument_that_is_not_utf8_is_a_usage_error_for_every_command(tmp_path: Path) -> None:
    for args in (
        [b"packages", b"show", b"x\xf4"],
        [b"ledger", b"accounts", b"--prefix", b"\xff"],
        [b"--actor", b"ops\xfe", b"users", b"list"],
    ):
        result = subprocess.run(
            [bytes(BIN), b"-o", b"json", b"--db", f"sqlite:///{tmp_path / 'b.db'}".encode(), *args],
            env=_env(tmp_path),
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 2, (args, result.stderr)
        error = json.loads(result.stderr)["error"]
        assert (error["code"], "UTF-8" in error["message"]) == ("USAGE_ERROR", True)


def test_a_run_in_progress_exits_9(tmp_path: Path) -> None:
    """A second revenue runner while one holds the run's claim (here: the test holds it)."""
    import fcntl

    database = tmp_path / "ledger.db"
    assert _run(tmp_path, "users", "list").returncode == 0  # creates the database
    claim = os.open(f"{database}.revenue.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = _run(tmp_path, "-o", "json", "revenue", "run", "--period", "2026-01")
    finally:
        os.close(claim)
    assert busy.returncode == 9, busy.stderr
    assert json.loads(busy.stderr)["error"]["code"] == "RUN_IN_PROGRESS"
    assert busy.stdout == ""


def test_an_approval_by_a_key_off_the_list_exits_8(tmp_path: Path, app: Any) -> None:
    """Maker-checker: a payout above the threshold, approved with a key no approver holds."""
    from legato_pay.approvals import add_approver, keygen, read_public_key
    from tests.payouts.helpers import KEY, writer_with_money

    url = app.database_url
    writer_with_money(app, "wendy", "NGN", posted=200_000_000)
    for name in ("carol", "mallory"):
        keygen(tmp_path / f"{name}.key")
    carol = read_public_key(tmp_path / "carol.key.pub")
    app.run(lambda s: add_approver(s, scope="payouts", name="carol", public_key=carol, actor="a"))
    made = _run(
        tmp_path,
        *("-o", "json", "--actor", "maker", "payouts", "request", "--writer", "wendy"),
        *("--currency", "NGN", "--amount", "600000"),
        db=url,
        LEGATO_ENCRYPTION_KEY=KEY,
    )
    assert made.returncode == 0, made.stderr
    payout = str(json.loads(made.stdout)["id"])
    for args in (["-o", "json"], []):
        refused = _run(
            tmp_path,
            *args,
            *("payouts", "approve", payout, "--key-file", str(tmp_path / "mallory.key")),
            db=url,
            LEGATO_ENCRYPTION_KEY=KEY,
        )
        assert refused.returncode == 8, refused.stderr
    assert json.loads(refused_json(tmp_path, url, payout))["error"]["code"] == "UNAUTHORIZED"


def refused_json(tmp_path: Path, url: str, payout: str) -> str:
    from tests.payouts.helpers import KEY

    return _run(
        tmp_path,
        *("-o", "json", "payouts", "approve", payout, "--key-file", str(tmp_path / "mallory.key")),
        db=url,
        LEGATO_ENCRYPTION_KEY=KEY,
    ).stderr
