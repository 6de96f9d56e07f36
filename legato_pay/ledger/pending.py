"""Two-phase entries and corrections: posting or voiding a pending entry, reversing a posted
one, and finding the pending entries that are due (``post_at`` passed) or expired.

A pending entry reserves value against limits; it carries ``expires_at`` (it can no longer be
posted after it) and ``post_at`` (when the job that owns it should post it, e.g. the end of a
refund hold), both kept in ``ledger_pending`` beside its status, indexed for these queries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.errors import (
    AlreadyReversed,
    EntryNotFound,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    PendingExpired,
)
from legato_pay.idempotency import check_key
from legato_pay.ledger.posting import apply_prepared, find_replays
from legato_pay.ledger.shaping import Leg, Prepared, check_amount, hash_content
from legato_pay.ledger.types import Account, EntryView, as_utc, utcnow
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, PENDING


def _entry_legs(session: Session, entry_id: int) -> list[tuple[Account, bool, int, int]]:
    from legato_pay.ledger.accounts import _row_to_account

    rows = session.execute(
        select(ACCOUNTS, LEGS.c.is_debit, LEGS.c.amount, LEGS.c.pending_amount)
        .join(LEGS, LEGS.c.account_id == ACCOUNTS.c.id)
        .where(LEGS.c.entry_id == entry_id)
        .order_by(LEGS.c.id)
    ).all()
    return [(_row_to_account(row), row.is_debit, row.amount, row.pending_amount) for row in rows]


def _replay_or_none(session: Session, key: str | None, content_hash: str) -> EntryView | None:
    if key is None:
        return None
    probe = Prepared(kind="", legs=[], key=check_key(key), content_hash=content_hash)
    return find_replays(session, [probe]).get(0)


def resolve_pending(
    session: Session,
    entry_id: int,
    *,
    post: bool,
    actor: str,
    amount: int | None = None,
    idempotency_key: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> EntryView:
    """Post a pending entry (in full, or ``amount`` of a two-leg one) or void it.

    A partial post posts ``amount`` and releases the rest: the pending entry is then closed.
    ``metadata`` is kept on the resolving entry (e.g. the gateway id known only by then).
    """
    kind = "post_pending" if post else "void_pending"
    if amount is not None:
        check_amount(amount)
        if not post:
            raise InvalidInput("a void releases the whole pending amount; drop --amount")
    content_hash = hash_content(kind, entry_id, [("amount", "", amount or 0, 0)])
    replay = _replay_or_none(session, idempotency_key, content_hash)
    if replay is not None:
        return replay
    moment = as_utc(now) or utcnow()
    expires_at = _claim(session, entry_id, post=post)
    if post and expires_at is not None and expires_at <= moment:
        raise PendingExpired(
            f"pending entry {entry_id} expired at {expires_at.isoformat()}",
            details={"entry_id": entry_id, "expires_at": expires_at.isoformat()},
        )
    prepared = Prepared(
        kind=kind,
        legs=_resolution_legs(_entry_legs(session, entry_id), post=post, amount=amount),
        key=check_key(idempotency_key),
        content_hash=content_hash,
        reason=reason,
        metadata=metadata,
        target_entry_id=entry_id,
    )
    view = apply_prepared(session, [prepared], actor=actor, now=moment)[0]
    session.execute(
        update(PENDING).where(PENDING.c.entry_id == entry_id).values(resolved_entry_id=view.id)
    )
    return view


def _claim(session: Session, entry_id: int, *, post: bool) -> datetime | None:
    """Move a pending entry to its final status (so two resolutions can never both win);
    returns its expiry. Explains why when it is not pending."""
    claimed = session.execute(
        update(PENDING)
        .where(PENDING.c.entry_id == entry_id, PENDING.c.status == "pending")
        .values(status="posted" if post else "voided")
        .returning(PENDING.c.expires_at)
    ).one_or_none()
    if claimed is not None:
        return as_utc(claimed.expires_at)
    status = session.execute(
        select(PENDING.c.status).where(PENDING.c.entry_id == entry_id)
    ).scalar_one_or_none()
    if status is not None:
        raise InvalidState(
            f"pending entry {entry_id} is already {status}",
            details={"entry_id": entry_id, "status": status},
        )
    exists = session.execute(select(ENTRIES.c.kind).where(ENTRIES.c.id == entry_id)).first()
    if exists is None:
        raise EntryNotFound(f"no entry {entry_id}", details={"entry_id": entry_id})
    raise InvalidState(
        f"entry {entry_id} is not a pending entry",
        details={"entry_id": entry_id, "kind": exists.kind},
    )


def _resolution_legs(
    original: list[tuple[Account, bool, int, int]], *, post: bool, amount: int | None
) -> list[Leg]:
    """Legs releasing every reservation of the pending entry and, when posting, moving
    ``amount`` (all that was reserved if None) on the same sides."""
    reserved = max(pending for *_, pending in original)
    if amount is not None and amount != reserved:
        if len(original) != 2:
            raise InvalidInput(
                "a partial post needs a two-leg pending entry", details={"legs": len(original)}
            )
        if amount > reserved:
            raise InvalidAmount(
                "cannot post more than is pending",
                details={"pending": reserved, "requested": amount},
            )
    return [
        Leg(account, is_debit, (pending if amount is None else amount) if post else 0, -pending)
        for account, is_debit, _, pending in original
    ]


def reverse_entry(
    session: Session,
    entry_id: int,
    *,
    actor: str,
    reason: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> EntryView:
    """Undo the posted effect of an entry with a new entry pointing at it; at most once."""
    if not reason or not reason.strip():
        raise InvalidInput("a reversal needs a reason", details={"field": "reason"})
    content_hash = hash_content("reversal", entry_id, [])
    replay = _replay_or_none(session, idempotency_key, content_hash)
    if replay is not None:
        return replay
    kind = session.execute(select(ENTRIES.c.kind).where(ENTRIES.c.id == entry_id)).scalar()
    if kind is None:
        raise EntryNotFound(f"no entry {entry_id}", details={"entry_id": entry_id})
    existing = session.execute(
        select(ENTRIES.c.id).where(ENTRIES.c.reverses_entry_id == entry_id)
    ).scalar()
    if existing is not None:
        raise AlreadyReversed(
            f"entry {entry_id} was already reversed by entry {existing}",
            details={"entry_id": entry_id, "reversal_entry_id": existing},
        )
    legs = [
        Leg(account, not is_debit, posted, 0)
        for account, is_debit, posted, _ in _entry_legs(session, entry_id)
        if posted > 0
    ]
    if not legs:
        raise InvalidState(
            f"entry {entry_id} ({kind}) moved no posted value; void a pending entry instead",
            details={"entry_id": entry_id, "kind": kind},
        )
    prepared = Prepared(
        kind="reversal",
        legs=legs,
        key=check_key(idempotency_key),
        content_hash=content_hash,
        reason=reason,
        reverses_entry_id=entry_id,
    )
    return apply_prepared(session, [prepared], actor=actor, now=now)[0]


def expired_pending_ids(session: Session, *, now: datetime | None = None) -> list[int]:
    """Pending entries whose expiry has passed (they can only be voided now), by entry id."""
    moment = as_utc(now) or utcnow()
    return list(
        session.execute(
            select(PENDING.c.entry_id)
            .where(PENDING.c.status == "pending", PENDING.c.expires_at <= moment)
            .order_by(PENDING.c.entry_id)
        ).scalars()
    )


def due_pending(session: Session, now: datetime | None = None, *, limit: int = 10000) -> list[int]:
    """Pending entries whose ``post_at`` has passed, earliest first (then by entry id): what a
    job that posts held value (a refund hold's end) should post now. One index range scan."""
    moment = as_utc(now) or utcnow()
    return list(
        session.execute(
            select(PENDING.c.entry_id)
            .where(PENDING.c.status == "pending", PENDING.c.post_at <= moment)
            .order_by(PENDING.c.post_at, PENDING.c.entry_id)
            .limit(limit)
        ).scalars()
    )
