"""Writers' earnings: splitting a value between writer and platform, and the refund hold.

A split uses the configured percentages for the stream (content 70/30, tips, subscription,
licensing, ads) with largest-remainder allocation, so writer + platform == value exactly. The
writer's share is a *pending* entry while the refund hold lasts (it shows as pending, not
available, in the writer's earnings account) whose ``post_at`` is the end of the hold (also
shown as ``hold_until`` in its metadata); ``release_held_earnings`` posts the matured ones.

A refund hold is told apart from every other pending entry (escrow, payouts) by its shape: a
pending credit to a writer's earnings account (``writer:<w>:earnings:<CUR>``, a namespace only
the services open) whose metadata names ``hold_until``. The release job posts those and nothing
else, and only once their time has come by the clock it is given (the real one from the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import InvalidState
from legato_pay.ledger import EntrySpec, LegSpec, resolve_pending, transfer
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import allocate_by_percent
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, PENDING

#: The metadata key every refund hold carries (and only refund holds are released by it).
HOLD_MARKER = "hold_until"


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
    now: datetime | None = None,
) -> EntrySpec | None:
    """The writer's share as its own entry: pending under the refund hold (which ends
    ``refund_hold_days`` after ``now``, the real clock by default), else posted."""
    if not split.writer:
        return None
    chart.open_writer_earnings(session, writer_id, split.currency)
    held = settings.content.refund_hold_days > 0
    until = hold_until(settings, as_utc(now)) if held else None
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
        else {**(metadata or {}), HOLD_MARKER: until.isoformat()},
    )


def due_holds(session: Session, now: datetime, *, limit: int = 10000) -> list[int]:
    """Refund holds whose time has come (``post_at`` <= ``now``), earliest first: pending
    entries crediting a writer's earnings account whose metadata names ``hold_until``. Other
    pending entries (escrow, payouts, an operator's) are never among them."""
    credited = (
        select(LEGS.c.entry_id)
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(
            LEGS.c.entry_id == PENDING.c.entry_id,
            LEGS.c.is_debit.is_(False),
            LEGS.c.pending_amount > 0,
            ACCOUNTS.c.code.like("writer:%:earnings:%"),
        )
        .exists()
    )
    return list(
        session.execute(
            select(PENDING.c.entry_id)
            .join(ENTRIES, ENTRIES.c.id == PENDING.c.entry_id)
            .where(
                and_(
                    PENDING.c.status == "pending",
                    PENDING.c.post_at <= now,
                    ENTRIES.c.metadata_json.like(f'%"{HOLD_MARKER}": %'),
                    credited,
                )
            )
            .order_by(PENDING.c.post_at, PENDING.c.entry_id)
            .limit(limit)
        ).scalars()
    )


def release_held_earnings(
    session: Session, *, actor: str, now: datetime | None = None, limit: int = 10000
) -> list[int]:
    """Post every refund hold whose end (``post_at``) has passed by ``now`` (the real clock
    unless a test gives one), earliest first; returns the entry ids this call posted.

    A hold another release posted first (a concurrent run) is skipped, not an error: on
    PostgreSQL the claim waits for that run to commit and then finds the hold posted, on SQLite
    the run waits for the write lock and then finds nothing due, so both answer the same.
    """
    moment = as_utc(now) or utcnow()
    released: list[int] = []
    for entry_id in due_holds(session, moment, limit=limit):
        try:
            resolve_pending(session, entry_id, post=True, actor=actor, reason="refund hold over")
        except InvalidState as taken:
            if taken.details.get("status") in ("posted", "voided"):
                continue  # a concurrent release (or a refund) resolved it first
            raise
        released.append(entry_id)
    return released
