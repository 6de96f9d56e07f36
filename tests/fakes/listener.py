"""A real ``legato-pay serve-webhooks`` process for end-to-end tests.

``Listener`` starts the command on a free port (in its own session, so ``kill`` takes any worker
processes with it), waits for ``/healthz``, and stops it on exit. Its output goes to a log file
that failures quote. Use it as a context manager::

    with Listener(database_url, log_dir, PAYSTACK_SECRET_KEY=...) as listener:
        httpx.post(listener.url("/webhooks/paystack"), ...)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

from tests.cli_runner import ROOT, cli_env
from tests.fakes import free_port

START_TIMEOUT_SECONDS = 30.0


class Listener:
    def __init__(
        self,
        database_url: str,
        log_dir: Path,
        *,
        workers: int = 1,
        name: str = "listener",
        **env: str,
    ) -> None:
        self.database_url = database_url
        self.log_dir = Path(log_dir)
        self.workers = workers
        self.name = name
        self.env = env
        self.port = 0
        self.log_path = self.log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._starts = 0

    # -- life -------------------------------------------------------------------------------

    def start(self) -> Listener:
        for _attempt in range(3):  # the free port may be taken between choosing and binding
            self._spawn()
            if self._wait_until_up():
                return self
            self._reap(signal.SIGKILL)
        raise AssertionError(f"serve-webhooks did not start:\n{self.log()}")

    def _spawn(self) -> None:
        self.port = free_port()
        self._starts += 1
        self.log_path = self.log_dir / f"{self.name}-{self._starts}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in _reap)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "commands.main",
                "serve-webhooks",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            cwd=ROOT,
            env=cli_env(self.database_url, **self.env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_until_up(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        with httpx.Client(timeout=1) as http:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                try:
                    if http.get(self.url("/healthz")).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def _reap(self, sig: int) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # the group it leads, nothing else
                    os.killpg(process.pid, sig)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=15)
            else:
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no graceful shutdown at all."""
        self._reap(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL if it does not exit."""
        self._reap(signal.SIGTERM)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------------------------

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"
