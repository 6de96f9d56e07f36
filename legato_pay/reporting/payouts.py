"""``reports payouts``: what was paid out, by gateway and currency (and writer), summed in SQL.

Rows come from the ``payouts`` table, where each payout records gross = net + fee + tax in its
own currency, so every row's figures obey the same identity. A payout belongs to the month it
was requested in (``created_at``, UTC). Without ``--status`` the report counts the payouts that
hold or moved money (``requested``, ``approved``, ``sending``, ``paid``); cancelled, failed and
reversed ones are left out (their money went back to the writer) unless asked for by status.
Totals are per currency (amounts in different currencies are never added together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.payouts.status import STATUSES
from legato_pay.payouts.tax import parse_period
from legato_pay.readers.users import get_user
from legato_pay.store.tables import PAYOUT_METHODS, PAYOUTS

#: The statuses counted when no --status is given: money reserved, on its way or paid.
DEFAULT_STATUSES = ("requested", "approved", "sending", "paid")
AMOUNTS = ("gross", "fee", "tax", "net")


@dataclass(frozen=True, slots=True)
class PayoutSums:
    gateway: str | None
    currency: str
    writer: str | None
    payouts: int
    gross: int
    fee: int
    tax: int
    net: int

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.gateway is not None:
            data["gateway"] = self.gateway
        data["currency"] = self.currency
        if self.writer is not None:
            data["writer"] = self.writer
        data["payouts"] = self.payouts
        data.update({f"{name}_minor": getattr(self, name) for name in AMOUNTS})
        return data


@dataclass(frozen=True, slots=True)
class PayoutsReport:
    period: str | None
    writer: str | None
    statuses: tuple[str, ...]
    rows: list[PayoutSums]
    totals: list[PayoutSums]

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "writer": self.writer,
            "statuses": list(self.statuses),
            "rows": [row.as_json() for row in self.rows],
            "totals": [total.as_json() for total in self.totals],
        }


def _statuses(status: str | None) -> tuple[str, ...]:
    if status is None:
        return DEFAULT_STATUSES
    if status not in STATUSES:
        raise InvalidInput(
            f"--status must be one of {', '.join(STATUSES)}", details={"status": str(status)[:40]}
        )
    return (status,)


def _sums(keys: list[Any]) -> list[Any]:
    return [
        *keys,
        func.count(PAYOUTS.c.id).label("payouts"),
        *(func.sum(PAYOUTS.c[name]).label(name) for name in AMOUNTS),
    ]


def _row(row: Any, *, by_gateway: bool, by_writer: bool) -> PayoutSums:
    return PayoutSums(
        gateway=row.gateway if by_gateway else None,
        currency=row.currency,
        writer=row.writer_id if by_writer else None,
        payouts=int(row.payouts),
        **{name: int(getattr(row, name) or 0) for name in AMOUNTS},
    )


def payouts_report(
    session: Session,
    *,
    period: str | None = None,
    writer: str | None = None,
    status: str | None = None,
) -> PayoutsReport:
    """Gross, fees, tax and net per gateway and currency (per writer too with ``writer``),
    and per-currency totals. USER_NOT_FOUND (5) for an unknown writer; VALIDATION_ERROR (3)
    for a bad status; a bad period is VALIDATION_ERROR too."""
    statuses = _statuses(status)
    window = parse_period(period) if period is not None else None
    if writer is not None:
        get_user(session, writer, kind="writer")
    gateway = PAYOUT_METHODS.c.provider.label("gateway")
    base = (
        select()
        .select_from(PAYOUTS)
        .join(PAYOUT_METHODS, PAYOUT_METHODS.c.id == PAYOUTS.c.method_id)
        .where(PAYOUTS.c.status.in_(statuses))
    )
    if window is not None:
        base = base.where(PAYOUTS.c.created_at >= window[0], PAYOUTS.c.created_at < window[1])
    if writer is not None:
        base = base.where(PAYOUTS.c.writer_id == writer)
    keys: list[Any] = [gateway, PAYOUTS.c.currency]
    if writer is not None:
        keys.append(PAYOUTS.c.writer_id)
    rows = session.execute(base.add_columns(*_sums(keys)).group_by(*keys).order_by(*keys)).all()
    totals = session.execute(
        base.add_columns(*_sums([PAYOUTS.c.currency]))
        .group_by(PAYOUTS.c.currency)
        .order_by(PAYOUTS.c.currency)
    ).all()
    return PayoutsReport(
        period=period,
        writer=writer,
        statuses=statuses,
        rows=[_row(r, by_gateway=True, by_writer=writer is not None) for r in rows],
        totals=[_row(r, by_gateway=False, by_writer=False) for r in totals],
    )
