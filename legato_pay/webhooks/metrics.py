"""Prometheus metrics for the webhook listener, summed over every worker process.

``serve-webhooks --workers N`` runs N processes behind one socket and a scrape reaches any one
of them, so each process keeps its counters in a memory-mapped file of its own in a directory
they share (``LEGATOPAY_WEBHOOK_STATE_DIR``, made by ``serve-webhooks`` for the run; the scheme of
prometheus_client's multiprocess mode, without the dependency). An update is a store into the
process's own mapping (no system call, no lock shared with other processes); ``render`` reads
every file and sums, so each scrape shows every worker's counts, including a worker that has
since been replaced. Without a directory (one in-process app: tests) the file is anonymous.

Labels: ``legato_webhook_rejected_total{provider, code}`` uses the very ``code`` of the error
document the request was answered with (``INVALID_SIGNATURE``, ``TOO_LARGE``,
``RATE_LIMITED``, ``NOT_FOUND``, ``GATEWAY_UNAVAILABLE``).
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from pathlib import Path
from typing import Any

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
STATE_DIR_ENV = "LEGATOPAY_WEBHOOK_STATE_DIR"
_INITIAL_SIZE = 1 << 16
_HEADER = struct.Struct("<Q")  # bytes used, including this header
_LENGTH = struct.Struct("<I")
_VALUE = struct.Struct("<d")
_SEP = "\x1f"  # between a series' name and its label values in a key


class _MappedValues:
    """Named float values in a memory-mapped file: ``[used][len key pad value]…``, every
    value 8-byte aligned so a reader never sees half of one. Entries are only appended;
    ``used`` moves after an entry is complete, so a reader sees whole entries only."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        if path is None:
            self._map = mmap.mmap(-1, _INITIAL_SIZE)
        else:
            with path.open("wb") as file:
                file.truncate(_INITIAL_SIZE)
            self._map = _map_file(path, _INITIAL_SIZE)
        self._used = _HEADER.size
        _HEADER.pack_into(self._map, 0, self._used)
        self._offsets: dict[str, int] = {}

    def add(self, key: str, amount: float) -> None:
        offset = self._offsets.get(key)
        if offset is None:
            offset = self._append(key)
        (value,) = _VALUE.unpack_from(self._map, offset)
        _VALUE.pack_into(self._map, offset, value + amount)

    def _append(self, key: str) -> int:
        encoded = key.encode()
        padded = len(encoded) + (-(len(encoded) + _LENGTH.size) % 8)
        size = _LENGTH.size + padded + _VALUE.size
        while self._used + size > len(self._map):
            self._grow()
        _LENGTH.pack_into(self._map, self._used, len(encoded))
        start = self._used + _LENGTH.size
        self._map[start : start + len(encoded)] = encoded
        offset = start + padded
        _VALUE.pack_into(self._map, offset, 0.0)
        self._used += size
        _HEADER.pack_into(self._map, 0, self._used)
        self._offsets[key] = offset
        return offset

    def _grow(self) -> None:
        size = len(self._map) * 2
        if self._path is None:
            bigger = mmap.mmap(-1, size)
            bigger[: len(self._map)] = self._map[:]
            self._map = bigger
            return
        old = self._map
        self._map = _map_file(self._path, size)
        old.close()

    def items(self) -> list[tuple[str, float]]:
        return list(_entries(bytes(self._map[: self._used])))


def _map_file(path: Path, size: int) -> mmap.mmap:
    """``path`` grown to ``size`` and mapped (the mapping keeps its own handle on the file)."""
    with path.open("r+b") as file:
        if file.seek(0, os.SEEK_END) < size:
            file.truncate(size)
        return mmap.mmap(file.fileno(), size)


def _entries(data: bytes) -> list[tuple[str, float]]:
    """The (key, value) entries of a values file's bytes (a prefix is fine: whole ones only)."""
    if len(data) < _HEADER.size:
        return []
    (used,) = _HEADER.unpack_from(data, 0)
    used = min(used, len(data))
    position, found = _HEADER.size, []
    while position + _LENGTH.size <= used:
        (length,) = _LENGTH.unpack_from(data, position)
        start = position + _LENGTH.size
        padded = length + (-(length + _LENGTH.size) % 8)
        offset = start + padded
        if offset + _VALUE.size > used:
            break
        key = data[start : start + length].decode("utf-8", errors="replace")
        found.append((key, _VALUE.unpack_from(data, offset)[0]))
        position = offset + _VALUE.size
    return found


class Metrics:
    """This process's counters, written where every worker's ``render`` can sum them."""

    def __init__(self, directory: str | Path | None = None, *, name: str | None = None) -> None:
        self._lock = threading.Lock()
        self._directory = Path(directory) if directory else None
        own = f"metrics-{name or os.getpid()}.bin"
        path = self._directory / own if self._directory else None
        self._values = _MappedValues(path)

    def observe(self, provider: str, event_type: str, outcome: str, seconds: float) -> None:
        with self._lock:
            add = self._values.add
            add(_SEP.join(("events", provider, event_type, outcome)), 1)
            add("seconds_sum", seconds)
            add("seconds_count", 1)
            index = bisect_left(BUCKETS, seconds)
            if index < len(BUCKETS):  # cumulative buckets are summed when rendered
                add(_SEP.join(("seconds_bucket", str(BUCKETS[index]))), 1)

    def reject(self, provider: str, code: str) -> None:
        with self._lock:
            self._values.add(_SEP.join(("rejected", provider, code)), 1)

    def totals(self) -> dict[str, float]:
        """Every series summed over this run's worker files (or this process alone)."""
        with self._lock:
            own = self._values.items()
        files = sorted(self._directory.glob("metrics-*.bin")) if self._directory else []
        if not files:
            sources = [own]
        else:
            sources = []
            for path in files:
                try:
                    sources.append(_entries(path.read_bytes()))
                except OSError:  # a file removed meanwhile
                    continue
        summed: dict[str, float] = defaultdict(float)
        for entries in sources:
            for key, value in entries:
                summed[key] += value
        return summed

    def render(self) -> str:
        totals = self.totals()
        events, rejected, buckets = [], [], dict.fromkeys(BUCKETS, 0.0)
        for key, value in totals.items():
            kind, *labels = key.split(_SEP)
            if kind == "events" and len(labels) == 3:
                events.append((tuple(labels), value))
            elif kind == "rejected" and len(labels) == 2:
                rejected.append((tuple(labels), value))
            elif kind == "seconds_bucket" and len(labels) == 1:
                bound = float(labels[0])
                if bound in buckets:
                    buckets[bound] += value
        lines = [
            "# HELP legato_webhook_events_total Webhook events by provider, type and outcome.",
            "# TYPE legato_webhook_events_total counter",
        ]
        for (provider, event_type, outcome), count in sorted(events):
            lines.append(
                f'legato_webhook_events_total{{provider="{_esc(provider)}",'
                f'type="{_esc(event_type)}",outcome="{_esc(outcome)}"}} {_num(count)}'
            )
        lines += [
            "# HELP legato_webhook_rejected_total Requests refused before storage, by the code"
            " they were answered with.",
            "# TYPE legato_webhook_rejected_total counter",
        ]
        for (provider, code), count in sorted(rejected):
            lines.append(
                f'legato_webhook_rejected_total{{provider="{_esc(provider)}",'
                f'code="{_esc(code)}"}} {_num(count)}'
            )
        lines += [
            "# HELP legato_webhook_processing_seconds Time to verify, store and apply an event.",
            "# TYPE legato_webhook_processing_seconds histogram",
        ]
        cumulative = 0.0
        for bound in BUCKETS:
            cumulative += buckets[bound]
            lines.append(
                f'legato_webhook_processing_seconds_bucket{{le="{bound}"}} {_num(cumulative)}'
            )
        count = totals.get("seconds_count", 0.0)
        lines.append(f'legato_webhook_processing_seconds_bucket{{le="+Inf"}} {_num(count)}')
        lines.append(f"legato_webhook_processing_seconds_sum {totals.get('seconds_sum', 0.0):.6f}")
        lines.append(f"legato_webhook_processing_seconds_count {_num(count)}")
        return "\n".join(lines) + "\n"


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class OpsGauges:
    """The health checks and the gateways report as gauges (``health.gauges``), computed on a
    scrape at most once per ``health.metrics_cache_seconds`` per process: a scrape between
    reuses the last text, so ``/metrics`` never runs the report's queries (or probes a gateway:
    those are cached longer still) every time. ``/readyz?deep=1`` reuses the same health report.
    """

    def __init__(self, context: Any) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._health: tuple[float, Any] | None = None
        self._text: tuple[float, str] | None = None

    def _ttl(self) -> float:
        return float(self._context.settings.health.metrics_cache_seconds)

    def health(self) -> Any:
        """The deep health report, at most ``metrics_cache_seconds`` old."""
        from legato_pay.health import check_health

        with self._lock:
            now = time.monotonic()
            if self._health is None or now - self._health[0] >= self._ttl():
                self._health = (now, check_health(self._context))
            return self._health[1]

    def render(self) -> str:
        from datetime import timedelta

        from legato_pay.health.gauges import render_gauges
        from legato_pay.ledger.types import utcnow
        from legato_pay.reporting.gateways import gateways_report
        from legato_pay.reporting.periods import Window

        with self._lock:
            cached = self._text
            if cached is not None and time.monotonic() - cached[0] < self._ttl():
                return cached[1]
        health = self.health()
        gateways = None
        if health.checks and health.checks[0].ok:  # the database answered
            hours = self._context.settings.health.metrics_window_hours
            end = utcnow()
            window = Window(end - timedelta(hours=hours), end, f"last {hours} h")
            gateways = self._context.run(lambda s: gateways_report(s, window=window), write=False)
        text = render_gauges(health, gateways)
        with self._lock:
            self._text = (time.monotonic(), text)
        return text
