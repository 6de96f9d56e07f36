"""What a command loads when it starts: ``--help`` none of the database or server stack, a
command on an up-to-date database neither Alembic nor YAML; and the settings cache never hides a
change to the configuration from the next call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import ROOT, cli_env, run_cli

# (pydantic is not among them: Typer itself validates option values with it.)
HEAVY = ["sqlalchemy", "sqlmodel", "alembic", "stripe", "uvicorn", "httpx", "yaml", "rich"]

# Runs the real entry point in a fresh interpreter, then reports (on stderr, after the
# command's own output) the exit status and which of the modules it was given were imported.
PROBE = """
import json, sys
from commands.main import run
watched = json.loads(sys.argv[1])
try:
    run(sys.argv[2:])
    status = 0
except SystemExit as exit_:
    status = exit_.code
loaded = sorted(name for name in watched if name in sys.modules)
sys.stderr.write("\\nPROBE " + json.dumps({"status": status, "loaded": loaded}) + "\\n")
"""


def probe(env: dict[str, str], watched: list[str], *args: str) -> tuple[int, list[str], str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(watched), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("PROBE "), completed.stderr
    found = json.loads(last[len("PROBE ") :])
    return found["status"], found["loaded"], completed.stdout


def test_help_loads_no_database_server_or_gateway_code(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'unused.db'}", LEGATO_HOME=str(tmp_path))
    for args in (["--help"], ["balances", "--help"], ["ledger", "post", "--help"]):
        status, loaded, stdout = probe(env, HEAVY, *args)
        assert status == 0
        assert "Usage" in stdout
        # piped help is plain text: Rich (and Typer's Rich help) only on a terminal
        assert loaded == [], f"{' '.join(args)} imported {loaded}"
    assert not (tmp_path / "unused.db").exists()


def test_a_command_on_an_up_to_date_database_loads_neither_alembic_nor_yaml(
    tmp_path: Path,
) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'fresh.db'}", LEGATO_HOME=str(tmp_path))
    args = ["--output", "json", "users", "add", "U"]
    status, loaded, _ = probe(env, ["alembic", "yaml"], *args)
    assert status == 0
    assert loaded == ["alembic", "yaml"]  # first call: schema created, settings built and cached

    status, loaded, stdout = probe(
        env, ["alembic", "yaml"], "-o", "json", "balances", "show", "--user", "U"
    )
    assert status == 0
    assert json.loads(stdout)["user"] == "U"
    assert loaded == [], "the second call should check the revision and read the cached settings"


def test_read_commands_on_an_up_to_date_sqlite_file_load_no_sqlalchemy(tmp_path: Path) -> None:
    """``balances show`` and ``ledger balance`` read through sqlite3 alone (the light path);
    what the light path leaves to the full one (an unknown user) still gets its documented error."""
    env = cli_env(f"sqlite:///{tmp_path / 'fresh.db'}", LEGATO_HOME=str(tmp_path))
    watched = ["sqlalchemy", "sqlmodel", "alembic"]
    assert probe(env, watched, "-o", "json", "users", "add", "U")[0] == 0
    assert probe(env, watched, "-o", "json", "ledger", "open", "float:USD", "-c", "USD")[0] == 0

    status, loaded, stdout = probe(env, watched, "-o", "json", "balances", "show", "--user", "U")
    assert (status, loaded) == (0, [])
    assert json.loads(stdout)["coins"] == {"paid": 0, "bonus": 0, "total": 0}
    status, loaded, stdout = probe(env, watched, "-o", "json", "ledger", "balance", "float:USD")
    assert (status, loaded) == (0, [])
    assert json.loads(stdout)["posted_minor"] == 0

    status, loaded, _ = probe(env, watched, "-o", "json", "balances", "show", "--user", "ghost")
    assert status == 5  # USER_NOT_FOUND, worded by the full path
    assert "sqlalchemy" in loaded


def test_a_changed_config_file_is_seen_by_the_next_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    config = tmp_path / "legato.yaml"
    valid = 'revenue: {tips: {writer_percent: "80", platform_percent: "20"}}\n'
    invalid = valid.replace('"20"', '"30"')  # same size, adds up to 110
    assert len(valid) == len(invalid)

    def users_list() -> int:
        return run_cli(
            url, "--config", str(config), "users", "list", LEGATO_HOME=str(tmp_path)
        ).status

    config.write_text(valid, encoding="utf-8")
    assert users_list() == 0
    config.write_text(invalid, encoding="utf-8")  # within the same clock tick, same size
    result = run_cli(url, "--config", str(config), "users", "list", LEGATO_HOME=str(tmp_path))
    assert result.status == 10, result.stderr
    assert result.error["details"]["key"] == "revenue.tips"
    config.write_text(valid, encoding="utf-8")
    assert users_list() == 0


def test_a_changed_legato_variable_is_seen_by_the_next_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legato.db'}"
    home = str(tmp_path)
    assert run_cli(url, "users", "list", LEGATO_HOME=home).status == 0
    bad = run_cli(url, "users", "list", LEGATO_HOME=home, LEGATO_DATABASE__MAX_RETRIES="-1")
    assert bad.status == 10, bad.stderr
    assert bad.error["details"]["key"] == "database.max_retries"
    assert run_cli(url, "users", "list", LEGATO_HOME=home).status == 0


def test_help_on_a_terminal_is_rich(tmp_path: Path) -> None:
    """Plain help is for pipes; someone at a terminal still gets Typer's Rich panels."""
    import os
    import pty

    env = cli_env(f"sqlite:///{tmp_path / 'unused.db'}", LEGATO_HOME=str(tmp_path), COLUMNS="100")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "commands.main", "--help"],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    os.close(follower)
    output = b""
    try:
        while chunk := os.read(leader, 65536):
            output += chunk
    except OSError:  # EIO: the command exited and closed the terminal
        pass
    finally:
        os.close(leader)
    assert process.wait(timeout=120) == 0
    text = output.decode("utf-8", "replace")
    assert "╭─" in text and "Commands" in text and "balances" in text


def test_every_group_is_listed_once() -> None:
    from commands.main import GROUPS

    assert len(GROUPS) == len(set(GROUPS))
