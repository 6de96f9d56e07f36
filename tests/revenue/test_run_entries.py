"""The pool run's ledger structure: writers paid by shared multi-leg entries, exact per writer."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from legato_pay import chart
from legato_pay.earnings.holds import release_held_earnings
from legato_pay.revenue import runs
from legato_pay.revenue.runs import run_revenue
from legato_pay.revenue.views import run_lines
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, PENDING
from tests.factories import assert_ledger_ok, balance, make_users
from tests.revenue.helpers import AFTER, PERIOD, read, subscribe, writers_with_content

WRITERS = [f"w{i}" for i in range(7)]


@pytest.fixture
def period(app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Seven writers (three to an entry: groups of 3, 3 and 1), four subscribers."""
    monkeypatch.setattr(runs, "WRITERS_PER_ENTRY", 3)
    monkeypatch.setattr(runs, "BATCH", 2)  # the groups span two ledger calls
    writers_with_content(app, *WRITERS)
    readers = [f"r{i}" for i in range(4)]
    make_users(app, *readers)
    for index, reader in enumerate(readers):
        subscribe(app, reader, 499 + 333 * index)
    read(
        app,
        *[
            (r, w, 1 + (5 * i + 7 * j) % 13)
            for i, r in enumerate(readers)
            for j, w in enumerate(WRITERS)
        ],
    )
    return app


def _lines(app: Any, view: Any) -> list[Any]:
    assert view.id is not None
    return list(app.run(lambda s: run_lines(s, view.id)[1], write=False))


def _legs(session: Any, entry_ids: set[int]) -> list[tuple[int, str, bool, int, int]]:
    rows = session.execute(
        select(
            LEGS.c.entry_id, ACCOUNTS.c.code, LEGS.c.is_debit, LEGS.c.amount, LEGS.c.pending_amount
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(LEGS.c.entry_id.in_(entry_ids))
    )
    return [(int(e), str(c), bool(d), int(a), int(p)) for e, c, d, a, p in rows]


def test_each_writer_entry_pays_its_writers_exactly_and_balances(period: Any) -> None:
    [view] = run_revenue(period, period=PERIOD, now=AFTER)
    lines = _lines(period, view)
    assert len(lines) == len(WRITERS) and all(line.amount > 0 for line in lines)
    entry_ids = {line.entry_id for line in lines}
    assert None not in entry_ids and len(entry_ids) == 3  # 7 writers, 3 to an entry
    legs = period.run(lambda s: _legs(s, entry_ids), write=False)
    pool = chart.subscription_pool(PERIOD, "USD")
    by_entry: dict[int, dict[str, int]] = defaultdict(dict)
    for entry, code, is_debit, amount, pending in legs:
        assert amount == 0 and pending > 0  # held: the refund hold, nothing available yet
        assert is_debit == (code == pool)
        by_entry[entry][code] = pending
    for entry, per_code in by_entry.items():
        credits = {code: value for code, value in per_code.items() if code != pool}
        assert per_code[pool] == sum(credits.values())  # the source's one leg: the group's total
        paid = {
            chart.writer_earnings(line.writer_id, "USD"): line.amount
            for line in lines
            if line.entry_id == entry
        }
        assert credits == paid  # each writer's leg is their line, to the minor unit
    assert sorted(len(v) - 1 for v in by_entry.values()) == [1, 3, 3]
    writers_total = sum(line.amount for line in lines)
    assert writers_total == view.totals["USD"]["writers"]
    assert writers_total + view.totals["USD"]["platform"] == view.totals["USD"]["pool"]
    for line in lines:
        held = balance(period, chart.writer_earnings(line.writer_id, "USD"))
        assert (held.pending, held.available) == (line.amount, 0)
    assert_ledger_ok(period)


def test_the_shared_entries_are_refund_holds_released_whole(period: Any) -> None:
    [view] = run_revenue(period, period=PERIOD, now=AFTER)
    lines = _lines(period, view)
    entry_ids = {line.entry_id for line in lines}
    held = period.run(
        lambda s: s.execute(
            select(PENDING.c.entry_id, PENDING.c.post_at, ENTRIES.c.metadata_json)
            .join(ENTRIES, ENTRIES.c.id == PENDING.c.entry_id)
            .where(PENDING.c.entry_id.in_(entry_ids), PENDING.c.status == "pending")
        ).all(),
        write=False,
    )
    assert {row.entry_id for row in held} == entry_ids
    assert all('"hold_until"' in row.metadata_json for row in held)
    later = AFTER + timedelta(days=period.settings.content.refund_hold_days, seconds=1)
    released = period.run(lambda s: release_held_earnings(s, actor="test", now=later))
    assert set(released) == entry_ids
    for line in lines:
        paid = balance(period, chart.writer_earnings(line.writer_id, "USD"))
        assert (paid.available, paid.pending) == (line.amount, 0)
    assert_ledger_ok(period)
