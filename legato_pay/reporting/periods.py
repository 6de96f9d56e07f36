"""The time window and time axis every report shares.

A report covers ``--period`` (a month ``2026-11``, a quarter ``2026-Q4`` or a year ``2026``) or
``--from/--to`` (either end open), never both; windows are half-open in UTC: ``start`` is in,
``end`` is out, so consecutive periods never count a moment twice. ``--by day|week|month`` cuts
the window into buckets labelled ``2026-11-30``, ``2026-W49`` (ISO week) or ``2026-11``; the
label is computed in SQL (``bucket_sql``) so reports group in the database, the same labels on
SQLite and PostgreSQL, and in Python (``bucket_label``) for anything grouped after the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, cast, func
from sqlalchemy.sql.elements import ColumnElement

from legato_pay.errors import InvalidInput, InvalidTime, UsageError

BUCKETS = ("day", "week", "month")
_PERIOD = re.compile(r"([0-9]{4})(?:-(?:([0-9]{2})|Q([1-4])))?")


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)``; None is an open end."""

    start: datetime | None
    end: datetime | None
    label: str

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.label,
            "from": None if self.start is None else self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
        }


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def parse_period(value: str) -> Window:
    """``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` as a window; anything else is INVALID_PERIOD."""
    match = _PERIOD.fullmatch(value.strip()) if isinstance(value, str) else None
    year = int(match.group(1)) if match else 0
    month = int(match.group(2)) if match and match.group(2) else None
    if match is None or not 1970 <= year <= 9998 or (month is not None and not 1 <= month <= 12):
        raise InvalidInput(
            "--period must be a month (2026-11), a quarter (2026-Q4) or a year (2026)",
            details={"period": str(value)[:40]},
            code="INVALID_PERIOD",
        )
    if month is not None:
        return Window(
            _month_start(year, month), _month_start(year, month + 1), f"{year}-{month:02d}"
        )
    if match.group(3):
        quarter = int(match.group(3))
        first = 3 * (quarter - 1) + 1
        return Window(
            _month_start(year, first), _month_start(year, first + 3), f"{year}-Q{quarter}"
        )
    return Window(_month_start(year, 1), _month_start(year + 1, 1), str(year))


def report_window(period: str | None, start: datetime | None, end: datetime | None) -> Window:
    """The window of ``--period`` or of ``--from/--to`` (already parsed, see
    ``commands.output.parse_range``); both given is a usage error, a reversed range
    INVALID_TIME, neither the whole history."""
    if period is not None and (start is not None or end is not None):
        raise UsageError(
            "give --period or --from/--to, not both",
            details={"period": period},
        )
    if period is not None:
        return parse_period(period)
    if start is not None and end is not None and end < start:
        raise InvalidTime("--to is before --from", details={})
    label = f"{_day(start) if start else '…'}..{_day(end) if end else '…'}"
    return Window(start, end, "all" if start is None and end is None else label)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def check_bucket(by: str | None) -> str | None:
    """``--by`` checked against ``BUCKETS`` (VALIDATION_ERROR naming the choices)."""
    if by is None:
        return None
    normalized = by.strip().lower()
    if normalized not in BUCKETS:
        raise InvalidInput(
            f"--by must be one of {', '.join(BUCKETS)}",
            details={"by": by[:20]},
        )
    return normalized


def bucket_label(moment: datetime, by: str) -> str:
    """The bucket a UTC time falls in: ``2026-11-30``, ``2026-W49`` or ``2026-11``."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    if by == "day":
        return moment.strftime("%Y-%m-%d")
    if by == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    return moment.strftime("%Y-%m")


def bucket_sql(column: Any, by: str, dialect: str) -> ColumnElement[str]:
    """The SQL expression of ``bucket_label`` for a UTC timestamp column: reports group by it
    in the database. ``dialect`` is ``postgresql`` or ``sqlite``."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", column)
        pattern = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW', "month": "YYYY-MM"}[by]
        return func.to_char(utc, pattern)
    if by == "day":
        return func.strftime("%Y-%m-%d", column)
    if by == "month":
        return func.strftime("%Y-%m", column)
    # ISO week on SQLite (3.40 has no %G/%V): the week's Thursday decides the ISO year, and
    # the week number is that Thursday's day of the year divided into sevens.
    weekday = (cast(func.strftime("%w", column), Integer) + 6) % 7  # Monday = 0
    thursday = func.date(column, func.printf("%+d days", 3 - weekday))
    week = (cast(func.strftime("%j", thursday), Integer) + 6) // 7
    return func.printf("%s-W%02d", func.strftime("%Y", thursday), week)
