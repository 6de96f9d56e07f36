"""Pending entries carry their own "post at" time: ``due_pending`` finds the ones whose time has
come through the index on ``ledger_pending``, whatever their metadata says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from legato_pay import ledger
from legato_pay.earnings.holds import release_held_earnings
from legato_pay.errors import InvalidInput
from legato_pay.ledger import transfer
from legato_pay.store.tables import PENDING

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def post(app: Any, *specs: ledger.EntrySpec) -> list[ledger.EntryView]:
    return app.run(lambda s: ledger.post_entries(s, list(specs), actor=app.actor, now=T0))


def due(app: Any, now: datetime, **options: Any) -> list[int]:
    return app.run(lambda s: ledger.due_pending(s, now, **options), write=False)


@pytest.fixture
def funded(app: Any) -> Any:
    app.run(lambda s: ledger.open_account(s, "wallet", "USD", no_overdraft=True))
    app.run(lambda s: ledger.open_account(s, "earnings", "USD", no_overdraft=True))
    post(app, transfer("world:USD", "wallet", 10_000, "USD"))
    return app


def held(app: Any, amount: int, post_at: datetime | None, **options: Any) -> int:
    spec = transfer("wallet", "earnings", amount, "USD", pending=True, post_at=post_at, **options)
    return post(app, spec)[0].id


def test_due_pending_finds_holds_once_their_time_has_come(funded: Any) -> None:
    late = held(funded, 100, T0 + timedelta(days=7))
    early = held(funded, 200, T0 + timedelta(days=2))
    held(funded, 300, None)  # no time of its own: never due
    assert due(funded, T0) == []
    assert due(funded, T0 + timedelta(days=2) - timedelta(microseconds=1)) == []
    assert due(funded, T0 + timedelta(days=2)) == [early]
    assert due(funded, T0 + timedelta(days=30)) == [early, late]  # earliest first
    assert due(funded, T0 + timedelta(days=30), limit=1) == [early]


def test_resolved_entries_are_no_longer_due(funded: Any) -> None:
    posted = held(funded, 100, T0 + timedelta(days=1))
    voided = held(funded, 200, T0 + timedelta(days=1))
    funded.run(lambda s: ledger.resolve_pending(s, posted, post=True, actor="t"))
    funded.run(lambda s: ledger.resolve_pending(s, voided, post=False, actor="t"))
    assert due(funded, T0 + timedelta(days=2)) == []


def test_post_at_is_stored_in_utc_on_the_pending_row(funded: Any) -> None:
    at = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    entry_id = held(funded, 100, at)
    stored = funded.run(
        lambda s: s.execute(
            select(PENDING.c.post_at).where(PENDING.c.entry_id == entry_id)
        ).scalar_one(),
        write=False,
    )
    assert ledger.types.as_utc(stored) == at


def test_only_pending_entries_can_be_posted_later(funded: Any) -> None:
    spec = transfer("wallet", "earnings", 100, "USD", post_at=T0 + timedelta(days=1))
    with pytest.raises(InvalidInput) as caught:
        post(funded, spec)
    assert caught.value.details == {"field": "post_at"}


def test_holds_are_released_by_post_at_not_by_their_metadata(funded: Any) -> None:
    """The release job reads ``post_at`` for the time: a hold_until in the metadata (which marks
    a refund hold, a pending credit to a writer's earnings) never releases it early."""
    from legato_pay import chart

    earnings = funded.run(lambda s: chart.open_writer_earnings(s, "w1", "USD")).code
    past = (T0 - timedelta(days=30)).isoformat()

    def hold(amount: int, post_at: datetime, hold_until: str) -> int:
        spec = transfer(
            "wallet",
            earnings,
            amount,
            "USD",
            pending=True,
            post_at=post_at,
            metadata={"hold_until": hold_until},
        )
        return post(funded, spec)[0].id

    decoy = hold(100, T0 + timedelta(days=7), past)
    plain = hold(200, T0 + timedelta(days=1), (T0 + timedelta(days=1)).isoformat())
    release = funded.run(lambda s: release_held_earnings(s, actor="t", now=T0 + timedelta(days=2)))
    assert release == [plain]
    assert funded.run(lambda s: ledger.get_entry(s, decoy), write=False).status == "pending"
    later = funded.run(lambda s: release_held_earnings(s, actor="t", now=T0 + timedelta(days=7)))
    assert later == [decoy]
    report = funded.run(ledger.verify_ledger, write=False)
    assert report.ok, report.problems
