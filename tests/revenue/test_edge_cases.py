"""The pool run's edge cases, as the README decides them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from legato_pay import chart
from legato_pay.revenue.runs import run_revenue
from legato_pay.revenue.simulate import simulate
from legato_pay.store.tables import ENGAGEMENT
from tests.factories import assert_ledger_ok, balance, make_users
from tests.revenue.helpers import (
    AFTER,
    IN_PERIOD,
    PERIOD,
    amounts,
    read,
    subscribe,
    writers_with_content,
)


def _pool(app: Any, period: str = PERIOD, currency: str = "USD") -> int:
    return balance(app, chart.subscription_pool(period, currency)).available


def test_a_pool_without_engagement_is_carried_into_the_next_period(app: Any) -> None:
    make_users(app, "s1")
    subscribe(app, "s1", 999)
    [view] = run_revenue(app, period=PERIOD, now=AFTER)
    assert view.totals["USD"]["carried"] == 999 and view.line_count == 0
    assert _pool(app) == 0 and _pool(app, "2026-02") == 999
    assert_ledger_ok(app)


def test_a_pool_without_engagement_goes_to_the_platform_when_configured(app: Any) -> None:
    pool = app.settings.revenue.pool.model_copy(update={"no_engagement": "platform"})
    revenue = app.settings.revenue.model_copy(update={"pool": pool})
    app.settings = app.settings.model_copy(update={"revenue": revenue})
    make_users(app, "s1")
    subscribe(app, "s1", 999)
    [view] = run_revenue(app, period=PERIOD, now=AFTER)
    assert view.totals["USD"]["platform"] == 999
    assert balance(app, chart.platform_revenue("subscription", "USD")).posted == 999


def test_minutes_on_a_writer_who_no_longer_exists_are_left_out_and_reported(app: Any) -> None:
    writers_with_content(app, "a")
    make_users(app, "s1")
    subscribe(app, "s1", 1000)
    read(app, ("s1", "a", 10))
    app.run(
        lambda s: s.execute(
            ENGAGEMENT.insert().values(
                user_id="s1", content_id="a-ch", writer_id="ghost", minutes=30,
                period=PERIOD, recorded_at=IN_PERIOD,
            )
        )
    )  # fmt: skip
    [view] = run_revenue(app, period=PERIOD, now=AFTER)
    assert amounts(view, app) == {"a": 650}  # all of the writers' part
    assert view.report["unattributed_minutes"] == {"ghost": 30}


def test_minutes_recorded_after_the_run_count_toward_the_next_run(app: Any) -> None:
    writers_with_content(app, "a", "b")
    make_users(app, "s1")
    subscribe(app, "s1", 1000)
    subscribe(app, "s1", 1000, period="2026-02")
    read(app, ("s1", "a", 10))
    run_revenue(app, period=PERIOD, now=AFTER)
    read(app, ("s1", "b", 30))  # January reading, recorded after January's run
    read(app, ("s1", "a", 10), when=datetime(2026, 2, 10, tzinfo=UTC))
    [february] = run_revenue(app, period="2026-02", now=datetime(2026, 3, 2, tzinfo=UTC))
    assert february.report["late_minutes"] == 30
    assert {line: amount for line, amount in amounts(february, app).items()} == {
        "a": 163,  # 650 × 10/40 = 162.5, the tie to the first writer
        "b": 487,
    }
    [march] = run_revenue(app, period="2026-03", now=datetime(2026, 4, 2, tzinfo=UTC))
    assert march.report["late_minutes"] == 0  # counted once


def test_implausible_engagement_is_capped_and_listed_as_suspected_fraud(app: Any) -> None:
    writers_with_content(app, "a", "b", "c")
    make_users(app, "s1", "s2")
    subscribe(app, "s1", 1000)
    subscribe(app, "s2", 1000)
    day = IN_PERIOD
    read(app, ("s1", "a", 2000), ("s1", "b", 880), when=day)  # 2880 minutes in one day
    read(app, *[("s2", "c", 700)] * 2, when=day + timedelta(days=1))  # c: 1400 minutes…
    read(app, ("s2", "c", 700), ("s2", "a", 100), when=day + timedelta(days=2))  # …+700, a 100
    [view] = run_revenue(app, period=PERIOD, dry_run=True, now=AFTER)
    fraud = view.report["suspected_fraud"]
    listed = {(row["user"], row["content"]): row["paid_minutes"] for row in fraud["listed"]}
    # s1's day is halved to fit 1440: a 1000, b 440. s2's day of 1400 on c is under 1440, but
    # c is 2100 of s2's 2200 minutes (95 % > 80 %): capped at 80 % of 2200 = 1760.
    assert listed == {("s1", "a-ch"): 1000, ("s1", "b-ch"): 440, ("s2", "c-ch"): 1760}
    assert fraud["capped_minutes"] == 1000 + 440 + 340
    assert {line.writer_id: line.basis_minutes for line in view.lines} == {
        "a": 1100,
        "b": 440,
        "c": 1760,
    }


def test_each_currency_has_its_own_pool(app: Any) -> None:
    writers_with_content(app, "a", "b")
    make_users(app, "s1", "s2")
    subscribe(app, "s1", 999, currency="USD")
    subscribe(app, "s2", 750000, currency="NGN")
    read(app, ("s1", "a", 10), ("s2", "b", 10))
    [view] = run_revenue(app, period=PERIOD, now=AFTER)
    assert set(view.totals) == {"NGN", "USD"}
    assert balance(app, chart.writer_earnings("a", "USD")).pending == 649  # 999 × .65 = 649.35
    assert balance(app, chart.writer_earnings("b", "NGN")).pending == 487500


def test_simulate_shows_both_models_and_writes_nothing(app: Any) -> None:
    writers_with_content(app, "a", "b")
    make_users(app, "heavy", "light")
    subscribe(app, "heavy", 500)
    subscribe(app, "light", 500)
    read(app, ("heavy", "a", 90), ("light", "b", 10))
    result = app.run(lambda s: simulate(s, app.settings, PERIOD), write=False)
    rows = {row["writer"]: row for row in result["writers"]}
    # 650 to writers: pro-rata a 585, b 65; user-centric each subscriber's 325 to their writer
    assert (rows["a"]["pro_rata_minor"], rows["a"]["user_centric_minor"]) == (585, 325)
    assert (rows["b"]["pro_rata_minor"], rows["b"]["user_centric_minor"]) == (65, 325)
    assert rows["b"]["difference_minor"] == 260
    assert result["summary"]["better_off_user_centric_percent"] == "50.0"
    assert _pool(app) == 1000
