"""What a read command leaves out: ``balances show`` on an up-to-date SQLite file reads through
sqlite3 alone (``store/lightread``): no SQLAlchemy, no SQLModel class, none of the ledger's
write paths nor any other command group; and pydantic does not scan installed packages for
plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from commands.main import GROUPS, invoked_group
from tests.cli.test_startup import probe
from tests.cli_runner import ROOT, cli_env

# Off the read path since issue 9's second start-up pass.
NOT_FOR_A_READ = [
    "sqlmodel",
    "legato_pay.store.models.ledger",
    "legato_pay.store.models.readers",
    "legato_pay.store.models.webhooks",
    "legato_pay.ledger.posting",
    "legato_pay.ledger.pending",
    "legato_pay.ledger.postgres",
    "legato_pay.ledger.sqlite",
    "legato_pay.ledger.shaping",
    "legato_pay.ledger.verify",
    # the light read path (issue 9's third pass): the same SQL on the standard library's driver
    "sqlalchemy",
    "legato_pay.store.models.core",
    "legato_pay.ledger.queries",
]
# What the read does need: proof that the probe sees the command's imports at all.
NEEDED = ["legato_pay.ledger.current", "legato_pay.store.lightread", "sqlite3"]
# Only the invoked group's module is imported (and built by Typer).
OTHER_GROUPS = [f"commands.{name}" for name in GROUPS if name != "balances"]


def test_balances_show_loads_no_models_and_no_ledger_write_path(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'legato.db'}", LEGATO_HOME=str(tmp_path))
    status, _, _ = probe(env, [], "-o", "json", "users", "add", "U")
    assert status == 0

    watched = [*NOT_FOR_A_READ, *OTHER_GROUPS, *NEEDED]
    status, loaded, stdout = probe(env, watched, "-o", "json", "balances", "show", "--user", "U")
    assert status == 0
    assert json.loads(stdout)["user"] == "U"
    assert sorted(loaded) == sorted(NEEDED)


@pytest.mark.parametrize(
    ("args", "group"),
    [
        (["balances", "show", "--user", "U"], "balances"),
        (["-o", "json", "--db", "sqlite:///x.db", "ledger", "post"], "ledger"),
        (["--output=json", "-q", "--debug", "--actor", "ops", "users", "list"], "users"),
        (["--config", "balances", "users"], "users"),  # an option's value is not the group
        (["--help"], None),
        ([], None),
        (["-ojson", "balances"], None),  # not read past: the whole command line is built
        (["demo"], None),
        (["serve-webhooks"], None),
        (["balancez"], None),  # the whole line, so click can suggest the right name
        (["--", "balances"], None),
    ],
)
def test_the_invoked_group_is_read_past_the_global_options(
    args: list[str], group: str | None
) -> None:
    assert invoked_group(args) == group


def cli_sees(env: dict[str, str]) -> str:
    """``PYDANTIC_DISABLE_PLUGINS`` as the CLI's modules leave it."""
    script = "import os, commands.main; print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))"
    shown = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()


def test_the_cli_turns_off_pydantic_plugin_discovery_unless_told(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'unused.db'}", LEGATO_HOME=str(tmp_path))
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    assert cli_sees(env) == "1"
    env["PYDANTIC_DISABLE_PLUGINS"] = ""  # someone who wants their plugins keeps them
    assert cli_sees(env) == ""
