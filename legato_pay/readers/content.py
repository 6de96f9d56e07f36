"""The content catalogue: chapters, stories and exclusives, their writer, price and tier.

A price is a whole number of coins (0 means free); without one the configured default for the
type applies (``content.default_prices``). A tier (``basic``, ``premium``, ``vip`` — whatever
``subscriptions.tiers`` names) says which subscription includes the content: an active
subscription of that tier or higher grants access. Content without a tier is never included in a
subscription; it is read by unlocking it with coins (or free when its price is 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import AlreadyExists, InvalidInput, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import parse_minor_units
from legato_pay.readers.users import check_text, get_user
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import CONTENT

CONTENT_TYPES = ("chapter", "story", "exclusive")
MAX_TITLE = 300
#: The whole string (``fullmatch``, ASCII only): ``ch-1\n`` is not ``ch-1``.
_CONTENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.@:]{0,99}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ContentView:
    id: str
    writer_id: str
    type: str
    price_coins: int
    tier: str | None
    title: str | None
    created_at: datetime
    updated_at: datetime | None = None

    @property
    def free(self) -> bool:
        return self.price_coins == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "writer": self.writer_id,
            "type": self.type,
            "price": self.price_coins,
            "free": self.free,
            "tier": self.tier,
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def row_to_content(row: Any) -> ContentView:
    return ContentView(
        id=row.id,
        writer_id=row.writer_id,
        type=row.type,
        price_coins=row.price_coins,
        tier=row.tier,
        title=row.title,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        updated_at=as_utc(row.updated_at),
    )


def is_content_id(content_id: object) -> bool:
    return isinstance(content_id, str) and _CONTENT_ID.fullmatch(content_id) is not None


def validate_content_id(content_id: str) -> str:
    if not isinstance(content_id, str) or not _CONTENT_ID.fullmatch(content_id):
        shown = content_id[:120] if isinstance(content_id, str) else repr(content_id)
        raise InvalidInput(
            f"{shown!r} is not a valid content id (ASCII letters, digits, _ - . @ :; at most 100)",
            details={"content": shown},
            code="INVALID_CONTENT_ID",
        )
    return content_id


def validate_tier(settings: Settings, tier: str) -> str:
    """A tier name from the edge, lower-cased and checked against the configured tiers."""
    name = (tier or "").strip().lower()
    if name not in settings.subscriptions.tiers:
        raise InvalidInput(
            f"unknown tier {tier!r}",
            details={"tier": tier, "known": list(settings.subscriptions.tiers)},
            code="UNKNOWN_TIER",
        )
    return name


def tier_rank(settings: Settings, tier: str | None) -> int:
    """A tier's rank (Basic < Premium < VIP); 0 for none or a tier no longer configured."""
    if tier is None:
        return 0
    found = settings.subscriptions.tiers.get(tier)
    return found.rank if found else 0


def add_content(
    session: Session,
    settings: Settings,
    content_id: str,
    *,
    writer_id: str,
    content_type: str,
    price: int | str | None = None,
    tier: str | None = None,
    title: str | None = None,
) -> tuple[ContentView, bool]:
    """Add content to the catalogue; returns it and whether this call created it.

    Adding the same content again with the same attributes is a no-op (scripts can rerun);
    with different attributes it is ``ALREADY_EXISTS``: prices are not edited silently.
    """
    validate_content_id(content_id)
    kind = _content_type(content_type)
    coins = _price_coins(settings, kind, price)
    tier_name = validate_tier(settings, tier) if tier is not None else None
    title = check_text(title, "title", MAX_TITLE)
    writer = get_user(session, writer_id)
    if writer.kind != "writer":
        raise InvalidInput(
            f"user {writer_id} is a {writer.kind}, not a writer",
            details={"writer": writer_id, "kind": writer.kind},
            code="NOT_A_WRITER",
        )
    inserted = insert_if_absent(
        session,
        CONTENT,
        ["id"],
        id=content_id,
        writer_id=writer_id,
        type=kind,
        price_coins=coins,
        tier=tier_name,
        title=title,
        created_at=utcnow(),
    )
    item = get_content(session, content_id)
    if not inserted:
        wanted = (writer_id, kind, coins, tier_name, title)
        if (item.writer_id, item.type, item.price_coins, item.tier, item.title) != wanted:
            raise AlreadyExists(
                f"content {content_id} already exists with different attributes",
                details={"content": content_id, "existing": item.as_json()},
            )
    return item, inserted


def _content_type(content_type: str | None) -> str:
    kind = (content_type or "").strip().lower()
    if kind not in CONTENT_TYPES:
        raise InvalidInput(
            f"content type must be one of {', '.join(CONTENT_TYPES)}",
            details={"type": content_type},
            code="INVALID_CONTENT_TYPE",
        )
    return kind


def _price_coins(settings: Settings, kind: str, price: int | str | None) -> int:
    """The given price in coins, or the type's configured default; zero means free."""
    coins: int = (
        settings.content.default_prices[kind]  # type: ignore[index]
        if price is None
        else parse_minor_units(price, positive=False, field="price")
    )
    if coins < 0:
        raise InvalidInput(
            "price must be zero (free) or a positive number of coins",
            details={"price": coins},
            code="INVALID_AMOUNT",
        )
    return coins


def get_content(session: Session, content_id: str) -> ContentView:
    validate_content_id(content_id)  # a malformed id names nothing (and a NUL never reaches SQL)
    row = session.execute(select(CONTENT).where(CONTENT.c.id == content_id)).first()
    if row is None:
        raise NotFound(
            f"no content {content_id}", details={"content": content_id}, code="CONTENT_NOT_FOUND"
        )
    return row_to_content(row)


#: ``--tier none`` takes content out of every subscription (coins only).
NO_TIER = "none"


def update_content(
    session: Session,
    settings: Settings,
    content_id: str,
    *,
    price: int | str | None = None,
    tier: str | None = None,
    content_type: str | None = None,
    title: str | None = None,
) -> tuple[ContentView, list[str]]:
    """Change a piece's price, tier (``none`` removes it), type or title; returns it and the
    fields that changed. The writer is never changed (earnings already point at them). A new
    price applies to later unlocks only: past unlocks keep what they paid."""
    if price is None and tier is None and content_type is None and title is None:
        raise InvalidInput(
            "nothing to update: give --price, --tier, --type or --title", code="NOTHING_TO_UPDATE"
        )
    current = get_content(session, content_id)
    wanted: dict[str, Any] = {}
    if content_type is not None:
        wanted["type"] = _content_type(content_type)
    if price is not None:
        wanted["price_coins"] = _price_coins(settings, current.type, price)
    if tier is not None:
        none = tier.strip().lower() == NO_TIER
        wanted["tier"] = None if none else validate_tier(settings, tier)
    if title is not None:
        wanted["title"] = check_text(title, "title", MAX_TITLE) or None
    changed = [name for name, value in wanted.items() if getattr(current, name) != value]
    if changed:
        session.execute(
            update(CONTENT)
            .where(CONTENT.c.id == content_id)
            .values(**{name: wanted[name] for name in changed}, updated_at=utcnow())
        )
    return get_content(session, content_id), [
        "price" if name == "price_coins" else name for name in changed
    ]


def list_content(
    session: Session,
    *,
    writer_id: str | None = None,
    limit: int = 1000,
    after: str | None = None,
) -> list[ContentView]:
    """Content by id (after ``after``, for paging), optionally one writer's."""
    if limit < 1 or limit > 100000:
        raise InvalidInput("limit must be between 1 and 100000", details={"limit": limit})
    if after is not None and not is_content_id(after):
        raise InvalidInput(
            "--cursor must be the next_cursor of a previous page",
            details={"cursor": after[:40]},
            code="INVALID_CURSOR",
        )
    query = select(CONTENT).order_by(CONTENT.c.id).limit(limit)
    if writer_id is not None:
        get_user(session, writer_id)  # an unknown writer is an error, not an empty list
        query = query.where(CONTENT.c.writer_id == writer_id)
    if after is not None:
        query = query.where(CONTENT.c.id > after)
    return [row_to_content(row) for row in session.execute(query)]
