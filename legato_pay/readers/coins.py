"""Coin wallets: what a reader holds, which coins a spend takes, and what coins are worth.

A reader has two no-overdraft COIN accounts, paid and bonus. Spending takes from them in the
configured order (bonus first by default). Decisions that look at both buckets lock them first
(``ledger.lock_balances``), so two concurrent spends cannot both plan on the same coins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from legato_pay import chart
from legato_pay.errors import InsufficientFunds
from legato_pay.ledger.current import current_balances
from legato_pay.ledger.types import LegSpec
from legato_pay.money import parse_minor_units

if TYPE_CHECKING:  # a wallet is read without SQLAlchemy on the light path (``balances show``)
    from sqlalchemy.orm import Session

    from legato_pay.config import Settings
    from legato_pay.store.lightread import Rows


@dataclass(frozen=True, slots=True)
class WalletBalance:
    paid: int
    bonus: int

    @property
    def total(self) -> int:
        return self.paid + self.bonus

    def as_json(self) -> dict[str, int]:
        return {"paid": self.paid, "bonus": self.bonus, "total": self.total}


@dataclass(frozen=True, slots=True)
class CoinSpend:
    paid: int
    bonus: int

    @property
    def total(self) -> int:
        return self.paid + self.bonus


def parse_coins(value: object, *, field: str = "coins") -> int:
    """A positive whole number of coins from the edge ("10", 10); never a fraction."""
    return parse_minor_units(value, positive=True, field=field)


def lock_wallet(session: Session, user_id: str) -> WalletBalance:
    """Open the reader's wallets if new, lock them, and return what is available."""
    from legato_pay.ledger import lock_balances

    chart.open_wallets(session, user_id)
    balances = lock_balances(session, [chart.wallet_paid(user_id), chart.wallet_bonus(user_id)])
    return WalletBalance(
        paid=balances[chart.wallet_paid(user_id)].available,
        bonus=balances[chart.wallet_bonus(user_id)].available,
    )


def plan_spend(wallet: WalletBalance, coins: int, order: str, *, user_id: str) -> CoinSpend:
    """Which coins pay for ``coins``: the first bucket in ``order`` as far as it goes."""
    if coins > wallet.total:
        raise InsufficientFunds(
            f"{user_id} has {wallet.total} coins, needs {coins}",
            details={
                "user": user_id,
                "available": wallet.total,
                "requested": coins,
                "paid": wallet.paid,
                "bonus": wallet.bonus,
            },
        )
    if order == "bonus_first":
        bonus = min(wallet.bonus, coins)
        return CoinSpend(paid=coins - bonus, bonus=bonus)
    paid = min(wallet.paid, coins)
    return CoinSpend(paid=paid, bonus=coins - paid)


def spend_legs(user_id: str, spend: CoinSpend, destination: str) -> list[LegSpec]:
    """Legs moving the planned coins out of the wallets into ``destination``."""
    legs = []
    if spend.bonus:
        legs.append(LegSpec(chart.wallet_bonus(user_id), "debit", spend.bonus, chart.COIN))
    if spend.paid:
        legs.append(LegSpec(chart.wallet_paid(user_id), "debit", spend.paid, chart.COIN))
    legs.append(LegSpec(destination, "credit", spend.total, chart.COIN))
    return legs


def coin_value(settings: Settings, coins: int) -> tuple[int, str]:
    """What ``coins`` are worth: coins × coin value, in the coin value currency (1 coin = 1 ¢)."""
    return coins * settings.coins.value_minor, settings.coins.value_currency


def wallet_balance(rows: Rows, user_id: str) -> WalletBalance:
    """Read-only view of a wallet (zero for a reader who never held coins)."""
    paid, bonus = chart.wallet_paid(user_id), chart.wallet_bonus(user_id)
    found = current_balances(rows, [paid, bonus])
    if paid not in found or bonus not in found:  # opened together: both or neither
        return WalletBalance(0, 0)
    return WalletBalance(paid=found[paid].available, bonus=found[bonus].available)
