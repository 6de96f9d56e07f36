"""Coin balances: a user's wallet and lifetime figures, and every reader's coins in one query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from legato_pay.errors import InvalidInput, NotFound
from legato_pay.readers.balances import list_reader_coins, user_coins
from legato_pay.readers.tips import send_gift, send_tip
from tests.cli_runner import run_cli
from tests.factories import add_content, add_purchase, add_unlock, add_users, fund

AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def story(app: Any) -> Any:
    """r1 buys coins, unlocks a chapter, tips, gifts and is gifted."""
    add_users(app, r1="reader", r2="reader", r3="reader", w1="writer")
    add_purchase(app, "p1", "r1", 500, 25, "succeeded")
    add_purchase(app, "p2", "r1", 100, 0, "refunded")
    add_purchase(app, "p3", "r1", 1000, 100, "failed")
    add_purchase(app, "p4", "r1", 1000, 100, "pending")
    fund(app, "r1", paid=600, bonus=25)
    fund(app, "r2", paid=40)
    add_content(app, "c1", "w1")
    add_unlock(app, "r1", "c1", "w1", coins=10, at=AT)  # the row only: wallets untouched
    settings = app.settings
    app.run(lambda s: send_tip(s, settings, actor="t", from_user="r1", to_user="w1", coins=50))
    app.run(lambda s: send_gift(s, settings, actor="t", from_user="r1", to_user="r3", coins=5))
    app.run(lambda s: send_gift(s, settings, actor="t", from_user="r2", to_user="r1", coins=15))
    return app


def test_user_coins_now_and_over_a_lifetime(story: Any) -> None:
    result = story.run(lambda s: user_coins(s, "r1"), write=False).as_json()
    # 600 paid + 25 bonus; tip 50 (25 bonus first, 25 paid); gift 5 paid; received 15 paid
    assert result == {
        "user": "r1",
        "coins": {"paid": 585, "bonus": 0, "total": 585},
        "lifetime": {
            "purchased": 600,
            "bonus": 25,
            "spent": 10,
            "tipped": 50,
            "gifted": 5,
            "received_gifts": 15,
        },
    }
    r3 = story.run(lambda s: user_coins(s, "r3"), write=False).as_json()
    assert r3["coins"] == {"paid": 5, "bonus": 0, "total": 5}
    assert r3["lifetime"]["received_gifts"] == 5


def test_a_user_without_wallets_holds_nothing(story: Any) -> None:
    result = story.run(lambda s: user_coins(s, "w1"), write=False).as_json()
    assert result["coins"] == {"paid": 0, "bonus": 0, "total": 0}
    assert set(result["lifetime"].values()) == {0}
    with pytest.raises(NotFound):
        story.run(lambda s: user_coins(s, "ghost"), write=False)


def test_list_reader_coins(story: Any) -> None:
    add_users(story, r0="reader")  # a reader who never held coins
    fund(story, "w1", paid=7)  # writers' wallets are not listed
    rows = story.run(lambda s: list_reader_coins(s), write=False)
    assert rows == [
        {"user": "r0", "paid": 0, "bonus": 0, "total": 0},
        {"user": "r1", "paid": 585, "bonus": 0, "total": 585},
        {"user": "r2", "paid": 25, "bonus": 0, "total": 25},
        {"user": "r3", "paid": 5, "bonus": 0, "total": 5},
    ]
    rich = story.run(lambda s: list_reader_coins(s, min_total=25), write=False)
    assert [row["user"] for row in rich] == ["r1", "r2"]
    page = story.run(lambda s: list_reader_coins(s, after="r1", limit=1), write=False)
    assert [row["user"] for row in page] == ["r2"]
    with pytest.raises(InvalidInput):
        story.run(lambda s: list_reader_coins(s, min_total=-1), write=False)


def test_list_reader_coins_is_one_query_however_many_readers(app: Any) -> None:
    add_users(app, **{f"r{i:02d}": "reader" for i in range(30)})
    for i in range(0, 30, 3):
        fund(app, f"r{i:02d}", paid=i + 1, bonus=1)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        rows = app.run(lambda s: list_reader_coins(s, min_total=1), write=False)
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert [row["total"] for row in rows] == [i + 2 for i in range(0, 30, 3)]


def test_cli_balances(story: Any, database_url: str) -> None:
    shown = run_cli(database_url, "balances", "show", "--user", "r1")
    assert shown.status == 0, shown.stderr
    assert shown.json["coins"] == {"paid": 585, "bonus": 0, "total": 585}
    assert shown.json["lifetime"]["tipped"] == 50
    listed = run_cli(database_url, "balances", "list", "--min", "6")
    assert listed.json == {
        "balances": [
            {"user": "r1", "paid": 585, "bonus": 0, "total": 585},
            {"user": "r2", "paid": 25, "bonus": 0, "total": 25},
        ],
        "totals": {"readers": 2, "paid": 610, "bonus": 0, "total": 610},
        "next_cursor": None,
    }
    missing = run_cli(database_url, "balances", "show", "--user", "ghost")
    assert missing.status == 5 and missing.error["code"] == "USER_NOT_FOUND"
    positional = run_cli(database_url, "balances", "show", "r1")
    assert positional.status == 2


def test_cli_balances_list_pages_with_totals_of_every_page(story: Any, database_url: str) -> None:
    """Totals cover every reader listed (all pages); in CSV they and the cursor go to stderr."""
    first = run_cli(database_url, "balances", "list", "--limit", "2")
    assert [row["user"] for row in first.json["balances"]] == ["r1", "r2"]
    assert first.json["totals"] == {"readers": 3, "paid": 615, "bonus": 0, "total": 615}
    assert first.json["next_cursor"] == "r2"
    rest = run_cli(database_url, "balances", "list", "--limit", "2", "--cursor", "r2")
    assert [row["user"] for row in rest.json["balances"]] == ["r3"]
    assert rest.json["next_cursor"] is None and rest.json["totals"] == first.json["totals"]

    csv_page = run_cli(database_url, "balances", "list", "--limit", "2", output="csv")
    assert csv_page.stdout.splitlines() == ["user,paid,bonus,total", "r1,585,0,585", "r2,25,0,25"]
    assert "# total: readers 3, paid 615, bonus 0, total 615" in csv_page.stderr
    assert "# next_cursor=r2" in csv_page.stderr
    table = run_cli(database_url, "balances", "list", output="table")
    assert "total: readers 3, paid 615, bonus 0, total 615" in table.stdout
    for args in (
        ["--limit", "0"],
        ["--limit", "99999999999999999999999"],
        ["--min", "-1"],
        ["--min", "99999999999999999999999"],
        ["--min", "\u0665"],
        ["--cursor", "r2\n"],
    ):
        result = run_cli(database_url, "balances", "list", *args)
        assert result.status == 3, (args, result.stderr)


def test_the_light_path_reads_what_the_full_path_reads(story: Any) -> None:
    """``balances show`` reads without SQLAlchemy on SQLite (``AppContext.read``); the same SQL
    through a session (the full path, either database) gives the same figures."""
    from legato_pay.readers.coin_summary import coin_summary
    from legato_pay.store.lightread import Deferred, SessionRows

    for user in ("r1", "r2", "r3", "w1"):
        full = story.run(lambda s, user=user: user_coins(s, user), write=False)
        assert story.run(lambda s, user=user: coin_summary(SessionRows(s), user)) == full
        assert story.read(lambda rows, user=user: coin_summary(rows, user)) == full
    assert full.as_json()["lifetime"]["spent"] == 0  # w1: a writer, coins received as tips only
    with pytest.raises(Deferred):  # an unknown user: the full path words the error
        story.run(lambda s: coin_summary(SessionRows(s), "ghost"), write=False)
    with pytest.raises(NotFound):
        story.read(lambda rows: coin_summary(rows, "ghost"), full=lambda s: user_coins(s, "ghost"))
