"""The pool run worked by hand: three writers, four subscribers, odd fees, remainder units.

Fees (USD cents): s1 499, s2 999, s3 1999, s4 499; the pool is 3996. At 65/35 the writers'
part is 3996 × 0.65 = 2597.4 and the platform's 1398.6: floors 2597 + 1398 = 3995, and the
one remainder unit goes to the larger remainder (.6): writers 2597, platform 1399.

Minutes: s1 reads a 30 and b 10 (40); s2 reads b 45; s3 reads a 5 and c 20 (25); s4 reads
nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay import chart
from legato_pay.revenue.runs import run_revenue
from tests.factories import assert_ledger_ok, balance, make_users
from tests.revenue.helpers import AFTER, PERIOD, amounts, read, subscribe, writers_with_content


@pytest.fixture
def period(app: Any) -> Any:
    writers_with_content(app, "a", "b", "c")
    make_users(app, "s1", "s2", "s3", "s4")
    for user, fee in (("s1", 499), ("s2", 999), ("s3", 1999), ("s4", 499)):
        subscribe(app, user, fee)
    read(app, ("s1", "a", 30), ("s1", "b", 10), ("s2", "b", 45), ("s3", "a", 5), ("s3", "c", 20))
    return app


def test_pro_rata_by_hand(period: Any) -> None:
    # Minutes: a 35, b 55, c 20 (110). Exact shares of 2597: a 826.318…, b 1298.5, c 472.181…
    # Floors 826 + 1298 + 472 = 2596: the one unit left goes to b (remainder .5, the largest).
    [view] = run_revenue(period, period=PERIOD, now=AFTER)
    assert amounts(view, period) == {"a": 826, "b": 1299, "c": 472}
    assert view.totals["USD"] == {
        "pool": 3996,
        "writers": 2597,
        "platform": 1399,
        "carried": 0,
        "remainder_units": 1,
    }
    pool = balance(period, chart.subscription_pool(PERIOD, "USD"))
    assert (pool.available, pool.posted + pool.pending) == (0, 0)  # writers' part held
    assert balance(period, chart.platform_revenue("subscription", "USD")).posted == 1399
    writer_b = balance(period, chart.writer_earnings("b", "USD"))
    assert (writer_b.posted, writer_b.pending) == (0, 1299)  # under the 7-day refund hold
    assert_ledger_ok(period)


def test_user_centric_by_hand(period: Any) -> None:
    # Weights (fee × minutes on the writer ÷ the subscriber's minutes; s4's 499 by pro-rata):
    #   a = 499·30/40 + 1999·5/25 + 499·35/110 = 374.25 + 399.8 + 158.7727… = 932.8227…
    #   b = 499·10/40 + 999 + 499·55/110       = 124.75 + 999 + 249.5      = 1373.25
    #   c = 1999·20/25 + 499·20/110            = 1599.2 + 90.7272…          = 1689.9272…
    # (they add up to the fees, 3996). Shares of 2597: a 606.241…, b 892.475…, c 1098.283…;
    # floors 606 + 892 + 1098 = 2596 and the unit left goes to b (.475 the largest remainder).
    [view] = run_revenue(period, period=PERIOD, model="user-centric", now=AFTER)
    assert amounts(view, period) == {"a": 606, "b": 893, "c": 1098}
    assert view.model == "user-centric"
    assert sum(amounts(view, period).values()) + view.totals["USD"]["platform"] == 3996
