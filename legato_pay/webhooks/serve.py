"""Running the listener: bind the socket ourselves, then hand it to uvicorn's workers.

Binding first turns "the port is taken" into a documented CONFIG_ERROR (exit 10, JSON under
``-o json``) instead of uvicorn's bare log line and exit 3, and gives the start-up line the
real address (``--port 0`` picks a free one). The workers share a state directory made for
the run (``LEGATOPAY_WEBHOOK_STATE_DIR``): each keeps its metrics there, ``/metrics`` sums them,
and the refusal limiter keeps its buckets there; it is removed when the listener stops.
"""

from __future__ import annotations

import errno
import inspect
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from legato_pay.errors import ConfigError, InvalidInput
from legato_pay.webhooks.metrics import STATE_DIR_ENV

APP_FACTORY = "legato_pay.webhooks.app:create_app_from_env"
MAX_WORKERS = 64


@dataclass(frozen=True, slots=True)
class Listening:
    """Where the listener is, for its start-up line (the database without its password)."""

    url: str
    host: str
    port: int
    workers: int
    database: str

    def as_json(self) -> dict[str, Any]:
        return {
            "event": "webhooks_listening",
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "workers": self.workers,
            "database": self.database,
            "pid": os.getpid(),
        }

    def __str__(self) -> str:
        plural = "s" if self.workers != 1 else ""
        return (
            f"listening on {self.url} ({self.workers} worker{plural}); database {self.database}; "
            "POST /webhooks/stripe, /webhooks/paystack; GET /healthz, /readyz, /metrics"
        )


def masked_database(url: str) -> str:
    """The database URL as it may be printed: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL we can read: print nothing of it
        return "(unreadable database URL)"


def check_options(port: int, workers: int) -> None:
    if not 0 <= port <= 65535:
        raise InvalidInput("--port must be 0-65535", details={"port": port})
    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidInput(f"--workers must be 1-{MAX_WORKERS}", details={"workers": workers})


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``, or CONFIG_ERROR saying why not."""
    details: dict[str, Any] = {"host": host, "port": port}
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: the host cannot be resolved",
            details={**details, "reason": str(exc)},
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"cannot listen on {host}:{port}: the address is already in use "
                "(another listener or program has it; pick another --port or stop it)",
                details={**details, "reason": "address_in_use"},
            ) from None
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or type(exc).__name__}",
            details={**details, "reason": errno.errorcode.get(exc.errno or 0, "os_error")},
        ) from None
    sock.set_inheritable(True)
    return sock


def listening(sock: socket.socket, host: str, workers: int, database_url: str) -> Listening:
    port = int(sock.getsockname()[1])
    shown = f"[{host}]" if ":" in host else host
    return Listening(f"http://{shown}:{port}", host, port, workers, masked_database(database_url))


STATE_PREFIX = "legato-webhooks-"


def _remove_orphans(parent: Path) -> None:
    """State directories of listeners that were killed before they could clean up (their
    supervisor's pid, in the name, is gone)."""
    for path in parent.glob(f"{STATE_PREFIX}*-*"):
        pid = path.name[len(STATE_PREFIX) :].split("-", 1)[0]
        if not pid.isascii() or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (PermissionError, OverflowError, ValueError):
            continue


@contextmanager
def shared_state() -> Iterator[str]:
    """The run's state directory, exported for the workers, removed afterwards."""
    parent = Path(tempfile.gettempdir())
    _remove_orphans(parent)
    directory = tempfile.mkdtemp(prefix=f"{STATE_PREFIX}{os.getpid()}-", dir=parent)
    previous = os.environ.get(STATE_DIR_ENV)
    os.environ[STATE_DIR_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(STATE_DIR_ENV, None)
        else:
            os.environ[STATE_DIR_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def run(sock: socket.socket, *, workers: int, graceful_shutdown_seconds: int) -> None:
    """Serve on ``sock`` until stopped: in this process for one worker, else N processes."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=str(host),
        port=int(port),
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the peer address is the client (rate limiting counts by it)
        timeout_graceful_shutdown=graceful_shutdown_seconds,
    )
    server = uvicorn.Server(config)
    with shared_state():
        if workers > 1:
            if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn < 0.36
                Multiprocess(config, target=server.run, sockets=[sock]).run()  # type: ignore[call-arg]
            else:
                Multiprocess(config, sockets=[sock]).run()
            return
        server.run(sockets=[sock])
    if not server.started:
        raise ConfigError("the webhook listener did not start: see the lines above")
