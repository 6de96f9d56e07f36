"""``reports fx``: the exchange rates money was converted with, and how fresh they were.

Sources: purchases priced by conversion record the rate they used (``purchases.rate_id`` →
``fx_rates``); a source that records a rate the same way joins this report by adding its
query here. Per currency pair (``base → quote``): ``conversions`` (purchases priced with a
rate, whatever became of them), ``volume_minor`` (their amounts, in the quote currency),
``paid_minor`` (of those, the ones paid), and the rate's age at use (``created_at`` of the
purchase − ``as_of`` of the rate): ``age_p50_ms`` and ``age_max_ms`` (see ``percentiles``).
``rates`` lists each rate used: id, pair, rate (decimal string), source, as-of time, uses.
``series``: conversions per ``--by`` bucket. With ``bucket_rows`` (the command's explicit
``--by``) the pair rows are per pair and ``bucket`` (grouped in SQL with ``bucket_sql``, rate
ages per bucket the same way); rates and totals stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from legato_pay.ledger.types import as_utc
from legato_pay.money import normalize_currency
from legato_pay.reporting.gateways import (
    PAID,
    in_window,
    report_document,
    row_bucket,
    with_bucket,
)
from legato_pay.reporting.percentiles import duration_percentiles
from legato_pay.reporting.periods import Window, bucket_sql
from legato_pay.reporting.result import ReportResult
from legato_pay.store.tables import PURCHASES, RATES

PAIR_COLUMNS = [
    "base",
    "quote",
    "currency",
    "conversions",
    "volume_minor",
    "paid_minor",
    "age_p50_ms",
    "age_max_ms",
]
RATE_COLUMNS = ["rate_id", "base", "quote", "rate", "source", "as_of", "uses"]


@dataclass(frozen=True)
class FxReport:
    window: Window
    by: str
    currency: str | None
    pairs: list[dict[str, Any]]
    rates: list[dict[str, Any]]
    series: dict[str, list[tuple[str, int]]]
    sampled: bool
    bucket_rows: bool = False

    @property
    def totals(self) -> dict[str, Any]:
        return {
            "conversions": sum(row["conversions"] for row in self.pairs),
            "pairs": len({(row["base"], row["quote"]) for row in self.pairs}),
            "rates_used": len(self.rates),
        }

    def as_json(self) -> dict[str, Any]:
        return report_document(self, self.pairs, rates=self.rates)

    def results(self) -> list[ReportResult]:
        return [
            ReportResult(
                f"fx: volume per pair ({self.window.label})",
                with_bucket(PAIR_COLUMNS, 3) if self.bucket_rows else PAIR_COLUMNS,
                self.pairs,
                self.totals,
                self.series,
                ["volume_minor", "paid_minor"],
            ),
            ReportResult("fx: rates used", RATE_COLUMNS, self.rates, {}, None, []),
        ]


def fx_report(
    session: Session,
    *,
    window: Window,
    currency: str | None = None,
    by: str = "day",
    bucket_rows: bool = False,
) -> FxReport:
    """The figures of the module docstring for ``window`` (pairs with ``currency`` on either
    side, or all); pair rows per ``by`` bucket too when ``bucket_rows``."""
    code = normalize_currency(currency) if currency else None
    p, r = PURCHASES.c, RATES.c
    where: list[ColumnElement[bool]] = [p.rate_id == r.id, *in_window(p.created_at, window)]
    if code is not None:
        where.append(or_(r.base == code, r.quote == code))
    groups = [r.base, r.quote, *row_bucket(session, p.created_at, by, bucket_rows)]
    ages = duration_percentiles(
        session,
        groups=groups,
        start=r.as_of,
        end=p.created_at,
        where=where,
        fractions=(0.5, 1.0),
    )
    pairs = _pairs(session, where, groups, ages)
    rates = _rates(session, where)
    series = _series(session, where, by)
    sampled = any(a.sampled for a in ages.values())
    return FxReport(window, by, code, pairs, rates, series, sampled, bucket_rows)


def _pairs(
    session: Session, where: list[ColumnElement[bool]], groups: list[Any], ages: Any
) -> list[dict[str, Any]]:
    p = PURCHASES.c
    query = (
        select(
            *groups,
            func.count(),
            func.coalesce(func.sum(p.amount), 0),
            func.coalesce(func.sum(case((p.status.in_(PAID), p.amount), else_=0)), 0),
        )
        .where(*where)
        .group_by(*groups)
        .order_by(*groups)
    )
    rows = []
    width = len(groups)
    for row in session.execute(query):
        keys = tuple(row[:width])
        count, volume, paid = row[width:]
        found = ages.get(keys)
        p50, age_max = found.millis if found else (None, None)
        rows.append(
            {
                "base": keys[0],
                "quote": keys[1],
                "currency": keys[1],
                **({"bucket": str(keys[2])} if width > 2 else {}),
                "conversions": int(count),
                "volume_minor": int(volume),
                "paid_minor": int(paid),
                "age_p50_ms": p50,
                "age_max_ms": age_max,
            }
        )
    return rows


def _rates(session: Session, where: list[ColumnElement[bool]]) -> list[dict[str, Any]]:
    p, r = PURCHASES.c, RATES.c
    query = (
        select(r.id, r.base, r.quote, r.rate, r.source, r.as_of, func.count(p.reference))
        .where(*where)
        .group_by(r.id, r.base, r.quote, r.rate, r.source, r.as_of)
        .order_by(r.as_of, r.id)
    )
    return [
        {
            "rate_id": int(rate_id),
            "base": base,
            "quote": quote,
            "rate": rate,
            "source": source,
            "as_of": as_utc(as_of).isoformat(),  # type: ignore[union-attr]
            "uses": int(uses),
        }
        for rate_id, base, quote, rate, source, as_of, uses in session.execute(query)
    ]


def _series(
    session: Session, where: list[ColumnElement[bool]], by: str
) -> dict[str, list[tuple[str, int]]]:
    bucket = bucket_sql(PURCHASES.c.created_at, by, session.get_bind().dialect.name).label("b")
    query = select(bucket, func.count()).where(*where).group_by(bucket).order_by(bucket)
    return {"conversions": [(str(label), int(n)) for label, n in session.execute(query)]}
