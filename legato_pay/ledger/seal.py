"""Tamper evidence: a SHA-256 hash chain over the journal, sealed after the fact in batches.

Postings never wait on the chain. ``seal`` takes every entry above the last seal up to a safe
watermark (on PostgreSQL: the highest id once no posting is in flight, found by taking the
journal advisory lock exclusively for an instant), hashes them in id order onto the previous
seal's hash, and stores one row per batch. The same pass rolls hot accounts' legs up into their
totals and writes a checkpoint per hot account, the base for their balances as of a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from legato_pay.ledger.queries import leg_sums
from legato_pay.ledger.types import Totals, as_utc, utcnow
from legato_pay.store.dialect import is_postgres
from legato_pay.store.locks import JOURNAL, SEAL_RUN, advisory_xact_lock
from legato_pay.store.tables import ACCOUNTS, CHECKPOINTS, ENTRIES, LEGS, SEALS

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class SealResult:
    seals: int
    entries: int
    last_entry_id: int | None
    last_hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seals": self.seals,
            "entries": self.entries,
            "last_entry_id": self.last_entry_id,
            "last_hash": self.last_hash,
        }


def _iso(moment: datetime | None) -> str:
    return as_utc(moment).isoformat() if moment is not None else ""  # type: ignore[union-attr]


def entry_digest_lines(session: Session, after: int, upto: int) -> Iterable[tuple[int, str, Any]]:
    """(entry id, canonical text, created_at) for entries ``after < id <= upto`` in id order."""
    legs: dict[int, list[str]] = {}
    for leg in session.execute(
        select(
            LEGS.c.entry_id,
            LEGS.c.account_id,
            LEGS.c.is_debit,
            LEGS.c.amount,
            LEGS.c.pending_amount,
            LEGS.c.currency,
        )
        .where(LEGS.c.entry_id > after, LEGS.c.entry_id <= upto)
        .order_by(LEGS.c.entry_id, LEGS.c.id)
    ):
        legs.setdefault(leg.entry_id, []).append(
            f"{leg.account_id},{'D' if leg.is_debit else 'C'},{leg.amount},"
            f"{leg.pending_amount},{leg.currency}"
        )
    for row in session.execute(
        select(ENTRIES).where(ENTRIES.c.id > after, ENTRIES.c.id <= upto).order_by(ENTRIES.c.id)
    ):
        canonical = "|".join(
            [
                str(row.id),
                row.idempotency_key or "",
                row.content_hash,
                row.kind,
                str(row.target_entry_id or ""),
                str(row.reverses_entry_id or ""),
                row.actor,
                row.reason or "",
                row.metadata_json or "",
                _iso(row.created_at),
                _iso(row.effective_at),
                _iso(row.expires_at),
                ";".join(legs.get(row.id, [])),
            ]
        )
        yield row.id, canonical, row.created_at


def chain(previous_hash: str, canonical: str) -> str:
    return hashlib.sha256((previous_hash + "\n" + canonical).encode()).hexdigest()


def safe_watermark(session: Session) -> int:
    """The highest entry id below which every entry is committed (none still in flight)."""
    connection = session.connection()
    if not is_postgres(session):
        return int(session.execute(select(func.coalesce(func.max(ENTRIES.c.id), 0))).scalar_one())
    # Held for an instant, not to the end of the transaction: postings wait only that long.
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": JOURNAL})
    try:
        return int(session.execute(select(func.coalesce(func.max(ENTRIES.c.id), 0))).scalar_one())
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": JOURNAL})


@dataclass(frozen=True, slots=True)
class _Link:
    """One seal row: the chain over entries ``after < id <= upto``."""

    after: int
    upto: int
    first_id: int | None
    count: int
    max_created_at: datetime | None
    prev_hash: str
    hash: str


def seal(session: Session, *, actor: str, batch_size: int = 50000) -> SealResult:
    """Seal every entry not yet sealed, in batches of ``batch_size``."""
    advisory_xact_lock(session, SEAL_RUN)
    watermark = safe_watermark(session)
    sealed_to, previous_hash, max_created = _last_seal(session)
    seals = entries = 0
    while sealed_to < watermark:
        upto = _batch_end(session, sealed_to, watermark, batch_size)
        if upto is None:
            break
        link = _chain_batch(session, sealed_to, upto, previous_hash, max_created)
        seal_id = _store_link(session, link, actor)
        _roll_up_hot_accounts(session, seal_id, sealed_to, upto)
        seals += 1
        entries += link.count
        sealed_to, previous_hash, max_created = upto, link.hash, link.max_created_at
    return SealResult(seals, entries, sealed_to or None, previous_hash)


def _last_seal(session: Session) -> tuple[int, str, datetime | None]:
    """Where the chain stands: the last sealed entry id, its hash, the latest creation time."""
    last = session.execute(
        select(SEALS.c.to_entry_id, SEALS.c.hash, SEALS.c.max_created_at)
        .order_by(SEALS.c.to_entry_id.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0, GENESIS_HASH, None
    return last.to_entry_id, last.hash, as_utc(last.max_created_at)


def _batch_end(session: Session, after: int, watermark: int, batch_size: int) -> int | None:
    """The id of the last of the next ``batch_size`` entries above ``after`` (up to the
    watermark), or None if there are none."""
    upto: int | None = session.execute(
        select(func.max(ENTRIES.c.id)).where(
            ENTRIES.c.id.in_(
                select(ENTRIES.c.id)
                .where(ENTRIES.c.id > after, ENTRIES.c.id <= watermark)
                .order_by(ENTRIES.c.id)
                .limit(batch_size)
            )
        )
    ).scalar()
    return upto


def _chain_batch(
    session: Session, after: int, upto: int, previous_hash: str, max_created: datetime | None
) -> _Link:
    digest, count, first_id = previous_hash, 0, None
    for entry_id, canonical, created_at in entry_digest_lines(session, after, upto):
        digest = chain(digest, canonical)
        count += 1
        first_id = entry_id if first_id is None else first_id
        created = as_utc(created_at)
        if max_created is None or (created is not None and created > max_created):
            max_created = created
    return _Link(after, upto, first_id, count, max_created, previous_hash, digest)


def _store_link(session: Session, link: _Link, actor: str) -> int:
    seal_id: int = session.execute(
        SEALS.insert()
        .values(
            from_entry_id=link.first_id,
            to_entry_id=link.upto,
            entry_count=link.count,
            max_created_at=link.max_created_at,
            prev_hash=link.prev_hash,
            hash=link.hash,
            sealed_at=utcnow(),
            actor=actor,
        )
        .returning(SEALS.c.id)
    ).scalar_one()
    return seal_id


def _roll_up_hot_accounts(session: Session, seal_id: int, after: int, upto: int) -> None:
    sums = session.execute(
        select(LEGS.c.account_id, *leg_sums())
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(ACCOUNTS.c.hot.is_(True), LEGS.c.entry_id > after, LEGS.c.entry_id <= upto)
        .group_by(LEGS.c.account_id)
        .order_by(LEGS.c.account_id)
    ).all()
    for account_id, *delta in sums:
        change = Totals(*(int(value) for value in delta))
        totals = session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == account_id)
            .values(
                debits_posted=ACCOUNTS.c.debits_posted + change.debits_posted,
                credits_posted=ACCOUNTS.c.credits_posted + change.credits_posted,
                debits_pending=ACCOUNTS.c.debits_pending + change.debits_pending,
                credits_pending=ACCOUNTS.c.credits_pending + change.credits_pending,
            )
            .returning(
                ACCOUNTS.c.debits_posted,
                ACCOUNTS.c.credits_posted,
                ACCOUNTS.c.debits_pending,
                ACCOUNTS.c.credits_pending,
            )
        ).one()
        session.execute(
            CHECKPOINTS.insert().values(
                seal_id=seal_id,
                account_id=account_id,
                debits_posted=totals[0],
                credits_posted=totals[1],
                debits_pending=totals[2],
                credits_pending=totals[3],
            )
        )
