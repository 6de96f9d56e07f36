"""Runs that cron can trust: one per (period, stream), atomic, locked, replayable.

A run is one transaction: the run row, its lines and every ledger entry (each keyed by period,
stream and currency, and for writers' shares the group: ``WRITERS_PER_ENTRY`` writers are paid by
one multi-leg entry, which their lines all name) commit together or not at all, so a run killed at any point
(``kill -9`` included) left nothing behind and the rerun does all of it, exactly once. A second
run of the same (period, stream) returns the first one's result (``replayed``) and writes nothing.

Two runners at once: the second is ``RUN_IN_PROGRESS`` (exit 9) instead of waiting. PostgreSQL
takes the advisory lock ``locks.REVENUE_RUN`` with ``pg_try_advisory_xact_lock``; SQLite, whose
writers would otherwise queue on the busy timeout, takes an exclusive ``flock`` on
``<database file>.revenue.lock`` first (released by the kernel even after ``kill -9``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.context import AppContext
from legato_pay.errors import Busy, InvalidInput, InvalidState
from legato_pay.ledger import EntrySpec, LegSpec, post_entries, transfer
from legato_pay.ledger.types import Side, as_utc, utcnow
from legato_pay.revenue.common import (
    MODELS,
    POOL_STREAM,
    gc_paused,
    next_period,
    parse_choice,
    parse_period,
    parse_streams,
    period_bounds,
)
from legato_pay.revenue.plan import RunPlan, hold, plan_run
from legato_pay.revenue.pool import Line
from legato_pay.revenue.views import RunView, run_by_period, run_view
from legato_pay.store.dialect import is_postgres
from legato_pay.store.engine import insert_columns
from legato_pay.store.locks import REVENUE_RUN, sqlite_file_claim, try_advisory_xact_lock
from legato_pay.store.tables import LINES, RUNS

#: Writers paid by one ledger entry: one leg of the source (pool or stream revenue) for their
#: total and one leg per writer. Their lines all point at that entry.
WRITERS_PER_ENTRY = 500
#: Entries posted per ledger call (the progress bar moves once per batch).
BATCH = 4

Progress = Callable[[int, int], None]


def run_revenue(
    app: AppContext,
    *,
    period: str,
    stream: str = "subscription",
    model: str = "pro-rata",
    dry_run: bool = False,
    force_reason: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> list[RunView]:
    """Run (or, with ``dry_run``, plan) each stream named for ``period``; see the module doc."""
    month = parse_period(period)
    streams = parse_streams(stream)
    model_name = parse_choice(model, MODELS, "--model")
    moment = as_utc(now) or utcnow()
    reason = _check_period_over(month, moment, force_reason, dry_run=dry_run)
    views: list[RunView] = []
    for name in streams:
        if dry_run:
            views.append(
                app.run(
                    partial(_dry, app=app, period=month, stream=name, model=model_name), write=False
                )
            )
            continue
        with sqlite_file_claim(app.engine, "revenue", _busy):
            work = partial(
                _run_one,
                app=app,
                period=month,
                stream=name,
                model=model_name,
                reason=reason,
                moment=moment,
                progress=progress,
            )
            views.append(app.run(work))
    return views


def _check_period_over(
    period: str, moment: datetime, force_reason: str | None, *, dry_run: bool
) -> str | None:
    """A period still open is refused unless forced with a reason (``PERIOD_OPEN``); a dry
    run, which writes nothing, may look at one."""
    end = period_bounds(period)[1]
    if force_reason is not None and not force_reason.strip():
        raise InvalidInput("--force needs a reason", details={"force": force_reason})
    if moment < end and force_reason is None and not dry_run:
        raise InvalidState(
            f"period {period} is not over until {end.isoformat()}: "
            "run it then, or pass --force REASON",
            details={"period": period, "ends": end.isoformat(), "why": "period_open"},
            code="PERIOD_OPEN",
        )
    return force_reason.strip()[:500] if moment < end and force_reason else None


def _busy() -> Busy:
    return Busy(
        "another revenue run is in progress: try again when it has finished",
        details={"why": "run_in_progress"},
    )


def _dry(session: Session, *, app: AppContext, period: str, stream: str, model: str) -> RunView:
    found = run_by_period(session, period, stream)
    if found is not None:
        return found.replay()
    plan = plan_run(session, app.settings, period=period, stream=stream, model=model)
    return RunView.from_plan(plan, actor=app.actor)


def _run_one(
    session: Session,
    *,
    app: AppContext,
    period: str,
    stream: str,
    model: str,
    reason: str | None,
    moment: datetime,
    progress: Progress | None,
) -> RunView:
    if is_postgres(session) and not try_advisory_xact_lock(session, REVENUE_RUN):
        raise _busy()
    found = run_by_period(session, period, stream)
    if found is not None:
        return found.replay()
    plan = plan_run(session, app.settings, period=period, stream=stream, model=model)
    run_id = _insert_run(session, plan, actor=app.actor, reason=reason, moment=moment)
    with gc_paused():
        entry_ids = _post(session, app, plan, run_id, moment, progress)
        _insert_lines(session, run_id, stream, plan.lines, entry_ids)
    if plan.trueup is not None and plan.trueup.collected:
        collecting = {
            (line.writer_id, line.currency): entry_ids.get((line.writer_id, line.currency))
            for line in plan.trueup.lines
            if line.kind == "adjustment"
        }
        _settle_deferred(session, plan.trueup.collected, collecting)
    return run_view(session, run_id)


def _insert_run(
    session: Session, plan: RunPlan, *, actor: str, reason: str | None, moment: datetime
) -> int:
    return int(
        session.execute(
            RUNS.insert()
            .values(
                period=plan.period,
                stream=plan.stream,
                model=plan.model,
                status="completed",
                writer_percent=plan.percents[0],
                platform_percent=plan.percents[1],
                totals_json=json.dumps(plan.totals(), sort_keys=True),
                report_json=json.dumps(plan.report, sort_keys=True),
                engagement_watermark=plan.watermark,
                forced_reason=reason,
                actor=actor,
                created_at=moment,
            )
            .returning(RUNS.c.id)
        ).scalar_one()
    )


def _key(plan: RunPlan, currency: str, who: str) -> str:
    return f"revenue:{plan.period}:{plan.stream}:{currency}:{who}"


def _specs(
    app: AppContext, plan: RunPlan, run_id: int, moment: datetime
) -> tuple[list[EntrySpec], list[list[tuple[str, str]]]]:
    """Every entry of the run, and for each the (writer, currency) lines it pays (none for the
    platform's and the carry entries)."""
    held, until = hold(app.settings, moment)
    meta = {"kind": "revenue_run", "run": run_id, "period": plan.period, "stream": plan.stream}
    specs: list[EntrySpec] = []
    owners: list[list[tuple[str, str]]] = []
    for pool in plan.pools:
        source = chart.subscription_pool(plan.period, pool.currency)
        if pool.carried:
            target = chart.subscription_pool(next_period(plan.period), pool.currency)
            specs.append(
                transfer(
                    source,
                    target,
                    pool.carried,
                    pool.currency,
                    idempotency_key=_key(plan, pool.currency, "carry"),
                    reason=f"{plan.period} pool had no engagement: carried",
                    metadata=meta,
                )
            )
            owners.append([])
        if pool.platform:
            specs.append(
                transfer(
                    source,
                    chart.platform_revenue(POOL_STREAM, pool.currency),
                    pool.platform,
                    pool.currency,
                    idempotency_key=_key(plan, pool.currency, "platform"),
                    reason=f"platform share of the {plan.period} pool",
                    metadata=meta,
                )
            )
            owners.append([])
    for group in _writer_groups(plan):
        specs.append(_writers_entry(plan, group, meta, held, until))
        owners.append([(line.writer_id, line.currency) for line in group.lines])
    return specs, owners


@dataclass(frozen=True, slots=True)
class _Group:
    """Up to ``WRITERS_PER_ENTRY`` writers' lines of one currency and direction: one entry."""

    currency: str
    credit: bool  # True: the source pays the writers (pending under the refund hold)
    number: int  # the group's place among its currency's and direction's groups, from 0
    lines: list[Line]


def _writer_groups(plan: RunPlan) -> list[_Group]:
    """The lines that move money (not zero, not deferred), by currency and direction in the
    plan's order (writer id), cut into groups of ``WRITERS_PER_ENTRY``: the same plan always
    gives the same groups, so a rerun posts the same entries under the same keys."""
    by_kind: dict[tuple[str, bool], list[Line]] = {}
    for line in plan.lines:
        if line.amount != 0 and line.kind != "deferred":
            by_kind.setdefault((line.currency, line.amount > 0), []).append(line)
    return [
        _Group(
            currency, credit, start // WRITERS_PER_ENTRY, lines[start : start + WRITERS_PER_ENTRY]
        )
        for (currency, credit), lines in sorted(by_kind.items())
        for start in range(0, len(lines), WRITERS_PER_ENTRY)
    ]


def _writers_entry(
    plan: RunPlan, group: _Group, meta: dict[str, Any], held: bool, until: datetime | None
) -> EntrySpec:
    """One multi-leg entry for a group: the source's one leg for the group's total and one leg
    per writer's earnings account (its ``amount`` exactly, so each writer's legs sum to their
    line). Credits are pending under the refund hold (``hold_until``); debits (a true-up taking
    back) are posted."""
    currency = group.currency
    if plan.stream == POOL_STREAM:
        source = chart.subscription_pool(plan.period, currency)
        reason = f"writers' shares of the {plan.period} subscription pool"
    else:
        source = chart.platform_revenue(plan.stream, currency)
        reason = f"{plan.stream} true-up for {plan.period}"
    writer_side: Side = "credit" if group.credit else "debit"
    source_side: Side = "debit" if group.credit else "credit"
    total = sum(abs(line.amount) for line in group.lines)
    legs = [LegSpec(source, source_side, total, currency)] + [
        LegSpec(
            chart.writer_earnings(line.writer_id, currency), writer_side, abs(line.amount), currency
        )
        for line in group.lines
    ]
    pending = held and group.credit
    metadata: dict[str, Any] = {**meta, "writers": len(group.lines)}
    if pending and until is not None:
        metadata["hold_until"] = until.isoformat()  # what the refund-hold release looks for
    direction = "credits" if group.credit else "debits"
    return EntrySpec(
        legs=tuple(legs),
        pending=pending,
        post_at=until if pending else None,
        idempotency_key=_key(plan, currency, f"writers:{direction}:{group.number}"),
        reason=reason,
        metadata=metadata,
    )


def _open(session: Session, plan: RunPlan) -> None:
    """Every account the run's entries touch, in one batch (the chart's shapes)."""
    requests = []
    for pool in plan.pools:
        requests.append(
            chart.system_account(chart.subscription_pool(plan.period, pool.currency), pool.currency)
        )
        if pool.carried:
            code = chart.subscription_pool(next_period(plan.period), pool.currency)
            requests.append(chart.system_account(code, pool.currency))
        if pool.platform:
            code = chart.platform_revenue(POOL_STREAM, pool.currency)
            requests.append(chart.system_account(code, pool.currency))
    for line in plan.lines:
        if line.amount and line.kind != "deferred":
            requests.append(chart.writer_earnings_account(line.writer_id, line.currency))
            if plan.stream != POOL_STREAM:
                code = chart.platform_revenue(plan.stream, line.currency)
                requests.append(chart.system_account(code, line.currency))
    chart.open_accounts(session, requests)


def _post(
    session: Session,
    app: AppContext,
    plan: RunPlan,
    run_id: int,
    moment: datetime,
    progress: Progress | None,
) -> dict[tuple[str, str], int]:
    specs, owners = _specs(app, plan, run_id, moment)
    if not specs:
        return {}
    _open(session, plan)
    ids: dict[tuple[str, str], int] = {}
    for start in range(0, len(specs), BATCH):
        chunk = specs[start : start + BATCH]
        views = post_entries(session, chunk, actor=app.actor, now=moment)
        for paid, view in zip(owners[start : start + BATCH], views, strict=True):
            ids.update(dict.fromkeys(paid, view.id))
        if progress is not None:
            progress(min(start + BATCH, len(specs)), len(specs))
    return ids


def _insert_lines(
    session: Session,
    run_id: int,
    stream: str,
    lines: list[Line],
    entry_ids: dict[tuple[str, str], int],
) -> None:
    """The run's lines, 5,000 a statement (one ``INSERT … SELECT FROM unnest`` on PostgreSQL),
    given column by column."""
    from legato_pay.revenue.common import share_text

    for start in range(0, len(lines), 5000):
        chunk = lines[start : start + 5000]
        columns: dict[str, list[Any]] = {
            "run_id": [run_id] * len(chunk),
            "writer_id": [line.writer_id for line in chunk],
            "stream": [stream] * len(chunk),
            "currency": [line.currency for line in chunk],
            "kind": [line.kind for line in chunk],
            "basis_minutes": [line.basis_minutes for line in chunk],
            "basis_value": [line.basis_value for line in chunk],
            "paid_before": [line.paid_before for line in chunk],
            "share": [share_text(line.share) for line in chunk],
            "amount": [line.amount for line in chunk],
            "remainder_units": [line.remainder_units for line in chunk],
            "entry_id": [
                None if line.kind == "deferred" else entry_ids.get((line.writer_id, line.currency))
                for line in chunk
            ],
        }
        insert_columns(session, LINES, columns)


def _settle_deferred(
    session: Session, line_ids: list[int], collecting: dict[tuple[str, str], int | None]
) -> None:
    """Point the deferred lines collected now at the entry that collected them."""
    rows = session.execute(
        select(LINES.c.id, LINES.c.writer_id, LINES.c.currency).where(LINES.c.id.in_(line_ids))
    )
    for line_id, writer, currency in rows:
        entry = collecting.get((str(writer), str(currency)))
        session.execute(update(LINES).where(LINES.c.id == line_id).values(entry_id=entry or 0))
