"""A lean HTTP/1.1 load generator for the benchmarks: pre-built requests over keep-alive
connections on raw asyncio streams (uvloop when installed).

A general-purpose client (httpx) spends about a millisecond of CPU per request, which on a small
machine caps the load below what the servers under test can take; this one spends a few tens of
microseconds, so the figures measure the servers. Bodies are signed before the clock starts, as
a compiled generator (wrk with pre-signed bodies) would have them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


def build_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _connection(
    port: int, requests: list[bytes], cursor: list[int], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while cursor[0] < len(requests):
            request = requests[cursor[0]]
            cursor[0] += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                    break
            if length:
                await reader.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(port: int, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    cursor = [0]  # shared: connections take the next request as they come free
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, requests, cursor, statuses) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    return {
        "requests": len(requests),
        "seconds": round(elapsed, 3),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
    }


def send(port: int, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    """Send every request once over ``concurrency`` connections; returns time and statuses."""
    try:
        import uvloop

        return uvloop.run(_run(port, requests, concurrency))
    except ImportError:
        return asyncio.run(_run(port, requests, concurrency))
