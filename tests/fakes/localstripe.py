"""localstripe, a stateful Stripe emulator, run as a subprocess for the tests that need it.

localstripe keeps its state in one fixed file (``/tmp/localstripe.pickle``), so two instances
must never run at once, even from two pytest sessions on one machine: ``running_localstripe``
holds an exclusive ``fcntl`` lock for the emulator's whole life. Use the ``localstripe`` fixture
(module-scoped; import it into the test module) or the context manager directly.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes import free_port

LOCK_PATH = Path(tempfile.gettempdir()) / "localstripe.legato-tests.lock"
START_TIMEOUT_SECONDS = 30.0
#: A test key localstripe accepts (it takes any ``sk_…`` key).
TEST_SECRET_KEY = "sk_test_localstripe_legato"


def localstripe_command() -> list[str]:
    """The ``localstripe`` entry point next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("localstripe")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("localstripe")
    if found is None:
        pytest.fail("localstripe is not installed: pip install -e '.[dev]'")
    return [found]


@contextmanager
def _exclusive_lock() -> Iterator[None]:
    with open(LOCK_PATH, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for another session's instance to stop
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                # Unauthenticated: any answer (401) means it is listening.
                http.get(f"{base_url}/v1/customers")
                return True
            except httpx.TransportError:
                time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_localstripe(log_dir: Path | None = None) -> Iterator[str]:
    """Start ``localstripe --port FREE --from-scratch`` under the lock; yield its base URL."""
    log_dir = Path(log_dir or tempfile.gettempdir())
    with _exclusive_lock():
        for _attempt in range(3):  # the free port may be taken between choosing and binding
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            log_path = log_dir / f"localstripe-{port}.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [*localstripe_command(), "--port", str(port), "--from-scratch"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONWARNINGS": "ignore"},
                )
                try:
                    if _wait_until_up(process, base_url):
                        yield base_url
                        return
                finally:
                    _stop(process)
        pytest.fail(f"localstripe did not start; see {log_path}")


@pytest.fixture(scope="module", name="localstripe")
def localstripe_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh localstripe for one test module: yields its base URL (``STRIPE_API_BASE``)."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe")) as base_url:
        yield base_url


def register_webhook(
    base_url: str,
    webhook_id: str,
    url: str,
    secret: str,
    events: Iterable[str] | None = None,
) -> None:
    """``POST /_config/webhooks/{id}``: localstripe then posts signed events to ``url`` about a
    second after each change (no retries). ``events`` limits which types are sent."""
    form: dict[str, str | list[str]] = {"url": url, "secret": secret}
    if events is not None:
        form["events[]"] = list(events)
    response = httpx.post(f"{base_url}/_config/webhooks/{webhook_id}", data=form, timeout=10)
    response.raise_for_status()


def clear_data(base_url: str) -> None:
    """``DELETE /_config/data``: forget every stored object (webhook registrations stay)."""
    httpx.delete(f"{base_url}/_config/data", timeout=10).raise_for_status()
