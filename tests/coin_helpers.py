"""Factories shared by the tips, balances, earnings and reports tests.

Wallets are funded straight through the ledger from ``platform:coins:issuance`` (as a purchase
would), and content rows are inserted directly, so these tests stand on the ledger alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.ledger import get_balance, post_entries, transfer, verify_ledger
from legato_pay.ledger.types import utcnow
from legato_pay.readers.coins import wallet_balance
from legato_pay.readers.users import add_user
from legato_pay.store.models.readers import CoinTransfer, ContentItem, ContentUnlock


def add_users(app: Any, **kinds: str) -> None:
    """``add_users(app, r1="reader", w1="writer")``."""
    app.run(lambda s: [add_user(s, user, kind=kind) for user, kind in kinds.items()])


def fund(app: Any, user: str, *, paid: int = 0, bonus: int = 0) -> None:
    def work(session: Any) -> None:
        chart.open_system(session, chart.COIN_ISSUANCE, chart.COIN)
        chart.open_wallets(session, user)
        specs = [
            transfer(chart.COIN_ISSUANCE, code(user), amount, chart.COIN)
            for code, amount in ((chart.wallet_paid, paid), (chart.wallet_bonus, bonus))
            if amount
        ]
        post_entries(session, specs, actor="test")

    app.run(work)


def wallet(app: Any, user: str) -> dict[str, int]:
    return app.run(lambda s: wallet_balance(s, user).as_json(), write=False)


def balance(app: Any, code: str) -> dict[str, Any]:
    return app.run(lambda s: get_balance(s, code).as_json(), write=False)


def assert_ledger_ok(app: Any) -> None:
    report = app.run(verify_ledger, write=False)
    assert report.ok, report.problems


def transfer_count(app: Any) -> int:
    table = CoinTransfer.__table__  # type: ignore[attr-defined]
    return app.run(
        lambda s: s.execute(select(func.count()).select_from(table)).scalar_one(), write=False
    )


def add_content(app: Any, content_id: str, writer: str, price: int = 10) -> None:
    table = ContentItem.__table__  # type: ignore[attr-defined]
    app.run(
        lambda s: s.execute(
            table.insert().values(
                id=content_id,
                writer_id=writer,
                type="chapter",
                price_coins=price,
                title=content_id,
                created_at=utcnow(),
            )
        )
    )


def add_unlock(
    app: Any,
    user: str,
    content_id: str,
    writer: str,
    *,
    coins: int,
    at: datetime,
    writer_share: int | None = None,
) -> None:
    """An unlock row as the access service records it (value 1 ¢ a coin, split 70/30)."""
    table = ContentUnlock.__table__  # type: ignore[attr-defined]
    share = writer_share if writer_share is not None else coins * 7 // 10
    app.run(
        lambda s: s.execute(
            table.insert().values(
                user_id=user,
                content_id=content_id,
                writer_id=writer,
                coins=coins,
                bonus_coins_used=0,
                paid_coins_used=coins,
                value_currency="USD",
                value=coins,
                writer_share=share,
                platform_share=coins - share,
                created_at=at,
            )
        )
    )


def insert_purchase(
    session: Any,
    reference: str,
    user: str,
    *,
    package: str,
    coins: int,
    bonus: int,
    currency: str,
    amount: int,
    gateway: str,
    status: str = "pending",
    payment_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """A purchase row as the purchases service records it; no ledger effect."""
    from legato_pay.store.models.readers import Purchase

    when = at or utcnow()
    session.execute(
        Purchase.__table__.insert().values(  # type: ignore[attr-defined]
            reference=reference,
            user_id=user,
            package_id=package,
            coins=coins,
            bonus_coins=bonus,
            currency=currency,
            amount=amount,
            gateway=gateway,
            gateway_payment_id=payment_id,
            status=status,
            refunded_amount=0,
            coins_clawed_back=0,
            coins_lost=0,
            created_at=when,
            updated_at=when,
        )
    )
