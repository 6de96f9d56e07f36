"""Completing a milestone, and the automatic releases it starts with
``features.enable_automatic_releases``.

With the flag on, completing a milestone releases its share (``milestones.share_of_deposit``)
of every confirmed deposit of the app in the same unit of work: below the threshold at once,
at or above it held for approval, requested by whoever completed the milestone (so they cannot
approve it). Each carries the key ``auto:m<milestone>:d<deposit>``, so it happens once. A
deposit in dispute, or without that much available, is skipped, with a timeline step saying
why (``auto_release_skipped``); it can be released by hand later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.escrow.balances import CONFIRMED, lock_deposit
from legato_pay.escrow.disputes_guard import open_dispute_of
from legato_pay.escrow.milestones import MilestoneView, mark_completed, share_of_deposit
from legato_pay.escrow.releases import available_in_escrow, create_release
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store.tables import ESCROW_DEPOSITS, ESCROW_RELEASES


@dataclass(frozen=True, slots=True)
class Completion:
    milestone: MilestoneView
    released: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return self.milestone.as_json() | {
            "automatic_releases": self.released,
            "skipped_deposits": self.skipped,
        }


def auto_key(milestone_id: int, deposit_id: int) -> str:
    return f"auto:m{milestone_id}:d{deposit_id}"


def complete_milestone(
    session: Session,
    settings: Settings,
    *,
    app: str,
    milestone: str,
    evidence: str,
    actor: str,
    now: datetime | None = None,
) -> Completion:
    """Mark the milestone completed with its evidence (INVALID_STATE if it already is); with
    automatic releases on, release its share of every confirmed deposit of the app."""
    moment = as_utc(now) or utcnow()
    view = mark_completed(
        session, app=app, milestone=milestone, evidence=evidence, actor=actor, now=moment
    )
    if not settings.features.enable_automatic_releases:
        return Completion(view)
    return auto_release_for_milestone(session, settings, view, actor=actor, now=moment)


def auto_release_for_milestone(
    session: Session, settings: Settings, milestone: MilestoneView, *, actor: str, now: datetime
) -> Completion:
    deposits = session.execute(
        select(ESCROW_DEPOSITS.c.id)
        .where(
            ESCROW_DEPOSITS.c.app_id == milestone.app,
            ESCROW_DEPOSITS.c.status.in_(CONFIRMED),
        )
        .order_by(ESCROW_DEPOSITS.c.id)
    ).scalars()
    result = Completion(milestone)
    for deposit_id in list(deposits):
        row = lock_deposit(session, deposit_id)
        key = auto_key(milestone.id, row.id)
        done = session.execute(
            select(ESCROW_RELEASES.c.id).where(ESCROW_RELEASES.c.idempotency_key == key)
        ).scalar()
        if done is not None:
            continue
        amount = share_of_deposit(session, milestone, row.amount)
        why = _why_not(session, row, amount)
        if why is not None:
            result.skipped.append({"deposit": row.id, "reason": why})
            record_escrow_event(
                session,
                row.id,
                "auto_release_skipped",
                actor,
                amount=amount,
                subject=f"milestone:{milestone.id}",
                details={"reason": why},
                now=now,
            )
            continue
        result.released.append(
            create_release(
                session,
                settings,
                deposit_row=row,
                milestone_id=milestone.id,
                amount=amount,
                key=key,
                request={"deposit": row.id, "milestone": milestone.id, "auto": True},
                actor=actor,
                now=now,
            )
        )
    return result


def _why_not(session: Session, row: Any, amount: int) -> str | None:
    if amount <= 0:
        return "the milestone's share rounds to nothing"
    dispute = open_dispute_of(session, row.id)
    if dispute is not None:
        return f"in dispute (dispute {dispute.id})"
    from legato_pay.errors import AccountNotFound

    try:
        available = available_in_escrow(session, row)
    except AccountNotFound:
        available = 0
    if available < amount:
        return f"insufficient funds in escrow ({available} minor units available)"
    return None
