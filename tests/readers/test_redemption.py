"""The one coin-redemption path (unlocks and tips use it) and the one way to open the chart's
accounts: spend order, valuation, largest-remainder split, the entries posted, and accounts
opened once with the shape the chart gives them."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay import chart
from legato_pay.config import load_settings
from legato_pay.errors import AlreadyExists, InsufficientFunds
from legato_pay.ledger import get_entry
from legato_pay.readers.coins import lock_wallet
from legato_pay.readers.redemption import Redeemed, Redemption, redeem_coins
from tests.factories import assert_ledger_ok, balance, fund, make_users, snapshot


@pytest.fixture
def readers(app: Any) -> Any:
    make_users(app, "r1")
    make_users(app, "w1", kind="writer")
    fund(app, "r1", paid=100, bonus=7)
    return app


def redeem(app: Any, coins: int, *, settings: Any = None, key: str | None = "r-1") -> Redeemed:
    def work(session: Any) -> Redeemed:
        wallet = lock_wallet(session, "r1")
        return redeem_coins(
            session,
            settings or app.settings,
            wallet,
            Redemption(
                user_id="r1",
                coins=coins,
                stream="content",
                writer_id="w1",
                key=key,
                reason="a test redemption",
                writer_reason="the writer's share of a test redemption",
                metadata={"kind": "test"},
            ),
            actor="test",
        )

    return app.run(work)  # type: ignore[no-any-return]


def test_bonus_coins_go_first_and_the_value_splits_70_30(readers: Any) -> None:
    done = redeem(readers, 33)
    assert (done.spend.bonus, done.spend.paid) == (7, 26)
    # 33 coins = 33 ¢; 70 % is 23.1 and 30 % is 9.9: the largest remainder gives the cent to 30 %.
    assert (done.value, done.currency, done.split.writer, done.split.platform) == (
        33,
        "USD",
        23,
        10,
    )
    assert balance(readers, chart.wallet_bonus("r1")).posted == 0
    assert balance(readers, chart.wallet_paid("r1")).posted == 74
    assert balance(readers, chart.COINS_REDEEMED).posted == 33
    assert balance(readers, chart.platform_revenue("content", "USD")).posted == 10
    earnings = balance(readers, chart.writer_earnings("w1", "USD"))
    assert (done.writer_share_status, earnings.pending, earnings.posted) == ("pending", 23, 0)
    entry = readers.run(lambda s: get_entry(s, done.entry_id), write=False)
    writer_entry = readers.run(lambda s: get_entry(s, done.writer_entry_id), write=False)
    assert (entry.idempotency_key, writer_entry.idempotency_key) == ("r-1", "r-1:writer")
    assert not done.replayed
    assert_ledger_ok(readers)


def test_paid_first_takes_paid_coins_first(readers: Any) -> None:
    settings = load_settings(overrides={"coins": {"spend_order": "paid_first"}})
    done = redeem(readers, 101, settings=settings)
    assert (done.spend.paid, done.spend.bonus) == (100, 1)
    assert_ledger_ok(readers)


def test_too_few_coins_posts_nothing(readers: Any) -> None:
    before = snapshot(readers)
    with pytest.raises(InsufficientFunds) as raised:
        redeem(readers, 108)
    assert raised.value.details["available"] == 107
    assert snapshot(readers) == before


def test_without_a_refund_hold_the_writers_share_posts_at_once(readers: Any) -> None:
    settings = load_settings(overrides={"content": {"refund_hold_days": 0}})
    done = redeem(readers, 10, settings=settings, key=None)
    earnings = balance(readers, chart.writer_earnings("w1", "USD"))
    assert (done.writer_share_status, earnings.posted, earnings.pending) == ("posted", 7, 0)


def test_the_chart_opens_an_account_once_with_its_shape(app: Any) -> None:
    code = chart.coin_value("USD")
    first = app.run(lambda s: chart.open_accounts(s, [chart.system_account(code, "USD")]))
    again = app.run(lambda s: chart.open_system(s, code, "USD"))
    assert first[code].id == again.id and again.hot and again.normal_side == "credit"
    paid, bonus = app.run(lambda s: chart.open_wallets(s, "r9"))
    assert paid.no_overdraft and bonus.no_overdraft and not paid.hot
    with pytest.raises(AlreadyExists):
        app.run(lambda s: chart.open_system(s, code, "USD", debit_normal=True))
