"""Running ``legato-pay`` from the tests as an operator would: its own process, environment,
streams and exit status.

``run_cli`` forks each command from a warm launcher (``tests/cli_forkserver.py``), so the ~1 s of
imports is paid once per launcher instead of once per call; ``LEGATO_TEST_COLD_CLI=1`` starts a
fresh interpreter per call instead. ``run_parallel`` starts many cold processes for the tests of
concurrent commands and releases them together through a start gate once all are ready.
Launchers belong to the pytest process that started them, so each xdist worker has its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
FORKSERVER = ROOT / "tests" / "cli_forkserver.py"
START_GATE = ROOT / "tests" / "start_gate.py"


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment without any ``LEGATO_*`` setting (the test's own ones win),
    pointed at ``database_url``."""
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
    """Exit status and both streams of one command; ``json`` and ``error`` parse them."""

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
    """Warm launchers, one per concurrent caller: a thread takes an idle one or starts another,
    so CLI calls from several threads still run at once."""

    idle: ClassVar[list[subprocess.Popen[str]]] = []
    lock = threading.Lock()

    @classmethod
    def _start(cls) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(FORKSERVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=cli_env("sqlite://"),
        )

    @classmethod
    def run(
        cls, args: list[str], env: dict[str, str], timeout: float, *, cwd: str | None = None
    ) -> dict[str, Any]:
        with cls.lock:
            server = cls.idle.pop() if cls.idle else None
        if server is None or server.poll() is not None:
            server = cls._start()
        assert server.stdin is not None and server.stdout is not None
        request = {"args": args, "env": env, "cwd": cwd or str(ROOT), "timeout": timeout}
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
    """Run ``legato-pay --output OUTPUT ARGS…`` against ``database_url`` in its own process."""
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


class GatedRun:
    """``legato-pay`` processes started together and held at a start gate (``start_gate.py``)
    until ``release``: each has imported the CLI and waits, so all go at once."""

    def __init__(self, database_url: str, commands: list[list[str]], **env: str) -> None:
        environment = cli_env(database_url, **env)
        self._directory = tempfile.TemporaryDirectory(prefix="legato-gate-")
        self.gate = Path(self._directory.name) / "gate"
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(START_GATE), str(self.gate), "--output", "json", *args],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            for args in commands
        ]

    def ready(self) -> int:
        """How many processes wait at the gate."""
        return len(list(self.gate.parent.glob(f"{self.gate.name}.ready-*")))

    def wait_ready(self, timeout: float = 120) -> None:
        """Return once every process waits at the gate."""
        deadline = time.monotonic() + timeout
        while self.ready() < len(self.processes):
            dead = [p.args for p in self.processes if p.poll() is not None]
            if dead:
                raise AssertionError(f"a process ended before the start gate opened: {dead}")
            if time.monotonic() > deadline:
                raise AssertionError("the processes never all reached the start gate")
            time.sleep(0.01)

    def release(self) -> list[tuple[int, str, str]]:
        """Open the gate (one atomic rename: every waiter sees it at once) and collect each
        process's exit status and streams, in the order the commands were given."""
        try:
            opening = self.gate.with_name("gate.tmp")
            opening.touch()
            opening.rename(self.gate)
            results = []
            for process in self.processes:
                out, err = process.communicate(timeout=180)
                results.append((process.returncode, out, err))
            return results
        finally:
            for process in self.processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            self._directory.cleanup()


def run_parallel(
    database_url: str, commands: list[list[str]], **env: str
) -> list[tuple[int, str, str]]:
    """Start every command as its own ``legato-pay`` process and release them together once
    all are ready, so their critical sections really overlap instead of being spread over the
    ~1 s each takes to import."""
    run = GatedRun(database_url, commands, **env)
    try:
        run.wait_ready()
    except BaseException:
        run.release()
        raise
    return run.release()
