"""Per-transaction rounding trued up per period: a period of odd-valued unlocks.

Each unlock splits its own value 70/30 with ties to the writer, so a 25-coin chapter (USD 0.25)
pays the writer 18 ¢ (17.5 rounded up) every time. Here:

- w1: five unlocks of 25 coins: V = 125 ¢, credited 5 × 18 = 90; exact 87.5 → 88 (the tie of
  the writer's whole period goes to the writer): adjustment −2;
- w2: four of 15 coins: V = 60, credited 4 × 11 = 44; exact 42: adjustment −2;
- w3: four of 10 coins: V = 40, credited 4 × 7 = 28; exact 28: adjustment 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from legato_pay import chart
from legato_pay.earnings.holds import release_held_earnings
from legato_pay.ledger.types import utcnow
from legato_pay.readers.access import unlock_content
from legato_pay.revenue.runs import run_revenue
from legato_pay.revenue.views import run_lines
from tests.factories import add_content, assert_ledger_ok, balance, fund, make_users
from tests.revenue.helpers import AFTER, IN_PERIOD, PERIOD

EXPECTED = {"w1": (125, 90, 88), "w2": (60, 44, 42), "w3": (40, 28, 28)}


def _without_hold(app: Any) -> Any:
    content = app.settings.content.model_copy(update={"refund_hold_days": 0})
    app.settings = app.settings.model_copy(update={"content": content})
    return app


def _odd_period(app: Any) -> None:
    make_users(app, "w1", "w2", "w3", kind="writer")
    readers = [f"r{i}" for i in range(5)]
    make_users(app, *readers)
    for writer, price in (("w1", 25), ("w2", 15), ("w3", 10)):
        add_content(app, f"{writer}-ch", writer, price)
    plan = [("w1-ch", readers), ("w2-ch", readers[:4]), ("w3-ch", readers[:4])]
    for reader in readers:
        fund(app, reader, paid=100)
    for content, who in plan:
        for reader in who:
            app.run(
                lambda s, r=reader, c=content: unlock_content(
                    s, app.settings, r, c, actor="test", now=IN_PERIOD
                )
            )


def _earned(app: Any, writer: str) -> int:
    earned = balance(app, chart.writer_earnings(writer, "USD"))
    return earned.posted + earned.pending


def test_the_true_up_brings_each_writer_to_the_exact_share(app: Any) -> None:
    _without_hold(app)
    _odd_period(app)
    for writer, (_, credited, _) in EXPECTED.items():
        assert _earned(app, writer) == credited  # the bias before the run: 72 % on w1
    platform_before = balance(app, chart.platform_revenue("content", "USD")).posted
    [view] = run_revenue(app, period=PERIOD, stream="content", now=AFTER)
    _, lines = app.run(lambda s: run_lines(s, view.id), write=False)
    assert {line.writer_id: line.amount for line in lines} == {"w1": -2, "w2": -2, "w3": 0}
    assert {line.writer_id: line.remainder_units for line in lines} == {"w1": 1, "w2": 0, "w3": 0}
    for writer, (value, _, exact) in EXPECTED.items():
        assert _earned(app, writer) == exact
        assert abs(_earned(app, writer) * 100 - value * 70) <= 100  # within one minor unit
    assert balance(app, chart.platform_revenue("content", "USD")).posted == platform_before + 4
    assert view.totals["USD"] == {"value": 225, "credited": 162, "adjustments": -4, "deferred": 0}
    [again] = run_revenue(app, period=PERIOD, stream="content", now=AFTER)
    assert again.replayed and _earned(app, "w1") == 88
    assert_ledger_ok(app)


def test_a_clawback_the_hold_cannot_cover_waits_for_the_next_run(app: Any) -> None:
    _odd_period(app)  # writers' shares pending for 7 days: nothing available to take back
    [first] = run_revenue(app, period=PERIOD, stream="content", now=AFTER)
    _, lines = app.run(lambda s: run_lines(s, first.id), write=False)
    assert {(line.writer_id, line.kind, line.amount, line.entry_id) for line in lines} == {
        ("w1", "deferred", -2, None),
        ("w2", "deferred", -2, None),
        ("w3", "adjustment", 0, None),
    }
    assert first.totals["USD"]["deferred"] == -4
    app.run(lambda s: release_held_earnings(s, actor="test", now=utcnow() + timedelta(days=8)))
    [second] = run_revenue(
        app, period="2026-02", stream="content", now=datetime(2026, 3, 2, tzinfo=UTC)
    )
    _, collected = app.run(lambda s: run_lines(s, second.id), write=False)
    assert {(line.writer_id, line.kind, line.amount) for line in collected} == {
        ("w1", "adjustment", -2),
        ("w2", "adjustment", -2),
    }
    _, settled = app.run(lambda s: run_lines(s, first.id), write=False)
    by_writer = {line.writer_id: line for line in collected}
    for line in settled:
        if line.kind == "deferred":
            assert line.entry_id == by_writer[line.writer_id].entry_id is not None
    for writer, (_, _, exact) in EXPECTED.items():
        assert _earned(app, writer) == exact
    assert_ledger_ok(app)


@pytest.mark.parametrize("stream", ["tips", "licensing", "ads"])
def test_an_empty_stream_runs_to_no_lines(app: Any, stream: str) -> None:
    [view] = run_revenue(app, period=PERIOD, stream=stream, now=AFTER)
    assert view.line_count == 0 and view.totals == {}
