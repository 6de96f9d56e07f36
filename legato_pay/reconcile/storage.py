"""Keeping reconciliation runs: a run row and one row per finding, written once, never edited;
read back by ``reconcile list`` and ``reconcile show``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, NotFound
from legato_pay.gateways import GATEWAY_NAMES
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.readers.packages import money_json
from legato_pay.reconcile.records import KINDS, Finding, Period
from legato_pay.store.tables import RECONCILE_ITEMS, RECONCILE_RUNS

MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class ItemView:
    kind: str
    direction: str
    entry_id: int | None
    gateway_id: str | None
    reference: str | None
    ledger_amount: int | None
    ledger_currency: str | None
    gateway_amount: int | None
    gateway_currency: str | None
    gateway_status: str | None
    fee: int | None
    occurred_at: datetime | None
    note: str | None

    def as_json(self) -> dict[str, Any]:
        def money(amount: int | None, currency: str | None) -> dict[str, Any] | None:
            return money_json(amount, currency) if amount is not None and currency else None

        return {
            "kind": self.kind,
            "direction": self.direction,
            "entry_id": self.entry_id,
            "gateway_id": self.gateway_id,
            "reference": self.reference,
            "ledger": money(self.ledger_amount, self.ledger_currency),
            "gateway": money(self.gateway_amount, self.gateway_currency),
            "gateway_status": self.gateway_status,
            "fee": money(self.fee, self.gateway_currency) if self.fee else None,
            "occurred_at": self.occurred_at,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class RunView:
    id: int | None  # None: a dry run, not stored
    gateway: str
    source: str
    file_name: str | None
    period_from: datetime
    period_to: datetime
    status: str
    counts: dict[str, int]
    totals: dict[str, Any]
    actor: str
    created_at: datetime
    items: list[ItemView] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.status == "clean"

    def as_json(self, *, with_items: bool = True) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "gateway": self.gateway,
            "source": self.source,
            "file": self.file_name,
            "from": self.period_from,
            "to": self.period_to,
            "status": self.status,
            "counts": self.counts,
            "totals": self.totals,
            "actor": self.actor,
            "created_at": self.created_at,
        }
        if with_items:
            document["items"] = [item.as_json() for item in self.items]
        return document


def item_view(finding: Finding) -> ItemView:
    ledger, record = finding.ledger, finding.record
    occurred = (ledger.occurred_at if ledger else None) or (record.occurred_at if record else None)
    return ItemView(
        kind=finding.kind,
        direction=finding.direction,
        entry_id=ledger.entry_id if ledger else None,
        gateway_id=record.gateway_id[:200] if record else None,
        reference=(ledger.reference if ledger else None) or (record.reference if record else None),
        ledger_amount=ledger.amount if ledger else None,
        ledger_currency=ledger.currency if ledger else None,
        gateway_amount=record.amount if record else None,
        gateway_currency=record.currency if record else None,
        gateway_status=record.raw_status[:30] if record else None,
        fee=record.fee if record else None,
        occurred_at=occurred,
        note=finding.note,
    )


def save_run(session: Session, run: RunView) -> RunView:
    """Store ``run`` and its items; the run as stored (with its id)."""
    run_id = session.execute(
        insert(RECONCILE_RUNS)
        .values(
            gateway=run.gateway,
            source=run.source,
            file_name=run.file_name[:300] if run.file_name else None,
            period_from=run.period_from,
            period_to=run.period_to,
            status=run.status,
            counts_json=json.dumps(run.counts),
            totals_json=json.dumps(run.totals),
            actor=run.actor,
            created_at=run.created_at,
        )
        .returning(RECONCILE_RUNS.c.id)
    ).scalar_one()
    if run.items:
        session.execute(
            insert(RECONCILE_ITEMS),
            [{"run_id": run_id, **_item_row(item)} for item in run.items],
        )
    return RunView(**{**_fields(run), "id": int(run_id)})


def _fields(run: RunView) -> dict[str, Any]:
    return {name: getattr(run, name) for name in RunView.__slots__}


def _item_row(item: ItemView) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ItemView.__slots__}


def _run_view(row: Any, items: Sequence[ItemView] = ()) -> RunView:
    return RunView(
        id=int(row.id),
        gateway=row.gateway,
        source=row.source,
        file_name=row.file_name,
        period_from=as_utc(row.period_from),  # type: ignore[arg-type]
        period_to=as_utc(row.period_to),  # type: ignore[arg-type]
        status=row.status,
        counts=json.loads(row.counts_json),
        totals=json.loads(row.totals_json),
        actor=row.actor,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        items=list(items),
    )


def list_runs(session: Session, *, gateway: str | None = None, limit: int = 50) -> list[RunView]:
    """The newest runs first (of one gateway if given)."""
    if not 0 < limit <= MAX_LIST:
        raise InvalidInput(f"--limit must be 1..{MAX_LIST}", details={"limit": limit})
    if gateway is not None and gateway not in GATEWAY_NAMES:
        raise InvalidInput(
            f"unknown gateway {gateway[:40]!r}",
            details={"gateway": gateway[:40], "known": list(GATEWAY_NAMES)},
        )
    query = select(RECONCILE_RUNS).order_by(RECONCILE_RUNS.c.id.desc()).limit(limit)
    if gateway is not None:
        query = query.where(RECONCILE_RUNS.c.gateway == gateway)
    return [_run_view(row) for row in session.execute(query)]


def show_run(session: Session, run_id: int, *, kind: str | None = None) -> RunView:
    """A run with its items (of one kind if given)."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(
            f"unknown item kind {kind!r}", details={"kind": kind[:40], "known": list(KINDS)}
        )
    row = session.execute(select(RECONCILE_RUNS).where(RECONCILE_RUNS.c.id == run_id)).first()
    if row is None:
        raise NotFound(
            f"no reconciliation run {run_id}", details={"run": run_id}, code="RUN_NOT_FOUND"
        )
    query = select(RECONCILE_ITEMS).where(RECONCILE_ITEMS.c.run_id == run_id)
    if kind is not None:
        query = query.where(RECONCILE_ITEMS.c.kind == kind)
    items = [_item_from_row(r) for r in session.execute(query.order_by(RECONCILE_ITEMS.c.id))]
    return _run_view(row, items)


def _item_from_row(row: Any) -> ItemView:
    values = {name: getattr(row, name) for name in ItemView.__slots__}
    values["occurred_at"] = as_utc(values["occurred_at"])
    return ItemView(**values)


def new_run(
    *,
    gateway: str,
    source: str,
    file_name: str | None,
    period: Period,
    findings: Sequence[Finding],
    totals: dict[str, Any],
    actor: str,
) -> RunView:
    """A run's view before it is stored."""
    counts = dict.fromkeys(KINDS, 0)
    for finding in findings:
        counts[finding.kind] += 1
    discrepancies = sum(count for kind, count in counts.items() if kind != "matched")
    return RunView(
        id=None,
        gateway=gateway,
        source=source,
        file_name=file_name,
        period_from=period.start,
        period_to=period.end,
        status="discrepancies" if discrepancies else "clean",
        counts=counts,
        totals=totals,
        actor=actor,
        created_at=utcnow(),
        items=[item_view(f) for f in findings],
    )
