"""Shared fixtures: one switch runs a test on SQLite and, when configured, on PostgreSQL.

``LEGATO_TEST_DATABASE_URL`` (set by ``.ci/run``) points at a scratch PostgreSQL database. Run
alone, pytest uses that database; under pytest-xdist every worker creates its own next to it
(``<name>_gw0``, ``<name>_gw1``, … on the same server) as a copy of ``<name>_template`` (migrated
once per run, dropped by the controller at the end), empties it before each test and drops it
when the worker ends. Without the variable, PostgreSQL variants skip with a reason;
with ``LEGATO_REQUIRE_POSTGRES=1`` (also set by ``.ci/run``) a skipped PostgreSQL test fails the
run. The controller counts PostgreSQL outcomes from every worker's reports.

Helpers live elsewhere: ``tests/factories.py`` (domain objects) and ``tests/cli_runner.py``
(running ``legato-pay``). This module holds only fixtures and hooks.
"""

from __future__ import annotations

import contextlib
import os
import re
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


def _template_name(base_url: str) -> str:
    from sqlalchemy.engine import make_url

    return f"{make_url(base_url).database}_template"


def drop_template_database(base_url: str) -> None:
    """Drop the run's migrated template (the controller does, before and after the run, so that
    a template never outlives the migrations it was built from)."""
    from psycopg import sql

    with _admin_connection(base_url) as connection:
        for name in (_template_name(base_url), f"{_template_name(base_url)}_partial"):
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _migrated_template(connection: Any, base_url: str) -> str:
    """``<base database>_template``, migrated once per run and copied for every database the
    tests create (Alembic takes seconds, a copy a fraction of one). Workers build it in turn,
    under an advisory lock; it is renamed into place only once migrated, so a worker killed
    half-way leaves nothing another would copy."""
    from psycopg import sql
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from legato_pay.store.schema import upgrade

    name = _template_name(base_url)
    connection.execute("SELECT pg_advisory_lock(hashtext(%s))", [name])
    try:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return name
        partial = f"{name}_partial"
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(partial))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(partial)))
        url = make_url(base_url).set(database=partial).render_as_string(hide_password=False)
        engine = create_engine(url, poolclass=NullPool)  # no connection left open to copy from
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        connection.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(partial), sql.Identifier(name)
            )
        )
        return name
    finally:
        connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", [name])


def create_worker_database(base_url: str, worker: str) -> str:
    """Create (afresh) ``<base database>_<worker>``, a copy of the migrated template; return its
    URL."""
    from psycopg import sql
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"{base.database}_{worker}"
    with _admin_connection(base_url) as connection:
        template = _migrated_template(connection, base_url)
        # A worker killed last time may have left its database behind.
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return base.set(database=name).render_as_string(hide_password=False)


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
    # the totals last: deleting engagement rows subtracts them from the totals (its triggers)
    tables.sort(key=lambda table: table.startswith("engagement_") and table.endswith("_totals"))
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


class _Sources:
    """What the controller reads of a test module's source (it sees node ids, not marks)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[Path, str] = {}

    def text(self, path: Path) -> str:
        if path not in self._texts:
            self._texts[path] = path.read_text(encoding="utf-8") if path.is_file() else ""
        return self._texts[path]

    def uses_localstripe(self, module: str) -> bool:
        return LOCALSTRIPE_IMPORT in self.text(self.root / module)

    def module_scoped(self, module: str) -> bool:
        """Whether the module's tests share a module-scoped fixture (its own, its folder's
        conftest's, or a built month of ``tests/reporting/money_month.py``)."""
        path = self.root / module
        sources = [self.text(path)] + [
            self.text(folder / "conftest.py")
            for folder in path.parents
            if folder != self.root / "tests" and self.root / "tests" in folder.parents
        ]
        return any(hint in source for source in sources for hint in MODULE_SCOPED_HINTS)

    def slow(self, nodeid: str) -> bool:
        """Marked ``slow``: the whole module (``pytestmark``) or this test function."""
        module, _, name = nodeid.partition("::")
        source = self.text(self.root / module)
        if re.search(r"^pytestmark = .*pytest\.mark\.slow", source, re.MULTILINE):
            return True
        function = name.split("[", 1)[0].rsplit("::", 1)[-1]
        return (
            re.search(rf"@pytest\.mark\.slow\n(?:@.*\n)*(?:async )?def {function}\(", source)
            is not None
        )


#: Source text of a module (or its folder's conftest) with a fixture its tests share.
MODULE_SCOPED_HINTS = ('scope="module"', "month_fixture()")
#: How many ordinary tests' time one ``slow`` test is guessed to take, for the order of work.
SLOW_WEIGHT = 20


@pytest.hookimpl(optionalhook=True)  # xdist hooks: fine without it (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist load`` (the default with ``-n``), with units of work that keep shared set-up on
    one worker, handed out heaviest first. (xdist's ``loadgroup`` cannot do it here: with
    pytest 9 it no longer sees group marks.) Other ``--dist`` modes are left to xdist.

    * The localstripe modules go to one worker as one unit.
    * A module whose tests share a module-scoped fixture goes to one worker per backend
      (``[sqlite…]``, ``[postgres…]``): spread test by test, every worker built the fixture
      again (a seeded database, a built month, a batch of CLI runs), and again each time its
      tests came back after another module's.
    * Everything else is one unit per test. Units go out heaviest first (tests in the unit,
      ``slow`` ones counted ``SLOW_WEIGHT`` times), so that the longest work does not start
      last and leave the other workers idle at the end.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    sources = _Sources(config.rootpath)

    class SharedSetUpTogether(LoadScopeScheduling):  # type: ignore[misc]
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if sources.uses_localstripe(module):
                return "localstripe"
            if sources.module_scoped(module):
                backend = re.search(r"\[(sqlite|postgres)\b", nodeid)
                return f"{module}[{backend.group(1) if backend else ''}]"
            return nodeid

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # once, on the first assignment: the whole queue is known
                heaviest_first = sorted(
                    self.workqueue.items(),
                    key=lambda unit: (
                        -sum(SLOW_WEIGHT if sources.slow(nodeid) else 1 for nodeid in unit[1])
                    ),
                )
                self.workqueue.clear()
                self.workqueue.update(heaviest_first)
                self.ordered = True
            super()._assign_work_unit(node)

    return SharedSetUpTogether(config, log)


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


def _drop_template(config: pytest.Config) -> None:
    """The controller's (or a plain run's) clean-up of the migrated template, if any."""
    if not PG_URL or _is_worker(config):
        return
    import psycopg

    # no server: the PostgreSQL tests will say so themselves
    with contextlib.suppress(psycopg.OperationalError):
        drop_template_database(PG_URL)


def pytest_configure(config: pytest.Config) -> None:
    _drop_template(config)  # one a crashed run left may predate the newest migration


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _drop_template(session.config)
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
