"""App revenue distributions through the service, on SQLite and PostgreSQL: a worked example
computed by hand (remainder units included), a past record date after later transfers, one
ledger entry with a leg per investor, idempotency, dry runs, and refusals that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato_pay import chart
from legato_pay.errors import LegatoError
from legato_pay.ledger import get_entry
from legato_pay.shares.distributions import distribute_revenue, list_distributions, plan_lines
from tests.shares.helpers import counts, issue, make_app, move, posted

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RECORD = T0 + timedelta(days=10)


def distribute(app: Any, amount: str = "100.00", **kw: Any) -> Any:
    kw.setdefault("record_date", RECORD)
    kw.setdefault("currency", "USD")
    return app.run(
        lambda s: distribute_revenue(
            s, actor="test", app_id=kw.pop("app_id", "quill"), amount=amount, **kw
        )
    )


def error_of(call: Any) -> LegatoError:
    with pytest.raises(LegatoError) as caught:
        call()
    return caught.value


def three_holders(app: Any) -> None:
    """alice 3, bob 3, carol 1 unit at the record date (7 units)."""
    make_app(app, "quill", "alice", "bob", "carol", "dave")
    issue(app, "alice", 3, at=T0)
    issue(app, "bob", 3, at=T0)
    issue(app, "carol", 1, at=T0 + timedelta(days=1))


def test_worked_example_by_hand(app: Any) -> None:
    """100.00 USD over 3/3/1 of 7 units: exact shares 42.857142…, 42.857142…, 14.285714… ¢×100
    -> floors 4285, 4285, 1428 = 9998; the two leftover cents go to the largest remainders
    (alice .714…, bob .714…; carol .571… is smaller): 4286, 4286, 1428."""
    three_holders(app)

    view = distribute(app, "100.00", key="q1-2026")

    assert [
        (line.investor, line.units, line.amount, line.remainder_units) for line in view.lines
    ] == [
        ("alice", 3, 4286, 1),
        ("bob", 3, 4286, 1),
        ("carol", 1, 1428, 0),
    ]
    assert (view.amount, view.total_units) == (10000, 7)
    for investor, cents in (("alice", 4286), ("bob", 4286), ("carol", 1428)):
        assert posted(app, chart.investor_earnings(investor, "USD")) == cents
    # ONE entry: the app's funds debited once, one credit leg per investor
    entry = app.run(lambda s: get_entry(s, view.entry_id), write=False)
    legs = sorted((leg.account, leg.side, leg.amount) for leg in entry.legs)
    assert legs == [
        ("app:quill:funds:USD", "debit", 10000),
        ("investor:alice:earnings:USD", "credit", 4286),
        ("investor:bob:earnings:USD", "credit", 4286),
        ("investor:carol:earnings:USD", "credit", 1428),
    ]


def test_past_record_date_ignores_later_transfers(app: Any) -> None:
    three_holders(app)
    move(app, "alice", "dave", 3, at=RECORD + timedelta(seconds=1))  # after the record date
    move(app, "carol", "bob", 1, at=RECORD + timedelta(days=1))

    view = distribute(app, "7.00")

    assert {line.investor: line.amount for line in view.lines} == {
        "alice": 300,
        "bob": 300,
        "carol": 100,
    }
    assert posted(app, chart.investor_earnings("dave", "USD")) == 0
    # and at a record date after those transfers, the new holders are paid
    later = distribute(app, "7.00", record_date=RECORD + timedelta(days=2))
    assert {line.investor: line.amount for line in later.lines} == {"bob": 400, "dave": 300}


def test_idempotent_by_key(app: Any) -> None:
    three_holders(app)
    first = distribute(app, "10.00", key="d-1")
    before = counts(app)

    again = distribute(app, "10.00", key="d-1")

    assert (again.id, again.entry_id, again.replayed) == (first.id, first.entry_id, True)
    assert again.lines == first.lines
    assert counts(app) == before
    conflict = error_of(lambda: distribute(app, "10.01", key="d-1"))
    assert (conflict.code, conflict.exit_status) == ("IDEMPOTENCY_CONFLICT", 6)
    assert counts(app) == before
    listed = app.run(lambda s: list_distributions(s, "quill"), write=False)
    assert [(d.id, d.amount, len(d.lines)) for d in listed] == [(first.id, 1000, 3)]


def test_dry_run_writes_nothing(app: Any) -> None:
    three_holders(app)
    before = counts(app)

    view = distribute(app, "100.00", dry_run=True, key="d-2")

    assert view.dry_run and view.id is None and view.entry_id is None
    assert [line.amount for line in view.lines] == [4286, 4286, 1428]
    assert counts(app) == before
    assert posted(app, chart.investor_earnings("alice", "USD")) == 0


@pytest.mark.parametrize(
    ("kwargs", "code", "status"),
    [
        ({"amount": "-5.00"}, "INVALID_AMOUNT", 3),
        ({"amount": "0"}, "INVALID_AMOUNT", 3),
        ({"amount": "1.001"}, "INVALID_AMOUNT", 3),
        ({"currency": "XX"}, "INVALID_CURRENCY", 3),
        ({"app_id": "nope"}, "APP_NOT_FOUND", 5),
        ({"record_date": datetime(2999, 1, 1, tzinfo=UTC)}, "INVALID_TIME", 3),
        ({"record_date": T0 - timedelta(days=1)}, "NO_HOLDERS", 6),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    app: Any, kwargs: dict[str, Any], code: str, status: int
) -> None:
    three_holders(app)
    before = counts(app)

    error = error_of(lambda: distribute(app, **kwargs))

    assert (error.code, error.exit_status) == (code, status)
    assert counts(app) == before


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=10**12),
    units=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=30),
)
def test_lines_always_sum_to_the_amount(amount: int, units: list[int]) -> None:
    holders = [(f"i{index:02d}", count) for index, count in enumerate(units)]
    lines = plan_lines(amount, holders)
    total = sum(units)
    assert sum(line.amount for line in lines) == amount
    for line in lines:
        exact_floor = amount * line.units // total
        assert line.amount - exact_floor == line.remainder_units in (0, 1)
    assert sum(line.remainder_units for line in lines) < len(lines) or len(lines) == 1


def test_record_date_now_is_the_first_runs_moment_on_a_retry(app: Any) -> None:
    three_holders(app)
    first = distribute(app, "7.00", record_date=None, key="now-1", now=RECORD)

    again = distribute(app, "7.00", record_date=None, key="now-1", now=RECORD + timedelta(days=9))

    assert first.record_date == RECORD
    assert (again.id, again.replayed, again.record_date) == (first.id, True, RECORD)
    assert [line.amount for line in first.lines] == [300, 300, 100]
