"""Reading the ledger: balances now and as of a time (ordinary and hot accounts, across seals),
history pages, entry lookup."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest

from legato_pay import ledger
from legato_pay.errors import AccountNotFound, EntryNotFound, InvalidInput, LegatoError
from legato_pay.ledger import EntrySpec, LegSpec, transfer

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def open_account(app: Any, code: str, currency: str = "USD", **options: Any) -> None:
    app.run(lambda s: ledger.open_account(s, code, currency, **options))


def post(app: Any, *specs: EntrySpec, now: datetime | None = None) -> list[ledger.EntryView]:
    return app.run(lambda s: ledger.post_entries(s, list(specs), actor=app.actor, now=now))


def balance(app: Any, code: str, as_of: datetime | None = None) -> tuple[int, int, int]:
    result = app.run(lambda s: ledger.get_balance(s, code, as_of=as_of), write=False)
    return result.posted, result.pending, result.available


def seal(app: Any) -> Any:
    return app.run(lambda s: ledger.seal(s, actor="test"))


def fails(app: Any, work: Callable[[Any], Any], error: type[LegatoError]) -> LegatoError:
    with pytest.raises(error) as caught:
        app.run(work)
    return caught.value


# --- balances as of a time -----------------------------------------------------------------

CODES = ("alice", "bob", "platform", "world:USD")

#: What each account held after each moment of the story below (posted, pending, available).
EXPECTED: dict[float, dict[str, tuple[int, int, int]]] = {
    0: {
        "alice": (0, 0, 0),
        "bob": (0, 0, 0),
        "platform": (0, 0, 0),
        "world:USD": (0, 0, 0),
    },
    1: {
        "alice": (1000, 0, 1000),
        "bob": (0, 0, 0),
        "platform": (0, 0, 0),
        "world:USD": (-1000, 0, -1000),
    },
    2: {
        "alice": (600, 0, 600),
        "bob": (300, 0, 300),
        "platform": (100, 0, 100),
        "world:USD": (-1000, 0, -1000),
    },
    3: {
        "alice": (600, -200, 400),
        "bob": (300, 200, 300),
        "platform": (100, 0, 100),
        "world:USD": (-1000, 0, -1000),
    },
    4: {
        "alice": (400, 0, 400),
        "bob": (500, 0, 500),
        "platform": (100, 0, 100),
        "world:USD": (-1000, 0, -1000),
    },
    5: {
        "alice": (440, 0, 440),
        "bob": (500, 0, 500),
        "platform": (110, 0, 110),
        "world:USD": (-1050, 0, -1050),
    },
    6: {
        "alice": (440, 0, 440),
        "bob": (500, 0, 500),
        "platform": (90, 0, 90),
        "world:USD": (-1030, 0, -1030),
    },
}


def check_history_of_balances(app: Any, upto: float) -> None:
    """Every account as of every moment of the story so far, and half an hour after each."""
    for hour, expected in EXPECTED.items():
        if hour > upto:
            continue
        for moment in (at(hour), at(hour + 0.5)):
            later = min((h for h in EXPECTED if h > hour), default=None)
            if moment != at(hour) and (later is None or later > upto):
                continue  # half an hour after the last step is just "now"
            found = {code: balance(app, code, as_of=moment) for code in CODES}
            assert found == expected, f"as of {moment.isoformat()}"
    assert {code: balance(app, code) for code in CODES} == EXPECTED[upto]


def test_balances_as_of_a_time_for_ordinary_and_hot_accounts_across_seals(app: Any) -> None:
    open_account(app, "alice", no_overdraft=True)
    open_account(app, "bob")
    open_account(app, "platform", hot=True)
    post(app, transfer("world:USD", "alice", 1000, "USD"), now=at(1))
    post(
        app,
        transfer("alice", "bob", 300, "USD"),
        transfer("alice", "platform", 100, "USD"),
        now=at(2),
    )
    [pending] = post(app, transfer("alice", "bob", 200, "USD", pending=True), now=at(3))
    app.run(lambda s: ledger.resolve_pending(s, pending.id, post=True, actor="t", now=at(4)))
    check_history_of_balances(app, upto=4)

    first = seal(app)
    assert (first.seals, first.entries) == (1, 5)
    check_history_of_balances(app, upto=4)

    post(
        app,
        transfer("world:USD", "alice", 50, "USD"),
        transfer("alice", "platform", 10, "USD"),
        now=at(5),
    )
    check_history_of_balances(app, upto=5)
    seal(app)
    check_history_of_balances(app, upto=5)

    # the hot accounts move again after the second seal, without a third one
    post(app, transfer("platform", "world:USD", 20, "USD"), now=at(6))
    check_history_of_balances(app, upto=6)
    report = app.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems
    assert report.sealed_entries == 7


def test_as_of_accepts_any_offset_and_naive_utc(app: Any) -> None:
    open_account(app, "alice")
    post(app, transfer("world:USD", "alice", 100, "USD"), now=at(1))
    post(app, transfer("world:USD", "alice", 50, "USD"), now=at(2))
    moment = at(1.5)  # 09:30 UTC
    for same_moment in (
        moment,
        moment.astimezone(timezone(timedelta(hours=5))),  # 14:30+05:00
        moment.astimezone(timezone(timedelta(hours=-5))),  # 04:30-05:00
        moment.replace(tzinfo=None),  # naive: taken as UTC
    ):
        assert balance(app, "alice", as_of=same_moment) == (100, 0, 100)
        assert balance(app, "world:USD", as_of=same_moment) == (-100, 0, -100)
    result = app.run(
        lambda s: ledger.get_balance(s, "alice", as_of=moment.replace(tzinfo=None)), write=False
    )
    assert result.as_of == moment
    assert result.as_json()["as_of"] == moment.isoformat()


def test_postings_at_other_offsets_are_stored_as_utc(app: Any) -> None:
    open_account(app, "alice")
    lagos = timezone(timedelta(hours=1))
    [view] = post(app, transfer("world:USD", "alice", 100, "USD"), now=at(1).astimezone(lagos))
    stored = app.run(lambda s: ledger.get_entry(s, view.id), write=False)
    assert stored.created_at == at(1)
    assert stored.created_at.utcoffset() == timedelta(0)
    assert balance(app, "alice", as_of=at(0.9)) == (0, 0, 0)
    assert balance(app, "alice", as_of=at(1)) == (100, 0, 100)


# --- history -------------------------------------------------------------------------------


def leg_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["entry_id"], row["side"], row["amount"], row["pending_amount"])


def test_history_pages_cover_every_leg_once_in_order(app: Any) -> None:
    open_account(app, "alice")
    open_account(app, "bob")
    post(
        app,
        *[transfer("world:USD", "alice", 100 + i, "USD") for i in range(6)],
        transfer("alice", "bob", 7, "USD"),
        EntrySpec(  # two legs on alice in one entry
            legs=(
                LegSpec("world:USD", "debit", 100),
                LegSpec("alice", "credit", 60),
                LegSpec("alice", "credit", 40),
            )
        ),
    )
    [pending] = post(app, transfer("alice", "bob", 30, "USD", pending=True))
    app.run(lambda s: ledger.resolve_pending(s, pending.id, post=True, amount=20, actor="t"))

    everything = app.run(lambda s: ledger.history(s, "alice", limit=10000), write=False)
    assert everything.next_cursor is None
    assert len(everything.rows) == 11
    assert (everything.account, everything.currency) == ("alice", "USD")

    pages, cursor = [], None
    while True:
        page = app.run(
            lambda s, c=cursor: ledger.history(s, "alice", limit=2, cursor=c), write=False
        )
        pages.append(page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(rows) for rows in pages] == [2, 2, 2, 2, 2, 1]
    flat = [row for rows in pages for row in rows]
    assert [leg_key(r) for r in flat] == [leg_key(r) for r in everything.rows]
    entry_ids = [row["entry_id"] for row in flat]
    assert entry_ids == sorted(entry_ids, reverse=True)  # newest first
    assert sorted(r["amount"] for r in flat if r["entry_id"] == 8) == [40, 60]

    # balance_after walks back one leg at a time to zero
    now = app.run(lambda s: ledger.get_balance(s, "alice"), write=False)
    assert flat[0]["balance_after"] == now.posted == 615 + 100 - 7 - 20
    for newer, older in pairwise(flat):
        signed = newer["amount"] if newer["side"] == "credit" else -newer["amount"]
        assert newer["balance_after"] - signed == older["balance_after"]
    assert flat[-1]["balance_after"] == flat[-1]["amount"]
    assert flat[0]["kind"] == "post_pending"
    assert flat[1]["kind"] == "pending"
    assert (flat[1]["amount"], flat[1]["pending_amount"]) == (0, 30)
    assert flat[0]["actor"] == "t"


def test_a_cursor_is_stable_while_new_entries_arrive(app: Any) -> None:
    open_account(app, "alice")
    post(app, *[transfer("world:USD", "alice", 10 + i, "USD") for i in range(5)])
    first = app.run(lambda s: ledger.history(s, "alice", limit=2), write=False)
    post(app, transfer("world:USD", "alice", 99, "USD"))
    second = app.run(
        lambda s: ledger.history(s, "alice", limit=10, cursor=first.next_cursor), write=False
    )
    amounts = [r["amount"] for r in first.rows] + [r["amount"] for r in second.rows]
    assert amounts == [14, 13, 12, 11, 10]


def test_history_of_a_hot_account_has_no_running_balance(app: Any) -> None:
    open_account(app, "alice")
    post(app, transfer("world:USD", "alice", 10, "USD"))
    page = app.run(lambda s: ledger.history(s, "world:USD"), write=False)
    assert [(r["side"], r["amount"], r["balance_after"]) for r in page.rows] == [
        ("debit", 10, None)
    ]


def test_history_refuses_bad_arguments(app: Any) -> None:
    open_account(app, "alice")
    not_numbers = base64.urlsafe_b64encode(b"x:y").decode()
    for cursor in ("!!!", not_numbers, "bm9jb2xvbg"):
        error = fails(app, lambda s, c=cursor: ledger.history(s, "alice", cursor=c), InvalidInput)
        assert error.details == {"cursor": cursor}
    for limit in (0, -1, 10001):
        fails(app, lambda s, n=limit: ledger.history(s, "alice", limit=n), InvalidInput)
    fails(app, lambda s: ledger.history(s, "nobody"), AccountNotFound)


# --- lookups -------------------------------------------------------------------------------


def test_get_entry_and_lock_balances(app: Any) -> None:
    open_account(app, "alice", no_overdraft=True)
    [view] = post(app, transfer("world:USD", "alice", 70, "USD", idempotency_key="k"))
    assert app.run(lambda s: ledger.get_entry(s, view.id), write=False).idempotency_key == "k"
    error = fails(app, lambda s: ledger.get_entry(s, view.id + 100), EntryNotFound)
    assert error.details == {"entry_id": view.id + 100}
    locked = app.run(lambda s: ledger.lock_balances(s, ["alice", "world:USD"]))
    assert {code: b.available for code, b in locked.items()} == {"alice": 70, "world:USD": -70}


def test_account_pages_continue_after_the_cursor_with_totals_per_page(app: Any) -> None:
    from legato_pay.ledger.queries import account_page

    for code in ("a:1", "a:2", "a:3"):
        open_account(app, code)
    open_account(app, "b:eur", "EUR")
    post(app, transfer("world:USD", "a:1", 100, "USD"), transfer("world:USD", "a:3", 5, "USD"))
    post(app, transfer("world:EUR", "b:eur", 7, "EUR", pending=True))
    first = app.run(lambda s: account_page(s, prefix="a:", limit=2), write=False)
    assert [a.code for a, _ in first.accounts] == ["a:1", "a:2"]
    assert (first.next_cursor, first.totals) == ("a:2", {"USD": (100, 0, 100)})
    rest = app.run(
        lambda s: account_page(s, prefix="a:", limit=2, after=first.next_cursor), write=False
    )
    assert [a.code for a, _ in rest.accounts] == ["a:3"]
    assert (rest.next_cursor, rest.totals) == (None, {"USD": (5, 0, 5)})
    everything = app.run(lambda s: account_page(s), write=False)
    # the world balances posted and pending out; its outgoing reservation lowers available
    assert everything.totals == {"EUR": (0, 0, -7), "USD": (0, 0, 0)}
    held = app.run(lambda s: account_page(s, prefix="b:"), write=False)
    assert held.totals == {"EUR": (0, 7, 0)}
    for limit in (0, 10001):
        with pytest.raises(InvalidInput):
            app.run(lambda s, n=limit: account_page(s, limit=n), write=False)
