"""Shared set-up for the reconciliation tests: ledger entries on a gateway's clearing account,
booked the way a service would (``gateway:<g>:<CUR>`` against a hot platform account)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from legato_pay import chart
from legato_pay.ledger import EntrySpec, LegSpec, post_entries
from legato_pay.reconcile.records import Period
from legato_pay.reconcile.service import ReconcileRequest, reconcile
from legato_pay.reconcile.sources import Source
from legato_pay.reconcile.storage import RunView

NOV = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))
MID = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def book(
    app: Any,
    gateway: str,
    amount: int,
    currency: str,
    *,
    out: bool = False,
    at: datetime = MID,
    **metadata: Any,
) -> int:
    """Cash in at (or, ``out``, out of) the gateway, with ``metadata`` on the entry; its id."""
    cash, other = chart.gateway_cash(gateway, currency), chart.coin_sales(currency)

    def work(session: Any) -> int:
        chart.open_system(session, cash, currency, debit_normal=True)
        chart.open_system(session, other, currency)
        legs = (
            LegSpec(cash, "credit" if out else "debit", amount, currency),
            LegSpec(other, "debit" if out else "credit", amount, currency),
        )
        spec = EntrySpec(legs=legs, metadata=metadata or None, effective_at=at)
        return post_entries(session, [spec], actor="test")[0].id

    return int(app.run(work))


def run(
    app: Any, gateway: str, source: Source, period: Period = NOV, *, dry_run: bool = False
) -> RunView:
    return reconcile(app, ReconcileRequest(gateway, period, dry_run=dry_run), source)


def kinds(view: RunView) -> dict[str, int]:
    return {kind: count for kind, count in view.counts.items() if count}


def by_kind(view: RunView, kind: str) -> list[Any]:
    return [item for item in view.items if item.kind == kind]
