"""What users hold: readers' coins (now and over their lifetime) and writers' earnings.

The coins a reader holds now come from the ledger (the wallets are the truth). The lifetime
figures come from the business records beside it and are gross, never netted:

- ``purchased`` / ``bonus``: coins and bonus coins of every purchase that was credited
  (succeeded, including ones later refunded; coins clawed back by a refund are not subtracted),
- ``spent``: coins spent on content unlocks,
- ``tipped`` / ``gifted``: coins sent as tips / gifts,
- ``received_gifts``: coins received as gifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, case, func, literal, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.ledger import get_balance, list_accounts
from legato_pay.money import format_amount
from legato_pay.readers.coins import WalletBalance, wallet_balance
from legato_pay.readers.users import get_user
from legato_pay.store.tables import ACCOUNTS, PURCHASES, TRANSFERS, UNLOCKS, USERS

#: Purchase statuses whose coins were credited to the reader at some point.
CREDITED_STATUSES = ("succeeded", "partially_refunded", "refunded")


@dataclass(frozen=True, slots=True)
class Lifetime:
    purchased: int
    bonus: int
    spent: int
    tipped: int
    gifted: int
    received_gifts: int

    def as_json(self) -> dict[str, int]:
        return {
            "purchased": self.purchased,
            "bonus": self.bonus,
            "spent": self.spent,
            "tipped": self.tipped,
            "gifted": self.gifted,
            "received_gifts": self.received_gifts,
        }


@dataclass(frozen=True, slots=True)
class UserCoins:
    user: str
    coins: WalletBalance
    lifetime: Lifetime

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "coins": self.coins.as_json(),
            "lifetime": self.lifetime.as_json(),
        }


@dataclass(frozen=True, slots=True)
class Earnings:
    """One currency of a writer's earnings: ``on_hold`` is still under the refund hold,
    ``reserved`` is on its way out (payouts in flight), ``available`` can be paid out."""

    currency: str
    posted: int
    on_hold: int
    reserved: int
    available: int

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "posted": self.posted,
            "on_hold": self.on_hold,
            "reserved": self.reserved,
            "available": self.available,
            "display": format_amount(self.available, self.currency),
        }


def user_coins(session: Session, user_id: str) -> UserCoins:
    """A user's coins now and over their lifetime (``USER_NOT_FOUND`` for an unknown id)."""
    get_user(session, user_id)
    purchased, bonus = session.execute(
        select(
            func.coalesce(func.sum(PURCHASES.c.coins), 0),
            func.coalesce(func.sum(PURCHASES.c.bonus_coins), 0),
        ).where(PURCHASES.c.user_id == user_id, PURCHASES.c.status.in_(CREDITED_STATUSES))
    ).one()
    spent = session.execute(
        select(func.coalesce(func.sum(UNLOCKS.c.coins), 0)).where(UNLOCKS.c.user_id == user_id)
    ).scalar_one()
    sent = TRANSFERS.c.from_user == user_id

    def transferred(kind: str, outgoing: bool) -> Any:
        direction = sent if outgoing else TRANSFERS.c.to_user == user_id
        return func.coalesce(
            func.sum(case((and_(TRANSFERS.c.kind == kind, direction), TRANSFERS.c.coins), else_=0)),
            0,
        )

    tipped, gifted, received = session.execute(
        select(
            transferred("tip", True), transferred("gift", True), transferred("gift", False)
        ).where(sent | (TRANSFERS.c.to_user == user_id))
    ).one()
    return UserCoins(
        user=user_id,
        coins=wallet_balance(session, user_id),
        lifetime=Lifetime(
            purchased=int(purchased),
            bonus=int(bonus),
            spent=int(spent),
            tipped=int(tipped),
            gifted=int(gifted),
            received_gifts=int(received),
        ),
    )


def list_reader_coins(
    session: Session, *, min_total: int = 0, limit: int = 1000, after: str | None = None
) -> list[dict[str, Any]]:
    """Every reader's coins in one query (readers without wallets hold 0), by user id.

    Each reader's two wallets are found by their codes through the unique index on code, so
    the work grows with the readers listed, not with the size of the ledger.
    """
    if limit < 1 or limit > 100000:
        raise InvalidInput("limit must be between 1 and 100000", details={"limit": limit})
    if min_total < 0:
        raise InvalidInput("--min must not be negative", details={"min": min_total})
    paid = ACCOUNTS.alias("paid")
    bonus = ACCOUNTS.alias("bonus")

    def wallet_code(bucket: str) -> Any:
        return literal("user:", String).concat(USERS.c.id).concat(f":coins:{bucket}")

    def available(account: Any) -> Any:
        # Wallets are credit-normal: credits less debits, less what is reserved going out.
        return func.coalesce(
            account.c.credits_posted - account.c.debits_posted - account.c.debits_pending, 0
        )

    total = available(paid) + available(bonus)
    query = (
        select(USERS.c.id, available(paid), available(bonus), total)
        .select_from(
            USERS.outerjoin(paid, paid.c.code == wallet_code("paid")).outerjoin(
                bonus, bonus.c.code == wallet_code("bonus")
            )
        )
        .where(USERS.c.kind == "reader")
        .order_by(USERS.c.id)
        .limit(limit)
    )
    if min_total:
        query = query.where(total >= min_total)
    if after is not None:
        query = query.where(USERS.c.id > after)
    return [
        {"user": user, "paid": int(p), "bonus": int(b), "total": int(t)}
        for user, p, b, t in session.execute(query)
    ]


def writer_earnings(session: Session, writer_id: str) -> list[Earnings]:
    """A writer's earnings per currency (an empty list before the first earning)."""
    get_user(session, writer_id, kind="writer")
    result = []
    for account in list_accounts(session, prefix=f"writer:{writer_id}:earnings:"):
        balance = get_balance(session, account.code)
        result.append(
            Earnings(
                currency=account.currency,
                posted=balance.posted,
                on_hold=balance.totals.credits_pending,
                reserved=balance.totals.debits_pending,
                available=balance.available,
            )
        )
    return result
