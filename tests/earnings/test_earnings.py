"""Writers' earnings: the refund hold, its release (exactly once), and the earnings view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from legato_pay import chart
from legato_pay.earnings.holds import release_held_earnings
from legato_pay.errors import InvalidInput, NotFound
from legato_pay.ledger.types import utcnow
from legato_pay.readers.balances import writer_earnings
from legato_pay.readers.tips import send_tip
from tests.cli_runner import run_cli
from tests.factories import add_users, assert_ledger_ok, fund
from tests.factories import balance_json as balance

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


def earnings_of(app: Any, writer: str) -> list[dict[str, Any]]:
    return [e.as_json() for e in app.run(lambda s: writer_earnings(s, writer), write=False)]


def test_held_earnings_show_on_hold_then_release_exactly_once(tipped: Any) -> None:
    assert earnings_of(tipped, "w1") == [
        {
            "currency": "USD",
            "posted": 0,
            "on_hold": 93,
            "reserved": 0,
            "available": 0,
            "display": "0.00 USD",
        }
    ]
    early = tipped.run(lambda s: release_held_earnings(s, actor="t", now=utcnow()))
    assert early == []
    assert balance(tipped, EARNINGS)["pending"] == 93

    later = utcnow() + timedelta(days=8)
    released = tipped.run(lambda s: release_held_earnings(s, actor="t", now=later))
    assert len(released) == 2
    again = tipped.run(lambda s: release_held_earnings(s, actor="t", now=later))
    assert again == []
    after = balance(tipped, EARNINGS)
    assert (after["posted"], after["pending"], after["available"]) == (93, 0, 93)
    assert earnings_of(tipped, "w1")[0]["on_hold"] == 0
    assert_ledger_ok(tipped)


def test_earnings_of_a_writer_without_any_and_of_non_writers(tipped: Any) -> None:
    assert earnings_of(tipped, "w2") == []
    with pytest.raises(InvalidInput):
        earnings_of(tipped, "r1")
    with pytest.raises(NotFound):
        earnings_of(tipped, "ghost")


def test_cli_earnings_show_and_release(tipped: Any, database_url: str) -> None:
    shown = run_cli(database_url, "earnings", "show", "w1")
    assert shown.status == 0, shown.stderr
    assert shown.json["writer"] == "w1"
    assert [(e["currency"], e["on_hold"], e["posted"]) for e in shown.json["earnings"]] == [
        ("USD", 93, 0)
    ]

    future = (utcnow() + timedelta(days=30)).isoformat()
    first = run_cli(database_url, "earnings", "release", "--now", future)
    assert first.status == 0, first.stderr
    assert first.json["count"] == 2 and len(first.json["released"]) == 2
    second = run_cli(database_url, "earnings", "release", "--now", future)
    assert second.json == {"now": second.json["now"], "released": [], "count": 0}
    after = run_cli(database_url, "earnings", "show", "w1").json["earnings"][0]
    assert (after["posted"], after["on_hold"], after["available"]) == (93, 0, 93)

    assert run_cli(database_url, "earnings", "release", "--now", "tomorrow").status == 3
    not_writer = run_cli(database_url, "earnings", "show", "r1")
    assert not_writer.status == 3
    assert balance(tipped, EARNINGS)["posted"] == 93
    assert_ledger_ok(tipped)
