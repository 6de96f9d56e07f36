"""``reports gateways``: how each payment gateway performs, per gateway and currency.

Figures, over purchases created in the window (and webhook events received in it):

- ``created``, ``succeeded`` (paid: ``succeeded``, ``refunded``, ``partially_refunded``),
  ``failed``, ``flagged``; ``success_rate`` = succeeded / created as a percentage with two
  decimals (integer arithmetic, half up); ``volume_minor`` = the amounts of the paid ones.
- ``credit_p50_ms`` / ``credit_p95_ms``: time from a purchase's ``created_at`` to its
  ``credited_at`` (see ``percentiles``: SQL on PostgreSQL, exact over a bounded query on SQLite).
- webhooks per provider: events received, applied, failed, still waiting, and the time from
  ``received_at`` to ``applied_at`` (p50/p95).
- errors: failed payments (``failure_reason``) and failed events (``last_error``) grouped in SQL
  by their text, then folded by code: a leading ``CODE:`` (the toolkit's error codes), else a
  gateway's bare decline code (``card_declined``), else ``OTHER``; ``rate`` is the share of that
  gateway's payments (or events).
- ``series``: payments created and paid per ``--by`` bucket (for ``--chart`` and the HTML report).
- with ``bucket_rows`` (the command's explicit ``--by``) the payment rows are per gateway,
  currency and ``bucket`` (grouped in SQL with ``bucket_sql``; percentiles per bucket the same
  way); webhooks, errors and totals stay as they are.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from legato_pay.money import normalize_currency
from legato_pay.reporting.percentiles import duration_percentiles
from legato_pay.reporting.periods import Window, bucket_sql
from legato_pay.reporting.result import ReportResult
from legato_pay.store.tables import EVENTS, PURCHASES

PAID = ("succeeded", "refunded", "partially_refunded")
_TOOLKIT_CODE = re.compile(r"([A-Z][A-Z0-9_]{2,60})(?::|\s|$)")
_GATEWAY_CODE = re.compile(r"[a-z][a-z0-9_]{1,60}")
PAYMENT_COLUMNS = [
    "gateway",
    "currency",
    "created",
    "succeeded",
    "failed",
    "flagged",
    "success_rate",
    "volume_minor",
    "credit_p50_ms",
    "credit_p95_ms",
]
WEBHOOK_COLUMNS = [
    "provider",
    "events",
    "applied",
    "failed",
    "waiting",
    "apply_p50_ms",
    "apply_p95_ms",
]
ERROR_COLUMNS = ["gateway", "source", "code", "count", "rate"]


def error_code(text: str | None) -> str:
    """The code a failure text starts with (see the module docstring)."""
    if not text:
        return "UNKNOWN"
    stripped = text.strip()
    toolkit = _TOOLKIT_CODE.match(stripped)
    if toolkit:
        return toolkit.group(1)
    if _GATEWAY_CODE.fullmatch(stripped):
        return stripped
    return "OTHER"


def percent(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with two decimals, half up, no float: ``"66.67"``."""
    if whole == 0:
        return "0.00"
    basis_points = (part * 20_000 + whole) // (2 * whole)
    return f"{basis_points // 100}.{basis_points % 100:02d}"


def report_document(report: Any, rows: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    """The JSON of an operations report: window, axis, filter, rows, other sections, series
    (``[label, value]`` pairs), totals and whether its percentiles were sampled."""
    return {
        **report.window.as_json(),
        "by": report.by,
        "currency": report.currency,
        "rows": rows,
        **sections,
        "series": {
            name: [list(point) for point in points] for name, points in report.series.items()
        },
        "totals": report.totals,
        "percentiles_sampled": report.sampled,
    }


@dataclass(frozen=True)
class GatewaysReport:
    window: Window
    by: str
    currency: str | None
    payments: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    series: dict[str, list[tuple[str, int]]]
    sampled: bool
    bucket_rows: bool = False

    @property
    def totals(self) -> dict[str, Any]:
        created = sum(row["created"] for row in self.payments)
        succeeded = sum(row["succeeded"] for row in self.payments)
        return {
            "created": created,
            "succeeded": succeeded,
            "failed": sum(row["failed"] for row in self.payments),
            "success_rate": percent(succeeded, created),
            "events": sum(row["events"] for row in self.webhooks),
        }

    def as_json(self) -> dict[str, Any]:
        return report_document(self, self.payments, webhooks=self.webhooks, errors=self.errors)

    def results(self) -> list[ReportResult]:
        """The report as ``ReportResult``s: payments (with the chart), webhooks, errors."""
        return [
            ReportResult(
                f"gateways: payments ({self.window.label})",
                with_bucket(PAYMENT_COLUMNS, 2) if self.bucket_rows else PAYMENT_COLUMNS,
                self.payments,
                self.totals,
                self.series,
                ["volume_minor"],
            ),
            ReportResult("gateways: webhooks", WEBHOOK_COLUMNS, self.webhooks, {}, None, []),
            ReportResult("gateways: errors", ERROR_COLUMNS, self.errors, {}, None, []),
        ]


def in_window(column: Any, window: Window) -> list[ColumnElement[bool]]:
    """``column`` inside the half-open ``window`` (an open end adds no condition)."""
    conditions: list[ColumnElement[bool]] = []
    if window.start is not None:
        conditions.append(column >= window.start)
    if window.end is not None:
        conditions.append(column < window.end)
    return conditions


def with_bucket(columns: list[str], position: int) -> list[str]:
    """``columns`` with ``bucket`` inserted after the grouping ones (rows split by ``--by``)."""
    return [*columns[:position], "bucket", *columns[position:]]


def row_bucket(session: Session, column: Any, by: str, bucket_rows: bool) -> list[Any]:
    """The ``bucket`` grouping column of ``column`` when rows are split by ``by``, else none."""
    if not bucket_rows:
        return []
    return [bucket_sql(column, by, session.get_bind().dialect.name).label("bucket")]


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


def gateways_report(
    session: Session,
    *,
    window: Window,
    currency: str | None = None,
    by: str = "day",
    bucket_rows: bool = False,
) -> GatewaysReport:
    """The figures of the module docstring for ``window`` (one currency, or all); payment rows
    per ``by`` bucket too when ``bucket_rows``."""
    code = normalize_currency(currency) if currency else None
    where = in_window(PURCHASES.c.created_at, window)
    if code is not None:
        where.append(PURCHASES.c.currency == code)
    payments, sampled = _payments(
        session, where, row_bucket(session, PURCHASES.c.created_at, by, bucket_rows)
    )
    webhooks, events_sampled = _webhooks(session, in_window(EVENTS.c.received_at, window))
    errors = _errors(session, where, in_window(EVENTS.c.received_at, window), payments, webhooks)
    series = _series(session, where, by)
    return GatewaysReport(
        window, by, code, payments, webhooks, errors, series, sampled or events_sampled, bucket_rows
    )


def _payments(
    session: Session, where: list[ColumnElement[bool]], bucket: list[Any]
) -> tuple[list[dict[str, Any]], bool]:
    p = PURCHASES.c
    paid = p.status.in_(PAID)
    groups = [p.gateway, p.currency, *bucket]
    query = (
        select(
            *groups,
            func.count(),
            _count_if(paid),
            _count_if(p.status == "failed"),
            _count_if(p.status == "flagged"),
            func.coalesce(func.sum(case((paid, p.amount), else_=0)), 0),
        )
        .where(*where)
        .group_by(*groups)
        .order_by(*groups)
    )
    latency = duration_percentiles(
        session,
        groups=groups,
        start=p.created_at,
        end=p.credited_at,
        where=where,
        fractions=(0.5, 0.95),
    )
    rows: list[dict[str, Any]] = []
    width = len(groups)
    for row in session.execute(query):
        keys = tuple(row[:width])
        created, succeeded, failed, flagged, volume = row[width:]
        found = latency.get(keys)
        p50, p95 = found.millis if found else (None, None)
        rows.append(
            {
                "gateway": keys[0],
                "currency": keys[1],
                **({"bucket": str(keys[2])} if bucket else {}),
                "created": int(created),
                "succeeded": int(succeeded),
                "failed": int(failed),
                "flagged": int(flagged),
                "success_rate": percent(int(succeeded), int(created)),
                "volume_minor": int(volume),
                "credit_p50_ms": p50,
                "credit_p95_ms": p95,
            }
        )
    return rows, any(found.sampled for found in latency.values())


def _webhooks(
    session: Session, where: list[ColumnElement[bool]]
) -> tuple[list[dict[str, Any]], bool]:
    e = EVENTS.c
    query = (
        select(
            e.provider,
            func.count(),
            _count_if(e.status == "applied"),
            _count_if(e.status == "failed"),
            _count_if(e.status == "received"),
        )
        .where(*where)
        .group_by(e.provider)
        .order_by(e.provider)
    )
    timing = duration_percentiles(
        session,
        groups=[e.provider],
        start=e.received_at,
        end=e.applied_at,
        where=where,
        fractions=(0.5, 0.95),
    )
    rows = []
    for provider, events, applied, failed, waiting in session.execute(query):
        found = timing.get((provider,))
        p50, p95 = found.millis if found else (None, None)
        rows.append(
            {
                "provider": provider,
                "events": int(events),
                "applied": int(applied),
                "failed": int(failed),
                "waiting": int(waiting),
                "apply_p50_ms": p50,
                "apply_p95_ms": p95,
            }
        )
    return rows, any(found.sampled for found in timing.values())


def _errors(
    session: Session,
    payment_where: list[ColumnElement[bool]],
    event_where: list[ColumnElement[bool]],
    payments: list[dict[str, Any]],
    webhooks: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    p, e = PURCHASES.c, EVENTS.c
    failed_payments = (
        select(p.gateway, p.failure_reason, func.count())
        .where(*payment_where, p.status == "failed")
        .group_by(p.gateway, p.failure_reason)
    )
    failed_events = (
        select(e.provider, e.last_error, func.count())
        .where(*event_where, e.status == "failed")
        .group_by(e.provider, e.last_error)
    )
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for gateway, reason, count in session.execute(failed_payments):
        counts[(gateway, "payment", error_code(reason))] += int(count)
    for provider, reason, count in session.execute(failed_events):
        counts[(provider, "webhook", error_code(reason))] += int(count)
    created: dict[str, int] = defaultdict(int)
    for row in payments:
        created[row["gateway"]] += row["created"]
    events = {row["provider"]: row["events"] for row in webhooks}
    return [
        {
            "gateway": gateway,
            "source": source,
            "code": code,
            "count": count,
            "rate": percent(
                count, created[gateway] if source == "payment" else events.get(gateway, 0)
            ),
        }
        for (gateway, source, code), count in sorted(counts.items())
    ]


def _series(
    session: Session, where: list[ColumnElement[bool]], by: str
) -> dict[str, list[tuple[str, int]]]:
    p = PURCHASES.c
    dialect = session.get_bind().dialect.name
    bucket = bucket_sql(p.created_at, by, dialect).label("bucket")
    query = (
        select(bucket, func.count(), _count_if(p.status.in_(PAID)))
        .where(*where)
        .group_by(bucket)
        .order_by(bucket)
    )
    created: list[tuple[str, int]] = []
    paid: list[tuple[str, int]] = []
    for label, count, succeeded in session.execute(query):
        created.append((str(label), int(count)))
        paid.append((str(label), int(succeeded)))
    return {"created": created, "succeeded": paid}
