"""Posting: the one path through which value moves.

Every entry, whatever its kind, goes through ``apply_prepared``, which keeps the posting path to
a handful of statements: one conditional ``UPDATE … RETURNING`` per non-hot account (in id
order, so concurrent postings lock accounts in the same order and never deadlock each other;
the ``WHERE`` clause enforces no-overdraft limits against the latest committed totals, so
concurrent spends can never overdraw and no update is lost at READ COMMITTED), one multi-row
insert of the entries and one of the legs. Hot accounts are never updated here; ``seal`` rolls
them up.

On PostgreSQL each posting also takes a shared advisory lock that ``seal`` takes exclusively for
an instant, so the seal's watermark never passes an entry that is still in flight; all of it is
one prepared statement (``ledger.postgres``). SQLite runs the steps one by one
(``ledger.sqlite``). Checking and shaping entries is ``ledger.shaping``; resolving pending
entries and reversals is ``ledger.pending``.

The ledger's clock: an entry is stamped (``created_at``, its legs' too) with the caller's time
(the real clock unless a job passes its own), or with the last leg of a non-hot account it
touches if that is later (``last_leg_at``, moved up by the same conditional update as the
totals). So on every non-hot account legs are stamped in posting order, which the as-of lookup
(the running totals of the last leg by a time) relies on; the caller's time, when earlier, is
kept as the entry's ``effective_at`` (unless the entry has its own).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from legato_pay.audit import check_actor
from legato_pay.errors import InvalidInput
from legato_pay.idempotency import ensure_same_hash
from legato_pay.ledger.accounts import cached_accounts, resolve_accounts
from legato_pay.ledger.postgres import (
    KeysSeen,
    PgBatch,
    build_pg_batch,
    run_pg_batch,
    run_pg_batch_alone,
)
from legato_pay.ledger.shaping import Prepared, check_reason, leg_views, prepare_entry
from legato_pay.ledger.sqlite import apply_entries
from legato_pay.ledger.types import EntrySpec, EntryView, as_utc, utcnow
from legato_pay.store.dialect import is_postgres
from legato_pay.store.engine import run_in_transaction
from legato_pay.store.tables import ENTRIES

#: GIL switch interval (seconds) while ``post_entry_batches`` runs its writer thread.
WRITER_SWITCH_INTERVAL = 0.0005


def post_entries(
    session: Session, specs: Sequence[EntrySpec], *, actor: str, now: datetime | None = None
) -> list[EntryView]:
    """Post entries atomically (all or none) within the caller's unit of work and return them
    in order.

    An entry whose idempotency key was seen before returns the original (``replayed``) when its
    content is the same and raises ``IDEMPOTENCY_CONFLICT`` when it differs.
    """
    return post_prepared(session, prepare_entries(session, specs), actor=actor, now=now)


def post_entry(
    engine: Engine, spec: EntrySpec, *, actor: str, now: datetime | None = None
) -> EntryView:
    """Post one entry in a transaction of its own: for callers with nothing else to write in
    it (a single ``ledger post``, one event at a time). Same result, errors and replays as
    ``post_entries`` in a unit of work of its own.

    On PostgreSQL, when the entry's accounts are known to this process, no unit of work is
    opened: the posting statement runs alone on this thread's own autocommit connection (kept
    for the process, ``store.raw.autocommit_cursor``), its own transaction (one round trip
    instead of ``BEGIN``, statement, ``COMMIT``). Anything unusual (a key seen
    before, a limit, a lost race, an account not cached yet) makes the server refuse it whole,
    and the ordinary path runs and says why."""
    if is_postgres(engine):
        view = _post_lean(engine, spec, actor=actor, now=now)
        if view is not None:
            return view
    return run_in_transaction(engine, lambda s: post_entries(s, [spec], actor=actor, now=now))[0]


def _post_lean(
    engine: Engine, spec: EntrySpec, *, actor: str, now: datetime | None
) -> EntryView | None:
    """The entry posted by its statement alone, or None if the ordinary path must run."""
    accounts = cached_accounts(engine, {leg.account for leg in spec.legs})
    if accounts is None:
        return None
    check_actor(actor)
    entry = prepare_entry(spec, accounts)
    moment = as_utc(now) or utcnow()
    batch = build_pg_batch([entry], find=True, lock=True, alone=True)
    posted = run_pg_batch_alone(engine, [entry], batch, actor, moment)
    if posted is None:
        return None
    ids, created_at = posted
    return entry_views([entry], ids, actor, created_at, moment)[0]


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """Entries checked and shaped for posting: all that is left is the write. Accounts are
    immutable and never deleted, so a batch prepared in one unit of work posts in another.
    On PostgreSQL it also holds the posting statement's parameters, so that the unit of work
    that writes it only runs the statement."""

    entries: tuple[Prepared, ...]
    statement: PgBatch | None = None


def prepare_entries(session: Session, specs: Sequence[EntrySpec]) -> PreparedBatch:
    """Validate entries and resolve their accounts (no writes unless ``world:<CUR>`` is new)."""
    keys = [spec.idempotency_key for spec in specs if spec.idempotency_key is not None]
    if len(keys) != len(set(keys)):
        raise InvalidInput("the same idempotency key appears twice in one batch")
    accounts = resolve_accounts(session, {leg.account for spec in specs for leg in spec.legs})
    entries = tuple(prepare_entry(spec, accounts) for spec in specs)
    if entries and is_postgres(session):
        return PreparedBatch(entries, build_pg_batch(entries, find=True, lock=True))
    return PreparedBatch(entries)


def post_prepared(
    session: Session, batch: PreparedBatch, *, actor: str, now: datetime | None = None
) -> list[EntryView]:
    """Post a prepared batch atomically; the second half of ``post_entries``."""
    prepared = batch.entries
    locked = False
    if prepared and is_postgres(session):
        # One statement looks the keys up and, if none was seen before, posts the batch.
        try:
            return apply_prepared(
                session, prepared, actor=actor, now=now, find_replays=True, batch=batch.statement
            )
        except KeysSeen as seen:  # nothing was posted; the journal lock is held
            replays = _replays_from_rows(session, prepared, seen.rows)
            locked = True
    else:
        replays = find_replays(session, prepared)
    fresh = [entry for index, entry in enumerate(prepared) if index not in replays]
    posted = iter(apply_prepared(session, fresh, actor=actor, now=now, locked=locked))
    return [replays[i] if i in replays else next(posted) for i in range(len(prepared))]


def post_entry_batches(
    engine: Engine, batches: Iterable[Sequence[EntrySpec]], *, actor: str
) -> Iterator[list[EntryView]]:
    """Post batches one transaction each, checking and shaping the next batch while the current
    one is written (its statement runs on the server while this thread prepares): for imports
    and bulk jobs. Yields each batch's entries, in order. Stops at the first batch that fails:
    the batches before it stay posted, and with idempotency keys a rerun replays them."""
    from concurrent.futures import Future, ThreadPoolExecutor

    # While this thread prepares, the writer wakes up when the server answers and needs the GIL
    # back; with the default 5 ms switch interval it would wait that long each time (a fifth of
    # a 1,000-entry batch's time). Restored when the batches are done.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, WRITER_SWITCH_INTERVAL))
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-writer") as writer:
            writing: Future[list[EntryView]] | None = None
            for specs in batches:
                batch = run_in_transaction(engine, partial(prepare_entries, specs=specs))
                if writing is not None:
                    yield writing.result()
                writing = writer.submit(
                    run_in_transaction, engine, partial(post_prepared, batch=batch, actor=actor)
                )
            if writing is not None:
                yield writing.result()
    finally:
        sys.setswitchinterval(interval)


def find_replays(session: Session, prepared: Sequence[Prepared]) -> dict[int, EntryView]:
    """Originals (by index in ``prepared``) of the entries whose keys were used before."""
    keys = [entry.key for entry in prepared if entry.key is not None]
    if not keys:
        return {}
    rows: list[tuple[int, str, str]] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows += [
            (row[0], row[1], row[2])
            for row in session.execute(
                select(ENTRIES.c.id, ENTRIES.c.idempotency_key, ENTRIES.c.content_hash).where(
                    ENTRIES.c.idempotency_key.in_(chunk)
                )
            )
        ]
    return _replays_from_rows(session, prepared, rows)


def _replays_from_rows(
    session: Session, prepared: Sequence[Prepared], rows: Sequence[tuple[int, str, str]]
) -> dict[int, EntryView]:
    """Originals for the entries whose keys were found (rows of id, key, content hash); a key
    used for different content is ``IDEMPOTENCY_CONFLICT``."""
    if not rows:
        return {}
    from legato_pay.ledger.queries import get_entries

    by_key = {entry.key: index for index, entry in enumerate(prepared) if entry.key is not None}
    for entry_id, key, content_hash in rows:
        ensure_same_hash(
            key,
            stored_hash=content_hash,
            wanted_hash=prepared[by_key[key]].content_hash,
            what="entry",
            details={"entry_id": entry_id},
        )
    originals = get_entries(session, [entry_id for entry_id, _, _ in rows])
    return {by_key[key]: replace(originals[entry_id], replayed=True) for entry_id, key, _ in rows}


def apply_prepared(
    session: Session,
    prepared: Sequence[Prepared],
    *,
    actor: str,
    now: datetime | None = None,
    locked: bool = False,
    find_replays: bool = False,
    batch: PgBatch | None = None,
) -> list[EntryView]:
    """Post prepared entries. ``locked``: the caller already holds the journal lock.
    ``find_replays`` (PostgreSQL): raise ``KeysSeen``, posting nothing, if a key was used.
    ``batch``: the statement for exactly these entries, built beforehand (``prepare_entries``)."""
    if not prepared:
        return []
    check_actor(actor)
    for entry in prepared:
        check_reason(entry.reason)
    # UTC throughout: SQLite keeps a time's wall clock and drops its offset.
    moment = as_utc(now) or utcnow()
    if is_postgres(session):
        if batch is None:
            batch = build_pg_batch(prepared, find=find_replays, lock=not locked)
        ids, created_at = run_pg_batch(session, prepared, batch, actor, moment)
    else:
        ids, created_at = apply_entries(session, prepared, actor, moment)
    return entry_views(prepared, ids, actor, created_at, moment)


def entry_views(
    prepared: Sequence[Prepared],
    ids: Sequence[int],
    actor: str,
    created_at: datetime,
    moment: datetime,
) -> list[EntryView]:
    """What posting returns for each entry, built from what was posted (no read back):
    stamped ``created_at``, effective at their own ``effective_at`` or else the caller's
    ``moment``."""
    return [
        EntryView(
            id=entry_id,
            kind=entry.kind,
            idempotency_key=entry.key,
            actor=actor,
            reason=entry.reason,
            created_at=created_at,
            effective_at=entry.effective_at or moment,
            expires_at=entry.expires_at,
            target_entry_id=entry.target_entry_id,
            reverses_entry_id=entry.reverses_entry_id,
            status="pending" if entry.kind == "pending" else "posted",
            metadata=entry.metadata,
            legs=entry.leg_views if entry.leg_views is not None else leg_views(entry.legs),
        )
        for entry_id, entry in zip(ids, prepared, strict=True)
    ]
