"""What a run of one (period, stream) would post, computed inside the caller's transaction and
written by nothing here: the pool split per currency, or the stream's true-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.ledger.accounts import resolve_accounts
from legato_pay.ledger.queries import account_totals
from legato_pay.ledger.types import balance_from_totals
from legato_pay.revenue import basis as basis_sql
from legato_pay.revenue.common import POOL_STREAM, period_bounds
from legato_pay.revenue.pool import Line, PoolSplit, split_pool
from legato_pay.revenue.trueup import TrueUp, open_deferred, period_values, true_up
from legato_pay.store.tables import ACCOUNTS


@dataclass(slots=True)
class RunPlan:
    period: str
    stream: str
    model: str | None
    percents: tuple[str, str]
    pools: list[PoolSplit] = field(default_factory=list)
    trueup: TrueUp | None = None
    watermark: int | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def lines(self) -> list[Line]:
        if self.trueup is not None:
            return self.trueup.lines
        return [line for pool in self.pools for line in pool.lines]

    def totals(self) -> dict[str, dict[str, int]]:
        if self.trueup is not None:
            return self.trueup.totals()
        return {
            pool.currency: {
                "pool": pool.pool,
                "writers": pool.writers,
                "platform": pool.platform,
                "carried": pool.carried,
                "remainder_units": sum(line.remainder_units for line in pool.lines),
            }
            for pool in self.pools
        }


def pool_currencies(session: Session, period: str) -> list[tuple[str, str]]:
    """The period's pool accounts (code, currency), one per currency that took fees."""
    prefix = chart.subscription_pool(period, "")
    rows = session.execute(
        select(ACCOUNTS.c.code, ACCOUNTS.c.currency)
        .where(ACCOUNTS.c.code.startswith(prefix, autoescape=True))
        .order_by(ACCOUNTS.c.currency)
    )
    return [(str(code), str(currency)) for code, currency in rows]


def _balances(session: Session, codes: list[str]) -> dict[str, int]:
    """Posted balances of ``codes`` that exist (hot or not), in their normal-side terms."""
    accounts = resolve_accounts(session, codes) if codes else {}
    return {
        code: balance_from_totals(account, account_totals(session, account)).available
        for code, account in accounts.items()
    }


def plan_run(
    session: Session, settings: Settings, *, period: str, stream: str, model: str
) -> RunPlan:
    """Everything the run of (period, stream) would post; reads only."""
    shares = getattr(settings.revenue, stream)
    percents = (shares.writer_percent, shares.platform_percent)
    if stream == POOL_STREAM:
        return _plan_pool(session, settings, period, model, percents)
    start, end = period_bounds(period)
    values = period_values(session, stream, start, end)
    deferred = open_deferred(session, stream)
    writers = sorted({(v.writer_id, v.currency) for v in values} | set(deferred))
    codes = [chart.writer_earnings(w, c) for w, c in writers]
    balances = _resolve_quiet(session, codes)
    available = {(w, c): balances.get(chart.writer_earnings(w, c), 0) for w, c in writers}
    plan = RunPlan(period, stream, None, percents)
    plan.trueup = true_up(settings, stream, values, deferred, available)
    plan.report = {"writers": len({w for w, _ in writers})}
    return plan


def _resolve_quiet(session: Session, codes: list[str]) -> dict[str, int]:
    """Balances of the accounts among ``codes`` that exist (a writer paid nothing yet has none)."""
    known = (
        set(session.execute(select(ACCOUNTS.c.code).where(ACCOUNTS.c.code.in_(codes))).scalars())
        if codes
        else set()
    )
    return _balances(session, sorted(known))


def _plan_pool(
    session: Session,
    settings: Settings,
    period: str,
    model: str,
    percents: tuple[str, str],
) -> RunPlan:
    win = basis_sql.window(session, period)
    plan = RunPlan(period, POOL_STREAM, model, percents, watermark=win.watermark)
    pools = pool_currencies(session, period)
    balances = _balances(session, [code for code, _ in pools])
    exceptional = basis_sql.materialize(session, settings, win, model=model)
    for code, currency in pools:
        basis = basis_sql.pool_basis(session, win, currency, model=model, exceptional=exceptional)
        plan.pools.append(
            split_pool(
                basis,
                balances.get(code, 0),
                model=model,
                percents=percents,
                no_engagement=settings.revenue.pool.no_engagement,
            )
        )
        plan.report.setdefault("subscribers", {})[currency] = basis.subscribers
    capped, listed = basis_sql.suspects(session)
    plan.report.update(
        {
            "suspected_fraud": {"capped_minutes": capped, "listed": listed},
            "unattributed_minutes": basis_sql.unattributed(session),
            "late_minutes": basis_sql.late_minutes(session, win),
            "no_engagement_policy": settings.revenue.pool.no_engagement,
        }
    )
    return plan


def hold(settings: Settings, moment: datetime) -> tuple[bool, datetime | None]:
    """Whether writers' credits are held, and until when (``content.refund_hold_days``)."""
    from legato_pay.earnings.holds import hold_until

    held = settings.content.refund_hold_days > 0
    return held, hold_until(settings, moment) if held else None
