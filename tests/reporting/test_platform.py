"""``reports platform``: the scripted month's P&L per currency, converted at each month's end
rate, an empty period, a reversal, and the CLI's JSON/CSV shapes and bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from legato_pay.ledger import reverse_entry
from legato_pay.reporting.periods import parse_period
from legato_pay.reporting.platform import FIGURES, platform_report
from tests.cli_runner import run_cli
from tests.reporting.money_month import Month, month_fixture

built = month_fixture()


def report(app: Any, period: str, **options: Any) -> dict[str, Any]:
    return app.run(  # type: ignore[no-any-return]
        lambda s: platform_report(
            s, window=parse_period(period), by="month", convert_to="USD", **options
        ).as_json(),
        write=False,
    )


def row(data: dict[str, Any], currency: str, basis: str = "recorded") -> dict[str, int]:
    [found] = [r for r in data["rows"] if (r["currency"], r["basis"]) == (currency, basis)]
    return {name: found[f"{name}_minor"] for name in FIGURES}


def test_the_months_figures_worked_by_hand(built: tuple[Any, Month]) -> None:
    app, month = built
    data = report(app, month.period)
    usd = row(data, "USD")
    assert {k: usd[k] for k in ("content", "content_writers", "content_platform")} == {
        "content": 10,  # 10 coins × 1 ¢
        "content_writers": 7,  # 70 %
        "content_platform": 3,
    }
    assert (usd["tips"], usd["tips_writers"], usd["tips_platform"]) == (40, 28, 12)
    assert (usd["licensing"], usd["licensing_writers"], usd["licensing_platform"]) == (
        1000,
        850,
        150,
    )
    assert (usd["subscription"], usd["ads"]) == (0, 0)
    assert usd["revenue"] == 10 + 40 + 1000
    assert (usd["writers_share"], usd["platform_share"]) == (7 + 28 + 850, 3 + 12 + 150)
    # refund of 999: 935 back out of coin sales, 64 for the 70 coins already spent
    assert (usd["coin_sales"], usd["refunds"], usd["refund_losses"]) == (999 - 935, 999, 64)
    assert usd["net"] == 165 - 64
    assert (usd["gateway_fees"], usd["tax_withheld"]) == (0, 0)
    ngn = row(data, "NGN")
    assert ngn["coin_sales"] == 150_000 and ngn["revenue"] == 0
    # NGN converted at this month's newest rate USD/NGN 1600, inverted: 150000 / 1600 = 93.75 → 94
    converted = row(data, "USD", "converted")
    assert converted["coin_sales"] == 64 + 94
    assert converted["revenue"] == usd["revenue"]
    [used] = data["rates"]
    assert (used["pair"], used["rate"], used["inverted"]) == ("USD/NGN", "1600", True)
    assert data["missing_rates"] == []
    assert data["totals"]["converted"]["coin_sales_minor"] == 158


def test_each_month_converts_at_the_rate_in_force_at_its_end(built: tuple[Any, Month]) -> None:
    app, month = built
    window_from = parse_period(month.before).start
    data = app.run(
        lambda s: platform_report(
            s,
            window=parse_period(month.period).__class__(window_from, None, "span"),
            by="month",
            convert_to="USD",
            currency="NGN",
        ).as_json(),
        write=False,
    )
    rates = {r["period"]: r["rate"] for r in data["rates"]}
    assert rates == {month.before: "1400", month.last: "1500", month.period: "1600"}
    converted = {r["period"]: r for r in data["rows"] if r["basis"] == "converted"}
    # 300,000 kobo of licensing each month: 255,000 writers / 45,000 platform
    # at 1400: 182.14 → 182 and 32.14 → 32 (revenue re-derived: 214)
    assert converted[month.before]["licensing_writers_minor"] == 182
    assert converted[month.before]["licensing_platform_minor"] == 32
    assert converted[month.before]["licensing_minor"] == 214
    # at 1500: 170 and 30
    assert converted[month.last]["licensing_minor"] == 200
    assert {r["currency"] for r in data["rows"] if r["basis"] == "recorded"} == {"NGN"}


def test_an_empty_period_has_no_rows_and_zero_totals(built: tuple[Any, Month]) -> None:
    app, _month = built
    data = report(app, "2001-01")
    assert data["rows"] == [] and data["rates"] == []
    zero = {f"{name}_minor": 0 for name in FIGURES}
    assert data["totals"] == {"by_currency": {}, "converted": {"currency": "USD", **zero}}


def test_no_rate_leaves_the_conversion_null(built: tuple[Any, Month]) -> None:
    app, month = built
    data = report(app, month.before)
    ok = report(app, month.period)
    assert ok["missing_rates"] == []
    cad = app.run(
        lambda s: platform_report(
            s, window=parse_period(month.before), by="month", convert_to="CAD"
        ).as_json(),
        write=False,
    )
    assert cad["missing_rates"] == [{"period": month.before, "from": "NGN", "to": "CAD"}]
    assert cad["totals"]["converted"] is None
    assert [r["basis"] for r in cad["rows"]] == ["recorded"]
    assert data["rows"][0]["licensing_minor"] == 300_000


def test_cli_shapes_and_bad_input(built: tuple[Any, Month]) -> None:
    _app, month = built
    url = month.url
    csv = run_cli(url, "--output", "csv", "reports", "platform", "--period", month.period)
    assert csv.status == 0, csv.stderr
    lines = csv.stdout.strip().splitlines()
    assert lines[0].startswith("period,currency,basis,content_minor,")
    assert len(lines) == 1 + 3  # NGN, USD recorded + USD converted: no totals row
    assert "# total:" in csv.stderr
    table = run_cli(
        url, "--output", "table", "reports", "platform", "--period", month.period, "--chart"
    )
    assert table.status == 0 and "recorded rate in force" in table.stdout
    by_day = run_cli(url, "--output", "json", "reports", "platform", "--by", "day")
    assert by_day.status == 0
    assert {r["period"] for r in by_day.json["rows"]} >= {month.now.strftime("%Y-%m-%d")}
    for args, status, code in (
        (("--period", "2026-13"), 3, "INVALID_PERIOD"),
        (("--period", "2026-11", "--from", "2026-11-01"), 2, "USAGE_ERROR"),
        (("--from", "2026-11-02", "--to", "2026-11-01"), 3, "INVALID_TIME"),
        (("--by", "year"), 3, "VALIDATION_ERROR"),
        (("--convert-to", "XYZ"), 3, "INVALID_CURRENCY"),
        (("--convert-to", "COIN"), 3, "INVALID_CURRENCY"),
    ):
        bad = run_cli(url, "--output", "json", "reports", "platform", *args)
        assert (bad.status, bad.error["code"]) == (status, code), (args, bad.stderr)


def test_day_buckets_end_at_the_next_day(built: tuple[Any, Month]) -> None:
    _app, month = built
    from legato_pay.reporting.convert import bucket_end

    day = month.now.strftime("%Y-%m-%d")
    end = bucket_end(day, "day", None)
    assert end is not None and end - timedelta(days=1) == parse_period(month.period).start.replace(
        day=month.now.day
    )
    assert (
        bucket_end("2026-W01", "week", None).isoformat() == "2026-01-05T00:00:00+00:00"
    )  # ISO week 1 of 2026 starts Mon 2025-12-29; type: ignore[union-attr]


def test_a_reversal_takes_the_platform_share_back(database_url: str) -> None:
    """On a database of its own (the month above is shared): a tip, then its coins entry
    reversed by an operator: the platform's share of it leaves the report."""
    from legato_pay.context import AppContext
    from legato_pay.readers.tips import send_tip
    from tests.factories import add_users, fund

    app = AppContext.create(database_url=database_url, actor="test")
    add_users(app, r1="reader", w1="writer")
    fund(app, "r1", paid=100)
    tip = app.run(
        lambda s: send_tip(s, app.settings, actor="t", from_user="r1", to_user="w1", coins=40)
    )
    period = tip.created_at.strftime("%Y-%m")
    before = row(report(app, period), "USD")
    assert (before["tips_writers"], before["tips_platform"], before["net"]) == (28, 12, 12)
    app.run(lambda s: reverse_entry(s, tip.entry_id, actor="ops", reason="tip disputed"))
    after = row(report(app, period), "USD")
    assert (after["tips_writers"], after["tips_platform"], after["net"]) == (28, 0, 0)


def test_a_subscription_pool_run_shows_as_the_subscription_stream(database_url: str) -> None:
    """Last month's pool (fees 499 + 999 = 1498) run pro-rata this month: 65/35 by largest
    remainder, 973.7 / 524.3 → 974 writers / 524 platform, split between w1 (30 min) and w2
    (10 min) as 730.5 / 243.5 → 731 / 243 (tie broken to the earlier writer)."""
    from datetime import UTC, datetime

    from legato_pay import chart
    from legato_pay.context import AppContext
    from legato_pay.ledger import post_entries, transfer
    from legato_pay.readers.engagement import EngagementInput, record_engagement
    from legato_pay.reporting.writers import writers_report
    from legato_pay.revenue.runs import run_revenue
    from legato_pay.store.tables import SUBSCRIPTIONS
    from tests.factories import add_content, add_users
    from tests.reporting.money_month import month_start

    app = AppContext.create(database_url=database_url, actor="test")
    now = datetime.now(UTC)
    start = month_start(now, 1)
    last = start.strftime("%Y-%m")
    add_users(app, r1="reader", r2="reader", w1="writer", w2="writer")
    add_content(app, "c1", "w1")
    add_content(app, "c2", "w2")
    for user, fee in (("r1", 499), ("r2", 999)):
        app.run(
            lambda s, u=user, f=fee: s.execute(
                SUBSCRIPTIONS.insert().values(
                    user_id=u, tier="basic", currency="USD", amount=f, gateway="sandbox",
                    status="active", period=last, period_start=start,
                    period_end=start + timedelta(days=30), created_at=start,
                )
            )
        )  # fmt: skip
    for user, content, minutes in (("r1", "c1", 30), ("r2", "c2", 10)):
        record = EngagementInput(user, content, minutes, recorded_at=start + timedelta(days=2))
        app.run(lambda s, r=record: record_engagement(s, r, now=start + timedelta(days=2)))

    def fund(session: Any) -> None:
        cash, pool = chart.gateway_cash("sandbox", "USD"), chart.subscription_pool(last, "USD")
        chart.open_accounts(
            session,
            [
                chart.system_account(cash, "USD", debit_normal=True),
                chart.system_account(pool, "USD"),
            ],
        )
        post_entries(session, [transfer(cash, pool, 1498, "USD")], actor="test")

    app.run(fund)
    run_revenue(app, period=last, now=now)
    this = parse_period(now.strftime("%Y-%m"))
    usd = row(report(app, now.strftime("%Y-%m")), "USD")
    assert (usd["subscription"], usd["subscription_writers"], usd["subscription_platform"]) == (
        1498,
        974,
        524,
    )
    found = app.run(lambda s: writers_report(s, window=this).as_json(), write=False)["rows"]
    assert {r["writer"]: r["subscription_minor"] for r in found} == {"w1": 731, "w2": 243}
