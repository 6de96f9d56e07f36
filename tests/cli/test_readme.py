"""Every ``legato-pay`` command shown in README.md runs, in order, and does what the README says
(sqlite-utils' ``test_docs`` habit), so the README cannot drift from the code.

How the README is read:

* Each fenced ``bash`` block is a session on a fresh machine: its own empty ``$LEGATO_HOME``
  (the default SQLite database lives there) and working directory.
* A line ending in ``\\`` continues on the next; ``&&`` separates commands; ``#`` starts a
  comment; of a pipeline, the command before the first ``|`` runs. A command whose program is
  ``legato-pay`` (``.venv/bin/legato-pay`` too) runs in a process of its own: the first block's
  through the installed console script, the others' through the warm launcher
  (``tests/cli_forkserver.py``: a forked child per command, the same entry point, without
  paying the imports again per command); other tools' commands (python3, pip, pytest, docker)
  do not run.
* It must exit 0, unless its comment says ``exits N``. A comment line holding a JSON document
  right after a command is that command's documented output, and must be what it prints.
* Skipped: ``serve-webhooks`` (a server that runs until stopped; the webhook tests run it).
* Placeholders are substituted (``PLACEHOLDERS``): ``pur_…`` is the reference of the newest
  purchase, looked up with ``legato-pay -o json purchases list --limit 1``.
  Any other ``…`` left in a command fails the test, so a new placeholder gets a rule here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli_runner import ROOT, _ForkServers, cli_env

LEGATO_PAY = Path(sys.executable).with_name("legato-pay")
SKIPPED_COMMANDS = {"serve-webhooks"}
EXPECTED_STATUS = re.compile(r"\bexits? (\d+)\b")

pytestmark = pytest.mark.slow


@dataclass
class Command:
    words: list[str]
    status: int = 0
    output: object | None = None  # the documented JSON output, if any
    line: str = ""


@dataclass
class Session:
    """A fresh ``$LEGATO_HOME`` and working directory for one README block."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    cold: bool = False  # through the console script rather than the warm launcher

    def run(self, words: list[str]) -> subprocess.CompletedProcess[str]:
        if not self.cold:
            answer = _ForkServers.run(words, self.env, 600, cwd=str(self.home))
            return subprocess.CompletedProcess(
                words, answer["status"], answer["stdout"], answer["stderr"]
            )
        return subprocess.run(
            [str(LEGATO_PAY), *words],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.home,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )


def newest_purchase(session: Session) -> str:
    """``pur_…``: the purchase the block made last."""
    listed = session.run(["--output", "json", "purchases", "list", "--limit", "1"])
    assert listed.returncode == 0, listed.stderr
    purchases = json.loads(listed.stdout)["purchases"]
    assert purchases, "no purchase to put in place of pur_…"
    return str(purchases[0]["reference"])


PLACEHOLDERS: dict[str, Callable[[Session], str]] = {"pur_…": newest_purchase}


def fenced_bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def block_commands(block: str) -> list[Command]:
    """The ``legato-pay`` commands of one block, with what the README says they give."""
    commands: list[Command] = []
    for line in block.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped.startswith("# {") and commands:
            commands[-1].output = json.loads(stripped[2:])
            continue
        comment = stripped.partition("#")[2]
        for part in stripped.partition("#")[0].split("&&"):
            piped_from = part.split("|")[0]  # ``legato-pay … | jq …``: the legato-pay side
            words = shlex.split(piped_from)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # ``VAR=value cmd``
                words.pop(0)
            if not words or Path(words[0]).name != "legato-pay":
                continue
            found = EXPECTED_STATUS.search(comment)
            commands.append(Command(words[1:], int(found.group(1)) if found else 0, None, line))
    return commands


def readme_blocks() -> list[list[Command]]:
    """Blocks with at least one command to run."""
    blocks = [
        [c for c in block_commands(b) if not SKIPPED_COMMANDS & set(c.words)]
        for b in fenced_bash_blocks((ROOT / "README.md").read_text())
    ]
    return [block for block in blocks if block]


def substitute(session: Session, words: list[str]) -> list[str]:
    filled = []
    for word in words:
        for placeholder, rule in PLACEHOLDERS.items():
            if placeholder in word:
                word = word.replace(placeholder, rule(session))
        assert "…" not in word, f"no rule for the placeholder in {word!r}: add one to PLACEHOLDERS"
        filled.append(word)
    return filled


def test_readme_has_the_commands_this_test_expects() -> None:
    """Guards the parser: if the README's blocks stop being found, the test below would pass
    having run nothing."""
    commands = [c for block in readme_blocks() for c in block]
    words = {word for command in commands for word in command.words}
    assert len(commands) >= 15, [c.line for c in commands]
    assert {"demo", "ledger", "users", "purchases", "access", "tips"} <= words
    assert any(c.output is not None for c in commands)


def block_id(index: int) -> str:
    """A block's id: its first command, e.g. ``demo`` or ``users-add-alice``."""
    first = readme_blocks()[index][0].words
    return "-".join([w for w in first if not w.startswith("-")][:3]) or "help"


@pytest.mark.parametrize("index", range(len(readme_blocks())), ids=block_id)
def test_readme_block_runs_as_documented(index: int, tmp_path: Path) -> None:
    block = readme_blocks()[index]
    session = Session(tmp_path, cold=index == 0)
    session.env = cli_env("unused", LEGATO_HOME=str(tmp_path / "home"))
    del session.env["LEGATO_DATABASE_URL"]  # the README's commands use the default database
    for command in block:
        words = substitute(session, command.words)
        completed = session.run(words)
        assert completed.returncode == command.status, (command.line, completed.stderr)
        if command.output is not None:
            assert json.loads(completed.stdout) == command.output, command.line
