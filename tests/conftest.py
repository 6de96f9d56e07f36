"""Shared fixtures: one switch runs a test on SQLite and, when configured, on PostgreSQL.

``LEGATO_TEST_DATABASE_URL`` (set by ``.ci/run``) points at a scratch PostgreSQL database that
these fixtures empty before each test. Without it, PostgreSQL variants skip with a reason; with
``LEGATO_REQUIRE_POSTGRES=1`` (also set by ``.ci/run``) a skipped PostgreSQL test fails the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("LEGATO_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("LEGATO_REQUIRE_POSTGRES") == "1"
PG_SKIP_REASON = "LEGATO_TEST_DATABASE_URL is not set: PostgreSQL tests skipped"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

_pg_outcomes = {"passed": 0, "skipped": 0}
_upgraded: set[str] = set()


def reset_postgres(url: str) -> None:
    """Empty every legato table (keeping the schema) and forget cached account ids."""
    from sqlalchemy import inspect, text

    from legato_pay.ledger.accounts import clear_account_cache
    from legato_pay.store.engine import get_engine
    from legato_pay.store.schema import upgrade

    engine = get_engine(url)
    if url not in _upgraded:
        upgrade(engine)  # a scratch database may predate the newest migration
        _upgraded.add(url)
    with engine.begin() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    clear_account_cache()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session, copied for each test (migrating costs ~0.2 s)."""
    from legato_pay.store.engine import get_engine
    from legato_pay.store.schema import upgrade

    path = tmp_path_factory.mktemp("template") / "legato.db"
    engine = get_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def fresh_sqlite_url(template: Path, directory: Path) -> str:
    target = directory / "legato.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def fresh_postgres_url() -> str:
    """The scratch PostgreSQL database, emptied; skips (or fails, when required) without one."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("LEGATO_REQUIRE_POSTGRES=1 but LEGATO_TEST_DATABASE_URL is not set")
        pytest.skip(PG_SKIP_REASON)
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        return fresh_sqlite_url(sqlite_template, tmp_path)
    return fresh_postgres_url()


@pytest.fixture
def postgres_url() -> str:
    """A fresh PostgreSQL database, for tests of what only PostgreSQL has (mark them
    ``@pytest.mark.postgres`` so they are counted and never silently skipped in CI)."""
    return fresh_postgres_url()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return fresh_sqlite_url(sqlite_template, tmp_path)


@pytest.fixture
def app(database_url: str) -> Iterator[Any]:
    """An application context on a fresh database."""
    from legato_pay.context import AppContext

    context = AppContext.create(database_url=database_url, actor="test")
    yield context


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LEGATO_") or key == "LEGATO_TEST_DATABASE_URL"
    }
    env.update(
        LEGATO_DATABASE_URL=database_url,
        LEGATO_ACTOR="test-cli",
        NO_COLOR="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


class CliResult:
    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.status = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, Any]:
        return json.loads(self.stderr)["error"]  # type: ignore[no-any-return]


class _ForkServers:
    """Warm launchers (see tests/cli_forkserver.py), one per concurrent caller: a thread takes
    an idle one or starts another, so CLI calls from several threads still run at once."""

    idle: ClassVar[list[subprocess.Popen[str]]] = []
    lock = threading.Lock()

    @classmethod
    def _start(cls) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "cli_forkserver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=cli_env("sqlite://"),
        )

    @classmethod
    def run(cls, args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
        with cls.lock:
            server = cls.idle.pop() if cls.idle else None
        if server is None or server.poll() is not None:
            server = cls._start()
        assert server.stdin is not None and server.stdout is not None
        request = {"args": args, "env": env, "cwd": str(ROOT), "timeout": timeout}
        try:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            answer: dict[str, Any] = json.loads(server.stdout.readline())
        except BaseException:
            server.kill()
            raise
        with cls.lock:
            cls.idle.append(server)
        return answer


def run_cli(
    database_url: str, *args: str, output: str = "json", timeout: float = 120, **env: str
) -> CliResult:
    """Run ``legato-pay`` in its own process, as a script or an operator would.

    The process is forked from a warm launcher (same entry point, environment, streams and exit
    status as ``python -m commands.main``, without paying the imports each time). Set
    ``LEGATO_TEST_COLD_CLI=1`` to start a fresh interpreter per call instead.
    """
    command_args = ["--output", output, *args]
    environment = cli_env(database_url, **env)
    if os.environ.get("LEGATO_TEST_COLD_CLI") == "1":
        completed = subprocess.run(
            [sys.executable, "-m", "commands.main", *command_args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=ROOT,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return CliResult(completed)
    answer = _ForkServers.run(command_args, environment, timeout)
    return CliResult(
        subprocess.CompletedProcess(
            command_args, answer["status"], answer["stdout"], answer["stderr"]
        )
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" not in report.keywords:
        return
    if report.skipped:
        _pg_outcomes["skipped"] += 1
    elif report.when == "call" and report.passed:
        _pg_outcomes["passed"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_PG and (_pg_outcomes["skipped"] or not _pg_outcomes["passed"]):
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"PostgreSQL tests: {_pg_outcomes['passed']} passed, {_pg_outcomes['skipped']} skipped"
        + ("" if PG_URL else f" ({PG_SKIP_REASON})")
    )
    if REQUIRE_PG and (_pg_outcomes["skipped"] or not _pg_outcomes["passed"]):
        terminalreporter.write_line(
            "FAILED: LEGATO_REQUIRE_POSTGRES=1 and PostgreSQL tests were skipped or none ran"
        )
