"""``reports escrow``: money through escrow per month, app and currency.

Each row is one (month, app, currency), the month being UTC ``YYYY-MM`` of when each amount
happened: ``deposited`` — deposits confirmed that month; ``released`` — releases posted that
month; ``refunded`` — refunds settled (succeeded) that month. ``held`` and ``in_dispute`` are
what is so *now*, put in the month it started: releases awaiting approval and refunds awaiting
the gateway, by the month they were asked for; what is available in deposits frozen by an open
or resolving dispute, by the month the dispute was opened. Amounts are minor units; totals per
currency are sums of the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.escrow.disputes_guard import FREEZING
from legato_pay.ledger import get_balance
from legato_pay.ledger.types import as_utc
from legato_pay.money import format_amount
from legato_pay.revenue.common import parse_period, period_bounds
from legato_pay.shares.apps import require_app
from legato_pay.store.tables import (
    ESCROW_DEPOSITS,
    ESCROW_DISPUTES,
    ESCROW_REFUNDS,
    ESCROW_RELEASES,
)

FIGURES = ("deposited", "released", "refunded", "held", "in_dispute")
#: The status of a release or refund whose money is held (out of escrow, not yet gone).
HELD = {"escrow_releases": "held", "escrow_refunds": "pending"}


@dataclass
class EscrowReportRow:
    period: str
    app: str
    currency: str
    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIGURES, 0))

    def as_json(self) -> dict[str, Any]:
        return {"period": self.period, "app": self.app, "currency": self.currency} | {
            f"{name}_minor": self.sums[name] for name in FIGURES
        }

    def as_cells(self) -> dict[str, Any]:
        return self.as_json() | {
            name: format_amount(self.sums[name], self.currency) for name in FIGURES
        }


@dataclass(frozen=True, slots=True)
class EscrowReport:
    rows: list[EscrowReportRow]
    totals: dict[str, dict[str, int]]
    app: str | None
    period: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "period": self.period,
            "rows": [row.as_json() for row in self.rows],
            "totals": {
                currency: {f"{name}_minor": sums[name] for name in FIGURES}
                for currency, sums in self.totals.items()
            },
        }


def _month(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%Y-%m")  # type: ignore[union-attr]


class _Grouper:
    def __init__(self, period: str | None) -> None:
        self.period = period
        self.rows: dict[tuple[str, str, str], EscrowReportRow] = {}

    def add(self, moment: datetime | None, app: str, currency: str, name: str, amount: int) -> None:
        if moment is None or amount == 0:
            return
        month = _month(moment)
        if self.period is not None and month != self.period:
            return
        key = (month, app, currency)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = EscrowReportRow(month, app, currency)
        row.sums[name] += amount


def _joined(table: Any, *columns: Any, app: str | None) -> Any:
    query = select(*columns, ESCROW_DEPOSITS.c.app_id, ESCROW_DEPOSITS.c.currency).join(
        ESCROW_DEPOSITS, ESCROW_DEPOSITS.c.id == table.c.deposit_id
    )
    return query.where(ESCROW_DEPOSITS.c.app_id == app) if app is not None else query


def _rows(session: Session, query: Any) -> Iterable[Any]:
    return session.execute(query)


def _add_outflows(
    session: Session,
    grouper: _Grouper,
    table: Any,
    done: str,
    done_at: Any,
    figure: str,
    *,
    app: str | None,
) -> None:
    """Releases or refunds: those ``done`` in the month they were done (``figure``), those
    still pending (a held release, a refund at the gateway) as ``held`` when asked for."""
    query = _joined(
        table,
        table.c.status,
        table.c.amount,
        table.c.created_at,
        done_at.label("done_at"),
        app=app,
    ).where(table.c.status.in_((done, HELD[table.name])))
    for row in _rows(session, query):
        if row.status == done:
            grouper.add(row.done_at, row.app_id, row.currency, figure, row.amount)
        else:
            grouper.add(row.created_at, row.app_id, row.currency, "held", row.amount)


def escrow_report(
    session: Session, *, app: str | None = None, period: str | None = None
) -> EscrowReport:
    """The report (see the module docstring). APP_NOT_FOUND for an unknown ``app``,
    INVALID_PERIOD for a ``period`` that is not YYYY-MM."""
    month = parse_period(period) if period is not None else None
    if app is not None:
        require_app(session, app)
    grouper = _Grouper(month)
    deposits = select(ESCROW_DEPOSITS).where(ESCROW_DEPOSITS.c.confirmed_at.is_not(None))
    if app is not None:
        deposits = deposits.where(ESCROW_DEPOSITS.c.app_id == app)
    if month is not None:
        start, end = period_bounds(month)
        deposits = deposits.where(
            ESCROW_DEPOSITS.c.confirmed_at >= start, ESCROW_DEPOSITS.c.confirmed_at < end
        )
    for row in _rows(session, deposits):
        if row.status == "confirmed" or row.entry_id is not None:
            grouper.add(row.confirmed_at, row.app_id, row.currency, "deposited", row.amount)
    for table, done, done_at, figure in (
        (ESCROW_RELEASES, "posted", ESCROW_RELEASES.c.resolved_at, "released"),
        (ESCROW_REFUNDS, "succeeded", ESCROW_REFUNDS.c.settled_at, "refunded"),
    ):
        _add_outflows(session, grouper, table, done, done_at, figure, app=app)
    disputes = _joined(
        ESCROW_DISPUTES, ESCROW_DISPUTES.c.deposit_id, ESCROW_DISPUTES.c.created_at, app=app
    ).where(ESCROW_DISPUTES.c.status.in_(FREEZING))
    for row in _rows(session, disputes):
        code = chart.escrow_account_code(row.deposit_id, row.currency)
        available = max(get_balance(session, code).available, 0)
        grouper.add(row.created_at, row.app_id, row.currency, "in_dispute", available)
    rows = [grouper.rows[key] for key in sorted(grouper.rows)]
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        sums = totals.setdefault(row.currency, dict.fromkeys(FIGURES, 0))
        for name in FIGURES:
            sums[name] += row.sums[name]
    return EscrowReport(rows, dict(sorted(totals.items())), app, month)
