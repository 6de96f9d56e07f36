"""Percentiles of durations (``end - start``) per group, the same figures on both databases.

PostgreSQL computes them in SQL: ``percentile_cont(f) WITHIN GROUP (ORDER BY extract(epoch
FROM end - start))``, one row per group. SQLite has no ordered-set aggregates, so the durations
are read by one bounded query (at most ``limit`` rows, the newest by ``start``: a report over
more than that says ``sampled``) and the same continuous percentile (linear interpolation
between the two nearest ranks, exactly as ``percentile_cont``) is computed in Python over
integer microseconds. Results are whole milliseconds (half up); ``1.0`` is the maximum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from legato_pay.store.dialect import is_postgres

#: The most durations SQLite reads for one report's percentiles.
MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Milliseconds at each requested fraction, over ``count`` durations."""

    count: int
    millis: tuple[int | None, ...]
    sampled: bool = False


def continuous(sorted_values: Sequence[int], fraction: Fraction) -> Fraction:
    """``percentile_cont``: the value at rank ``fraction × (n - 1)``, interpolated linearly."""
    rank = fraction * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    weight = rank - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * weight


def _half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)


def duration_percentiles(
    session: Session,
    *,
    groups: Sequence[ColumnElement[Any]],
    start: ColumnElement[Any],
    end: ColumnElement[Any],
    where: Sequence[ColumnElement[bool]],
    fractions: Sequence[float],
    limit: int = MAX_ROWS,
) -> dict[tuple[Any, ...], Percentiles]:
    """Percentiles of ``end - start`` per distinct value of ``groups`` over the rows matching
    ``where`` (rows with either time null are left out)."""
    conditions = [*where, start.is_not(None), end.is_not(None)]
    if is_postgres(session):
        return _postgres(session, groups, start, end, conditions, fractions)
    return _bounded(session, groups, start, end, conditions, fractions, limit)


def _postgres(
    session: Session,
    groups: Sequence[ColumnElement[Any]],
    start: ColumnElement[Any],
    end: ColumnElement[Any],
    conditions: Sequence[ColumnElement[bool]],
    fractions: Sequence[float],
) -> dict[tuple[Any, ...], Percentiles]:
    seconds = cast(func.extract("epoch", end - start), Float)
    wanted = [func.percentile_cont(f).within_group(seconds) for f in fractions]
    query = select(*groups, func.count(), *wanted).where(*conditions).group_by(*groups)
    found: dict[tuple[Any, ...], Percentiles] = {}
    width = len(groups)
    for row in session.execute(query):
        values = tuple(
            None if v is None else _half_up(Fraction(float(v)) * 1000) for v in row[width + 1 :]
        )
        found[tuple(row[:width])] = Percentiles(int(row[width]), values)
    return found


def _bounded(
    session: Session,
    groups: Sequence[ColumnElement[Any]],
    start: ColumnElement[Any],
    end: ColumnElement[Any],
    conditions: Sequence[ColumnElement[bool]],
    fractions: Sequence[float],
    limit: int,
) -> dict[tuple[Any, ...], Percentiles]:
    query = select(*groups, start, end).where(*conditions).order_by(start.desc()).limit(limit + 1)
    rows = session.execute(query).all()
    sampled = len(rows) > limit
    durations: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    width = len(groups)
    for row in rows[:limit]:
        began, ended = row[width], row[width + 1]
        delta = _naive(ended) - _naive(began)
        durations[tuple(row[:width])].append(
            (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        )
    found: dict[tuple[Any, ...], Percentiles] = {}
    for key, values in durations.items():
        values.sort()
        millis = tuple(_half_up(continuous(values, Fraction(str(f))) / 1000) for f in fractions)
        found[key] = Percentiles(len(values), millis, sampled)
    return found


def _naive(moment: Any) -> Any:
    """SQLite hands back naive UTC datetimes; compare like with like."""
    return moment.replace(tzinfo=None) if getattr(moment, "tzinfo", None) else moment
