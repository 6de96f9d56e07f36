"""Shared fixtures: one switch runs a test on SQLite and, when configured, on PostgreSQL.

``LEGATO_TEST_DATABASE_URL`` (set by ``.ci/run``) points at a scratch PostgreSQL database. Run
alone, pytest uses that database; under pytest-xdist every worker creates its own next to it
(``<name>_gw0``, ``<name>_gw1``, … on the same server), migrates it, empties it before each test
and drops it when the worker ends. Without the variable, PostgreSQL variants skip with a reason;
with ``LEGATO_REQUIRE_POSTGRES=1`` (also set by ``.ci/run``) a skipped PostgreSQL test fails the
run. The controller counts PostgreSQL outcomes from every worker's reports.

Helpers live elsewhere: ``tests/factories.py`` (domain objects) and ``tests/cli_runner.py``
(running ``legato-pay``). This module holds only fixtures and hooks.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("LEGATO_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("LEGATO_REQUIRE_POSTGRES") == "1"
PG_SKIP_REASON = "LEGATO_TEST_DATABASE_URL is not set: PostgreSQL tests skipped"
#: Test modules that import this share localstripe (one instance machine-wide, behind a file
#: lock): xdist gives all of them to one worker, so that no other worker waits on the lock.
LOCALSTRIPE_IMPORT = "from tests.fakes.localstripe import"

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

_pg_outcomes = {"passed": 0, "skipped": 0}


# -- PostgreSQL: one database per worker -----------------------------------------------------


def _worker_id(config: pytest.Config) -> str:
    """``gw0``, ``gw1``, … under xdist; ``main`` in a plain run."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    return str(workerinput.get("workerid", "main"))


def _admin_connection(url: str) -> Any:
    """An autocommit psycopg connection to ``url`` (CREATE/DROP DATABASE refuse transactions)."""
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(plain, autocommit=True)


def create_worker_database(base_url: str, worker: str) -> str:
    """Create (afresh) and migrate ``<base database>_<worker>``; return its URL."""
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from legato_pay.store.engine import get_engine
    from legato_pay.store.schema import upgrade

    base = make_url(base_url)
    name = f"{base.database}_{worker}"
    with _admin_connection(base_url) as connection:
        # A worker killed last time may have left its database behind.
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(get_engine(url))
    return url


def drop_worker_database(base_url: str, url: str) -> None:
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from legato_pay.store.engine import dispose_engines

    dispose_engines()
    name = str(make_url(url).database)
    with _admin_connection(base_url) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


_RESET_SQL: dict[str, str] = {}


def _reset_statement(connection: Any) -> str:
    """DELETE from every legato table (cheaper than TRUNCATE's file swap for the few rows a test
    leaves: ~10 ms against ~75 ms) — built once per database from its table list."""
    from sqlalchemy import inspect

    tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
    return "; ".join(f'DELETE FROM "{table}"' for table in tables)


#: Sequences a test advanced (``last_value`` is NULL again after a restart), set back to 1 so
#: ids start at 1 in every test, as after ``TRUNCATE … RESTART IDENTITY``.
_USED_SEQUENCES = (
    "SELECT string_agg(format('ALTER SEQUENCE %I.%I RESTART', schemaname, sequencename), '; ') "
    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def reset_postgres(url: str) -> None:
    """Empty every legato table (keeping the schema) and forget cached account ids."""
    from sqlalchemy import text

    from legato_pay.ledger.accounts import clear_account_cache
    from legato_pay.store.engine import get_engine

    engine = get_engine(url)
    with engine.begin() as connection:
        # Migration 0007's triggers refuse deleting ledger rows: empty the tables with triggers
        # (and foreign key checks) off, which also makes the order of the deletes irrelevant.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        if url not in _RESET_SQL:
            _RESET_SQL[url] = _reset_statement(connection)
        if _RESET_SQL[url]:
            connection.exec_driver_sql(_RESET_SQL[url])
        restart = connection.execute(text(_USED_SEQUENCES)).scalar()
        if restart:
            connection.exec_driver_sql(restart)
    clear_account_cache()


@pytest.fixture(scope="session")
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """This process's PostgreSQL database, migrated, or None when none is configured. Made on
    first use, so a worker that runs no PostgreSQL test creates nothing."""
    if not PG_URL:
        yield None
        return
    worker = _worker_id(request.config)
    if worker == "main":
        from legato_pay.store.engine import get_engine
        from legato_pay.store.schema import upgrade

        upgrade(get_engine(PG_URL))  # a scratch database may predate the newest migration
        yield PG_URL
        return
    url = create_worker_database(PG_URL, worker)
    try:
        yield url
    finally:
        drop_worker_database(PG_URL, url)


def _fresh_postgres_url(request: pytest.FixtureRequest) -> str:
    """The worker's PostgreSQL database, emptied; skips (or fails, when required) without one."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("LEGATO_REQUIRE_POSTGRES=1 but LEGATO_TEST_DATABASE_URL is not set")
        pytest.skip(PG_SKIP_REASON)
    url: str = request.getfixturevalue("postgres_database")
    reset_postgres(url)
    return url


# -- SQLite: a migrated template copied per test ---------------------------------------------


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


def _fresh_sqlite_url(template: Path, directory: Path) -> str:
    target = directory / "legato.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


# -- the fixtures tests use ------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        return _fresh_sqlite_url(sqlite_template, tmp_path)
    return _fresh_postgres_url(request)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database, for tests of what only PostgreSQL has (mark them
    ``@pytest.mark.postgres`` so they are counted and never silently skipped in CI)."""
    return _fresh_postgres_url(request)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    return _fresh_sqlite_url(sqlite_template, tmp_path)


@pytest.fixture
def app(database_url: str) -> Iterator[Any]:
    """An application context on a fresh database."""
    from legato_pay.context import AppContext

    context = AppContext.create(database_url=database_url, actor="test")
    yield context


# -- hooks: xdist scheduling, and PostgreSQL outcomes counted by the controller ------------------


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than there are cores. Many tests wait on other processes
    (the CLI, PostgreSQL, a listener, localstripe), so an extra worker keeps the cores busy:
    on the 2-core CI machine 3 workers took 210 s where 2 took 274 s, 4 took 303 s.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return len(os.sched_getaffinity(0)) + 1


@pytest.hookimpl(optionalhook=True)  # xdist hooks: fine without it (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist load`` (the default with ``-n``), except that the localstripe modules go to one
    worker as one unit. (xdist's ``loadgroup`` cannot do it here: with pytest 9 it no longer
    sees group marks.) Other ``--dist`` modes are left to xdist."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    shares_localstripe: dict[str, bool] = {}

    def uses_localstripe(module: str) -> bool:
        if module not in shares_localstripe:
            path = config.rootpath / module
            source = path.read_text(encoding="utf-8") if path.is_file() else ""
            shares_localstripe[module] = LOCALSTRIPE_IMPORT in source
        return shares_localstripe[module]

    class OneWorkerForLocalstripe(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "localstripe" if uses_localstripe(module) else nodeid

    return OneWorkerForLocalstripe(config, log)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under xdist this runs in each worker and again in the controller for every report; only
    # the controller's count (or a plain run's) is summed and reported.
    if "postgres" not in report.keywords:
        return
    if report.skipped:
        _pg_outcomes["skipped"] += 1
    elif report.when == "call" and report.passed:
        _pg_outcomes["passed"] += 1


def _postgres_requirement_broken() -> bool:
    return REQUIRE_PG and bool(_pg_outcomes["skipped"] or not _pg_outcomes["passed"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _is_worker(session.config) and _postgres_requirement_broken():
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _is_worker(config):
        return
    terminalreporter.write_line(
        f"PostgreSQL tests: {_pg_outcomes['passed']} passed, {_pg_outcomes['skipped']} skipped"
        + ("" if PG_URL else f" ({PG_SKIP_REASON})")
    )
    if _postgres_requirement_broken():
        terminalreporter.write_line(
            "FAILED: LEGATO_REQUIRE_POSTGRES=1 and PostgreSQL tests were skipped or none ran"
        )
