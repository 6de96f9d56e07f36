"""A payout's status changes after its request: cancel, and the approve/reject/unapprove hooks.

Each change locks the payout's row (PostgreSQL; SQLite's write transaction is one lock), checks
that the new status may follow the current one (``TRANSITIONS``; INVALID_STATE, exit 6,
otherwise), and records a timeline step with its actor. Cancelling or rejecting voids the
payout's pending approvals and the pending entry that reserved the gross: the money is back in
the writer's earnings, exactly once (the ledger refuses to resolve a pending entry twice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, InvalidState, NotFound
from legato_pay.ledger import resolve_pending
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.payouts.methods import parse_id
from legato_pay.payouts.views import PayoutView, get_payout, record_event
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import PAYOUTS

STATUSES = ("requested", "approved", "sending", "paid", "failed", "reversed", "cancelled")
#: Which status may follow which.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "requested": ("approved", "cancelled"),
    # approved -> requested: its approvals became void (an approver removed) before sending.
    "approved": ("sending", "cancelled", "requested"),
    "sending": ("paid", "failed"),
    "paid": ("reversed",),
}


def lock_payout(session: Session, payout_id: int) -> Any:
    """The payout's row, locked until the unit of work ends; PAYOUT_NOT_FOUND otherwise."""
    row = session.execute(
        for_update(select(PAYOUTS).where(PAYOUTS.c.id == payout_id), session)
    ).first()
    if row is None:
        raise NotFound(
            f"no payout {payout_id}", details={"payout": payout_id}, code="PAYOUT_NOT_FOUND"
        )
    return row


def move(
    session: Session,
    payout_id: int,
    to: str,
    *,
    actor: str,
    action: str,
    reason: str | None,
    now: datetime,
    allowed_from: tuple[str, ...] | None = None,
) -> Any:
    """Change a payout's status if ``to`` may follow its current one (INVALID_STATE, exit 6,
    otherwise); record the step. Returns the row as it was."""
    row = lock_payout(session, payout_id)
    sources = allowed_from or tuple(s for s, nexts in TRANSITIONS.items() if to in nexts)
    if row.status not in sources or to not in TRANSITIONS.get(row.status, ()):
        raise InvalidState(
            f"payout {payout_id} is {row.status}: it cannot become {to}",
            details={"payout": payout_id, "status": row.status, "wanted": to},
        )
    changed = session.execute(
        update(PAYOUTS)
        .where(PAYOUTS.c.id == payout_id, PAYOUTS.c.status == row.status)
        .values(status=to, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:  # pragma: no cover - the row lock (or SQLite's write lock) prevents it
        raise InvalidState(f"payout {payout_id} changed meanwhile", details={"payout": payout_id})
    record_event(
        session,
        payout_id,
        action=action,
        from_status=row.status,
        to_status=to,
        actor=actor,
        reason=reason,
        now=now,
    )
    return row


def _void(session: Session, row: Any, *, actor: str, reason: str, now: datetime) -> None:
    voided = resolve_pending(session, row.entry_id, post=False, actor=actor, reason=reason, now=now)
    session.execute(
        update(PAYOUTS).where(PAYOUTS.c.id == row.id).values(resolution_entry_id=voided.id)
    )


def cancel_payout(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> PayoutView:
    """Cancel before sending: the pending entry is voided, the money is back in earnings,
    exactly once (a second cancel is INVALID_STATE)."""
    number = parse_id(payout_id, field="payout")
    moment = as_utc(now) or utcnow()
    row = move(
        session,
        number,
        "cancelled",
        actor=actor,
        action="cancelled",
        reason=reason,
        now=moment,
        allowed_from=("requested", "approved"),
    )
    _void(session, row, actor=actor, reason=f"payout {number} cancelled", now=moment)
    from legato_pay.approvals import void_subject_approvals

    void_subject_approvals(session, "payouts", "payout", str(number), reason="payout cancelled")
    return get_payout(session, number)


def mark_approved(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> PayoutView:
    """The state change an accepted approval makes (``requested`` -> ``approved``). Who may
    approve, and the signature, are checked by the approvals module before it calls this."""
    number = parse_id(payout_id, field="payout")
    move(
        session,
        number,
        "approved",
        actor=actor,
        action="approved",
        reason=reason,
        now=as_utc(now) or utcnow(),
        allowed_from=("requested",),
    )
    return get_payout(session, number)


def mark_rejected(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> PayoutView:
    """A rejection: the payout is cancelled and its reservation voided (money back)."""
    number = parse_id(payout_id, field="payout")
    if not reason or not reason.strip():
        raise InvalidInput("a rejection needs a --reason", details={"field": "reason"})
    moment = as_utc(now) or utcnow()
    row = move(
        session,
        number,
        "cancelled",
        actor=actor,
        action="rejected",
        reason=reason,
        now=moment,
        allowed_from=("requested", "approved"),
    )
    _void(session, row, actor=actor, reason=f"payout {number} rejected", now=moment)
    return get_payout(session, number)


def mark_unapproved(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> PayoutView:
    """Back to ``requested`` (``approved`` -> ``requested``): the approvals that approved it no
    longer count (an approver was removed) and it has not been sent; it waits for approval
    again, its reservation untouched."""
    number = parse_id(payout_id, field="payout")
    move(
        session,
        number,
        "requested",
        actor=actor,
        action="approval_voided",
        reason=reason,
        now=as_utc(now) or utcnow(),
        allowed_from=("approved",),
    )
    return get_payout(session, number)
