"""Writers' earnings: splitting a value between writer and platform, and the refund hold.

A split uses the configured percentages for the stream (content 70/30, tips, subscription,
licensing, ads) with largest-remainder allocation, so writer + platform == value exactly. The
writer's share is a *pending* entry while the refund hold lasts (it shows as pending, not
available, in the writer's earnings account) whose ``post_at`` is the end of the hold (also
shown as ``hold_until`` in its metadata); ``release_held_earnings`` posts the matured ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.ledger import EntrySpec, LegSpec, due_pending, resolve_pending, transfer
from legato_pay.ledger.types import utcnow
from legato_pay.money import allocate_by_percent


@dataclass(frozen=True, slots=True)
class Split:
    value: int
    currency: str
    writer: int
    platform: int


def split_value(settings: Settings, stream: str, value: int, currency: str) -> Split:
    shares = getattr(settings.revenue, stream)
    writer, platform = allocate_by_percent(value, [shares.writer_percent, shares.platform_percent])
    return Split(value, currency, writer, platform)


def hold_until(settings: Settings, moment: datetime | None = None) -> datetime:
    return (moment or utcnow()) + timedelta(days=settings.content.refund_hold_days)


def platform_share_legs(split: Split, stream: str, source: str) -> list[LegSpec]:
    """Legs moving the platform's share from ``source`` to the stream's revenue account."""
    if not split.platform:
        return []
    return [
        LegSpec(source, "debit", split.platform, split.currency),
        LegSpec(
            chart.platform_revenue(stream, split.currency), "credit", split.platform, split.currency
        ),
    ]


def writer_share_entry(
    settings: Settings,
    session: Session,
    split: Split,
    *,
    writer_id: str,
    source: str,
    key: str | None,
    reason: str,
    metadata: dict[str, Any] | None = None,
) -> EntrySpec | None:
    """The writer's share as its own entry: pending under the refund hold, else posted."""
    if not split.writer:
        return None
    chart.open_writer_earnings(session, writer_id, split.currency)
    held = settings.content.refund_hold_days > 0
    until = hold_until(settings) if held else None
    return transfer(
        source,
        chart.writer_earnings(writer_id, split.currency),
        split.writer,
        split.currency,
        pending=held,
        post_at=until,
        idempotency_key=key,
        reason=reason,
        metadata=metadata
        if until is None
        else {**(metadata or {}), "hold_until": until.isoformat()},
    )


def release_held_earnings(
    session: Session, *, actor: str, now: datetime | None = None, limit: int = 10000
) -> list[int]:
    """Post every hold whose ``post_at`` (the end of its refund hold) has passed, earliest
    first; returns their entry ids. The ledger's index finds them (``due_pending``)."""
    released = due_pending(session, now or utcnow(), limit=limit)
    for entry_id in released:
        resolve_pending(session, entry_id, post=True, actor=actor, reason="refund hold over")
    return released
