"""A scripted month for the money reports, built through the real services (and the CLI for
purchases and refunds), with the figures it must give worked out by hand beside each step.

Everything happens in the current month at the real clock (tips and refunds take no clock), so
the reports are asked for ``--period`` of this month; two licensing receipts in NGN are dated in
each of the two months before, for conversion at those months' end rates.

The cast: readers r1, r2; writers w1 (c1, c2) and w2 (c3). Defaults: 1 coin = USD 0.01,
content and tips 70/30, licensing 85/15, refund hold 7 days, bonus coins spent first.

- r1 buys "popular" in USD: 999 ¢, 1000 paid + 100 bonus coins.
- r2 buys "starter" in NGN: 150,000 kobo, 100 paid coins.
- r1 unlocks c1 (10 coins, from bonus): value 10 → w1 7, platform 3.
- r1 tips w1 40 coins (bonus): value 40 → w1 28, platform 12.
- r1 gifts r2 20 coins (bonus): r1 bonus 100 − 10 − 40 − 20 = 30.
- w2 licensing receipt USD 10.00: 1000 → w2 850, platform 150.
- r1's purchase refunded in full: due 1000 paid (held: 1000) + 100 bonus (held: 30) → clawed
  1030, lost 70; 999 split by largest remainder over [1030, 70]: 935.43 / 63.57 → 935 / 64.
  So coin_sales USD = 999 − 935 = 64, refunds 999, refund_losses 64.
- engagement: r1 5 min and r2 7 min on c1 (r1 unlocked it: conversion 1/2); nobody on c2.
- rates USD→NGN: 1400 (15th of two months ago), 1500 (15th of last month), 1550 (a day ago),
  1600 (a minute ago): this month converts at 1600.
- NGN licensing receipts of 300,000 kobo to w2 on the 15th of each of the two months before:
  w2 255,000 / platform 45,000 each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from legato_pay.readers.access import unlock_content
from legato_pay.readers.engagement import EngagementInput, record_engagement
from legato_pay.readers.fx import set_rate
from legato_pay.readers.purchases.create import create_purchase
from legato_pay.readers.purchases.refunds import refund_purchase
from legato_pay.readers.purchases.settle import verify_purchase
from legato_pay.readers.tips import send_gift, send_tip
from legato_pay.revenue.receipts import ReceiptInput, record_receipts
from tests.conftest import BACKENDS
from tests.factories import add_content, add_users


def month_start(moment: datetime, back: int = 0) -> datetime:
    """The first moment of ``moment``'s month, ``back`` months earlier."""
    index = moment.year * 12 + moment.month - 1 - back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Month:
    url: str
    now: datetime
    period: str  # this month, YYYY-MM
    last: str  # last month
    before: str  # the month before
    tip_entry: int
    refund_reference: str


def buy(app: Any, user: str, package: str, currency: str) -> str:
    """A purchase created and verified at the sandbox gateway (it settles at once)."""
    created = create_purchase(app, user_id=user, package_id=package, currency=currency)
    assert verify_purchase(app, created.purchase.reference).credited
    return created.purchase.reference


def build_month(app: Any, url: str) -> Month:
    now = datetime.now(UTC)
    add_users(app, r1="reader", r2="reader", w1="writer", w2="writer")
    add_content(app, "c1", "w1", price=10)
    add_content(app, "c2", "w1", price=10)
    add_content(app, "c3", "w2", price=10)
    last, before = month_start(now, 1), month_start(now, 2)
    for rate, as_of in (
        ("1400", before + timedelta(days=14)),
        ("1500", last + timedelta(days=14)),
        ("1550", now - timedelta(days=1)),
        ("1600", now - timedelta(minutes=1)),
    ):
        app.run(lambda s, r=rate, a=as_of: set_rate(s, app.settings, "USD", "NGN", r, as_of=a))
    bought = buy(app, "r1", "popular", "USD")
    buy(app, "r2", "starter", "NGN")
    settings = app.settings
    app.run(lambda s: unlock_content(s, settings, "r1", "c1", actor="test"))
    tip = app.run(
        lambda s: send_tip(s, settings, actor="test", from_user="r1", to_user="w1", coins=40)
    )
    app.run(lambda s: send_gift(s, settings, actor="test", from_user="r1", to_user="r2", coins=20))
    receipts = [
        (ReceiptInput("licensing", "w2", "c3", 1000, "USD", "deal", "lic-now"), None),
        *(
            (
                ReceiptInput("licensing", "w2", "c3", 300_000, "NGN", "deal", f"lic-{n}"),
                start + timedelta(days=14, hours=12),
            )
            # oldest first: the ledger stamps an entry no earlier than its accounts' last legs,
            # and the P&L is dated by that stamp (README, `reports platform`)
            for n, start in ((2, before), (1, last))
        ),
    ]
    for receipt, when in receipts:
        app.run(lambda s, r=receipt, w=when: record_receipts(s, settings, [r], actor="t", now=w))
    for user, minutes in (("r1", 5), ("r2", 7)):
        app.run(lambda s, u=user, m=minutes: record_engagement(s, EngagementInput(u, "c1", m)))
    refund_purchase(app, bought)
    return Month(
        url,
        now,
        now.strftime("%Y-%m"),
        last.strftime("%Y-%m"),
        before.strftime("%Y-%m"),
        tip.entry_id,
        bought,
    )


def month_database(request: Any, tmp_path_factory: Any) -> tuple[Any, str]:
    """A database of the module's own (built once per backend: the month costs seconds), for a
    module-scoped fixture parametrized over ``conftest.BACKENDS``."""
    from legato_pay.context import AppContext
    from tests.conftest import _fresh_postgres_url, _fresh_sqlite_url

    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        url = _fresh_sqlite_url(template, tmp_path_factory.mktemp("month"))
    else:
        url = _fresh_postgres_url(request)
    return AppContext.create(database_url=url, actor="test"), url


def month_fixture() -> Any:
    """A module-scoped fixture giving ``(app, Month)``: the month built once per backend on a
    database of the test module's own. Use: ``built = month_fixture()`` in the module."""

    @pytest.fixture(scope="module", params=BACKENDS)
    def built(request: Any, tmp_path_factory: Any) -> tuple[Any, Month]:
        app, url = month_database(request, tmp_path_factory)
        return app, build_month(app, url)

    return built
