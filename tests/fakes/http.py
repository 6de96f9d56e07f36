"""Serving a fake provider over real HTTP: a thread on a free local port answering JSON.

The fakes (``paystack``, ``stripe_transfers``) keep their logic in an ``answer(method, target,
headers, body) -> (status, JSON document)`` function; ``serve_json`` puts it behind a
``ThreadingHTTPServer`` so subprocesses (the CLI, the listener) can call it too."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any]
AnswerFn = Callable[[str, str, Mapping[str, str], bytes], Answer]


@contextmanager
def serve_json(answer: AnswerFn, name: str) -> Iterator[str]:
    """Serve ``answer`` on a free local port in a thread; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _dispatch(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, document = answer(self.command, self.path, headers, body)
            raw = json.dumps(document).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client timed out and hung up: expected in timeout tests

        do_GET = do_POST = do_PUT = do_DELETE = _dispatch

        def log_message(self, *_: Any) -> None:  # quiet: tests read the fake's state instead
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
