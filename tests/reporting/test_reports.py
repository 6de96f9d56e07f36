"""Reports: content revenue per period from unlock and tip rows, and purchase history."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from legato_pay.errors import InvalidInput, InvalidTime, NotFound
from legato_pay.readers.tips import send_tip
from legato_pay.reporting.reports import (
    COUNTERS,
    MONEY_COUNTERS,
    content_revenue,
    period_of,
    purchase_history,
)
from legato_pay.store.models.readers import CoinTransfer
from tests.cli_runner import run_cli
from tests.factories import add_content, add_purchase, add_unlock, add_users, fund


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def add_tip_row(app: Any, writer: str, content: str | None, coins: int, when: datetime) -> None:
    """A tip row as the tips service records it (1 ¢ a coin, 70/30)."""
    table = CoinTransfer.__table__  # type: ignore[attr-defined]
    share = coins * 7 // 10
    app.run(
        lambda s: s.execute(
            table.insert().values(
                kind="tip",
                from_user="r1",
                to_user=writer,
                coins=coins,
                content_id=content,
                value_currency="USD",
                value=coins,
                writer_share=share,
                platform_share=coins - share,
                entry_id=None,
                created_at=when,
            )
        )
    )


@pytest.fixture
def month(app: Any) -> Any:
    """January 2026: c1 and c2 by w1, c3 by w2; Monday the 5th starts ISO week 2."""
    add_users(app, r1="reader", r2="reader", w1="writer", w2="writer")
    for content, writer in (("c1", "w1"), ("c2", "w1"), ("c3", "w2")):
        add_content(app, content, writer)
    add_unlock(app, "r1", "c1", "w1", coins=10, at=at(4))
    add_unlock(app, "r2", "c1", "w1", coins=10, at=at(5, 1))
    add_unlock(app, "r1", "c2", "w1", coins=25, at=at(5, 23))
    add_unlock(app, "r1", "c3", "w2", coins=15, at=at(20))
    add_tip_row(app, "w1", "c1", 33, at(5, 9))
    add_tip_row(app, "w1", None, 100, at(5, 10))
    add_tip_row(app, "w2", "c3", 1, at(31, 23))
    return app


def report(app: Any, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("currency", "USD")
    return app.run(lambda s: content_revenue(s, **kwargs), write=False).as_json()


def slim(data: dict[str, Any], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(row[f] for f in fields) for row in data["rows"]]


def assert_adds_up(data: dict[str, Any]) -> None:
    for row in data["rows"]:
        assert row["writer_share_minor"] + row["platform_share_minor"] == row["value_minor"]
        assert row["unlock_value_minor"] + row["tip_value_minor"] == row["value_minor"]
        assert row["unlock_coins"] + row["tip_coins"] == row["coins"]
    for name in COUNTERS:
        key = f"{name}_minor" if name in MONEY_COUNTERS else name
        assert data["totals"][key] == sum(row[key] for row in data["rows"])


def test_content_revenue_by_day(month: Any) -> None:
    data = report(month, by="day")
    fields = ("period", "content", "writer", "unlocks", "tips", "coins", "value_minor")
    assert slim(data, *fields) == [
        ("2026-01-04", "c1", "w1", 1, 0, 10, 10),
        ("2026-01-05", "c1", "w1", 1, 1, 43, 43),
        ("2026-01-05", "c2", "w1", 1, 0, 25, 25),
        ("2026-01-05", None, "w1", 0, 1, 100, 100),
        ("2026-01-20", "c3", "w2", 1, 0, 15, 15),
        ("2026-01-31", "c3", "w2", 0, 1, 1, 1),
    ]
    c1_day = data["rows"][1]
    assert (c1_day["writer_share_minor"], c1_day["platform_share_minor"]) == (7 + 23, 3 + 10)
    assert data["totals"] | {"display": None} == {
        "currency": "USD",
        "unlocks": 4,
        "unlock_coins": 60,
        "unlock_value_minor": 60,
        "tips": 3,
        "tip_coins": 134,
        "tip_value_minor": 134,
        "coins": 194,
        "value_minor": 194,
        "writer_share_minor": 7 + 7 + 17 + 10 + 23 + 70 + 0,
        "platform_share_minor": 3 + 3 + 8 + 5 + 10 + 30 + 1,
        "display": None,
    }
    assert data["totals"]["display"] == "1.94 USD"
    assert_adds_up(data)


def test_content_revenue_by_week_and_month(month: Any) -> None:
    weeks = report(month, by="week")
    assert slim(weeks, "period", "content", "coins") == [
        ("2026-W01", "c1", 10),
        ("2026-W02", "c1", 43),
        ("2026-W02", "c2", 25),
        ("2026-W02", None, 100),
        ("2026-W04", "c3", 15),
        ("2026-W05", "c3", 1),
    ]
    months = report(month, by="month")
    assert slim(months, "period", "content", "unlocks", "tips", "coins") == [
        ("2026-01", "c1", 2, 1, 53),
        ("2026-01", "c2", 1, 0, 25),
        ("2026-01", "c3", 1, 1, 16),
        ("2026-01", None, 0, 1, 100),
    ]
    assert months["totals"]["value_minor"] == weeks["totals"]["value_minor"] == 194
    assert_adds_up(weeks)
    assert_adds_up(months)


def test_content_revenue_filters(month: Any) -> None:
    only_c1 = report(month, by="month", content_id="c1")
    assert slim(only_c1, "content", "coins") == [("c1", 53)]
    w2 = report(month, by="month", writer_id="w2")
    assert slim(w2, "content", "unlocks", "tips") == [("c3", 1, 1)]
    fifth = report(month, by="day", since=at(5, 0), until=at(6, 0))
    assert {row["period"] for row in fifth["rows"]} == {"2026-01-05"}
    assert fifth["totals"]["coins"] == 168
    edge = report(month, by="day", since=at(5, 23))  # inclusive
    assert slim(edge, "period", "content") == [
        ("2026-01-05", "c2"),
        ("2026-01-20", "c3"),
        ("2026-01-31", "c3"),
    ]
    assert report(month, currency="NGN")["rows"] == []
    with pytest.raises(InvalidInput):
        report(month, by="year")


def test_content_revenue_refuses_unknown_filters_and_a_reversed_window(month: Any) -> None:
    """An empty report would say "nothing earned" where the question itself was wrong."""
    with pytest.raises(NotFound) as writer:
        report(month, writer_id="nobody")
    assert writer.value.code == "USER_NOT_FOUND"
    with pytest.raises(NotFound) as content:
        report(month, content_id="nope")
    assert content.value.code == "CONTENT_NOT_FOUND"
    with pytest.raises(InvalidInput) as reader:
        report(month, writer_id="r1")  # a reader is no writer
    assert reader.value.details["kind"] == "reader"
    with pytest.raises(InvalidTime):
        report(month, since=at(6), until=at(5))
    assert report(month, since=at(5), until=at(5))["rows"] == []  # an empty window is fine


def test_tips_through_the_service_appear_in_the_report(app: Any) -> None:
    add_users(app, r1="reader", w1="writer")
    add_content(app, "c1", "w1")
    fund(app, "r1", paid=100)
    app.run(
        lambda s: send_tip(
            s, app.settings, actor="t", from_user="r1", to_user="w1", coins=99, content_id="c1"
        )
    )
    data = report(app, by="month")
    assert slim(
        data, "content", "tips", "tip_coins", "writer_share_minor", "platform_share_minor"
    ) == [("c1", 1, 99, 69, 30)]


def test_periods() -> None:
    assert period_of(datetime(2025, 12, 29, tzinfo=UTC), "week") == "2026-W01"
    assert period_of(datetime(2027, 1, 1, tzinfo=UTC), "week") == "2026-W53"
    assert period_of(datetime(2026, 2, 28, tzinfo=UTC), "month") == "2026-02"


def test_purchase_history(app: Any) -> None:
    add_users(app, r1="reader", r2="reader")
    add_purchase(app, "p1", "r1", 500, 25, "succeeded")
    add_purchase(app, "p2", "r1", 100, 0, "failed")
    add_purchase(app, "p3", "r2", 100, 0, "succeeded")
    rows = app.run(lambda s: purchase_history(s, "r1"), write=False)
    assert [(r["reference"], r["package"], r["coins"], r["bonus"], r["status"]) for r in rows] == [
        ("p1", "basic", 500, 25, "succeeded"),
        ("p2", "basic", 100, 0, "failed"),
    ]
    assert (rows[0]["amount_minor"], rows[0]["currency"], rows[0]["display"]) == (
        500,
        "USD",
        "5.00 USD",
    )
    assert app.run(lambda s: purchase_history(s, "r2"), write=False)[0]["reference"] == "p3"
    with pytest.raises(NotFound):
        app.run(lambda s: purchase_history(s, "ghost"), write=False)


def test_cli_reports(month: Any, database_url: str) -> None:
    add_purchase(month, "p1", "r1", 500, 25, "succeeded")
    result = run_cli(
        database_url,
        "reports", "content-revenue", "--by", "week", "--writer", "w1",
        "--since", "2026-01-05T00:00:00Z", "--until", "2026-01-12",
    )  # fmt: skip
    assert result.status == 0, result.stderr
    data = result.json
    assert (data["by"], data["currency"]) == ("week", "USD")
    assert data["since"] == "2026-01-05T00:00:00+00:00"
    assert slim(data, "period", "content", "coins") == [
        ("2026-W02", "c1", 43),
        ("2026-W02", "c2", 25),
        ("2026-W02", None, 100),
    ]
    assert data["totals"]["value_minor"] == 168
    assert_adds_up(data)

    bad = run_cli(database_url, "reports", "content-revenue", "--by", "year")
    assert bad.status == 3
    assert run_cli(database_url, "reports", "content-revenue", "--since", "soon").status == 3

    history = run_cli(database_url, "reports", "purchases", "--user", "r1")
    assert history.status == 0, history.stderr
    assert history.json["user"] == "r1"
    assert [p["reference"] for p in history.json["purchases"]] == ["p1"]
    missing = run_cli(database_url, "reports", "purchases", "--user", "ghost")
    assert missing.status == 5


def test_cli_content_revenue_refusals(month: Any, database_url: str) -> None:
    """Unknown filters are NOT_FOUND (5), a reversed window INVALID_TIME (3): never an empty
    report that reads as "nothing earned"."""

    def error(*args: str) -> tuple[int, str]:
        result = run_cli(database_url, "reports", "content-revenue", *args)
        assert result.stdout == ""
        return result.status, result.error["code"]

    assert error("--writer", "nobody") == (5, "USER_NOT_FOUND")
    assert error("--content", "nope") == (5, "CONTENT_NOT_FOUND")
    assert error("--since", "2026-01-06", "--until", "2026-01-05") == (3, "INVALID_TIME")
    assert error("--until", "soon") == (3, "INVALID_TIME")
    # A byte that is not UTF-8 (as bash passes $'\xff'): refused before any query.
    assert error("--writer", "x\udcff") == (2, "USAGE_ERROR")
    assert error("--content", "x\udcff") == (2, "USAGE_ERROR")
    history = run_cli(database_url, "reports", "purchases", "--user", "x\udcfe")
    assert (history.status, history.error["code"]) == (2, "USAGE_ERROR")


def test_cli_content_revenue_table_shows_formatted_amounts_and_totals_apart(
    month: Any, database_url: str
) -> None:
    table = run_cli(database_url, "reports", "content-revenue", "--by", "month", output="table")
    assert table.status == 0, table.stderr
    lines = table.stdout.splitlines()
    header = next(line for line in lines if line.lstrip().startswith("period"))
    assert "_minor" not in header and "unlock_value" not in header
    c1 = next(line for line in lines if " c1 " in f" {line} ")
    # period, content, writer, unlocks, tips, coins, then value and its split, formatted
    cells = re.split(r"\s{2,}", c1.strip())
    assert cells == ["2026-01", "c1", "w1", "2", "1", "53", "0.53 USD", "0.37 USD", "0.16 USD"]
    total = next(line for line in lines if line.startswith("total:"))
    assert "value 1.94 USD" in total and "unlocks 4" in total and "coins 194" in total

    csv_out = run_cli(database_url, "reports", "content-revenue", "--by", "month", output="csv")
    assert csv_out.status == 0, csv_out.stderr
    rows = csv_out.stdout.splitlines()
    assert rows[0].split(",")[:4] == ["period", "content", "writer", "currency"]
    assert "value_minor" in rows[0].split(",") and "value" not in rows[0].split(",")
    assert len(rows) == 1 + 4  # the header and the four rows: no totals row
    assert not any(row.startswith("total") for row in rows)
    assert "# total: " in csv_out.stderr and "1.94 USD" in csv_out.stderr
