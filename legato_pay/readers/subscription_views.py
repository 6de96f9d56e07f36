"""Subscriptions as read: what a reader holds now, and lists for operators.

Status is computed as of the moment read: an ``active`` row past its ``period_end`` shows as
``expired``; ``cancelled`` rows stay cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import Money
from legato_pay.readers.users import get_user
from legato_pay.store.tables import SUBSCRIPTIONS

STATUSES = ("active", "expired", "cancelled")


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    id: int
    user_id: str
    tier: str
    currency: str
    amount: int
    gateway: str
    gateway_payment_id: str | None
    status: str  # as of when it was read: active | expired | cancelled
    period: str
    period_start: datetime
    period_end: datetime
    idempotency_key: str | None
    entry_id: int | None
    created_at: datetime
    cancelled_at: datetime | None
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user_id,
            "tier": self.tier,
            "status": self.status,
            "amount": Money(self.amount, self.currency).as_json(),
            "currency": self.currency,
            "gateway": self.gateway,
            "gateway_payment_id": self.gateway_payment_id,
            "period": self.period,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "cancelled_at": self.cancelled_at.isoformat() if self.cancelled_at else None,
            "entry_id": self.entry_id,
            "idempotency_key": self.idempotency_key,
            "created_at": self.created_at.isoformat(),
            "replayed": self.replayed,
        }


def subscription_view(row: Any, now: datetime) -> SubscriptionView:
    """A ``subscriptions`` row as seen at ``now`` (an active row past its end is expired)."""
    period_end: datetime = as_utc(row.period_end)  # type: ignore[assignment]
    status = row.status
    if status == "active" and period_end <= now:
        status = "expired"
    return SubscriptionView(
        id=row.id,
        user_id=row.user_id,
        tier=row.tier,
        currency=row.currency,
        amount=row.amount,
        gateway=row.gateway,
        gateway_payment_id=row.gateway_payment_id,
        status=status,
        period=row.period,
        period_start=as_utc(row.period_start),  # type: ignore[arg-type]
        period_end=period_end,
        idempotency_key=row.idempotency_key,
        entry_id=row.entry_id,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        cancelled_at=as_utc(row.cancelled_at),
    )


def active_query(user_id: str, now: datetime) -> Any:
    """The reader's newest active, unexpired subscription row (at most one)."""
    return (
        select(SUBSCRIPTIONS)
        .where(
            SUBSCRIPTIONS.c.user_id == user_id,
            SUBSCRIPTIONS.c.status == "active",
            SUBSCRIPTIONS.c.period_end > now,
        )
        .order_by(SUBSCRIPTIONS.c.id.desc())
        .limit(1)
    )


def active_subscription(
    session: Session, user_id: str, *, now: datetime | None = None
) -> SubscriptionView | None:
    """The reader's active, unexpired subscription, if any."""
    moment = as_utc(now) or utcnow()
    row = session.execute(active_query(user_id, moment)).first()
    return subscription_view(row, moment) if row else None


def current_subscription(
    session: Session, user_id: str, *, now: datetime | None = None
) -> SubscriptionView | None:
    """What ``subscriptions show`` answers: the reader's active subscription, else their latest
    (expired or cancelled, as of now), else None (``USER_NOT_FOUND`` for an unknown reader)."""
    moment = as_utc(now) or utcnow()
    get_user(session, user_id)
    active = active_subscription(session, user_id, now=moment)
    if active is not None:
        return active
    row = session.execute(
        select(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.user_id == user_id)
        .order_by(SUBSCRIPTIONS.c.id.desc())
        .limit(1)
    ).first()
    return subscription_view(row, moment) if row else None


def subscription_by_key(session: Session, key: str, now: datetime) -> SubscriptionView | None:
    """The subscription a start with idempotency ``key`` recorded, if any."""
    row = session.execute(
        select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.idempotency_key == key)
    ).first()
    return subscription_view(row, now) if row else None


def list_subscriptions(
    session: Session,
    *,
    status: str | None = None,
    user_id: str | None = None,
    now: datetime | None = None,
    limit: int = 1000,
    after_id: int = 0,
) -> list[SubscriptionView]:
    """Subscriptions by id (after ``after_id``, for paging), filtered by status and reader."""
    moment = as_utc(now) or utcnow()
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(STATUSES)}",
            details={"status": status},
            code="INVALID_STATUS",
        )
    if limit < 1 or limit > 100000:
        raise InvalidInput("limit must be between 1 and 100000", details={"limit": limit})
    query = (
        select(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.id > after_id)
        .order_by(SUBSCRIPTIONS.c.id)
        .limit(limit)
    )
    if user_id is not None:
        get_user(session, user_id)
        query = query.where(SUBSCRIPTIONS.c.user_id == user_id)
    if status == "cancelled":
        query = query.where(SUBSCRIPTIONS.c.status == "cancelled")
    elif status == "active":
        query = query.where(SUBSCRIPTIONS.c.status == "active", SUBSCRIPTIONS.c.period_end > moment)
    elif status == "expired":
        query = query.where(
            SUBSCRIPTIONS.c.status == "active", SUBSCRIPTIONS.c.period_end <= moment
        )
    return [subscription_view(row, moment) for row in session.execute(query)]
