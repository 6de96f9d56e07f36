"""``reports writers|coins|users|content`` on the scripted month (see ``money_month``), empty
windows, payouts planted as the sending job leaves them, and bad input through the CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from legato_pay.earnings.holds import release_held_earnings
from legato_pay.errors import NotFound
from legato_pay.ledger.types import utcnow
from legato_pay.payouts.requests import request_payout
from legato_pay.reporting.coins import coins_report
from legato_pay.reporting.content import content_report, conversion
from legato_pay.reporting.periods import Window, parse_period
from legato_pay.reporting.users import user_report
from legato_pay.reporting.writers import FIGURES, writers_report
from legato_pay.store.tables import PAYOUTS
from tests.cli_runner import run_cli
from tests.payouts.helpers import writer_with_money
from tests.reporting.money_month import Month, month_fixture

built = month_fixture()


def writers(app: Any, window: Window, **options: Any) -> dict[tuple[str, str], dict[str, int]]:
    data = app.run(lambda s: writers_report(s, window=window, **options).as_json(), write=False)
    return {
        (row["writer"], row["currency"]): {name: row[f"{name}_minor"] for name in FIGURES}
        for row in data["rows"]
    }


def test_writers_earned_held_released(built: tuple[Any, Month]) -> None:
    app, month = built
    this = parse_period(month.period)
    found = writers(app, this)
    w1 = found[("w1", "USD")]
    assert (w1["content"], w1["tips"], w1["earned"]) == (7, 28, 35)
    assert (w1["held"], w1["released"], w1["balance"]) == (35, 0, 0)  # 7-day refund hold
    assert found[("w2", "USD")]["licensing"] == 850
    assert ("w2", "NGN") not in found or found[("w2", "NGN")]["earned"] == 0
    only = writers(app, parse_period(month.last), writer_id="w2")
    assert only[("w2", "NGN")]["licensing"] == 255_000  # 85 % of 300,000
    assert set(only) == {("w2", "NGN")}
    assert writers(app, parse_period("2001-01")) == {}


def test_coins_outstanding_and_breakage(built: tuple[Any, Month]) -> None:
    app, month = built
    report = app.run(lambda s: coins_report(app.settings, s, at=None), write=False)
    rows = {row["bucket"]: row for row in report.as_json()["rows"]}
    # r1 has nothing left (spent 70, the rest clawed back); r2: 100 paid + 20 gifted bonus
    assert (rows["paid"]["coins"], rows["paid"]["readers"], rows["paid"]["value_minor"]) == (
        100,
        1,
        100,
    )
    assert (rows["bonus"]["coins"], rows["bonus"]["value_minor"]) == (20, 20)
    assert rows["paid"]["breakage_coins"] == 0
    later = month.now + timedelta(days=app.settings.reports.breakage_inactive_days + 1)
    idle = app.run(lambda s: coins_report(app.settings, s, at=later), write=False).totals()
    assert (idle["coins"], idle["breakage_coins"], idle["breakage_value_minor"]) == (120, 120, 120)
    before = month.now - timedelta(days=400)
    empty = app.run(lambda s: coins_report(app.settings, s, at=before), write=False).totals()
    assert (empty["coins"], empty["value_minor"]) == (0, 0)


def test_users_history_spending_and_transfers(built: tuple[Any, Month]) -> None:
    app, month = built
    data = app.run(
        lambda s: user_report(s, user_id="r1", window=parse_period(month.period)).as_json(),
        write=False,
    )
    changes = [(h["bucket"], h["change"]) for h in data["history"]]
    assert changes[:2] == [("paid", 1000), ("bonus", 100)]
    assert ("bonus", -10) in changes and ("bonus", -40) in changes and ("bonus", -20) in changes
    assert data["totals"] == {"coins_in": 1100, "coins_out": 1100, "net": 0}
    summary = {(r["section"], r["kind"], r["subject"]): r for r in data["summary"]}
    assert summary[("spending", "chapter", "w1")]["coins"] == 10
    assert summary[("spending", "tip", "w1")]["value_minor"] == 40
    purchase = summary[("purchases", "refunded", "USD")]
    assert (purchase["count"], purchase["coins"], purchase["value_minor"]) == (1, 1100, 999)
    assert summary[("gifts_given", "gift", "r2")]["coins"] == 20
    assert summary[("tips_given", "tip", "w1")]["coins"] == 40
    received = app.run(
        lambda s: user_report(s, user_id="r2", window=parse_period(month.period)).as_json(),
        write=False,
    )
    assert [(r["section"], r["coins"]) for r in received["summary"] if "gifts" in r["section"]] == [
        ("gifts_received", 20)
    ]
    with pytest.raises(NotFound):
        app.run(lambda s: user_report(s, user_id="nobody", window=parse_period("2026")))


def test_content_conversion_and_engagement(built: tuple[Any, Month]) -> None:
    app, month = built
    data = app.run(
        lambda s: content_report(s, window=parse_period(month.period), currency="USD").as_json(),
        write=False,
    )
    rows = {row["content"]: row for row in data["rows"]}
    c1 = rows["c1"]
    assert (c1["unlocks"], c1["value_minor"], c1["writer_share_minor"]) == (1, 10, 7)
    assert (c1["engagement_minutes"], c1["engaged_readers"], c1["converted_readers"]) == (12, 2, 1)
    assert c1["conversion"] == "0.5000"
    assert "c2" not in rows  # neither revenue nor engagement
    c2 = app.run(
        lambda s: content_report(
            s, window=parse_period(month.period), currency="USD", content_id="c2"
        ).as_json(),
        write=False,
    )
    assert c2["rows"][0]["conversion"] is None  # nobody engaged: null, not 0
    assert c2["totals"]["conversion"] is None
    assert (conversion(0, 0), conversion(2, 3), conversion(1, 8)) == (None, "0.6667", "0.1250")


def test_paid_and_in_flight_payouts(database_url: str) -> None:
    """A payout in flight, then paid (as the sending job marks it, with a fee and tax)."""
    from legato_pay.context import AppContext
    from legato_pay.reporting.platform import platform_report

    app = AppContext.create(database_url=database_url, actor="test")
    writer_with_money(app, "wendy", "NGN", posted=1_000_000)
    payout = app.run(
        lambda s: request_payout(
            s, app.settings, actor="w", writer="wendy", currency="NGN", amount="6000"
        )
    )
    window = Window(None, None, "all")
    before = writers(app, window)[("wendy", "NGN")]
    assert (before["in_flight"], before["paid_out"], before["balance"]) == (600_000, 0, 1_000_000)
    app.run(
        lambda s: s.execute(
            update(PAYOUTS)
            .where(PAYOUTS.c.id == payout.id)
            .values(status="paid", fee=1000, tax=30_000)
        )
    )
    after = writers(app, window)[("wendy", "NGN")]
    assert (after["in_flight"], after["paid_out"], after["tax_withheld"]) == (0, 600_000, 30_000)
    pnl = app.run(
        lambda s: platform_report(s, window=window, by="month", convert_to="NGN").as_json(),
        write=False,
    )
    assert pnl["totals"]["by_currency"]["NGN"]["gateway_fees_minor"] == 1000


def test_releases_move_held_into_the_balance(database_url: str) -> None:
    """A tip's writer share is held 7 days; the release job posts it: held → released."""
    from legato_pay.context import AppContext
    from legato_pay.readers.tips import send_tip
    from tests.factories import add_users, fund

    app = AppContext.create(database_url=database_url, actor="test")
    add_users(app, r1="reader", w1="writer")
    fund(app, "r1", paid=100)
    app.run(lambda s: send_tip(s, app.settings, actor="t", from_user="r1", to_user="w1", coins=40))
    window = Window(None, None, "all")
    held = writers(app, window)[("w1", "USD")]
    assert (held["held"], held["released"], held["balance"]) == (28, 0, 0)
    app.run(lambda s: release_held_earnings(s, actor="t", now=utcnow() + timedelta(days=8)))
    row = writers(app, window)[("w1", "USD")]
    assert (row["held"], row["released"], row["balance"], row["earned"]) == (0, 28, 28, 28)


def test_cli_outputs_and_bad_input(built: tuple[Any, Month]) -> None:
    _app, month = built
    url = month.url
    for args in (
        ("writers", "--period", month.period),
        ("coins",),
        ("users", "--user", "r1", "--period", month.period),
        ("content", "--period", month.period),
    ):
        output = "csv" if args[0] in ("writers", "content") else "table"
        shown = run_cli(url, "--output", output, "reports", *args)
        assert shown.status == 0, (args, shown.stderr)
        lines = shown.stdout.splitlines()
        if output == "csv":  # minor units, and the totals on stderr, never a data row
            assert "_minor" in lines[0] and "# total" in shown.stderr
            assert not any(line.startswith("total") for line in lines)
        else:
            assert any(line.startswith("total:") for line in lines)
    for args, status, code in (
        (("writers", "--writer", "nobody"), 5, "USER_NOT_FOUND"),
        (("content", "--content", "nothing"), 5, "CONTENT_NOT_FOUND"),
        (("coins", "--period", "2026-Q5"), 3, "INVALID_PERIOD"),
    ):
        bad = run_cli(url, "--output", "json", "reports", *args)
        assert (bad.status, bad.error["code"]) == (status, code), (args, bad.stderr)


def test_breakage_days_are_configured_and_validated() -> None:
    from legato_pay.config import load_settings
    from legato_pay.errors import ConfigError

    assert load_settings(environ={}).reports.breakage_inactive_days == 365
    changed = load_settings(environ={"LEGATO_REPORTS__BREAKAGE_INACTIVE_DAYS": "90"})
    assert changed.reports.breakage_inactive_days == 90
    for bad in ("0", "-5", "36501", "soon"):
        with pytest.raises(ConfigError) as refused:
            load_settings(environ={"LEGATO_REPORTS__BREAKAGE_INACTIVE_DAYS": bad})
        assert "reports" in str(refused.value)


def test_users_currency_filters_money_rows(built: tuple[Any, Month]) -> None:
    app, month = built
    window = parse_period(month.period)

    def summary(user: str, currency: str | None) -> list[tuple[str, str, int, int | None]]:
        data = app.run(
            lambda s: user_report(s, user_id=user, window=window, currency=currency).as_json(),
            write=False,
        )
        assert data["totals"] == app.run(  # the coin history is not filtered
            lambda s: user_report(s, user_id=user, window=window).totals(), write=False
        )
        return [(r["section"], r["kind"], r["coins"], r["value_minor"]) for r in data["summary"]]

    # r1 spent and paid only in USD: NGN leaves only the gift (coins, no money)
    assert summary("r1", "NGN") == [("gifts_given", "gift", 20, None)]
    assert summary("r1", "USD") == summary("r1", None)
    assert ("purchases", "refunded", 1100, 999) in summary("r1", "USD")
    # r2 bought 100 coins for 150,000 kobo
    assert summary("r2", "NGN") == [
        ("purchases", "succeeded", 100, 150000),
        ("gifts_received", "gift", 20, None),
    ]
    assert summary("r2", "USD") == [("gifts_received", "gift", 20, None)]


def test_coins_currency_is_the_value_currency_or_empty(built: tuple[Any, Month]) -> None:
    app, month = built
    usd = app.run(lambda s: coins_report(app.settings, s, at=None, currency="USD"), write=False)
    everything = app.run(lambda s: coins_report(app.settings, s, at=None), write=False)
    assert usd.rows == everything.rows and usd.totals()["value_minor"] == 120
    ngn = app.run(lambda s: coins_report(app.settings, s, at=None, currency="NGN"), write=False)
    assert ngn.rows == []
    assert ngn.totals() == {
        "currency": "NGN",
        "coins": 0,
        "value_minor": 0,
        "breakage_coins": 0,
        "breakage_value_minor": 0,
    }
    url = month.url
    data = run_cli(url, "--output", "json", "reports", "coins", "--currency", "ngn").json
    assert (data["currency"], data["rows"]) == ("NGN", [])
    csv = run_cli(url, "--output", "csv", "reports", "coins", "--currency", "NGN")
    assert csv.stdout.splitlines() == [
        "bucket,readers,coins,value_minor,currency,inactive_readers,breakage_coins,"
        "breakage_value_minor"
    ]
    table = run_cli(url, "--output", "table", "reports", "coins", "--currency", "NGN")
    assert "coins are valued in USD: nothing outstanding in NGN" in table.stdout
    users = run_cli(
        url,
        "--output",
        "csv",
        "reports",
        "users",
        "--user",
        "r2",
        "--currency",
        "NGN",
        "--period",
        month.period,
    )
    assert users.stdout.splitlines()[1:] == [
        "purchases,succeeded,NGN,1,100,150000,NGN",
        "gifts_received,gift,r1,1,20,,",
    ]
    for args in (("coins", "--currency", "XXX"), ("users", "--user", "r1", "--currency", "COIN")):
        bad = run_cli(url, "--output", "json", "reports", *args)
        assert (bad.status, bad.error["code"]) == (3, "INVALID_CURRENCY"), args
