"""Report windows (``--period``, ``--from/--to``) and time buckets, the same in SQL and Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import DateTime, literal, select

from legato_pay.errors import InvalidInput, InvalidTime, UsageError
from legato_pay.reporting.periods import (
    bucket_label,
    bucket_sql,
    check_bucket,
    parse_period,
    report_window,
)
from legato_pay.store.dialect import is_postgres


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-Q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("2026", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_period_is_a_half_open_utc_window(period: str, start: datetime, end: datetime) -> None:
    window = parse_period(period)
    assert (window.start, window.end, window.label) == (start, end, period)
    assert window.contains(start) and not window.contains(end)
    assert window.contains(end - timedelta(microseconds=1))


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-Q5", "26-11", "2026/11", "", "1969"])
def test_a_bad_period_is_invalid_period(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_period(bad)
    assert caught.value.code == "INVALID_PERIOD"


def test_a_window_is_a_period_or_a_range_never_both() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 2, 1, tzinfo=UTC)
    assert report_window(None, start, end).start == start
    assert report_window(None, None, None).label == "all"
    with pytest.raises(UsageError):
        report_window("2026-01", start, None)
    with pytest.raises(InvalidTime):
        report_window(None, end, start)


def test_by_accepts_day_week_month_only() -> None:
    assert check_bucket("Week") == "week"
    assert check_bucket(None) is None
    with pytest.raises(InvalidInput):
        check_bucket("hour")


MOMENTS = [
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),  # a Thursday: ISO week 1 of 2026
    datetime(2027, 1, 1, 23, 59, 59, tzinfo=UTC),  # a Friday: ISO week 53 of 2026
    datetime(2024, 12, 30, 12, tzinfo=UTC),  # a Monday: ISO week 1 of 2025
    datetime(2026, 11, 30, 8, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2021, 1, 3, tzinfo=UTC),  # a Sunday: ISO week 53 of 2020
]


@pytest.mark.parametrize("by", ["day", "week", "month"])
def test_sql_buckets_match_python_buckets(app: Any, by: str) -> None:
    def labels(session: Any) -> list[str]:
        dialect = "postgresql" if is_postgres(session) else "sqlite"
        return [
            session.execute(
                select(bucket_sql(literal(moment, DateTime(timezone=True)), by, dialect))
            ).scalar_one()
            for moment in MOMENTS
        ]

    assert app.run(labels) == [bucket_label(moment, by) for moment in MOMENTS]
    if by == "week":
        assert [bucket_label(m, by) for m in MOMENTS[:3]] == ["2026-W01", "2026-W53", "2025-W01"]
