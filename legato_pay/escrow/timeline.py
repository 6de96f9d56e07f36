"""One deposit's timeline: every escrow step (deposit, confirmation, flag, release, approval,
refund, dispute…) as an ``escrow_events`` row with its actor, never edited. ``escrow show``
prints them in order."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from legato_pay.store.tables import ESCROW_EVENTS


def record_escrow_event(
    session: Session,
    deposit_id: int,
    action: str,
    actor: str,
    *,
    amount: int | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Append one step to ``deposit_id``'s timeline, in the caller's transaction."""
    session.execute(
        insert(ESCROW_EVENTS).values(
            deposit_id=deposit_id,
            action=action[:30],
            amount=amount,
            subject=subject[:100] if subject else None,
            actor=actor[:200],
            details=json.dumps(details, sort_keys=True, default=str) if details else None,
            created_at=now,
        )
    )
