"""Writers' earnings: the refund hold, its release (exactly once, only by the real clock, only
refund holds), and the earnings view."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from legato_pay import chart, ledger
from legato_pay.earnings.holds import due_holds, release_held_earnings
from legato_pay.errors import InvalidInput, NotFound
from legato_pay.ledger import transfer
from legato_pay.ledger.types import utcnow
from legato_pay.readers.access import unlock_content
from legato_pay.readers.balances import writer_earnings
from legato_pay.readers.tips import send_tip
from tests.cli_runner import run_cli
from tests.factories import add_item, add_users, assert_ledger_ok, fund
from tests.factories import balance_json as balance
from tests.readers.at_once import run_at_once

EARNINGS = chart.writer_earnings("w1", "USD")


@pytest.fixture
def tipped(app: Any) -> Any:
    """w1 was tipped 100 and 33 coins: 70 + 23 cents held under the 7-day refund hold."""
    add_users(app, r1="reader", w1="writer", w2="writer")
    fund(app, "r1", paid=1000)
    for coins in (100, 33):
        app.run(
            lambda s, c=coins: send_tip(
                s, app.settings, actor="t", from_user="r1", to_user="w1", coins=c
            )
        )
    return app


@pytest.fixture
def matured(app: Any) -> Any:
    """Two unlocks of w1's chapters ten days ago: their 7-day holds are over by the real clock
    (70 + 35 cents), and a third unlock today whose hold is not."""
    add_users(app, r1="reader", w1="writer")
    fund(app, "r1", paid=1000)
    for content_id, price in (("c1", 100), ("c2", 50), ("c3", 10)):
        add_item(app, content_id, writer="w1", price=price)
    past = utcnow() - timedelta(days=10)
    for content_id, when in (("c1", past), ("c2", past), ("c3", None)):
        app.run(
            lambda s, c=content_id, w=when: unlock_content(
                s, app.settings, "r1", c, actor="t", now=w
            )
        )
    return app


def earnings_of(app: Any, writer: str) -> list[dict[str, Any]]:
    """Each currency's figures in minor units (the JSON carries money objects)."""
    return [
        {key: value["amount"] if isinstance(value, dict) else value for key, value in row.items()}
        for row in (e.as_json() for e in app.run(lambda s: writer_earnings(s, writer), write=False))
    ]


def minor(row: dict[str, Any], *names: str) -> tuple[int, ...]:
    return tuple(row[name]["amount"] for name in names)


RELEASE = ("earnings", "release", "--yes")


def test_held_earnings_show_on_hold_then_release_exactly_once(tipped: Any) -> None:
    assert earnings_of(tipped, "w1") == [
        {
            "currency": "USD",
            "posted": 0,
            "on_hold": 93,
            "reserved": 0,
            "available": 0,
        }
    ]
    shown = tipped.run(lambda s: writer_earnings(s, "w1"), write=False)[0].as_json()
    assert shown["on_hold"] == {"amount": 93, "currency": "USD", "display": "0.93 USD"}
    early = tipped.run(lambda s: release_held_earnings(s, actor="t", now=utcnow()))
    assert early == []
    assert balance(tipped, EARNINGS)["pending"] == 93

    later = utcnow() + timedelta(days=8)  # a test may inject a clock; the CLI may not
    released = tipped.run(lambda s: release_held_earnings(s, actor="t", now=later))
    assert len(released) == 2
    again = tipped.run(lambda s: release_held_earnings(s, actor="t", now=later))
    assert again == []
    after = balance(tipped, EARNINGS)
    assert (after["posted"], after["pending"], after["available"]) == (93, 0, 93)
    assert earnings_of(tipped, "w1")[0]["on_hold"] == 0
    assert_ledger_ok(tipped)


def test_release_touches_refund_holds_only(tipped: Any) -> None:
    """Other pending entries that are due (an escrow's, a payout's, an operator's) stay pending,
    even when they credit a writer's earnings or carry a ``hold_until``."""
    later = utcnow() + timedelta(days=8)
    due_at = utcnow() - timedelta(days=1)

    def post(spec: ledger.EntrySpec) -> int:
        return tipped.run(lambda s: ledger.post_entries(s, [spec], actor="t"))[0].id  # type: ignore[no-any-return]

    tipped.run(lambda s: ledger.open_account(s, "escrow:1", "USD"))
    tipped.run(lambda s: ledger.open_account(s, "payee", "USD"))
    source = chart.coin_value("USD")
    unmarked = post(transfer(source, EARNINGS, 5, "USD", pending=True, post_at=due_at))
    elsewhere = post(
        transfer(
            "escrow:1",
            "payee",
            7,
            "USD",
            pending=True,
            post_at=due_at,
            metadata={"hold_until": due_at.isoformat()},
        )
    )
    released = tipped.run(lambda s: release_held_earnings(s, actor="t", now=later))
    assert len(released) == 2 and not {unmarked, elsewhere} & set(released)
    for entry_id in (unmarked, elsewhere):
        assert tipped.run(lambda s, e=entry_id: ledger.get_entry(s, e), write=False).status == (
            "pending"
        )
    assert tipped.run(lambda s: due_holds(s, later), write=False) == []
    assert_ledger_ok(tipped)


def test_earnings_of_a_writer_without_any_and_of_non_writers(tipped: Any) -> None:
    assert earnings_of(tipped, "w2") == []
    with pytest.raises(InvalidInput):
        earnings_of(tipped, "r1")
    with pytest.raises(NotFound):
        earnings_of(tipped, "ghost")


def test_cli_release_never_releases_early(tipped: Any, database_url: str) -> None:
    """``--now`` in the future is INVALID_TIME and releases nothing; the real clock decides."""
    future = (utcnow() + timedelta(days=30)).isoformat()
    refused = run_cli(database_url, *RELEASE, "--now", future)
    assert refused.status == 3, refused.stderr
    assert refused.error["code"] == "INVALID_TIME"
    tomorrow = run_cli(database_url, *RELEASE, "--now", "tomorrow")
    assert (tomorrow.status, tomorrow.error["code"]) == (3, "INVALID_TIME")
    now = run_cli(database_url, *RELEASE)
    assert now.status == 0, now.stderr
    assert now.json["released"] == [] and now.json["count"] == 0
    assert balance(tipped, EARNINGS)["pending"] == 93
    assert balance(tipped, EARNINGS)["posted"] == 0


def test_cli_earnings_show_and_release_matured_holds(matured: Any, database_url: str) -> None:
    shown = run_cli(database_url, "earnings", "show", "--writer", "w1")
    assert shown.status == 0, shown.stderr
    assert shown.json["writer"] == "w1"
    [usd] = shown.json["earnings"]
    assert (usd["currency"], *minor(usd, "on_hold", "posted")) == ("USD", 112, 0)
    table = run_cli(database_url, "earnings", "show", "--writer", "w1", output="table")
    assert "1.12 USD" in table.stdout and "112" not in table.stdout.replace("1.12", "")
    past = (utcnow() - timedelta(days=20)).isoformat()
    none_yet = run_cli(database_url, *RELEASE, "--now", past)
    assert none_yet.status == 0 and none_yet.json["count"] == 0

    unconfirmed = run_cli(database_url, "earnings", "release")  # no terminal, no --yes
    assert (unconfirmed.status, unconfirmed.error["code"]) == (2, "USAGE_ERROR")
    assert "--yes" in unconfirmed.error["message"]
    dry = run_cli(database_url, "earnings", "release", "--dry-run")
    assert dry.status == 0 and dry.json["dry_run"] is True and dry.json["count"] == 2
    assert balance(matured, EARNINGS)["pending"] == 112

    first = run_cli(database_url, *RELEASE)
    assert first.status == 0, first.stderr
    assert first.json["count"] == 2 and sorted(first.json["released"]) == sorted(dry.json["due"])
    second = run_cli(database_url, *RELEASE)
    assert second.json == {"now": second.json["now"], "released": [], "count": 0}
    after = run_cli(database_url, "earnings", "show", "--writer", "w1").json["earnings"][0]
    assert minor(after, "posted", "on_hold", "available") == (105, 7, 105)

    not_writer = run_cli(database_url, "earnings", "show", "--writer", "r1")
    assert not_writer.status == 3
    unknown = run_cli(database_url, "earnings", "show", "--writer", "nobody")
    assert (unknown.status, unknown.error["code"]) == (5, "USER_NOT_FOUND")
    positional = run_cli(database_url, "earnings", "show", "w1")
    assert positional.status == 2
    assert_ledger_ok(matured)


def test_concurrent_releases_post_each_hold_once_and_losers_exit_0(
    matured: Any, database_url: str, tmp_path: Path
) -> None:
    """Four releases started at one moment: every one exits 0; together they post each matured
    hold exactly once (on PostgreSQL a loser waits for the winner and then skips what it
    posted, on SQLite it waits for the write lock and finds nothing due)."""
    results = run_at_once(database_url, tmp_path, [list(RELEASE)] * 4)
    assert [result["status"] for result in results] == [0, 0, 0, 0], results
    documents = [json.loads(result["stdout"]) for result in results]
    released = [entry for document in documents for entry in document["released"]]
    assert len(released) == 2 and len(set(released)) == 2
    assert sorted(document["count"] for document in documents)[:3] == [0, 0, 0]
    after = balance(matured, EARNINGS)
    assert (after["posted"], after["pending"]) == (105, 7)
    assert_ledger_ok(matured)
