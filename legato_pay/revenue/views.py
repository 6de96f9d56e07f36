"""Reading runs and their lines: ``revenue list``, ``show``, ``lines`` and a run's replay."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount
from legato_pay.revenue.common import STREAMS, parse_choice, parse_period, share_text
from legato_pay.store.tables import LINES, RUNS

if TYPE_CHECKING:
    from legato_pay.revenue.plan import RunPlan
    from legato_pay.revenue.pool import Line

MAX_ID = 2**63 - 1


def money(minor: int, currency: str) -> dict[str, Any]:
    return {"amount": minor, "currency": currency, "display": format_amount(minor, currency)}


@dataclass(frozen=True, slots=True)
class LineView:
    writer_id: str
    stream: str
    currency: str
    kind: str
    basis_minutes: int
    basis_value: int
    paid_before: int
    share: str
    amount: int
    remainder_units: int
    entry_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "writer": self.writer_id,
            "stream": self.stream,
            "kind": self.kind,
            "currency": self.currency,
            "basis_minutes": self.basis_minutes,
            "basis_value": money(self.basis_value, self.currency),
            "credited_before": money(self.paid_before, self.currency),
            "share": self.share,
            "amount": money(self.amount, self.currency),
            "amount_minor": self.amount,
            "remainder_units": self.remainder_units,
            "entry_id": self.entry_id,
        }


def line_from_plan(line: Line, stream: str) -> LineView:
    return LineView(
        line.writer_id,
        stream,
        line.currency,
        line.kind,
        line.basis_minutes,
        line.basis_value,
        line.paid_before,
        share_text(line.share),
        line.amount,
        line.remainder_units,
    )


@dataclass(frozen=True, slots=True)
class RunView:
    id: int | None
    period: str
    stream: str
    model: str | None
    status: str
    writer_percent: str
    platform_percent: str
    totals: dict[str, dict[str, int]]
    report: dict[str, Any]
    actor: str
    created_at: datetime
    forced_reason: str | None = None
    line_count: int = 0
    lines: tuple[LineView, ...] = field(default=())  # a dry run's lines (a real run: ``lines``)
    replayed: bool = False
    dry_run: bool = False

    def replay(self) -> RunView:
        return replace(self, replayed=True)

    @classmethod
    def from_plan(cls, plan: RunPlan, *, actor: str) -> RunView:
        lines = tuple(line_from_plan(line, plan.stream) for line in plan.lines)
        return cls(
            id=None,
            period=plan.period,
            stream=plan.stream,
            model=plan.model,
            status="dry-run",
            writer_percent=plan.percents[0],
            platform_percent=plan.percents[1],
            totals=plan.totals(),
            report=plan.report,
            actor=actor,
            created_at=utcnow(),
            line_count=len(lines),
            lines=lines,
            dry_run=True,
        )

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "period": self.period,
            "stream": self.stream,
            "model": self.model,
            "status": self.status,
            "percentages": {"writer": self.writer_percent, "platform": self.platform_percent},
            "totals": {
                currency: {name: money(value, currency) for name, value in per.items()}
                if "remainder_units" not in per
                else {
                    **{n: money(v, currency) for n, v in per.items() if n != "remainder_units"},
                    "remainder_units": per["remainder_units"],
                }
                for currency, per in self.totals.items()
            },
            "report": self.report,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "forced_reason": self.forced_reason,
            "line_count": self.line_count,
            "replayed": self.replayed,
            "dry_run": self.dry_run,
        }
        if self.dry_run:
            document["lines"] = [line.as_json() for line in self.lines]
        return document


def _view(row: Any, line_count: int) -> RunView:
    return RunView(
        id=int(row.id),
        period=row.period,
        stream=row.stream,
        model=row.model,
        status=row.status,
        writer_percent=row.writer_percent,
        platform_percent=row.platform_percent,
        totals=json.loads(row.totals_json),
        report=json.loads(row.report_json),
        actor=row.actor,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        forced_reason=row.forced_reason,
        line_count=line_count,
    )


def _count(session: Session, run_id: int) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(LINES).where(LINES.c.run_id == run_id)
        ).scalar_one()
    )


def run_by_period(session: Session, period: str, stream: str) -> RunView | None:
    row = session.execute(
        select(RUNS).where(RUNS.c.period == period, RUNS.c.stream == stream)
    ).first()
    return None if row is None else _view(row, _count(session, int(row.id)))


def parse_run_id(value: str | int) -> int:
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,19}", text, flags=re.ASCII) or not 0 < int(text) <= MAX_ID:
        raise InvalidInput("a run id is a positive whole number", details={"run": text[:40]})
    return int(text)


def run_view(session: Session, run_id: str | int) -> RunView:
    number = parse_run_id(run_id)
    row = session.execute(select(RUNS).where(RUNS.c.id == number)).first()
    if row is None:
        raise NotFound(f"no revenue run {number}", details={"run": number}, code="RUN_NOT_FOUND")
    return _view(row, _count(session, number))


def list_runs(
    session: Session,
    *,
    period: str | None = None,
    stream: str | None = None,
    limit: int = 100,
    after: int | None = None,
) -> tuple[list[RunView], int | None]:
    """Runs, newest first; returns the views and the id to continue after (or None)."""
    if not 1 <= limit <= 10000:
        raise InvalidInput("--limit must be 1 to 10000", details={"limit": limit})
    query = select(RUNS).order_by(RUNS.c.id.desc()).limit(limit + 1)
    if period is not None:
        query = query.where(RUNS.c.period == parse_period(period))
    if stream is not None:
        query = query.where(RUNS.c.stream == parse_choice(stream, STREAMS, "--stream"))
    if after is not None:
        query = query.where(RUNS.c.id < after)
    rows = list(session.execute(query))
    more = len(rows) > limit
    views = [_view(row, _count(session, int(row.id))) for row in rows[:limit]]
    return views, (views[-1].id if more and views else None)


def run_lines(
    session: Session, run_id: str | int, *, writer: str | None = None
) -> tuple[RunView, list[LineView]]:
    """A run's lines, by writer then currency; ``writer`` must be a known user."""
    run = run_view(session, run_id)
    query = select(LINES).where(LINES.c.run_id == run.id)
    if writer is not None:
        from legato_pay.readers.users import get_user

        get_user(session, writer)
        query = query.where(LINES.c.writer_id == writer)
    rows = session.execute(query.order_by(LINES.c.writer_id, LINES.c.currency, LINES.c.id))
    return run, [
        LineView(
            row.writer_id,
            row.stream,
            row.currency,
            row.kind,
            int(row.basis_minutes),
            int(row.basis_value),
            int(row.paid_before),
            row.share,
            int(row.amount),
            int(row.remainder_units),
            row.entry_id,
        )
        for row in rows
    ]
