"""A month on the platform, told as a story and checked to the last minor unit.

In the manner of django-hordak's ``test_worked_examples.py``: every step runs the real command
line (as an operator or the app's backend would), then every balance the step touched is
asserted as a literal integer, with the arithmetic that gives it beside it. Read it top to bottom
to learn what each operation posts.

The cast: three readers who pay in three currencies — alice (USD), bola (NGN), chloe (CAD) — and
one writer, wendy. Prices and splits are the shipped defaults (``config/default.yaml``): 1 coin is
worth USD 0.01, content and tips are split 70/30 between writer and platform, a writer's share
is held for 7 days, bonus coins are spent first. Balances are as ``ledger accounts`` prints
them: ``(posted, pending, available)``, positive when the account holds value on its normal side
(credit for wallets, sales, revenue and pools; debit for gateway cash and refund losses). The
sandbox gateway settles every payment at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from legato_pay.earnings.holds import release_held_earnings
from legato_pay.store.tables import ACCOUNTS, LEGS
from tests.cli_runner import run_cli

Balances = dict[str, tuple[int, int, int]]


class Platform:
    """The command line against one database, with the reads the story needs."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    def run(self, *args: str) -> Any:
        result = run_cli(self.url, *args)
        assert result.status == 0, (args, result.stderr)
        return result.json

    def buy(self, user: str, package: str, currency: str) -> dict[str, Any]:
        """Create a purchase and verify it at the gateway (what the app does after checkout)."""
        created = self.run(
            "purchases", "create", "--user", user, "--package", package, "--currency", currency
        )
        verified = self.run("purchases", "verify", created["reference"])
        assert verified["credited"] is True
        return created  # type: ignore[no-any-return]

    def unlock(self, user: str, content: str) -> Any:
        return self.run("access", "unlock", "--user", user, "--content", content)

    def balances(self) -> Balances:
        """Every account: ``code -> (posted, pending, available)``."""
        return {
            row["code"]: (row["posted_minor"], row["pending_minor"], row["available_minor"])
            for row in self.run("ledger", "accounts")["accounts"]
        }

    def wallet(self, user: str) -> tuple[int, int]:
        """``(paid, bonus)`` coins."""
        coins = self.run("balances", "show", "--user", user)["coins"]
        return coins["paid"], coins["bonus"]


def posted(amount: int) -> tuple[int, int, int]:
    """A balance with nothing pending."""
    return (amount, 0, amount)


def assert_balances(platform: Platform, expected: Balances) -> None:
    found = platform.balances()
    assert {code: found.get(code) for code in expected} == expected


def trial_balance(app: Any) -> dict[str, dict[str, int]]:
    """From the journal itself: per currency, each account's posted credits minus debits."""
    signed = case((LEGS.c.is_debit, -LEGS.c.amount), else_=LEGS.c.amount)
    query = (
        select(LEGS.c.currency, ACCOUNTS.c.code, func.sum(signed))
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .group_by(LEGS.c.currency, ACCOUNTS.c.code)
    )
    rows = app.run(lambda s: s.execute(query).all(), write=False)
    table: dict[str, dict[str, int]] = {}
    for currency, code, net in rows:
        table.setdefault(currency, {})[code] = int(net)
    return table


def test_a_month_on_the_platform(database_url: str, app: Any) -> None:
    platform = Platform(database_url)

    # -- Day 1. The cast arrives; rates are set; a package priced in USD only ---------------
    platform.run("users", "add", "alice")
    platform.run("users", "add", "bola")
    platform.run("users", "add", "chloe")
    platform.run("users", "add", "wendy", "--writer")
    platform.run("rates", "set", "USD", "CAD", "1.36")
    platform.run("rates", "set", "USD", "NGN", "1550.25")
    mega = platform.run(
        "packages", "create", "mega", "--name", "Mega", "--coins", "2000",
        "--price-usd", "19.99", "--bonus-percent", "12.5",
    )  # fmt: skip
    assert mega["bonus_coins"] == 250  # floor(2000 × 12.5 / 100) = 250, never a fraction

    # -- Day 2. Three purchases in three currencies ------------------------------------------
    # alice: "popular" in USD, its USD price: 1000 coins + floor(1000 × 10 / 100) = 100 bonus.
    alice_buys = platform.buy("alice", "popular", "USD")
    assert (alice_buys["amount"], alice_buys["currency"]) == (999, "USD")
    # bola: "popular" in NGN, its fixed NGN price (no rate involved).
    bola_buys = platform.buy("bola", "popular", "NGN")
    assert (bola_buys["amount"], bola_buys["rate"]) == (1_500_000, None)
    # chloe: "mega" in CAD, which has no CAD price: 1999 × 1.36 = 2718.64 → 2719 (half-even).
    chloe_buys = platform.buy("chloe", "mega", "CAD")
    assert (chloe_buys["amount"], chloe_buys["rate"]) == (2719, "1.36")

    assert_balances(
        platform,
        {
            # Cash at the gateway (debit-normal) against coin sales, per currency.
            "gateway:sandbox:USD": posted(999),
            "platform:coin_sales:USD": posted(999),
            "gateway:sandbox:NGN": posted(1_500_000),
            "platform:coin_sales:NGN": posted(1_500_000),
            "gateway:sandbox:CAD": posted(2719),
            "platform:coin_sales:CAD": posted(2719),
            # Coins issued: (1000 + 100) + (1000 + 100) + (2000 + 250) = 4450.
            "platform:coins:issuance": posted(-4450),
            "user:alice:coins:paid": posted(1000),
            "user:alice:coins:bonus": posted(100),
            "user:bola:coins:paid": posted(1000),
            "user:bola:coins:bonus": posted(100),
            "user:chloe:coins:paid": posted(2000),
            "user:chloe:coins:bonus": posted(250),
        },
    )

    # -- Day 3. wendy publishes; readers unlock ----------------------------------------------
    platform.run("content", "add", "ch-1", "--writer", "wendy", "--type", "chapter")  # 10 coins
    platform.run("content", "add", "st-1", "--writer", "wendy", "--type", "story")  # 50 coins
    platform.unlock("alice", "ch-1")  # 10 bonus coins: 7 ¢ wendy, 3 ¢ us
    platform.unlock("bola", "st-1")  # 50 bonus coins: 35 ¢ wendy, 15 ¢ us
    platform.unlock("chloe", "ch-1")  # 10 bonus coins: 7 ¢ / 3 ¢
    platform.unlock("chloe", "st-1")  # 50 bonus coins: 35 ¢ / 15 ¢
    assert platform.unlock("chloe", "st-1")["charged"] == 0  # owned: free

    assert_balances(
        platform,
        {
            "user:alice:coins:bonus": posted(90),  # 100 − 10
            "user:bola:coins:bonus": posted(50),  # 100 − 50
            "user:chloe:coins:bonus": posted(190),  # 250 − 10 − 50
            "user:chloe:coins:paid": posted(2000),  # bonus first: paid untouched
            "platform:coins:redeemed": posted(120),  # 10 + 50 + 10 + 50
            # The platform's 30 % is posted at once: 3 + 15 + 3 + 15 = 36.
            "platform:revenue:content:USD": posted(36),
            # wendy's 70 % is held: 7 + 35 + 7 + 35 = 84 pending, nothing available yet.
            "writer:wendy:earnings:USD": (0, 84, 0),
            # The value of the redeemed coins leaves here: −36 posted, −84 reserved.
            "platform:coin_value:USD": (-36, -84, -120),
        },
    )

    # -- Day 9. Tips -------------------------------------------------------------------------
    # chloe tips 33 coins (bonus): 33 × 70 % = 23.1 and 33 × 30 % = 9.9; the parts must add up
    # to 33, and the larger remainder (.9) takes the odd cent: 23 to wendy, 10 to us.
    platform.run("tips", "send", "--from", "chloe", "--to", "wendy", "--coins", "33")
    # bola tips 250 coins: his last 50 bonus coins, then 200 paid ones; 175 ¢ / 75 ¢.
    tip = platform.run("tips", "send", "--from", "bola", "--to", "wendy", "--coins", "250")
    assert (tip["bonus_coins"], tip["paid_coins"]) == (50, 200)

    assert_balances(
        platform,
        {
            "user:chloe:coins:bonus": posted(157),  # 190 − 33
            "user:bola:coins:bonus": posted(0),  # 50 − 50
            "user:bola:coins:paid": posted(800),  # 1000 − 200
            "platform:coins:redeemed": posted(403),  # 120 + 33 + 250
            "platform:revenue:tips:USD": posted(85),  # 10 + 75
            "writer:wendy:earnings:USD": (0, 282, 0),  # 84 + 23 + 175 held
            "platform:coin_value:USD": (-121, -282, -403),  # −36 − 10 − 75; −84 − 23 − 175
        },
    )

    # -- Day 12. bola's NGN purchase is refunded in full -------------------------------------
    # Of his 1100 coins, 800 are unspent (paid) and are clawed back; 300 were spent and cannot
    # be: they are a loss. The 1,500,000 kobo returned are split 800 : 300 —
    # 1,500,000 × 800/1100 = 1,090,909.09… and × 300/1100 = 409,090.90…; largest remainder:
    # 1,090,909 out of coin sales, 409,091 to refund losses (adding up to 1,500,000).
    refund = platform.run("purchases", "refund", bola_buys["reference"], "--yes")
    assert (refund["amount"], refund["coins_clawed_back"], refund["coins_lost"]) == (
        1_500_000,
        800,
        300,
    )

    assert_balances(
        platform,
        {
            "gateway:sandbox:NGN": posted(0),  # 1,500,000 − 1,500,000
            "platform:coin_sales:NGN": posted(409_091),  # 1,500,000 − 1,090,909
            "platform:refund_losses:NGN": posted(409_091),  # debit-normal
            "user:bola:coins:paid": posted(0),  # never negative
            "user:bola:coins:bonus": posted(0),
            "platform:coins:issuance": posted(-3650),  # −4450 + 800 returned
            "writer:wendy:earnings:USD": (0, 282, 0),  # what was spent stays spent
        },
    )

    # -- Day 15. Subscriptions: each fee goes to this month's pool in its currency -----------
    pools = {}
    for user, tier, currency in (
        ("alice", "premium", "USD"),  # 999
        ("chloe", "basic", "CAD"),  # 679
        ("bola", "vip", "NGN"),  # 3,000,000
    ):
        started = platform.run(
            "subscriptions", "start", "--user", user, "--tier", tier, "-c", currency
        )
        assert started["status"] == "active"
        pools[currency] = f"subscriptions:pool:{started['period']}:{currency}"

    assert_balances(
        platform,
        {
            pools["USD"]: posted(999),
            pools["CAD"]: posted(679),
            pools["NGN"]: posted(3_000_000),
            "gateway:sandbox:USD": posted(1998),  # 999 coins + 999 subscription
            "gateway:sandbox:CAD": posted(3398),  # 2719 + 679
            "gateway:sandbox:NGN": posted(3_000_000),  # 0 + 3,000,000
        },
    )
    # A premium chapter: alice's premium tier includes it, chloe's basic one does not, and
    # checking access spends nothing.
    platform.run("content", "add", "ex-1", "--writer", "wendy", "--type", "exclusive",
                 "--tier", "premium")  # fmt: skip
    check = ("access", "check", "--content", "ex-1", "--user")
    assert platform.run(*check, "alice")["reason"] == "subscription"
    assert platform.run(*check, "chloe")["reason"] == "tier_too_low"

    # -- Month end. The 7-day holds are over: wendy's earnings are released ------------------
    # (the operator's ``earnings release`` follows the real clock; the story moves it 8 days on
    # through the library, as only a test may)
    month_end = datetime.now(UTC) + timedelta(days=8)
    released = app.run(lambda s: release_held_earnings(s, actor="month-end", now=month_end))
    assert len(released) == 6  # one held entry per unlock (4) and per tip (2)
    assert_balances(
        platform,
        {
            "writer:wendy:earnings:USD": posted(282),  # 84 + 23 + 175
            "platform:coin_value:USD": posted(-403),  # −121 − 282: every redeemed coin, 1 ¢
        },
    )

    # -- The books close: the trial balance, from the journal --------------------------------
    # Each account's credits minus debits (debit balances negative). Per currency the column
    # adds up to zero: total debits equal total credits.
    assert trial_balance(app) == {
        "COIN": {
            "platform:coins:issuance": -3650,
            "platform:coins:redeemed": 403,
            "user:alice:coins:paid": 1000,
            "user:alice:coins:bonus": 90,
            "user:bola:coins:paid": 0,
            "user:bola:coins:bonus": 0,
            "user:chloe:coins:paid": 2000,
            "user:chloe:coins:bonus": 157,
        },  # 403 + 1090 + 2157 = 3650
        "USD": {
            "gateway:sandbox:USD": -1998,
            "platform:coin_sales:USD": 999,
            pools["USD"]: 999,
            "platform:coin_value:USD": -403,
            "platform:revenue:content:USD": 36,
            "platform:revenue:tips:USD": 85,
            "writer:wendy:earnings:USD": 282,
        },  # debits 1998 + 403 = 2401 = 999 + 999 + 36 + 85 + 282 credits
        "NGN": {
            "gateway:sandbox:NGN": -3_000_000,
            "platform:coin_sales:NGN": 409_091,
            "platform:refund_losses:NGN": -409_091,
            pools["NGN"]: 3_000_000,
        },  # debits 3,409,091 = credits 409,091 + 3,000,000
        "CAD": {
            "gateway:sandbox:CAD": -3398,
            "platform:coin_sales:CAD": 2719,
            pools["CAD"]: 679,
        },  # debits 3398 = credits 2719 + 679
    }
    for currency, column in trial_balance(app).items():
        assert sum(column.values()) == 0, currency
    verify = platform.run("ledger", "verify")
    assert (verify["ok"], verify["problems"]) == (True, [])
