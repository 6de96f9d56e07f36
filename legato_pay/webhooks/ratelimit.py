"""Refused requests per source address, limited (``webhooks.rate_limit`` in the config).

Only refusals count (a bad or missing signature, a body over the size limit, an unknown
endpoint) and only a refusal is ever answered 429: a request is verified first, so a valid
signed event is never throttled, whoever sent refusals from the same address. Each address has
a bucket of ``max_refusals`` that refills over ``window_seconds``; a refusal with the bucket
empty is answered ``429 RATE_LIMITED`` with ``Retry-After`` (seconds until one refills).

The buckets are a fixed table of slots (an address's slot is chosen by a digest of it) in a
memory-mapped file of the run's shared directory, so the limit holds for the listener as a
whole, not per worker; a refusal takes the file's lock for the few microseconds of one
read-modify-write. Two addresses sharing a slot share a limit, which costs nothing that
matters: only refusals are limited, so at worst a refusal is answered 429 instead of 400.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Buckets in the table (16 bytes each: tokens, last update).
SLOTS = 1 << 16
_SLOT = struct.Struct("<dd")


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
        self._lock = threading.Lock()
        self._fd: int | None = None
        size = SLOTS * _SLOT.size
        if directory is None:
            self._table = mmap.mmap(-1, size)
            return
        self._fd = os.open(Path(directory) / "refusals.bin", os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # the same size from every worker: no race
        self._table = mmap.mmap(self._fd, size)

    def refused(self, address: str, now: float | None = None) -> int | None:
        """Count one refusal from ``address``. None: answer it as refused; a number: the
        address is over its limit, answer 429 with that ``Retry-After`` (seconds)."""
        if not self.enabled:
            return None
        moment = time.time() if now is None else now
        offset = _slot(address) * _SLOT.size
        with self._locked():
            tokens, updated = _SLOT.unpack_from(self._table, offset)
            if updated == 0:  # never used: a full bucket
                tokens = self.capacity
            tokens = min(self.capacity, tokens + max(0.0, moment - updated) * self.rate)
            if tokens >= 1:
                _SLOT.pack_into(self._table, offset, tokens - 1, moment)
                return None
            _SLOT.pack_into(self._table, offset, tokens, moment)
        wait: int = max(1, math.ceil((1 - tokens) / self.rate))
        return wait

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._fd is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._table.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _slot(address: str) -> int:
    digest = hashlib.blake2b(address.encode("utf-8", "replace"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % SLOTS
