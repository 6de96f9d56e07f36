"""What every answer to hostile input must look like, and the warm launcher the battery runs on.

The launcher is ``tests/cli_forkserver.py`` (one warm interpreter, a forked child per command,
the real entry point ``commands.main.run``), started here with an address-space limit so that a
command reading ``/dev/zero`` without a bound fails with a ``MemoryError`` in its own process
instead of taking the machine's memory, and with a timeout so that a hang is a finding too.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legato_pay.errors import EXIT_STATUSES
from tests.cli_runner import FORKSERVER, ROOT

#: Exit statuses a command may answer (the documented table, README "Exit status"), but 1:
#: INTERNAL_ERROR. 130 (a declined prompt) cannot happen here: stdin is not a terminal.
DOCUMENTED_STATUSES = frozenset(EXIT_STATUSES) - {1, 130}
#: Text that means an internal detail leaked into an answer.
LEAKS = (
    "Traceback (most recent call last)",
    "SELECT ",
    "INSERT INTO",
    "UPDATE ",
    "DELETE FROM",
    "[SQL:",
    "[parameters:",
    "sqlalchemy",
    "psycopg.",
    "sqlite3.",
    "(Background on this error",
)
#: Secrets the battery's environment holds: none may appear in any answer.
SECRETS = {
    "STRIPE_SECRET_KEY": "sk_test_hostileStripeSecret0123456789",
    "PAYSTACK_SECRET_KEY": "sk_test_hostilePaystackSecret0123456789",
    "STRIPE_WEBHOOK_SECRET": "whsec_hostileWebhookSecret0123456789",
}
#: A password in the PostgreSQL URL (trust authentication ignores it): it must never be shown.
DB_PASSWORD = "hostileDbPassw0rd"
#: The child's address-space limit: far above what any command needs, far below the machine.
MEMORY_LIMIT = 1536 * 1024 * 1024
#: A command still running after this long is a hang.
TIMEOUT = 60.0


def battery_env(database_url: str, home: Path) -> dict[str, str]:
    """No ``LEGATO_*`` from outside; gateways with keys but pointed at a closed local port (so a
    gateway call fails fast, offline), no retries, and the secrets the answers are searched for."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LEGATO_", "STRIPE_", "PAYSTACK_", "PAYMENT_GATEWAY"))
    }
    env.update(SECRETS)
    env.update(
        LEGATO_DATABASE_URL=database_url,
        LEGATO_ACTOR="hostile",
        LEGATO_HOME=str(home),
        LEGATO_GATEWAYS__MAX_RETRIES="0",
        LEGATO_GATEWAYS__TIMEOUT_SECONDS="2",
        STRIPE_API_BASE="http://127.0.0.1:9",
        PAYSTACK_BASE_URL="http://127.0.0.1:9",
        NO_COLOR="1",
        PYTHONPATH=str(ROOT),
        HOME=str(home),
    )
    return env


@dataclass(frozen=True)
class Answer:
    """One command's exit status and streams."""

    args: tuple[str, ...]
    status: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class Launcher:
    """A forkserver of the battery's own, with the memory limit (children inherit it)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[str] | None = None

    def _server(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, str(FORKSERVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=self.env,
                preexec_fn=_limit_memory,  # the parent has no threads yet
            )
        return self.process

    def run(self, *args: str, output: str = "json", env: dict[str, str] | None = None) -> Answer:
        server = self._server()
        assert server.stdin is not None and server.stdout is not None
        argv = ["--output", output, *args]
        request = {
            "args": argv,
            "env": {**self.env, **(env or {})},
            "cwd": str(self.cwd),
            "timeout": TIMEOUT,
        }
        try:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            answer = json.loads(server.stdout.readline())
        except BaseException:
            self.close()
            raise
        return Answer(tuple(argv), answer["status"], answer["stdout"], answer["stderr"])

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()
            self.process = None


def problems(answer: Answer, secrets: Sequence[str] = ()) -> list[str]:
    """How an answer under ``--output json`` breaks the contract (empty: it keeps it);
    ``secrets``: more values that must never be shown (a database password)."""
    found: list[str] = []
    if answer.status == -9:
        return [f"no answer within {TIMEOUT:.0f} s (killed)"]
    if answer.status not in DOCUMENTED_STATUSES:
        found.append(f"exit status {answer.status}")
    for stream, text in (("stdout", answer.stdout), ("stderr", answer.stderr)):
        found += [f"{stream} shows {leak!r}" for leak in LEAKS if leak in text]
        found += [f"{stream} shows the secret {name}" for name, v in SECRETS.items() if v in text]
        if any(secret in text for secret in (DB_PASSWORD, *secrets)):
            found.append(f"{stream} shows the database password")
    if answer.status == 0:
        try:
            json.loads(answer.stdout)
        except ValueError:
            found.append("exit 0 but stdout is not one JSON document")
        return found
    if answer.stdout.strip():
        found.append("stdout not empty on error")
    try:
        error = json.loads(answer.stderr)["error"]
        code = error["code"]
    except (ValueError, KeyError, TypeError):
        found.append("stderr is not one JSON error document")
        return found
    if code == "INTERNAL_ERROR":
        found.append("INTERNAL_ERROR")
    if not isinstance(error.get("message"), str) or not isinstance(error.get("details"), dict):
        found.append("error document without message/details")
    return found


def summary(answer: Answer) -> str:
    """The answer in one line, for a finding."""
    try:
        error = json.loads(answer.stderr)["error"]
        said = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        said = (answer.stderr or answer.stdout).strip().replace("\n", " | ")
    return f"exit {answer.status}: {said[:300]}"
