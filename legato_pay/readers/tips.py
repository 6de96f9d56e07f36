"""Tips and gifts: coins a reader gives away.

A tip goes to a writer. The coins leave the sender's wallets in the configured spend order for
``platform:coins:redeemed``; their value (coins × coin value) is split by ``revenue.tips`` between
the writer's earnings (a pending entry while the refund hold lasts) and the platform's tips
revenue. A gift moves coins between two users' wallets bucket by bucket, so paid coins stay paid
and bonus coins stay bonus: a gift can never turn bonus coins into refundable paid ones.

Each transfer is one unit of work: its ledger entries and its ``coin_transfers`` row commit
together or not at all. With an idempotency key a retry of the same request returns the first
result (nothing is spent twice); the same key for a different request is IDEMPOTENCY_CONFLICT.
The replay check runs after the sender's wallets are locked, so a concurrent duplicate waits for
the first and then finds its row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import InvalidInput, NotFound
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger import EntrySpec, LegSpec, get_entry, lock_balances, post_entries
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import Money
from legato_pay.readers.coins import (
    CoinSpend,
    WalletBalance,
    lock_wallet,
    parse_coins,
    plan_spend,
)
from legato_pay.readers.content import validate_content_id
from legato_pay.readers.redemption import Redeemed, Redemption, redeem_coins
from legato_pay.readers.users import get_user
from legato_pay.store.tables import CONTENT, TRANSFERS

#: Leaves room for the ``tip:`` / ``:writer`` the ledger keys add within its 200 characters.
MAX_KEY_LENGTH = 180
MAX_MESSAGE_LENGTH = 1000
TIP_STREAM = "tips"


@dataclass(frozen=True, slots=True)
class TransferView:
    """A tip or gift as recorded, with how the coins were taken (paid vs bonus)."""

    id: int
    kind: str
    from_user: str
    to_user: str
    coins: int
    paid_coins: int
    bonus_coins: int
    content_id: str | None
    message: str | None
    value: int
    value_currency: str | None
    writer_share: int
    platform_share: int
    idempotency_key: str | None
    entry_id: int
    writer_entry_id: int | None
    created_at: datetime
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "from": self.from_user,
            "to": self.to_user,
            "coins": self.coins,
            "paid_coins": self.paid_coins,
            "bonus_coins": self.bonus_coins,
        }
        if self.kind == "tip":
            currency = self.value_currency or "USD"
            data.update(
                content=self.content_id,
                message=self.message,
                value=Money(self.value, currency).as_json(),
                writer_share=Money(self.writer_share, currency).as_json(),
                platform_share=Money(self.platform_share, currency).as_json(),
            )
        data.update(
            key=self.idempotency_key,
            entry_id=self.entry_id,
            writer_entry_id=self.writer_entry_id,
            created_at=self.created_at.isoformat(),
            replayed=self.replayed,
        )
        return data


@dataclass(frozen=True, slots=True)
class _Request:
    """What an idempotency key promises: the same request, field for field."""

    kind: str
    from_user: str
    to_user: str
    coins: int
    content_id: str | None
    message: str | None


def send_tip(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    from_user: str,
    to_user: str,
    coins: object,
    content_id: str | None = None,
    message: str | None = None,
    key: str | None = None,
) -> TransferView:
    """Tip a writer: coins out of the sender's wallets, their value split writer / platform."""
    request = _Request(
        "tip", from_user, to_user, parse_coins(coins), content_id, _check_message(message)
    )
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    _check_parties(request)
    get_user(session, from_user)
    writer = get_user(session, to_user)
    if writer.kind != "writer":
        raise InvalidInput(
            f"{to_user} is a {writer.kind}, and only writers can be tipped",
            details={"user": to_user, "kind": writer.kind},
            code="NOT_A_WRITER",
        )
    if content_id is not None:
        _check_content(session, content_id, to_user)

    wallet = lock_wallet(session, from_user)
    replay = _replay(session, key, request)
    if replay is not None:
        return replay
    reason = f"tip from {from_user} to {to_user}"
    redeemed = redeem_coins(
        session,
        settings,
        wallet,
        Redemption(
            user_id=from_user,
            coins=request.coins,
            stream=TIP_STREAM,
            writer_id=to_user,
            key=f"tip:{key}" if key else None,
            reason=reason,
            writer_reason=f"writer share of {reason}",
            metadata={"kind": "tip", "from": from_user, "to": to_user, "content": content_id},
        ),
        actor=actor,
    )
    return _record(
        session,
        request,
        key=key,
        spend=redeemed.spend,
        entry_id=redeemed.entry_id,
        redeemed=redeemed,
    )


def send_gift(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    from_user: str,
    to_user: str,
    coins: object,
    key: str | None = None,
) -> TransferView:
    """Give coins to another user: paid coins arrive as paid, bonus coins as bonus."""
    request = _Request("gift", from_user, to_user, parse_coins(coins), None, None)
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    _check_parties(request)
    get_user(session, from_user)
    get_user(session, to_user)

    wallet = _lock_both_wallets(session, from_user, to_user)
    replay = _replay(session, key, request)
    if replay is not None:
        return replay
    spend = plan_spend(wallet, request.coins, settings.coins.spend_order, user_id=from_user)
    legs = _gift_legs(from_user, to_user, spend)
    entry = post_entries(
        session,
        [
            EntrySpec(
                legs=legs,
                idempotency_key=f"gift:{key}" if key else None,
                reason=f"gift from {from_user} to {to_user}",
                metadata={"kind": "gift", "from": from_user, "to": to_user},
            )
        ],
        actor=actor,
    )[0]
    return _record(session, request, key=key, spend=spend, entry_id=entry.id)


def _lock_both_wallets(session: Session, from_user: str, to_user: str) -> WalletBalance:
    """Open and lock both users' wallets in one call (id order, so crossing gifts cannot
    deadlock); returns what the sender holds."""
    chart.open_accounts(
        session, [*chart.wallet_accounts(from_user), *chart.wallet_accounts(to_user)]
    )
    balances = lock_balances(
        session,
        [
            chart.wallet_paid(from_user),
            chart.wallet_bonus(from_user),
            chart.wallet_paid(to_user),
            chart.wallet_bonus(to_user),
        ],
    )
    return WalletBalance(
        paid=balances[chart.wallet_paid(from_user)].available,
        bonus=balances[chart.wallet_bonus(from_user)].available,
    )


def _gift_legs(from_user: str, to_user: str, spend: CoinSpend) -> tuple[LegSpec, ...]:
    """Bucket to bucket: paid coins arrive as paid, bonus coins as bonus."""
    legs: list[LegSpec] = []
    for amount, bucket in ((spend.bonus, chart.wallet_bonus), (spend.paid, chart.wallet_paid)):
        if amount:
            legs.append(LegSpec(bucket(from_user), "debit", amount, chart.COIN))
            legs.append(LegSpec(bucket(to_user), "credit", amount, chart.COIN))
    return tuple(legs)


def _check_message(message: str | None) -> str | None:
    """At most ``MAX_MESSAGE_LENGTH`` characters; line breaks and tabs, but no other control
    characters (a NUL cannot even be stored on PostgreSQL)."""
    if message is not None and len(message) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            f"a tip message is at most {MAX_MESSAGE_LENGTH} characters",
            details={"length": len(message)},
        )
    if message is not None and not message.replace("\n", "").replace("\t", "").isprintable():
        raise InvalidInput(
            "a tip message must not contain control characters other than line breaks and tabs",
            details={"message": message[:120]},
        )
    return message


def _check_parties(request: _Request) -> None:
    if request.from_user == request.to_user:
        raise InvalidInput(
            f"cannot {request.kind} coins to yourself",
            details={"user": request.from_user},
            code="SELF_TRANSFER",
        )


def _check_content(session: Session, content_id: str, writer_id: str) -> None:
    validate_content_id(content_id)
    owner = session.execute(
        select(CONTENT.c.writer_id).where(CONTENT.c.id == content_id)
    ).scalar_one_or_none()
    if owner is None:
        raise NotFound(
            f"no content {content_id}", details={"content": content_id}, code="CONTENT_NOT_FOUND"
        )
    if owner != writer_id:
        raise InvalidInput(
            f"content {content_id} belongs to {owner}, not {writer_id}",
            details={"content": content_id, "writer": owner, "to": writer_id},
            code="CONTENT_WRITER_MISMATCH",
        )


def _replay(session: Session, key: str | None, request: _Request) -> TransferView | None:
    if key is None:
        return None
    row = session.execute(select(TRANSFERS).where(TRANSFERS.c.idempotency_key == key)).first()
    if row is None:
        return None
    stored = _Request(row.kind, row.from_user, row.to_user, row.coins, row.content_id, row.message)
    ensure_same_request(
        key,
        stored=asdict(stored),
        wanted=asdict(request),
        what=row.kind,
        details={"transfer_id": row.id},
    )
    # How the coins were taken is in the entry's wallet legs (the row does not repeat it).
    taken = {leg.account: leg.amount for leg in get_entry(session, row.entry_id).legs}
    spend = CoinSpend(
        paid=taken.get(chart.wallet_paid(row.from_user), 0),
        bonus=taken.get(chart.wallet_bonus(row.from_user), 0),
    )
    return _view(dict(row._mapping), spend, replayed=True)


def _record(
    session: Session,
    request: _Request,
    *,
    key: str | None,
    spend: CoinSpend,
    entry_id: int,
    redeemed: Redeemed | None = None,
) -> TransferView:
    """The ``coin_transfers`` row (a tip carries its redemption's value and split)."""
    row: dict[str, Any] = {
        "kind": request.kind,
        "from_user": request.from_user,
        "to_user": request.to_user,
        "coins": request.coins,
        "content_id": request.content_id,
        "message": request.message,
        "value_currency": redeemed.currency if redeemed else None,
        "value": redeemed.value if redeemed else 0,
        "writer_share": redeemed.split.writer if redeemed else 0,
        "platform_share": redeemed.split.platform if redeemed else 0,
        "idempotency_key": key,
        "entry_id": entry_id,
        "writer_entry_id": redeemed.writer_entry_id if redeemed else None,
        "created_at": utcnow(),
    }
    row["id"] = session.execute(
        TRANSFERS.insert().values(**row).returning(TRANSFERS.c.id)
    ).scalar_one()
    return _view(row, spend)


def _view(row: Mapping[str, Any], spend: CoinSpend, *, replayed: bool = False) -> TransferView:
    return TransferView(
        id=row["id"],
        kind=row["kind"],
        from_user=row["from_user"],
        to_user=row["to_user"],
        coins=row["coins"],
        paid_coins=spend.paid,
        bonus_coins=spend.bonus,
        content_id=row["content_id"],
        message=row["message"],
        value=row["value"],
        value_currency=row["value_currency"],
        writer_share=row["writer_share"],
        platform_share=row["platform_share"],
        idempotency_key=row["idempotency_key"],
        entry_id=row["entry_id"],
        writer_entry_id=row["writer_entry_id"],
        created_at=as_utc(row["created_at"]),  # type: ignore[arg-type]
        replayed=replayed,
    )
