"""Factories for domain objects, shared by the test modules: users, content, funded wallets,
unlocks and purchases, plus the reads and checks those tests make after them.

Wallets are funded straight through the ledger from ``platform:coins:issuance`` (as a verified
purchase would), and unlock and purchase rows are inserted as their services record them, so a
test of tips, balances or reports stands on the ledger alone. ``add_item`` goes through the
content service instead, for the reader-side tests that need its defaults and checks.
Every factory takes an ``AppContext`` (the ``app`` fixture), except ``insert_purchase``, which
writes inside a caller's unit of work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.ledger import get_balance, list_accounts, post_entries, transfer, verify_ledger
from legato_pay.ledger.queries import account_totals
from legato_pay.ledger.types import Balance, balance_from_totals, utcnow
from legato_pay.readers.coins import WalletBalance, wallet_balance
from legato_pay.readers.users import add_user
from legato_pay.store.lightread import SessionRows
from legato_pay.store.tables import (
    BOOK,
    CONTENT,
    ENGAGEMENT,
    ENTRIES,
    PACKAGES,
    PURCHASES,
    SUBSCRIPTIONS,
    TRANSFERS,
    UNLOCKS,
)

#: When ``add_purchase`` says its rows (and its package) were made.
PURCHASED_AT = datetime(2026, 1, 5, 12, tzinfo=UTC)

# -- users and wallets -----------------------------------------------------------------------


def add_users(app: Any, **kinds: str) -> None:
    """``add_users(app, r1="reader", w1="writer")``."""
    app.run(lambda s: [add_user(s, user, kind=kind) for user, kind in kinds.items()])


def make_users(app: Any, *user_ids: str, kind: str = "reader") -> None:
    """``make_users(app, "w1", "w2", kind="writer")``."""
    app.run(lambda s: [add_user(s, user_id, kind=kind) for user_id in user_ids])


def fund(app: Any, user: str, *, paid: int = 0, bonus: int = 0) -> None:
    """Issue coins straight into a reader's wallets (what a verified purchase would do)."""

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


def wallet(app: Any, user: str) -> WalletBalance:
    return app.run(lambda s: wallet_balance(SessionRows(s), user), write=False)  # type: ignore[no-any-return]


def wallet_json(app: Any, user: str) -> dict[str, int]:
    """``{"paid", "bonus", "total"}``, as ``balances show`` prints it."""
    return wallet(app, user).as_json()


def balance(app: Any, code: str) -> Balance:
    return app.run(lambda s: get_balance(s, code), write=False)  # type: ignore[no-any-return]


def balance_json(app: Any, code: str) -> dict[str, Any]:
    """An account's balance as ``ledger balance`` prints it."""
    return balance(app, code).as_json()


# -- content and unlocks ---------------------------------------------------------------------


def add_content(app: Any, content_id: str, writer: str, price: int = 10) -> None:
    """A chapter row, inserted directly (no service checks)."""
    app.run(
        lambda s: s.execute(
            CONTENT.insert().values(
                id=content_id,
                writer_id=writer,
                type="chapter",
                price_coins=price,
                title=content_id,
                created_at=utcnow(),
            )
        )
    )


def add_item(
    app: Any,
    content_id: str,
    *,
    writer: str = "w1",
    content_type: str = "chapter",
    price: int | str | None = None,
    tier: str | None = None,
) -> Any:
    """A content piece added through the content service (its defaults and checks apply)."""
    from legato_pay.readers.content import add_content as add_through_service

    return app.run(
        lambda s: add_through_service(
            s,
            app.settings,
            content_id,
            writer_id=writer,
            content_type=content_type,
            price=price,
            tier=tier,
        )[0]
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
    share = writer_share if writer_share is not None else coins * 7 // 10
    app.run(
        lambda s: s.execute(
            UNLOCKS.insert().values(
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


# -- purchases -------------------------------------------------------------------------------


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
    when = at or utcnow()
    session.execute(
        PURCHASES.insert().values(
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


def add_purchase(app: Any, reference: str, user: str, coins: int, bonus: int, status: str) -> None:
    """A sandbox purchase of the ``basic`` package in USD (the package row is added once);
    the wallet is funded separately."""

    def work(session: Any) -> None:
        basic = PACKAGES.select().where(PACKAGES.c.id == "basic")
        if session.execute(basic).first() is None:
            session.execute(
                PACKAGES.insert().values(
                    id="basic",
                    name="Basic",
                    coins=500,
                    bonus_percent="5",
                    price_usd=499,
                    prices_json="{}",
                    status="active",
                    created_at=PURCHASED_AT,
                    updated_at=PURCHASED_AT,
                )
            )
        insert_purchase(
            session,
            reference,
            user,
            package="basic",
            coins=coins,
            bonus=bonus,
            currency="USD",
            amount=coins,
            gateway="sandbox",
            status=status,
            at=PURCHASED_AT,
        )

    app.run(work)


# -- checks ----------------------------------------------------------------------------------

_COUNTED_TABLES = {
    "content": CONTENT,
    "unlocks": UNLOCKS,
    "subscriptions": SUBSCRIPTIONS,
    "engagement": ENGAGEMENT,
    "sandbox_payments": BOOK,
    "entries": ENTRIES,
}


def assert_ledger_ok(app: Any) -> None:
    report = app.run(
        lambda s: verify_ledger(s, expected_account=chart.expected_account), write=False
    )
    assert report.ok, report.problems


def transfer_count(app: Any) -> int:
    """Rows in the coin transfer log (tips and gifts)."""
    count = select(func.count()).select_from(TRANSFERS)
    return app.run(lambda s: s.execute(count).scalar_one(), write=False)  # type: ignore[no-any-return]


def snapshot(app: Any) -> dict[str, Any]:
    """Every account's totals and the row count of every reader-side table: what a refused
    command must leave untouched."""

    def work(session: Any) -> dict[str, Any]:
        balances = {
            account.code: balance_from_totals(account, account_totals(session, account)).as_json()
            for account in list_accounts(session, limit=100000)
        }
        counts = {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in _COUNTED_TABLES.items()
        }
        return {"balances": balances, "counts": counts}

    return app.run(work, write=False)  # type: ignore[no-any-return]
