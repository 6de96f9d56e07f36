"""Local stand-ins for payment providers, faithful to /work/shared/GATEWAYS.md.

* ``tests.fakes.paystack``: ``FakePaystack``, a stateful Paystack API (served over real HTTP in a
  thread, or as an ``httpx.MockTransport``), plus Paystack-style webhook signing and posting.
* ``tests.fakes.localstripe``: a ``localstripe`` subprocess per test module behind a file lock, and a
  helper to register webhooks with it.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
