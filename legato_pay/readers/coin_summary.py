"""What a reader holds now and over their lifetime, in plain SQL (``balances show``).

Plain SQL (``store/lightread``) so the command reads it without SQLAlchemy (a fast start) and
the full path runs the very same statements through a session. The coins held now come from the
ledger (the wallets are the truth); the lifetime figures come from the business records beside
it and are gross, never netted:

- ``purchased`` / ``bonus``: coins and bonus coins of every purchase that was credited
  (succeeded, including ones later refunded; coins clawed back by a refund are not subtracted),
- ``spent``: coins spent on content unlocks,
- ``tipped`` / ``gifted``: coins sent as tips / gifts,
- ``received_gifts``: coins received as gifts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from legato_pay.readers.coins import WalletBalance, wallet_balance
from legato_pay.store.lightread import Deferred, Rows

#: Purchase statuses whose coins were credited to the reader at some point.
CREDITED_STATUSES = ("succeeded", "partially_refunded", "refunded")

_CREDITED = ", ".join(f"'{status}'" for status in CREDITED_STATUSES)
_LIFETIME = (
    "SELECT"
    " (SELECT COALESCE(SUM(p.coins), 0) FROM purchases p"
    f"  WHERE p.user_id = :user AND p.status IN ({_CREDITED})),"
    " (SELECT COALESCE(SUM(p.bonus_coins), 0) FROM purchases p"
    f"  WHERE p.user_id = :user AND p.status IN ({_CREDITED})),"
    " (SELECT COALESCE(SUM(u.coins), 0) FROM content_unlocks u WHERE u.user_id = :user),"
    " (SELECT COALESCE(SUM(t.coins), 0) FROM coin_transfers t"
    "  WHERE t.from_user = :user AND t.kind = 'tip'),"
    " (SELECT COALESCE(SUM(t.coins), 0) FROM coin_transfers t"
    "  WHERE t.from_user = :user AND t.kind = 'gift'),"
    " (SELECT COALESCE(SUM(t.coins), 0) FROM coin_transfers t"
    "  WHERE t.to_user = :user AND t.kind = 'gift')"
    " FROM users WHERE id = :user"
)


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


def coin_summary(rows: Rows, user_id: str) -> UserCoins:
    """A user's coins now and over their lifetime. An unknown user is ``Deferred``: the full
    path (``balances.user_coins``) checks the id first and words the error."""
    row = rows.one(_LIFETIME, {"user": user_id})
    if row is None:
        raise Deferred(user_id)
    return UserCoins(
        user=user_id,
        coins=wallet_balance(rows, user_id),
        lifetime=Lifetime(*(int(value) for value in row)),
    )
