"""Purchases and refunds as the services hand them back, and the reads behind ``show``/``list``.

Every other module of the package builds its answers from these views; ``purchase_row`` is the
one way to load (and, for a decision, lock) a purchase row.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, InvalidTime, LegatoError, NotFound
from legato_pay.gateways.base import PaymentStatus
from legato_pay.ledger.types import as_utc
from legato_pay.money import format_amount
from legato_pay.readers.fx import get_rates
from legato_pay.readers.packages import money_json
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import PURCHASES, REFUNDS

PURCHASE_STATUSES = (
    "pending",
    "succeeded",
    "failed",
    "flagged",
    "refunded",
    "partially_refunded",
    "cancelled",
)
#: Statuses whose coins have been credited.
CREDITED = ("succeeded", "partially_refunded", "refunded")
#: Statuses a refund may start from.
REFUNDABLE = ("succeeded", "partially_refunded")
#: Statuses a gateway success may still credit from (a failed attempt can be retried and pay).
CREDITABLE = ("pending", "failed")
MAX_KEY_LENGTH = 100
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,400}", re.ASCII)
_REFERENCE = re.compile(r"[A-Za-z0-9_:.=-]{1,100}", re.ASCII)


@dataclass(frozen=True, slots=True)
class RefundView:
    id: int
    reference: str
    key: str
    amount: int
    currency: str
    coins_clawed_back: int
    coins_lost: int
    gateway_refund_id: str | None
    status: str  # requested | succeeded | failed
    entry_id: int | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "key": self.key,
            **money_json(self.amount, self.currency),
            "coins_clawed_back": self.coins_clawed_back,
            "coins_lost": self.coins_lost,
            "gateway_refund_id": self.gateway_refund_id,
            "status": self.status,
            "entry_id": self.entry_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PurchaseView:
    reference: str
    idempotency_key: str | None
    user_id: str
    package_id: str
    coins: int
    bonus_coins: int
    currency: str
    amount: int
    rate_id: int | None
    rate: str | None
    gateway: str
    gateway_payment_id: str | None
    client_secret: str | None
    payment_url: str | None
    payment_method: str | None
    channels: tuple[str, ...]
    status: str
    failure_reason: str | None
    entry_id: int | None
    refunded_amount: int
    coins_clawed_back: int
    coins_lost: int
    created_at: datetime
    updated_at: datetime
    credited_at: datetime | None
    refunds: tuple[RefundView, ...] = ()

    @property
    def total_coins(self) -> int:
        return self.coins + self.bonus_coins

    def as_json(self, *, refunds: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reference": self.reference,
            "idempotency_key": self.idempotency_key,
            "user": self.user_id,
            "package": self.package_id,
            "status": self.status,
            **money_json(self.amount, self.currency),
            "coins": self.coins,
            "bonus_coins": self.bonus_coins,
            "total_coins": self.total_coins,
            "rate_id": self.rate_id,
            "rate": self.rate,
            "gateway": self.gateway,
            "provider_payment_id": self.gateway_payment_id,
            "client_secret": self.client_secret,
            "payment_url": self.payment_url,
            "payment_method": self.payment_method,
            "channels": list(self.channels) or None,
            "failure_reason": self.failure_reason,
            "entry_id": self.entry_id,
            "refunded": money_json(self.refunded_amount, self.currency),
            "coins_clawed_back": self.coins_clawed_back,
            "coins_lost": self.coins_lost,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "credited_at": self.credited_at.isoformat() if self.credited_at else None,
        }
        if refunds:
            data["refunds"] = [refund.as_json() for refund in self.refunds]
        return data


@dataclass(frozen=True, slots=True)
class SettleResult:
    """What one verification did: ``credited`` is true only for the call that credited."""

    purchase: PurchaseView
    credited: bool
    payment: PaymentStatus | None = None
    error: LegatoError | None = field(default=None, compare=False)

    def __str__(self) -> str:
        verb = "credited" if self.credited else "no change"
        return f"purchase {self.purchase.reference} {self.purchase.status} ({verb})"

    def as_json(self) -> dict[str, Any]:
        purchase = self.purchase
        return {
            "reference": purchase.reference,
            "status": purchase.status,
            "credited": self.credited,
            "entry_id": purchase.entry_id,
            "user": purchase.user_id,
            **money_json(purchase.amount, purchase.currency),
            "coins": purchase.coins,
            "bonus_coins": purchase.bonus_coins,
            "provider_payment_id": purchase.gateway_payment_id,
            "paid": (
                money_json(self.payment.amount, self.payment.currency)
                if self.payment is not None and self.payment.status == "succeeded"
                else None
            ),
            "failure_reason": purchase.failure_reason,
        }


@dataclass(frozen=True, slots=True)
class CreateResult:
    purchase: PurchaseView
    price_source: str
    replayed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            **self.purchase.as_json(refunds=False),
            "price_source": self.price_source,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund: RefundView
    purchase: PurchaseView
    replayed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            **self.refund.as_json(),
            "purchase_status": self.purchase.status,
            "refunded_total": money_json(self.purchase.refunded_amount, self.purchase.currency),
            "replayed": self.replayed,
        }


# -- reading ---------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """A NOT NULL timestamp column as UTC (``as_utc`` also passes None through)."""
    utc = as_utc(moment)
    if utc is None:
        raise ValueError("a required timestamp is missing")
    return utc


def refund_view(row: Any, currency: str) -> RefundView:
    reference = row.reference
    key = row.idempotency_key[len(reference) + 1 :]
    return RefundView(
        id=row.id,
        reference=reference,
        key=key,
        amount=row.amount,
        currency=currency,
        coins_clawed_back=row.coins_clawed_back,
        coins_lost=row.coins_lost,
        gateway_refund_id=row.gateway_refund_id,
        status=row.status,
        entry_id=row.entry_id,
        created_at=_utc(row.created_at),
    )


def purchase_view(session: Session, row: Any, *, with_refunds: bool = True) -> PurchaseView:
    return purchase_views(session, [row], with_refunds=with_refunds)[0]


def purchase_views(
    session: Session, rows: Sequence[Any], *, with_refunds: bool = True
) -> list[PurchaseView]:
    """Views of many rows with one query for their rates and one for their refunds."""
    rates = get_rates(session, (row.rate_id for row in rows if row.rate_id is not None))
    refunds: dict[str, list[RefundView]] = {}
    credited = [row for row in rows if with_refunds and row.status in CREDITED]
    if credited:  # only a credited purchase can have refunds
        currency = {row.reference: row.currency for row in credited}
        for refund in session.execute(
            select(REFUNDS).where(REFUNDS.c.reference.in_(list(currency))).order_by(REFUNDS.c.id)
        ):
            refunds.setdefault(refund.reference, []).append(
                refund_view(refund, currency[refund.reference])
            )
    views = []
    for row in rows:
        rate = rates.get(row.rate_id) if row.rate_id is not None else None
        views.append(
            PurchaseView(
                reference=row.reference,
                idempotency_key=row.idempotency_key,
                user_id=row.user_id,
                package_id=row.package_id,
                coins=row.coins,
                bonus_coins=row.bonus_coins,
                currency=row.currency,
                amount=row.amount,
                rate_id=row.rate_id,
                rate=rate.rate if rate else None,
                gateway=row.gateway,
                gateway_payment_id=row.gateway_payment_id,
                client_secret=row.client_secret,
                payment_url=row.payment_url,
                payment_method=row.payment_method,
                channels=split_channels(row.channels),
                status=row.status,
                failure_reason=row.failure_reason,
                entry_id=row.entry_id,
                refunded_amount=row.refunded_amount,
                coins_clawed_back=row.coins_clawed_back,
                coins_lost=row.coins_lost,
                created_at=_utc(row.created_at),
                updated_at=_utc(row.updated_at),
                credited_at=as_utc(row.credited_at),
                refunds=tuple(refunds.get(row.reference, ())),
            )
        )
    return views


def split_channels(stored: str | None) -> tuple[str, ...]:
    """The channels column ("card,ussd") as a tuple; NULL is every channel."""
    return tuple(stored.split(",")) if stored else ()


def purchase_row(session: Session, reference: str, *, lock: bool = False) -> Any:
    """The purchase's row; with ``lock``, held until the transaction ends (PostgreSQL). A
    reference that cannot be one of ours (a newline, a NUL, 10,000 characters) is not found
    without asking the database."""
    if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
        raise NotFound(f"no purchase {reference[:100]!r}", details={"purchase": reference[:100]})
    query = select(PURCHASES).where(PURCHASES.c.reference == reference)
    row = session.execute(for_update(query, session) if lock else query).first()
    if row is None:
        raise NotFound(f"no purchase {reference}", details={"purchase": reference})
    return row


def get_purchase(session: Session, reference: str) -> PurchaseView:
    return purchase_view(session, purchase_row(session, reference))


@dataclass(frozen=True, slots=True)
class PurchasePage:
    """One page of ``purchases list``; ``next_cursor`` continues where it ended (None: last)."""

    purchases: list[PurchaseView]
    next_cursor: str | None


def _encode_cursor(row: Any) -> str:
    moment = _utc(row.created_at).isoformat()
    return base64.urlsafe_b64encode(f"{moment}|{row.reference}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, reference) a page ended at; anything else is VALIDATION_ERROR."""
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError(cursor)
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        moment, reference = text.split("|")
        created_at = as_utc(datetime.fromisoformat(moment))
        if created_at is None or not _REFERENCE.fullmatch(reference):
            raise ValueError(cursor)
        return created_at, reference
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise InvalidInput(
            "not a valid purchases cursor (use next_cursor from the previous page)",
            details={"cursor": cursor[:200]},
        ) from None


def page_purchases(
    session: Session,
    *,
    user_id: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> PurchasePage:
    """Purchases newest first, without their refunds (``show`` has those), created in
    ``[start, end)``; an unknown ``user_id`` is USER_NOT_FOUND, never an empty page."""
    from legato_pay.readers.users import get_user

    if status is not None and status not in PURCHASE_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(PURCHASE_STATUSES)}", details={"status": status}
        )
    if isinstance(limit, bool) or limit < 1 or limit > 10000:
        raise InvalidInput("limit must be between 1 and 10000", details={"limit": limit})
    if start is not None and end is not None and end < start:
        raise InvalidTime(
            "--to is before --from", details={"from": start.isoformat(), "to": end.isoformat()}
        )
    if user_id is not None:
        get_user(session, user_id)
    query = (
        select(PURCHASES)
        .order_by(PURCHASES.c.created_at.desc(), PURCHASES.c.reference)
        .limit(limit + 1)
    )
    if user_id is not None:
        query = query.where(PURCHASES.c.user_id == user_id)
    if status is not None:
        query = query.where(PURCHASES.c.status == status)
    if start is not None:
        query = query.where(PURCHASES.c.created_at >= start)
    if end is not None:
        query = query.where(PURCHASES.c.created_at < end)
    if cursor is not None:
        after_at, after_ref = _decode_cursor(cursor)
        query = query.where(
            or_(
                PURCHASES.c.created_at < after_at,
                and_(PURCHASES.c.created_at == after_at, PURCHASES.c.reference > after_ref),
            )
        )
    rows = session.execute(query).all()
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    views = purchase_views(session, rows[:limit], with_refunds=False)
    return PurchasePage(views, next_cursor)


def list_purchases(
    session: Session, *, user_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[PurchaseView]:
    """Newest first, without their refunds: the first page of ``page_purchases``."""
    return page_purchases(session, user_id=user_id, status=status, limit=limit).purchases


def display_amount(amount: int, currency: str) -> str:
    """An amount for a message, even in a currency a gateway reported that we do not know."""
    try:
        return format_amount(amount, currency)
    except LegatoError:  # a currency we do not know, reported by a gateway
        return f"{amount} {currency} (minor units)"
