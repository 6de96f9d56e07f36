"""Group commit in the webhook listener: many events stored and applied in one transaction must
give each event exactly what it would get alone, and the listener must really form batches."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from legato_pay.gateways.base import PaymentStatus
from legato_pay.readers import purchases
from legato_pay.readers.packages import ensure_default_packages
from legato_pay.store.tables import EVENTS, USERS
from legato_pay.webhooks import inbox
from legato_pay.webhooks.batching import GroupCommitter
from tests.factories import assert_ledger_ok, insert_purchase
from tests.factories import wallet_json as wallet

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PRICE = 150000  # the starter package's NGN price (100 coins, no bonus)


def seed(app: Any, *references: str, user: str = "r1", status: str = "pending") -> None:
    def work(session: Any) -> None:
        ensure_default_packages(session, app.settings)
        if session.execute(USERS.select().where(USERS.c.id == user)).first() is None:
            session.execute(USERS.insert().values(id=user, kind="reader", created_at=NOW))
        for reference in references:
            insert_purchase(
                session,
                reference,
                user,
                package="starter",
                coins=100,
                bonus=0,
                currency="NGN",
                amount=PRICE,
                gateway="paystack",
                status=status,
                at=NOW,
            )

    app.run(work)


def charge(reference: str, *, amount: int = PRICE, status: str = "success") -> tuple[Any, str]:
    body = {
        "event": "charge.success",
        "data": {
            "id": abs(hash(reference)) % 10**9,
            "reference": reference,
            "status": status,
            "amount": amount,
            "currency": "NGN",
        },
    }
    return inbox.parse_paystack(body), json.dumps(body)


def purchase_status(app: Any, reference: str) -> str:
    return app.run(lambda s: purchases.get_purchase(s, reference), write=False).status


def test_a_batch_gives_every_event_what_it_would_get_alone(app: Any) -> None:
    seed(app, "p1", "p2", "p3", "p4")
    seed(app, "p5", user="r2")
    deliveries = [
        charge("p1"),
        charge("p2"),
        charge("p1"),  # the same event again inside the batch
        charge("p3", amount=PRICE - 1),  # underpaid: flagged for a person
        charge("nope"),  # no such purchase
        charge("p5"),  # another reader in the same batch
    ]
    results = app.run(lambda s: inbox.store_and_apply_many(s, deliveries))
    assert results == [
        ("applied", False),
        ("applied", False),
        ("applied", True),
        ("flagged", False),
        ("ignored", False),
        ("applied", False),
    ]
    assert wallet(app, "r1")["paid"] == 200
    assert wallet(app, "r2")["paid"] == 100
    assert [purchase_status(app, ref) for ref in ("p1", "p2", "p3", "p4", "p5")] == [
        "succeeded",
        "succeeded",
        "flagged",
        "pending",
        "succeeded",
    ]
    # Delivered again (a provider retry) with p4 now: only p4 is new.
    again = app.run(lambda s: inbox.store_and_apply_many(s, [*deliveries[:2], charge("p4")]))
    assert again == [("applied", True), ("applied", True), ("applied", False)]
    assert wallet(app, "r1")["paid"] == 300
    events = app.run(lambda s: inbox.list_events(s), write=False)
    assert len(events) == 6  # p1, p2, p3, nope, p5, p4: each stored once
    assert all(event["attempts"] == 1 for event in events)
    assert_ledger_ok(app)


def test_a_failed_event_in_the_inbox_is_applied_again_in_a_batch(app: Any) -> None:
    seed(app, "p1", "p2")
    event, raw = charge("p1")
    app.run(lambda s: inbox.record_failure(s, event, raw, "boom"))
    results = app.run(lambda s: inbox.store_and_apply_many(s, [(event, raw), charge("p2")]))
    assert results == [("applied", True), ("applied", False)]
    assert wallet(app, "r1")["paid"] == 200
    stored = app.run(lambda s: inbox.list_events(s, status="applied"), write=False)
    assert sorted(row["attempts"] for row in stored) == [1, 2]


def test_settle_payments_matches_settle_payment_one_by_one(app: Any) -> None:
    """The rules live in one place: a reference given twice sees the first answer's effect."""
    seed(app, "a1", "a2", "a3")

    def answer(reference: str, status: str, amount: int = PRICE) -> PaymentStatus:
        return PaymentStatus(
            provider="paystack",
            reference=reference,
            provider_payment_id=f"id-{reference}",
            status=status,
            amount=amount,
            currency="NGN",
        )

    batch = [
        answer("a1", "failed"),
        answer("a1", "succeeded"),  # a failed purchase can still be paid
        answer("a2", "succeeded"),
        answer("a2", "succeeded"),  # second answer: no second credit
        answer("a3", "pending"),
        PaymentStatus("stripe", "a3", None, "succeeded", PRICE, "NGN"),  # wrong gateway
    ]
    results = app.run(lambda s: purchases.settle_payments(s, batch, actor="test"))
    assert [getattr(r, "credited", r.code if hasattr(r, "code") else r) for r in results] == [
        False,
        True,
        True,
        False,
        False,
        "GATEWAY_MISMATCH",
    ]
    assert results[0].error is not None and results[0].purchase.status == "failed"
    assert results[1].purchase.status == "succeeded" and results[1].purchase.entry_id
    assert results[3].purchase.entry_id == results[2].purchase.entry_id
    assert wallet(app, "r1")["paid"] == 200
    assert purchase_status(app, "a3") == "pending"
    assert_ledger_ok(app)


def test_group_committer_batches_what_arrives_while_writing() -> None:
    seen: list[list[int]] = []
    gate = threading.Event()

    def apply(items: Any) -> list[int]:
        seen.append(list(items))
        gate.wait(5)  # the first batch is "writing" while the rest arrive
        return [item * 10 for item in items]

    async def scenario() -> list[int]:
        committer: GroupCommitter[int, int] = GroupCommitter(apply, max_batch=3)
        first = asyncio.ensure_future(committer.submit(0))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(committer.submit(n)) for n in range(1, 6)]
        await asyncio.sleep(0.05)
        gate.set()
        return [await first, *[await task for task in rest]]

    assert asyncio.run(scenario()) == [0, 10, 20, 30, 40, 50]
    assert seen == [[0], [1, 2, 3], [4, 5]]


def lingering_committer(linger: float) -> tuple[GroupCommitter[int, int], list[list[int]]]:
    """A committer whose batches are recorded (each item answered with itself)."""
    seen: list[list[int]] = []

    def apply(items: Any) -> list[int]:
        seen.append(list(items))
        return list(items)

    return GroupCommitter(apply, max_batch=10, linger=linger), seen


def test_group_committer_lingers_after_a_large_batch_for_its_senders_to_return() -> None:
    """After a batch of 4, one early arrival is not written alone: the writer waits (at most
    ``linger``) until half as many are queued. After a batch of one it never waits."""
    committer, seen = lingering_committer(5.0)

    async def scenario() -> float:
        await asyncio.gather(*(committer.submit(n) for n in range(4)))  # one batch of 4
        early = asyncio.ensure_future(committer.submit(4))
        await asyncio.sleep(0.1)  # well under the linger: still waiting for a second one
        assert seen == [[0, 1, 2, 3]]
        await committer.submit(5)  # now half of 4 are queued: written together
        await early
        started = time.perf_counter()
        await committer.submit(6)  # after a batch of two, one is enough: no wait
        return time.perf_counter() - started

    assert asyncio.run(scenario()) < 1.0
    assert seen == [[0, 1, 2, 3], [4, 5], [6]]


def test_group_committer_linger_is_bounded() -> None:
    committer, seen = lingering_committer(0.2)

    async def scenario() -> float:
        await asyncio.gather(*(committer.submit(n) for n in range(6)))
        started = time.perf_counter()
        await committer.submit(6)  # nobody else comes: written after the linger
        return time.perf_counter() - started

    waited = asyncio.run(scenario())
    assert 0.15 <= waited < 2.0
    assert seen == [[0, 1, 2, 3, 4, 5], [6]]


def test_group_committer_hands_a_failure_to_each_request_of_that_batch() -> None:
    def apply(items: Any) -> list[int]:
        if 2 in items:
            raise RuntimeError("database went away")
        return list(items)

    async def scenario() -> tuple[list[Any], int]:
        committer: GroupCommitter[int, int] = GroupCommitter(apply, max_batch=10)
        together = await asyncio.gather(
            *(committer.submit(n) for n in (1, 2, 3)), return_exceptions=True
        )
        return together, await committer.submit(4)  # the next batch is written as usual

    together, after = asyncio.run(scenario())
    assert all(isinstance(result, RuntimeError) for result in together)
    assert after == 4


@pytest.mark.parametrize("concurrent_batches", [1, 2])
def test_listener_answers_each_request_after_its_batch_commits(
    app: Any, monkeypatch: pytest.MonkeyPatch, concurrent_batches: int
) -> None:
    """Thirty concurrent deliveries (ten of them repeats) through the ASGI app: every one
    answered 200, each purchase credited once, fewer transactions than events."""
    import httpx

    from legato_pay.webhooks import app as webhook_app
    from legato_pay.webhooks.signatures import sign_paystack

    monkeypatch.setenv("PAYSTACK_SECRET_KEY", "sk_test_batches")
    refs = [f"b{n}" for n in range(20)]
    seed(app, *refs)
    batches: list[int] = []
    original = inbox.store_and_apply_many

    def counting(session: Any, deliveries: Any) -> Any:
        batches.append(len(deliveries))
        return original(session, deliveries)

    monkeypatch.setattr(inbox, "store_and_apply_many", counting)
    settings = app.settings.model_copy(
        update={
            "webhooks": app.settings.webhooks.model_copy(
                update={"concurrent_batches": concurrent_batches}
            )
        }
    )
    asgi = webhook_app.create_app(dataclasses.replace(app, settings=settings))

    async def deliver() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://listener") as client:

            async def post(reference: str) -> httpx.Response:
                _, raw = charge(reference)
                return await client.post(
                    "/webhooks/paystack",
                    content=raw.encode(),
                    headers={
                        "x-paystack-signature": sign_paystack(raw.encode(), "sk_test_batches")
                    },
                )

            return await asyncio.gather(*(post(ref) for ref in refs + refs[:10]))

    responses = asyncio.run(deliver())
    assert [response.status_code for response in responses] == [200] * 30
    duplicates = sum(response.json()["duplicate"] for response in responses)
    assert duplicates == 10
    assert wallet(app, "r1")["paid"] == 2000
    assert sum(batches) == 30 and len(batches) < 30
    assert_ledger_ok(app)


def test_two_batches_at_once_on_postgresql_one_on_sqlite(app: Any) -> None:
    """The default writes two batches at once on PostgreSQL; SQLite has one writer."""
    from legato_pay.webhooks.app import Listener

    listener = Listener(app)
    postgres = app.database_url.startswith("postgresql")
    assert app.settings.webhooks.concurrent_batches == 2
    assert listener.committer._max_in_flight == (2 if postgres else 1)


def test_batch_helpers_round_trip_awkward_values(app: Any) -> None:
    """The batched insert and update (array literals on PostgreSQL, executemany on SQLite)
    keep quotes, backslashes, braces, commas, NULLs and non-ASCII text exactly."""
    from sqlalchemy import select

    from legato_pay.store.engine import insert_rows_ignore, update_rows

    events = EVENTS
    awkward = ['{"a": "b\\\\c"}', "NULL", "x,y} {z", 'é "quoted" ₦', ""]
    rows = [
        {
            "provider": "paystack",
            "event_key": f"k{n}",
            "event_type": "test",
            "object_ref": None,
            "payload": text,
            "status": "received",
            "attempts": 0,
            "received_at": NOW,
        }
        for n, text in enumerate(awkward)
    ]
    inserted = app.run(
        lambda s: insert_rows_ignore(
            s, events, ["provider", "event_key"], rows, ["id", "event_key"]
        )
    )
    assert sorted(row.event_key for row in inserted) == [f"k{n}" for n in range(5)]
    again = app.run(
        lambda s: insert_rows_ignore(s, events, ["provider", "event_key"], rows[:2], ["id"])
    )
    assert again == []  # already there: skipped, nothing returned
    ids = {row.event_key: row.id for row in inserted}
    app.run(
        lambda s: update_rows(
            s,
            events,
            "id",
            [
                {"id": ids[f"k{n}"], "outcome": text[::-1] or None, "attempts": n}
                for n, text in enumerate(awkward)
            ],
        )
    )
    stored = app.run(
        lambda s: s.execute(
            select(events.c.event_key, events.c.payload, events.c.outcome, events.c.attempts)
        ).all(),
        write=False,
    )
    assert sorted(tuple(row) for row in stored) == [
        (f"k{n}", text, text[::-1] or None, n) for n, text in enumerate(awkward)
    ]


def test_column_insert_equals_row_insert_and_skips_existing_rows(app: Any) -> None:
    """``insert_columns_ignore`` (what a revenue run inserts its lines with) stores what
    ``insert_rows_ignore`` stores, returns nothing without ``returning`` and skips rows whose
    unique columns exist."""
    from sqlalchemy import select

    from legato_pay.store.engine import insert_columns_ignore, insert_rows_ignore

    def row(key: str, payload: str | None) -> dict[str, Any]:
        return {
            "provider": "paystack",
            "event_key": key,
            "event_type": "test",
            "object_ref": None,
            "payload": payload,
            "status": "received",
            "attempts": 0,
            "received_at": NOW,
        }

    by_rows = [row("r1", 'a "b" \\ c'), row("r2", "")]
    by_columns = [row("c1", 'a "b" \\ c'), row("c2", "")]
    columns = {name: [r[name] for r in by_columns] for name in by_columns[0]}
    assert (
        app.run(lambda s: insert_rows_ignore(s, EVENTS, ["provider", "event_key"], by_rows, []))
        == []
    )
    assert (
        app.run(lambda s: insert_columns_ignore(s, EVENTS, ["provider", "event_key"], columns, []))
        == []
    )
    again = app.run(
        lambda s: insert_columns_ignore(s, EVENTS, ["provider", "event_key"], columns, ["id"])
    )
    assert again == []  # already there: skipped
    stored = app.run(
        lambda s: s.execute(select(EVENTS.c.event_key, EVENTS.c.payload)).all(), write=False
    )
    assert sorted(tuple(r) for r in stored) == [
        ("c1", 'a "b" \\ c'),
        ("c2", ""),
        ("r1", 'a "b" \\ c'),
        ("r2", ""),
    ]
