"""Redeeming coins, written once: unlocks and tips (and later the revenue run) call it.

Redeeming ``coins`` from a reader's (already locked) wallets for a revenue stream:

1. take them in the configured spend order (``coins.spend_order``);
2. value them (coins × coin value, in the coin value currency);
3. split the value by the stream's shares (``revenue.<stream>``, largest remainder);
4. post one entry moving the coins to ``platform:coins:redeemed`` and the platform's share from
   ``platform:coin_value:<CUR>`` to ``platform:revenue:<stream>:<CUR>``, and the writer's share
   as its own entry (pending under the refund hold).

Both entries post in the caller's unit of work, so they commit with the caller's own row (an
unlock, a transfer) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.earnings.holds import Split, platform_share_legs, split_value, writer_share_entry
from legato_pay.ledger import EntrySpec, post_entries
from legato_pay.readers.coins import CoinSpend, WalletBalance, coin_value, plan_spend, spend_legs


@dataclass(frozen=True, slots=True)
class Redemption:
    """What one redemption asks for: whose coins, how many, for which stream and writer."""

    user_id: str
    coins: int
    stream: str
    writer_id: str
    key: str | None  # the coins' entry; the writer's share is keyed ``<key>:writer``
    reason: str
    writer_reason: str
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What a redemption did: the coins taken, the value split, and the entries posted."""

    spend: CoinSpend
    split: Split
    entry_id: int
    writer_entry_id: int | None
    writer_share_status: str | None  # pending (under the refund hold) | posted | None
    replayed: bool  # the ledger had posted these entries before (a rerun or a race)

    @property
    def value(self) -> int:
        return self.split.value

    @property
    def currency(self) -> str:
        return self.split.currency


def redeem_coins(
    session: Session,
    settings: Settings,
    wallet: WalletBalance,
    redemption: Redemption,
    *,
    actor: str,
    now: datetime | None = None,
) -> Redeemed:
    """Spend, value, split and post (see the module docstring); ``wallet`` must be locked.

    Raises ``INSUFFICIENT_FUNDS`` (nothing posted) when the wallet holds too few coins."""
    spend = plan_spend(
        wallet, redemption.coins, settings.coins.spend_order, user_id=redemption.user_id
    )
    value, currency = coin_value(settings, redemption.coins)
    split = split_value(settings, redemption.stream, value, currency)
    source = _open_accounts(session, redemption.stream, split)
    specs = [_coins_entry(redemption, spend, split, source)]
    writer_spec = writer_share_entry(
        settings,
        session,
        split,
        writer_id=redemption.writer_id,
        source=source,
        key=f"{redemption.key}:writer" if redemption.key is not None else None,
        reason=redemption.writer_reason,
        metadata=redemption.metadata,
        now=now,
    )
    if writer_spec is not None:
        specs.append(writer_spec)
    views = post_entries(session, specs, actor=actor, now=now)
    return Redeemed(
        spend=spend,
        split=split,
        entry_id=views[0].id,
        writer_entry_id=views[1].id if writer_spec is not None else None,
        writer_share_status=(
            None if writer_spec is None else ("pending" if writer_spec.pending else "posted")
        ),
        replayed=any(view.replayed for view in views),
    )


def _open_accounts(session: Session, stream: str, split: Split) -> str:
    """Open the system accounts the entries post to; returns the coin value account."""
    source = chart.coin_value(split.currency)
    requests = [
        chart.system_account(chart.COINS_REDEEMED, chart.COIN),
        chart.system_account(source, split.currency),
    ]
    if split.platform:
        requests.append(
            chart.system_account(chart.platform_revenue(stream, split.currency), split.currency)
        )
    chart.open_accounts(session, requests)
    return source


def _coins_entry(redemption: Redemption, spend: CoinSpend, split: Split, source: str) -> EntrySpec:
    """The coins out of the wallets and the platform's share of their value, one entry."""
    return EntrySpec(
        legs=(
            *spend_legs(redemption.user_id, spend, chart.COINS_REDEEMED),
            *platform_share_legs(split, redemption.stream, source),
        ),
        idempotency_key=redemption.key,
        reason=redemption.reason,
        metadata=redemption.metadata,
    )
