"""The exactly-once inbox.

An event is inserted (unique per provider and event key) and applied in the same database
transaction as its ledger effect; only then is it acknowledged. A repeat delivery, or the same
event at two listener processes at once, finds the row already there (PostgreSQL makes the
second insert wait for the first transaction) and applies nothing. An event whose handler
failed is kept as ``failed`` so a later delivery or ``webhooks replay`` applies it.

On PostgreSQL a batch's inbox statements (like the purchases' and the posting's) are plain SQL
on the unit of work's own connection (``store.raw``): the same transaction and locks, without
SQLAlchemy's Python around each statement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, LegatoError, NotFound
from legato_pay.gateways.events import MALFORMED, malformed, parse_event, parse_stored
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store import arrays
from legato_pay.store.dialect import for_update, is_postgres
from legato_pay.store.engine import insert_ignore, insert_rows_ignore, update_rows
from legato_pay.store.raw import pg_execute
from legato_pay.store.tables import EVENTS
from legato_pay.webhooks.dispatch import handle_many
from legato_pay.webhooks.events import STATUSES, Outcome, ParsedEvent

__all__ = [
    "STATUSES",
    "Outcome",
    "ParsedEvent",
    "error_text",
    "failed_ids",
    "list_events",
    "parse_event",
    "parse_paystack",
    "parse_stored",
    "parse_stripe",
    "record_failure",
    "record_replay_failure",
    "replay",
    "show_event",
    "store_and_apply",
    "store_and_apply_many",
]

# PostgreSQL: the batch's inbox statements as plain SQL on the unit of work's connection
# (``store.raw``); one text whatever the batch size, so each is prepared once per connection.
_PG_INSERT_EVENTS = """INSERT INTO webhook_events (provider, event_key, event_type, object_ref,
    payload, status, attempts, received_at)
SELECT provider, event_key, event_type, object_ref, payload, 'received', 0, $6
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS e(provider, event_key, event_type, object_ref, payload)
ON CONFLICT (provider, event_key) DO NOTHING
RETURNING id, provider, event_key"""
_PG_LOCK_STORED = """SELECT id, provider, event_key, status, attempts FROM webhook_events
WHERE (provider, event_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY provider, event_key FOR UPDATE"""
_PG_SET_OUTCOMES = """UPDATE webhook_events AS w
SET status = v.status, outcome = v.outcome, attempts = v.attempts, applied_at = $5,
    last_error = NULL
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[]) AS v(id, status, outcome, attempts)
WHERE w.id = v.id"""


def parse_stripe(body: dict[str, Any]) -> ParsedEvent:
    """A verified Stripe body as the event to store."""
    return parse_event("stripe", body)


def parse_paystack(body: dict[str, Any]) -> ParsedEvent:
    """A verified Paystack body as the event to store."""
    return parse_event("paystack", body)


def store_and_apply(session: Session, event: ParsedEvent, raw_body: str) -> tuple[str, bool]:
    """Store the event and apply it in this transaction. Returns (status, duplicate)."""
    return store_and_apply_many(session, [(event, raw_body)])[0]


def store_and_apply_many(
    session: Session, deliveries: Sequence[tuple[ParsedEvent, str]]
) -> list[tuple[str, bool]]:
    """Store and apply a batch of deliveries in this transaction, in a fixed number of
    statements: one insert for the batch, one lookup of those already there, the handlers
    (payments settled together), one status update. Returns (status, duplicate) per delivery.

    A delivery whose event is already stored is a duplicate and applies nothing, unless the
    stored one failed, which is applied again. A repeat within the batch is a duplicate of
    the first. Rows are inserted and locked in key order, so concurrent batches cannot deadlock.
    """
    first: dict[tuple[str, str], int] = {}
    for index, (event, _) in enumerate(deliveries):
        first.setdefault((event.provider, event.key), index)
    unique = sorted(first)
    inserted = _insert_new(
        session, [(deliveries[first[pair]][0], deliveries[first[pair]][1]) for pair in unique]
    )
    existing = [pair for pair in unique if pair not in inserted]
    stored = _stored_events(session, existing) if existing else {}
    to_apply = [
        (inserted[pair], 0, deliveries[first[pair]][0])
        if pair in inserted
        else (stored[pair][0], stored[pair][2], deliveries[first[pair]][0])
        for pair in unique
        if pair in inserted or stored[pair][1] == "failed"
    ]
    statuses = {pair: status for pair, (_, status, _) in stored.items()}
    if to_apply:
        statuses.update(_apply_many(session, to_apply))
    results = []
    for index, (event, _) in enumerate(deliveries):
        pair = (event.provider, event.key)
        results.append((statuses[pair], pair not in inserted or first[pair] != index))
    return results


def _insert_new(
    session: Session, deliveries: Sequence[tuple[ParsedEvent, str]]
) -> dict[tuple[str, str], int]:
    """Insert the events not stored yet (one statement); the row ids of those inserted."""
    now = utcnow()
    if is_postgres(session):
        return _pg_insert_new(session, deliveries, now)
    rows = insert_rows_ignore(
        session,
        EVENTS,
        ["provider", "event_key"],
        [
            {
                "provider": event.provider,
                "event_key": event.key,
                "event_type": event.type,
                "object_ref": event.object_ref,
                "payload": raw,
                "status": "received",
                "attempts": 0,
                "received_at": now,
            }
            for event, raw in deliveries
        ],
        ["id", "provider", "event_key"],
    )
    return {(row.provider, row.event_key): row.id for row in rows}


def _pg_insert_new(
    session: Session, deliveries: Sequence[tuple[ParsedEvent, str]], now: datetime
) -> dict[tuple[str, str], int]:
    """``_insert_new`` as one prepared statement on the unit of work's connection."""
    columns = [
        arrays.texts([event.provider for event, _ in deliveries]),
        arrays.texts([event.key for event, _ in deliveries]),
        arrays.texts([event.type for event, _ in deliveries]),
        arrays.texts([event.object_ref for event, _ in deliveries]),
        arrays.texts([raw for _, raw in deliveries]),
    ]
    return {
        (row.provider, row.event_key): row.id
        for row in pg_execute(session, _PG_INSERT_EVENTS, [*columns, now])
    }


def _stored_events(
    session: Session, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str, int]]:
    """Events already in the inbox, locked in key order: (row id, status, attempts) by key."""
    if is_postgres(session):
        providers, keys = zip(*pairs, strict=True)
        rows = pg_execute(session, _PG_LOCK_STORED, [arrays.texts(providers), arrays.texts(keys)])
        return {(row.provider, row.event_key): (row.id, row.status, row.attempts) for row in rows}
    query = (
        select(
            EVENTS.c.id, EVENTS.c.provider, EVENTS.c.event_key, EVENTS.c.status, EVENTS.c.attempts
        )
        .where(tuple_(EVENTS.c.provider, EVENTS.c.event_key).in_(pairs))
        .order_by(EVENTS.c.provider, EVENTS.c.event_key)
    )
    return {
        (row.provider, row.event_key): (row.id, row.status, row.attempts)
        for row in session.execute(for_update(query, session))
    }


def _apply_many(
    session: Session, events: Sequence[tuple[int, int, ParsedEvent]]
) -> dict[tuple[str, str], str]:
    """Run the handlers over stored events (row id, attempts so far, event); record outcomes."""
    outcomes = handle_many(session, [event for _, _, event in events])
    _record_outcomes(
        session,
        [
            (row_id, outcome.status, outcome.message or None, attempts + 1)
            for (row_id, attempts, _), outcome in zip(events, outcomes, strict=True)
        ],
    )
    return {
        (event.provider, event.key): outcome.status
        for (_, _, event), outcome in zip(events, outcomes, strict=True)
    }


def _record_outcomes(session: Session, rows: Sequence[tuple[int, str, str | None, int]]) -> None:
    """Save what applying did to each event (row id, status, outcome, attempts): one
    statement."""
    now = utcnow()
    if is_postgres(session):
        ids, statuses, messages, attempts = zip(*rows, strict=True)
        pg_execute(
            session,
            _PG_SET_OUTCOMES,
            [
                arrays.ints(ids),
                arrays.texts(statuses),
                arrays.texts(messages),
                arrays.ints(attempts),
                now,
            ],
        )
        return
    update_rows(
        session,
        EVENTS,
        "id",
        [
            {
                "id": row_id,
                "status": status,
                "outcome": message,
                "attempts": attempts,
                "applied_at": now,
                "last_error": None,
            }
            for row_id, status, message, attempts in rows
        ],
    )


def _apply(session: Session, event_id: int, event: ParsedEvent) -> str:
    attempts = session.execute(
        for_update(select(EVENTS.c.attempts).where(EVENTS.c.id == event_id), session)
    ).scalar_one()
    return _apply_many(session, [(event_id, attempts, event)])[event.provider, event.key]


def record_failure(session: Session, event: ParsedEvent, raw_body: str, error: str) -> None:
    """Keep an event whose handler failed, so nothing acknowledged-or-not is lost."""
    session.execute(
        insert_ignore(session, EVENTS, ["provider", "event_key"]).values(
            provider=event.provider,
            event_key=event.key,
            event_type=event.type,
            object_ref=event.object_ref,
            payload=raw_body,
            status="failed",
            attempts=0,
            received_at=utcnow(),
        )
    )
    session.execute(
        update(EVENTS)
        .where(EVENTS.c.provider == event.provider, EVENTS.c.event_key == event.key)
        .where(EVENTS.c.status.in_(["failed", "received"]))
        .values(status="failed", attempts=EVENTS.c.attempts + 1, last_error=error[:2000])
    )


def replay(session: Session, event_id: int | str) -> dict[str, Any]:
    """Reapply a stored event. Idempotent: handlers credit a payment once however often."""
    row = _row(session, event_id)
    # Under its stored key: a malformed body's key is the digest of the bytes received, and
    # it stays malformed (its stored text may have had undecodable bytes replaced).
    if row.event_type == MALFORMED:
        event = malformed(row.provider, row.payload.encode(), "stored as malformed")
    else:
        event = parse_stored(row.provider, row.payload)
    event = replace(event, key=row.event_key)
    status = _apply(session, row.id, event)
    return {"id": row.id, "provider": row.provider, "type": row.event_type, "status": status}


def _row(session: Session, wanted: int | str) -> Any:
    number = parse_event_id(wanted)
    row = session.execute(select(EVENTS).where(EVENTS.c.id == number)).first()
    if row is None:
        raise NotFound(f"no webhook event {number}", details={"id": number})
    return row


def record_replay_failure(session: Session, event_id: int, error: str) -> None:
    """A replay that failed again: count the attempt and keep why (its transaction rolled
    back, so this is written in one of its own)."""
    session.execute(
        update(EVENTS)
        .where(EVENTS.c.id == event_id)
        .values(attempts=EVENTS.c.attempts + 1, last_error=error[:2000])
    )


def failed_ids(session: Session) -> list[int]:
    return list(
        session.execute(
            select(EVENTS.c.id).where(EVENTS.c.status == "failed").order_by(EVENTS.c.id)
        ).scalars()
    )


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider": row.provider,
        "event_key": row.event_key,
        "type": row.event_type,
        "object_ref": row.object_ref,
        "status": row.status,
        "outcome": row.outcome,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "received_at": _iso(row.received_at),
        "applied_at": _iso(row.applied_at),
    }


def _iso(moment: datetime | None) -> str | None:
    moment = as_utc(moment)
    return moment.isoformat() if moment else None


#: The providers whose events the inbox holds (a filter naming another is VALIDATION_ERROR).
PROVIDERS = ("stripe", "paystack")
#: Largest page ``webhooks list`` returns.
MAX_LIMIT = 10_000
_ID = re.compile(r"[0-9]{1,19}", re.ASCII)


def parse_event_id(value: str | int, field: str = "id") -> int:
    """An inbox row id from the command line: ASCII digits, 1 to 2**63 - 1 (a bigger number,
    Arabic-Indic digits or ``1e3`` is VALIDATION_ERROR, never a database error)."""
    text = str(value).strip()
    number = int(text) if _ID.fullmatch(text) else 0
    if not 1 <= number < 2**63:
        raise InvalidInput(
            f"{field} must be a whole number from 1 to {2**63 - 1}",
            details={field: text[:40]},
        )
    return number


def page_limit(value: str | int) -> int:
    text = str(value).strip()
    number = int(text) if _ID.fullmatch(text) else 0
    if not 1 <= number <= MAX_LIMIT:
        raise InvalidInput(
            f"--limit must be a whole number from 1 to {MAX_LIMIT}", details={"limit": text[:40]}
        )
    return number


@dataclass(frozen=True, slots=True)
class EventPage:
    """Events newest first; ``next_cursor`` (an id) continues below the last one, if more."""

    events: list[dict[str, Any]]
    next_cursor: str | None


def list_events(
    session: Session,
    *,
    status: str | None = None,
    provider: str | None = None,
    limit: int | str = 100,
    cursor: str | None = None,
) -> list[dict[str, Any]]:
    """Stored events, newest first (see ``list_page`` for paging)."""
    return list_page(session, status=status, provider=provider, limit=limit, cursor=cursor).events


def list_page(
    session: Session,
    *,
    status: str | None = None,
    provider: str | None = None,
    limit: int | str = 100,
    cursor: str | None = None,
) -> EventPage:
    """A page of stored events, newest first; filters are checked (an unknown status or
    provider is VALIDATION_ERROR, never an empty page)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(STATUSES)}", details={"status": status}
        )
    if provider is not None and provider not in PROVIDERS:
        raise InvalidInput(
            f"provider must be one of {', '.join(PROVIDERS)}", details={"provider": provider}
        )
    size = page_limit(limit)
    query = select(EVENTS).order_by(EVENTS.c.id.desc()).limit(size + 1)
    if status:
        query = query.where(EVENTS.c.status == status)
    if provider:
        query = query.where(EVENTS.c.provider == provider)
    if cursor is not None:
        query = query.where(EVENTS.c.id < parse_event_id(cursor, "cursor"))
    rows = [_summary(row) for row in session.execute(query)]
    more = len(rows) > size
    rows = rows[:size]
    return EventPage(rows, str(rows[-1]["id"]) if more and rows else None)


def show_event(session: Session, event_id: int | str) -> dict[str, Any]:
    row = _row(session, event_id)
    try:
        payload = json.loads(row.payload)
    except (ValueError, RecursionError):  # a malformed body, kept as received
        payload = row.payload
    return {**_summary(row), "payload": payload}


def error_text(error: BaseException) -> str:
    """What is kept and answered about a failure: a toolkit error's code and message; for
    anything else only its type (and a database's SQLSTATE), never its text, which for a
    database error carries SQL and parameters."""
    if isinstance(error, LegatoError):
        return f"{error.code}: {error.message}"
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return type(error).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
