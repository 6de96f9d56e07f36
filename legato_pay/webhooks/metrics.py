"""In-process Prometheus metrics for the webhook listener (per worker process)."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: Counter[tuple[str, str, str]] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()
        self.bucket_counts = [0] * len(BUCKETS)
        self.duration_sum = 0.0
        self.duration_count = 0

    def observe(self, provider: str, event_type: str, outcome: str, seconds: float) -> None:
        with self._lock:
            self.events[(provider, event_type, outcome)] += 1
            self.duration_sum += seconds
            self.duration_count += 1
            counts = self.bucket_counts
            for index in range(bisect_left(BUCKETS, seconds), len(counts)):
                counts[index] += 1  # cumulative: every bucket whose bound is >= seconds

    def reject(self, provider: str, code: str) -> None:
        with self._lock:
            self.rejected[(provider, code)] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP legato_webhook_events_total Webhook events by provider, type and outcome.",
                "# TYPE legato_webhook_events_total counter",
            ]
            for (provider, event_type, outcome), count in sorted(self.events.items()):
                lines.append(
                    f'legato_webhook_events_total{{provider="{provider}",type="{_esc(event_type)}",'
                    f'outcome="{outcome}"}} {count}'
                )
            lines += [
                "# HELP legato_webhook_rejected_total Requests refused before storage.",
                "# TYPE legato_webhook_rejected_total counter",
            ]
            for (provider, code), count in sorted(self.rejected.items()):
                lines.append(
                    f'legato_webhook_rejected_total{{provider="{provider}",code="{code}"}} {count}'
                )
            lines += [
                "# HELP legato_webhook_processing_seconds Time to verify, store and apply an event.",
                "# TYPE legato_webhook_processing_seconds histogram",
            ]
            for bound, count in zip(BUCKETS, self.bucket_counts, strict=True):
                lines.append(f'legato_webhook_processing_seconds_bucket{{le="{bound}"}} {count}')
            lines.append(
                f'legato_webhook_processing_seconds_bucket{{le="+Inf"}} {self.duration_count}'
            )
            lines.append(f"legato_webhook_processing_seconds_sum {self.duration_sum:.6f}")
            lines.append(f"legato_webhook_processing_seconds_count {self.duration_count}")
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
