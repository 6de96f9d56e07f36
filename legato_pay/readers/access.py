"""Who may read what, and unlocking content with coins.

Access, in order: free content (price 0) is open to everyone; a writer reads their own content
free (``own_content``: unlocking it charges nothing and credits no share, so a writer can never
pay themselves through the platform's split); content the reader unlocked is ``purchased``; content with a tier is open to an active, unexpired subscription of that tier or
higher (``subscription``), and a lower one is ``tier_too_low``; anything else is
``not_purchased``. Content without a tier is never included in a subscription.

An unlock happens once per reader and content, in one transaction: the ``content_unlocks`` row
(unique per reader and content), one posted entry moving the coins out of the wallets
(``user:<u>:coins:*`` → ``platform:coins:redeemed``) and the platform's share of their value
(``platform:coin_value:USD`` → ``platform:revenue:content:USD``), and the writer's share as its
own entry, pending under the refund hold (the one redemption path, ``readers.redemption``,
spends, values, splits and posts). The wallets are locked first, so every later check in
the transaction sees the latest committed unlocks and balances: concurrent unlocks can neither
overspend nor charge twice for the same content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import InvalidInput, NotFound, RetryableConflict
from legato_pay.idempotency import ensure_same_request
from legato_pay.ledger import get_entry
from legato_pay.ledger.types import utcnow
from legato_pay.money import Money
from legato_pay.readers import coins
from legato_pay.readers.content import (
    ContentView,
    get_content,
    is_content_id,
    row_to_content,
    tier_rank,
)
from legato_pay.readers.redemption import Redeemed, Redemption, redeem_coins
from legato_pay.readers.subscription_views import SubscriptionView, active_subscription
from legato_pay.readers.users import get_user
from legato_pay.store.dialect import strings_in
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import CONTENT, ENTRIES, UNLOCKS

STREAM = "content"
MAX_BULK = 100_000


@dataclass(frozen=True, slots=True)
class AccessDecision:
    content: str
    allowed: bool
    reason: str  # free | own_content | purchased | subscription | tier_too_low | not_purchased

    def as_json(self) -> dict[str, Any]:
        return {"content": self.content, "allowed": self.allowed, "reason": self.reason}


def decide(
    settings: Settings,
    item: ContentView,
    *,
    purchased: bool,
    subscription: str | None,
    user_id: str | None = None,
) -> AccessDecision:
    """The access rule itself, free of any database: see the module docstring."""
    if item.free:
        return AccessDecision(item.id, True, "free")
    if user_id is not None and user_id == item.writer_id:
        return AccessDecision(item.id, True, "own_content")
    if purchased:
        return AccessDecision(item.id, True, "purchased")
    if item.tier is not None and subscription is not None:
        if tier_rank(settings, subscription) >= tier_rank(settings, item.tier):
            return AccessDecision(item.id, True, "subscription")
        return AccessDecision(item.id, False, "tier_too_low")
    return AccessDecision(item.id, False, "not_purchased")


def _subscribed_tier(
    session: Session, user_id: str, now: datetime | None
) -> SubscriptionView | None:
    get_user(session, user_id)
    return active_subscription(session, user_id, now=now)


def check_access(
    session: Session,
    settings: Settings,
    user_id: str,
    content_id: str,
    *,
    now: datetime | None = None,
) -> AccessDecision:
    return check_access_bulk(session, settings, user_id, [content_id], now=now)[0]


def check_access_bulk(
    session: Session,
    settings: Settings,
    user_id: str,
    content_ids: Sequence[str],
    *,
    now: datetime | None = None,
) -> list[AccessDecision]:
    """Decide many items in a fixed number of queries (user, subscription, content + unlocks).

    Answers come in the order asked, one per id (repeats answered again). Unknown content ids
    are one ``CONTENT_NOT_FOUND`` error listing all of them.
    """
    if not content_ids:
        raise InvalidInput("give at least one content id", code="NO_CONTENT_IDS")
    if len(content_ids) > MAX_BULK:
        raise InvalidInput(
            f"at most {MAX_BULK} content ids per check", details={"count": len(content_ids)}
        )
    wanted = list(dict.fromkeys(content_ids))
    malformed = [content_id for content_id in wanted if not is_content_id(content_id)]
    if malformed:
        raise InvalidInput(
            f"not a valid content id: {malformed[0][:100]!r}"
            + (f" and {len(malformed) - 1} more" if len(malformed) > 1 else ""),
            details={"invalid": [bad[:100] for bad in malformed[:20]], "count": len(malformed)},
            code="INVALID_CONTENT_ID",
        )
    subscription = _subscribed_tier(session, user_id, now)
    rows = session.execute(
        select(CONTENT, UNLOCKS.c.id.label("unlock_id"))
        .select_from(
            CONTENT.outerjoin(
                UNLOCKS, and_(UNLOCKS.c.content_id == CONTENT.c.id, UNLOCKS.c.user_id == user_id)
            )
        )
        .where(strings_in(session, CONTENT.c.id, wanted))
    ).all()
    found = {row.id: (row_to_content(row), row.unlock_id is not None) for row in rows}
    missing = [content_id for content_id in wanted if content_id not in found]
    if missing:
        raise NotFound(
            f"no content {', '.join(missing[:20])}" + (" …" if len(missing) > 20 else ""),
            details={"missing": missing, "count": len(missing)},
            code="CONTENT_NOT_FOUND",
        )
    tier = subscription.tier if subscription else None
    decisions = {
        content_id: decide(settings, item, purchased=purchased, subscription=tier, user_id=user_id)
        for content_id, (item, purchased) in found.items()
    }
    return [decisions[content_id] for content_id in content_ids]


@dataclass(frozen=True, slots=True)
class UnlockResult:
    user: str
    content: str
    writer: str
    unlocked: bool  # this call recorded the unlock
    reason: str  # unlocked | already_purchased | free | own_content | subscription
    charged: int  # coins
    paid_coins: int = 0
    bonus_coins: int = 0
    value: int = 0
    writer_share: int = 0
    platform_share: int = 0
    currency: str = "USD"
    writer_share_status: str | None = None  # pending (under the refund hold) | posted
    entry_id: int | None = None
    writer_entry_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "content": self.content,
            "writer": self.writer,
            "unlocked": self.unlocked,
            "reason": self.reason,
            "charged": self.charged,
            "coins": {"paid": self.paid_coins, "bonus": self.bonus_coins},
            "value": Money(self.value, self.currency).as_json(),
            "writer_share": Money(self.writer_share, self.currency).as_json(),
            "platform_share": Money(self.platform_share, self.currency).as_json(),
            "writer_share_status": self.writer_share_status,
            "entry_id": self.entry_id,
            "writer_entry_id": self.writer_entry_id,
        }


def unlock_keys(user_id: str, content_id: str, key: str | None = None) -> tuple[str, str]:
    """Idempotency keys of an unlock's two entries: the caller's ``key`` or user + content."""
    base = key if key is not None else f"unlock:{user_id}:{content_id}"
    return base, f"{base}:writer"


def _check_request_key(session: Session, key: str, user_id: str, content_id: str) -> None:
    """A caller's key may only ever name one unlock: reusing it for another is a conflict."""
    entry_id = session.execute(
        select(ENTRIES.c.id).where(ENTRIES.c.idempotency_key == key)
    ).scalar_one_or_none()
    if entry_id is None:
        return
    meta = get_entry(session, entry_id).metadata or {}
    ensure_same_request(
        key,
        stored={name: meta.get(name) for name in ("kind", "user", "content")},
        wanted={"kind": "unlock", "user": user_id, "content": content_id},
        what="unlock",
        details={"entry_id": entry_id},
    )


def _existing_unlock(session: Session, user_id: str, content_id: str) -> Any:
    return session.execute(
        select(UNLOCKS).where(UNLOCKS.c.user_id == user_id, UNLOCKS.c.content_id == content_id)
    ).first()


def unlock_content(
    session: Session,
    settings: Settings,
    user_id: str,
    content_id: str,
    *,
    actor: str,
    key: str | None = None,
    now: datetime | None = None,
) -> UnlockResult:
    """Unlock content for a reader with coins, once; owning it already (or having written it)
    charges nothing.

    Raises ``INSUFFICIENT_FUNDS`` (nothing changes) when the wallets hold too few coins.
    """
    get_user(session, user_id)
    item = get_content(session, content_id)
    if item.free:
        return _not_charged(user_id, item, "free")
    if item.writer_id == user_id:
        return _not_charged(user_id, item, "own_content")
    entry_key, _ = unlock_keys(user_id, content_id, key)
    if key is not None:
        _check_request_key(session, entry_key, user_id, content_id)
    # Lock first: everything below reads what committed before us, never a stale snapshot.
    wallet = coins.lock_wallet(session, user_id)
    no_charge = _without_charge(session, settings, user_id, item, now)
    if no_charge is not None:
        return no_charge
    redeemed = redeem_coins(
        session, settings, wallet, _redemption(user_id, item, entry_key), actor=actor, now=now
    )
    _record_unlock(session, user_id, item, redeemed, now)
    return _unlocked(user_id, item, redeemed)


def _redemption(user_id: str, item: ContentView, key: str) -> Redemption:
    """What unlocking ``item`` redeems: its price in coins, for the content stream."""
    return Redemption(
        user_id=user_id,
        coins=item.price_coins,
        stream=STREAM,
        writer_id=item.writer_id,
        key=key,
        reason=f"unlock {item.id}",
        writer_reason=f"writer share of unlock {item.id} by {user_id}",
        metadata={"kind": "unlock", "user": user_id, "content": item.id, "writer": item.writer_id},
    )


def _unlocked(user_id: str, item: ContentView, redeemed: Redeemed) -> UnlockResult:
    return UnlockResult(
        user=user_id,
        content=item.id,
        writer=item.writer_id,
        unlocked=True,
        reason="unlocked",
        charged=item.price_coins,
        paid_coins=redeemed.spend.paid,
        bonus_coins=redeemed.spend.bonus,
        value=redeemed.value,
        writer_share=redeemed.split.writer,
        platform_share=redeemed.split.platform,
        currency=redeemed.currency,
        writer_share_status=redeemed.writer_share_status,
        entry_id=redeemed.entry_id,
        writer_entry_id=redeemed.writer_entry_id,
    )


def _not_charged(
    user_id: str,
    item: ContentView,
    reason: str,
    *,
    entry_id: int | None = None,
    writer_entry_id: int | None = None,
) -> UnlockResult:
    """The answer when the reader may already read ``item``: nothing charged."""
    return UnlockResult(
        user=user_id,
        content=item.id,
        writer=item.writer_id,
        unlocked=False,
        reason=reason,
        charged=0,
        entry_id=entry_id,
        writer_entry_id=writer_entry_id,
    )


def _without_charge(
    session: Session, settings: Settings, user_id: str, item: ContentView, now: datetime | None
) -> UnlockResult | None:
    """Already unlocked, or open through a subscription: the answer; else None (charge)."""
    existing = _existing_unlock(session, user_id, item.id)
    if existing is not None:
        return _not_charged(
            user_id,
            item,
            "already_purchased",
            entry_id=existing.entry_id,
            writer_entry_id=existing.writer_entry_id,
        )
    subscription = active_subscription(session, user_id, now=now)
    access = decide(
        settings,
        item,
        purchased=False,
        subscription=subscription.tier if subscription else None,
    )
    return _not_charged(user_id, item, access.reason) if access.allowed else None


def _record_unlock(
    session: Session, user_id: str, item: ContentView, redeemed: Redeemed, now: datetime | None
) -> None:
    """The ``content_unlocks`` row, in the same unit of work as the entries."""
    inserted = insert_if_absent(
        session,
        UNLOCKS,
        ["user_id", "content_id"],
        user_id=user_id,
        content_id=item.id,
        writer_id=item.writer_id,
        coins=item.price_coins,
        bonus_coins_used=redeemed.spend.bonus,
        paid_coins_used=redeemed.spend.paid,
        value_currency=redeemed.currency,
        value=redeemed.value,
        writer_share=redeemed.split.writer,
        platform_share=redeemed.split.platform,
        entry_id=redeemed.entry_id,
        writer_entry_id=redeemed.writer_entry_id,
        created_at=now or utcnow(),
    )
    if not inserted or redeemed.replayed:
        # Someone recorded this unlock between our check and now (cannot happen while the
        # wallet lock is held, but never charge twice): rerun, and the rerun finds it.
        raise RetryableConflict(f"unlock {user_id}/{item.id} raced")
