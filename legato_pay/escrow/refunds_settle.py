"""Settling an escrow refund with the gateway's word, exactly once: only a ``pending`` refund
changes, checked with its deposit's row locked. ``succeeded`` posts the pending entry and
cancels the deposit's units pro rata (``units_due``); ``failed`` voids it, the money back in
escrow once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from legato_pay.escrow.balances import lock_deposit
from legato_pay.escrow.refunds_views import (
    RefundView,
    gateway_key,
    get_refund,
    refund_row,
    refund_view,
)
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.ledger import resolve_pending
from legato_pay.ledger.types import utcnow
from legato_pay.shares.register import cancel_units
from legato_pay.store.tables import ESCROW_REFUNDS


def settle_refund(
    session: Session,
    refund_id: int,
    outcome: str,
    provider_refund_id: str | None,
    actor: str,
    *,
    note: str | None = None,
) -> RefundView:
    """Apply the gateway's word on a refund, exactly once: only a ``pending`` refund changes
    (checked with its deposit locked). ``succeeded`` posts the reservation and cancels units;
    ``failed`` voids it; ``pending`` only records the gateway's refund id."""
    first = refund_row(session, refund_id)
    deposit = lock_deposit(session, first.deposit_id)
    row = refund_row(session, refund_id, lock=True)
    if row.status != "pending":
        return refund_view(row)
    if provider_refund_id and row.provider_refund_id is None:
        session.execute(
            update(ESCROW_REFUNDS)
            .where(ESCROW_REFUNDS.c.id == refund_id)
            .values(provider_refund_id=provider_refund_id)
        )
    if outcome == "succeeded":
        _succeed(session, deposit, row, actor, provider_refund_id or row.provider_refund_id)
    elif outcome == "failed":
        _fail(session, deposit, row, actor, note)
    return get_refund(session, refund_id)


def _succeed(
    session: Session, deposit: Any, row: Any, actor: str, provider_refund_id: str | None
) -> None:
    now = utcnow()
    posted = resolve_pending(
        session,
        row.entry_id,
        post=True,
        actor=actor,
        idempotency_key=f"{gateway_key(row.id)}:post",
        reason=f"escrow refund {row.id} succeeded at the gateway",
        now=now,
        # reconcile pairs the refund on the gateway's own id, known only now
        metadata={"gateway_ref": provider_refund_id} if provider_refund_id else None,
    )
    units = _cancel_units(session, deposit, row, actor, now)
    session.execute(
        update(ESCROW_REFUNDS)
        .where(ESCROW_REFUNDS.c.id == row.id)
        .values(
            status="succeeded",
            resolution_entry_id=posted.id,
            units_cancelled=units,
            settled_at=now,
        )
    )
    record_escrow_event(
        session,
        deposit.id,
        "refund_succeeded",
        actor,
        amount=row.amount,
        subject=f"refund:{row.id}",
        details={"entry_id": posted.id, "units_cancelled": units},
        now=now,
    )


def _fail(session: Session, deposit: Any, row: Any, actor: str, note: str | None) -> None:
    now = utcnow()
    voided = resolve_pending(
        session,
        row.entry_id,
        post=False,
        actor=actor,
        idempotency_key=f"{gateway_key(row.id)}:void",
        reason=f"escrow refund {row.id} failed at the gateway",
        now=now,
    )
    session.execute(
        update(ESCROW_REFUNDS)
        .where(ESCROW_REFUNDS.c.id == row.id)
        .values(status="failed", resolution_entry_id=voided.id, settled_at=now)
    )
    record_escrow_event(
        session,
        deposit.id,
        "refund_failed",
        actor,
        amount=row.amount,
        subject=f"refund:{row.id}",
        details={"entry_id": voided.id, "note": note[:300] if note else None},
        now=now,
    )


def units_due(units: int, deposited: int, refunded_before: int, refunded_after: int) -> int:
    """Units a refund cancels: the cumulative floor share, so the shares add up to all units
    once the whole deposit is refunded."""
    return (units * refunded_after) // deposited - (units * refunded_before) // deposited


def _cancel_units(session: Session, deposit: Any, row: Any, actor: str, now: datetime) -> int:
    if not deposit.units or deposit.movement_id is None:
        return 0
    before = int(
        session.execute(
            select(func.coalesce(func.sum(ESCROW_REFUNDS.c.amount), 0)).where(
                ESCROW_REFUNDS.c.deposit_id == deposit.id,
                ESCROW_REFUNDS.c.status == "succeeded",
                ESCROW_REFUNDS.c.id != row.id,
            )
        ).scalar_one()
    )
    due = units_due(deposit.units, deposit.amount, before, before + row.amount)
    movement = cancel_units(
        session,
        actor=actor,
        app_id=deposit.app_id,
        investor=deposit.investor_id,
        units=due,
        key=f"escrow-refund:{row.id}",
        now=now,
    )
    return movement.units if movement is not None else 0
