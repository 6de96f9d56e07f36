"""The stream-fraud caps against their definition, computed the plain way in Python: each record
of a subscriber-day over ``max_minutes_per_day`` scaled by cap ÷ the day's total (floored), then
one content piece capped at ``content_share_percent`` of the subscriber's minutes. The run only
groups per UTC day the subscribers who could have a day over the cap; this checks it misses none
(days either side of midnight, a heavy subscriber with no day over, several days over)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from legato_pay.revenue.runs import run_revenue
from tests.factories import make_users
from tests.revenue.helpers import AFTER, read, subscribe, writers_with_content

DAY = datetime(2026, 1, 10, tzinfo=UTC)
#: (reader, writer, minutes, when)
RECORDS = [
    ("s1", "a", 1000, DAY + timedelta(hours=1)),
    ("s1", "b", 700, DAY + timedelta(hours=23, minutes=59)),  # day 10: 1700 > 1440
    ("s1", "c", 900, DAY + timedelta(days=1)),  # midnight: day 11
    ("s1", "a", 601, DAY + timedelta(days=1, hours=2)),  # day 11: 1501 > 1440
    ("s1", "b", 300, DAY + timedelta(days=3)),
    ("s2", "a", 1400, DAY + timedelta(hours=3)),  # heavy (2800 in all), no day over the cap
    ("s2", "b", 1400, DAY + timedelta(days=1, hours=3)),
    ("s3", "c", 1300, DAY + timedelta(hours=4)),  # one piece over 80 % of s3's minutes
    ("s3", "a", 5, DAY + timedelta(days=2)),
    ("s4", "b", 30, DAY + timedelta(hours=5)),
    ("s5", "a", 1000, DAY + timedelta(days=4)),  # all of s5's reading, one day over the cap
    ("s5", "c", 500, DAY + timedelta(days=4, hours=1)),
]


def expected(records: list[tuple[str, str, int, datetime]]) -> tuple[dict, dict]:
    """(user, content) -> (raw, paid) for the capped pairs, and writer -> paid minutes."""
    days: dict[tuple[str, object], int] = {}
    for user, _, minutes, when in records:
        days[(user, when.date())] = days.get((user, when.date()), 0) + minutes
    raw: dict[tuple[str, str], int] = {}
    scaled: dict[tuple[str, str], int] = {}
    for user, writer, minutes, when in records:
        total = days[(user, when.date())]
        key = (user, writer)
        raw[key] = raw.get(key, 0) + minutes
        scaled[key] = scaled.get(key, 0) + (minutes * 1440 // total if total > 1440 else minutes)
    user_total: dict[str, int] = {}
    for (user, _), m in scaled.items():
        user_total[user] = user_total.get(user, 0) + m
    capped, writers = {}, {}
    for (user, writer), m in scaled.items():
        limit = max(user_total[user] * 80 // 100, 600)
        paid = limit if m > 600 and m * 100 > 80 * user_total[user] else m
        if paid < raw[(user, writer)]:
            capped[(user, f"{writer}-ch")] = (raw[(user, writer)], paid)
        writers[writer] = writers.get(writer, 0) + paid
    return capped, writers


def test_the_caps_match_their_definition_record_by_record(app: Any) -> None:
    writers_with_content(app, "a", "b", "c")
    make_users(app, "s1", "s2", "s3", "s4", "s5")
    for user in ("s1", "s2", "s3", "s4", "s5"):
        subscribe(app, user, 1000)
    for user, writer, minutes, when in RECORDS:
        read(app, (user, writer, minutes), when=when)
    [view] = run_revenue(app, period="2026-01", dry_run=True, now=AFTER)
    capped, writers = expected(RECORDS)
    assert len(capped) >= 6  # both caps at work, on several subscribers
    fraud = view.report["suspected_fraud"]
    listed = {
        (row["user"], row["content"]): (row["minutes"], row["paid_minutes"])
        for row in fraud["listed"]
    }
    assert listed == capped
    assert fraud["capped_minutes"] == sum(raw - paid for raw, paid in capped.values())
    assert {line.writer_id: line.basis_minutes for line in view.lines} == writers
