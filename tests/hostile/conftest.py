"""The battery's database: built and seeded once per module, on SQLite and (when configured)
PostgreSQL, and driven through a memory-limited warm launcher (``contract.Launcher``).

The ``hostile`` marker selects the battery (``pytest -m hostile``); tests failing on code other
branches are fixing stay honest failures until they merge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL, REQUIRE_PG, create_worker_database, drop_worker_database
from tests.hostile.contract import DB_PASSWORD, Launcher, battery_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hostile: the hostile battery (generated hostile input for every command)"
    )


@dataclass
class Seeded:
    """A seeded database, the launcher that runs commands on it, and what the seed made."""

    url: str
    launcher: Launcher
    workdir: Path
    secrets: list[str]
    references: list[str] = field(default_factory=list)

    def run(self, *args: str, **kwargs: Any) -> Any:
        return self.launcher.run(*args, **kwargs)


#: The seed, as an operator would type it; purchase references are read from the answers.
SEED: list[list[str]] = [
    ["users", "add", "alice", "--email", "alice@example.com"],
    ["users", "add", "bob", "--email", "bob@example.com"],
    ["users", "add", "wendy", "--writer"],
    ["content", "add", "ch-1", "--writer", "wendy", "--type", "chapter"],
    ["content", "add", "ch-2", "--writer", "wendy", "--type", "story"],
    ["ledger", "open", "savings:42", "--currency", "USD", "--no-overdraft"],
    ["ledger", "open", "ops:float", "--currency", "USD"],
    ["ledger", "post", "--from", "world:USD", "--to", "savings:42", "--amount", "12.50",
     "--currency", "USD", "--key", "seed-1"],
    ["ledger", "post", "--from", "world:USD", "--to", "ops:float", "--amount", "5.00",
     "--currency", "USD", "--pending", "--key", "seed-2"],
    ["ledger", "post", "--from", "world:USD", "--to", "ops:float", "--amount", "2.00",
     "--currency", "USD", "--pending", "--key", "seed-3"],
    ["rates", "set", "USD", "NGN", "1550.00"],
    ["users", "add", "ann", "--investor"],
    ["users", "add", "ben", "--investor"],
    ["apps", "add", "quill", "--name", "Quill Reader", "--owner", "wendy"],
    ["shares", "issue", "--app", "quill", "--to", "ann", "--units", "600", "--key", "seed-ann"],
    ["shares", "issue", "--app", "quill", "--to", "ben", "--units", "401", "--key", "seed-ben"],
]  # fmt: skip
PURCHASES = [("alice", "popular", "USD"), ("bob", "starter", "NGN")]
AFTER_PURCHASES: list[list[str]] = [
    ["access", "unlock", "--user", "alice", "--content", "ch-1"],
    ["tips", "send", "--from", "alice", "--to", "wendy", "--coins", "20"],
    ["gifts", "send", "--from", "alice", "--to", "bob", "--coins", "5"],
    ["subscriptions", "start", "--user", "bob", "--tier", "basic", "--currency", "USD"],
    ["engagement", "record", "--user", "bob", "--content", "ch-2", "--minutes", "5"],
    ["ledger", "seal"],
]


def seed(seeded: Seeded) -> None:
    for args in SEED:
        answer = seeded.run(*args)
        assert answer.status == 0, (args, answer.stderr)
    for user, package, currency in PURCHASES:
        created = seeded.run(
            "purchases", "create", "--user", user, "--package", package, "--currency", currency
        )
        assert created.status == 0, created.stderr
        reference = created.json["reference"]
        verified = seeded.run("purchases", "verify", reference)
        assert verified.status == 0, verified.stderr
        seeded.references.append(reference)
    for args in AFTER_PURCHASES:
        answer = seeded.run(*args)
        assert answer.status == 0, (args, answer.stderr)


def _postgres_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """A database of the battery's own (other tests empty the worker's between tests), with
    a password in its URL for the leak checks (trust authentication ignores it)."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("LEGATO_REQUIRE_POSTGRES=1 but LEGATO_TEST_DATABASE_URL is not set")
        pytest.skip("LEGATO_TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    from sqlalchemy.engine import make_url

    workerinput: dict[str, Any] = getattr(request.config, "workerinput", {})
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"{workerinput.get('workerid', 'main')}_{module}"
    url = create_worker_database(PG_URL, name)
    parsed = make_url(url)
    secret = parsed.password or DB_PASSWORD
    shown = parsed.set(password=secret).render_as_string(hide_password=False)
    try:
        yield shown, [secret]
    finally:
        drop_worker_database(PG_URL, url)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Seeded]:
    """A database seeded once for the module: readers, a writer's two items, two verified
    purchases, an unlock, a tip, a gift, a subscription, ledger accounts, two pending entries,
    an app with two investors' shares."""
    import shutil

    workdir = tmp_path_factory.mktemp("hostile")
    postgres: Iterator[tuple[str, list[str]]] | None = None
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, workdir / "legato.db")
        url, secrets = f"sqlite:///{workdir / 'legato.db'}", []
    else:
        postgres = _postgres_url(request)
        url, secrets = next(postgres)
    launcher = Launcher(battery_env(url, workdir), workdir)
    seeded = Seeded(url, launcher, workdir, secrets)
    try:
        seed(seeded)
        yield seeded
    finally:
        launcher.close()
        if postgres is not None:
            next(postgres, None)
