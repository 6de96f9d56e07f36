"""Refused requests per source address, limited (``webhooks.rate_limit`` in the config).

Only refusals count (a bad or missing signature, a body over the size limit, an unknown
endpoint) and only a refusal is ever answered 429: a request is verified first, so a valid
signed event is never throttled, whoever sent refusals from the same address. Each address has
a bucket of ``max_refusals`` that refills over ``window_seconds``; a refusal with the bucket
empty is answered ``429 RATE_LIMITED`` with ``Retry-After`` (seconds until one refills).

With several workers the buckets live in one small file in the run's shared directory, locked
while a refusal is counted (refusals are the rare path: valid events never touch it), so the
limit holds for the listener as a whole, not per worker.
"""

from __future__ import annotations

import fcntl
import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Addresses remembered at most; the longest-quiet are forgotten first.
MAX_ADDRESSES = 10_000


class RefusalLimiter:
    def __init__(
        self,
        *,
        max_refusals: int,
        window_seconds: float,
        enabled: bool = True,
        directory: str | Path | None = None,
    ) -> None:
        self.capacity = float(max_refusals)
        self.rate = max_refusals / window_seconds  # refusals regained per second
        self.enabled = enabled
        self._path = Path(directory) / "refusals.json" if directory else None
        self._lock = threading.Lock()
        self._memory: dict[str, list[float]] = {}

    def refused(self, address: str, now: float | None = None) -> int | None:
        """Count one refusal from ``address``. None: answer it as refused; a number: the
        address is over its limit, answer 429 with that ``Retry-After`` (seconds)."""
        if not self.enabled:
            return None
        moment = time.time() if now is None else now
        with self._buckets() as buckets:
            tokens, updated = buckets.get(address, (self.capacity, moment))
            tokens = min(self.capacity, tokens + max(0.0, moment - updated) * self.rate)
            if tokens >= 1:
                buckets[address] = [tokens - 1, moment]
                return None
            buckets[address] = [tokens, moment]
            wait: int = max(1, math.ceil((1 - tokens) / self.rate))
            return wait

    @contextmanager
    def _buckets(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            if self._path is None:
                yield self._memory
                self._prune(self._memory)
                return
            with open(self._path.with_suffix(".lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    buckets = self._load()
                    yield buckets
                    self._prune(buckets)
                    temporary = self._path.with_suffix(".tmp")
                    temporary.write_text(json.dumps(buckets, separators=(",", ":")))
                    temporary.replace(self._path)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, Any]:
        assert self._path is not None
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _prune(self, buckets: dict[str, Any]) -> None:
        if len(buckets) <= MAX_ADDRESSES:
            return
        quiet = sorted(buckets, key=lambda address: buckets[address][1])
        for address in quiet[: len(buckets) - MAX_ADDRESSES]:
            del buckets[address]
