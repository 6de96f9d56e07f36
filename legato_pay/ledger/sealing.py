"""Tamper evidence: a SHA-256 hash chain over the journal, sealed after the fact in batches.

Postings never wait on the chain. ``seal`` takes every entry above the last seal up to a safe
watermark (on PostgreSQL: the highest id once no posting is in flight, found by taking the
journal advisory lock exclusively for an instant), hashes them in id order onto the previous
seal's hash, and stores one row per batch. The same pass rolls hot accounts' legs up into their
totals and writes a checkpoint per hot account, the base for their balances as of a time.

What is hashed (seal ``version``):

- 2 (current): each account opened since the previous seal (id order; code, currency, normal
  side, no-overdraft limit, hot, metadata, creation time), then each entry with its legs, every
  one written as canonical JSON (a JSON array, ASCII, no spaces): no value can move between
  fields, and an account's identity and limits are as sealed as its postings. The account
  watermark is found under the same lock as the entries' (accounts are opened holding the
  journal lock shared), so no account below it can commit later.
- 1 (seals made before migration 0007): entries only, fields joined with ``|``. Kept
  verifiable as they were (rewriting their hashes would launder whatever happened before);
  the first version-2 seal covers every account that exists when it is made.
"""

from __future__ import annotations

import hashlib
import json
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
#: The encoding new seals use (see the module docstring).
SEAL_VERSION = 2


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


def canonical_json(value: list[Any]) -> str:
    """One unambiguous text for a list of plain values (version 2 seals)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


def account_digest_lines(session: Session, after: int, upto: int) -> Iterable[tuple[int, str]]:
    """(account id, canonical text) for accounts ``after < id <= upto`` in id order."""
    for row in session.execute(
        select(
            ACCOUNTS.c.id,
            ACCOUNTS.c.code,
            ACCOUNTS.c.currency,
            ACCOUNTS.c.normal_side,
            ACCOUNTS.c.no_overdraft,
            ACCOUNTS.c.hot,
            ACCOUNTS.c.metadata_json,
            ACCOUNTS.c.created_at,
        )
        .where(ACCOUNTS.c.id > after, ACCOUNTS.c.id <= upto)
        .order_by(ACCOUNTS.c.id)
    ):
        yield (
            row.id,
            canonical_json(
                [
                    "account",
                    row.id,
                    row.code,
                    row.currency,
                    row.normal_side,
                    bool(row.no_overdraft),
                    bool(row.hot),
                    row.metadata_json,
                    _iso(row.created_at),
                ]
            ),
        )


def entry_digest_lines(
    session: Session, after: int, upto: int, *, version: int = SEAL_VERSION
) -> Iterable[tuple[int, str, Any]]:
    """(entry id, canonical text, created_at) for entries ``after < id <= upto`` in id order,
    in the encoding of seal ``version``."""
    if version == 1:
        yield from _legacy_entry_lines(session, after, upto)
        return
    legs: dict[int, list[list[Any]]] = {}
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
            [leg.account_id, "D" if leg.is_debit else "C", leg.amount, leg.pending_amount,
             leg.currency]
        )  # fmt: skip
    for row in session.execute(
        select(ENTRIES).where(ENTRIES.c.id > after, ENTRIES.c.id <= upto).order_by(ENTRIES.c.id)
    ):
        canonical = canonical_json(
            [
                "entry",
                row.id,
                row.idempotency_key,
                row.content_hash,
                row.kind,
                row.target_entry_id,
                row.reverses_entry_id,
                row.actor,
                row.reason,
                row.metadata_json,
                _iso(row.created_at),
                _iso(row.effective_at),
                _iso(row.expires_at),
                legs.get(row.id, []),
            ]
        )
        yield row.id, canonical, row.created_at


def _legacy_entry_lines(session: Session, after: int, upto: int) -> Iterable[tuple[int, str, Any]]:
    """Version 1: fields joined with ``|`` (ambiguous; kept only to verify old seals)."""
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


def safe_watermark(session: Session) -> tuple[int, int]:
    """The highest entry id and account id below which every entry and account is committed
    (none still in flight)."""
    connection = session.connection()
    highest = select(
        select(func.coalesce(func.max(ENTRIES.c.id), 0)).scalar_subquery(),
        select(func.coalesce(func.max(ACCOUNTS.c.id), 0)).scalar_subquery(),
    )
    if not is_postgres(session):
        row = session.execute(highest).one()
        return int(row[0]), int(row[1])
    # Held for an instant, not to the end of the transaction: postings wait only that long.
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": JOURNAL})
    try:
        row = session.execute(highest).one()
        return int(row[0]), int(row[1])
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
    account_upto: int
    account_count: int


def seal(session: Session, *, actor: str, batch_size: int = 50000) -> SealResult:
    """Seal every entry not yet sealed, in batches of ``batch_size``."""
    from legato_pay.audit import check_actor

    check_actor(actor)
    advisory_xact_lock(session, SEAL_RUN)
    watermark, account_watermark = safe_watermark(session)
    sealed_to, previous_hash, max_created, accounts_to = _last_seal(session)
    seals = entries = 0
    while sealed_to < watermark:
        upto = _batch_end(session, sealed_to, watermark, batch_size)
        if upto is None:
            break
        link = _chain_batch(
            session, sealed_to, upto, previous_hash, max_created, accounts_to, account_watermark
        )
        seal_id = _store_link(session, link, actor)
        _roll_up_hot_accounts(session, seal_id, sealed_to, upto)
        seals += 1
        entries += link.count
        sealed_to, previous_hash, max_created = upto, link.hash, link.max_created_at
        accounts_to = link.account_upto
    return SealResult(seals, entries, sealed_to or None, previous_hash)


def _last_seal(session: Session) -> tuple[int, str, datetime | None, int]:
    """Where the chain stands: the last sealed entry id, its hash, the latest creation time and
    the last sealed account id (0 after a version 1 seal: those covered no accounts)."""
    last = session.execute(
        select(SEALS.c.to_entry_id, SEALS.c.hash, SEALS.c.max_created_at, SEALS.c.account_upto)
        .order_by(SEALS.c.to_entry_id.desc())
        .limit(1)
    ).first()
    if last is None:
        return 0, GENESIS_HASH, None, 0
    return last.to_entry_id, last.hash, as_utc(last.max_created_at), last.account_upto or 0


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
    session: Session,
    after: int,
    upto: int,
    previous_hash: str,
    max_created: datetime | None,
    accounts_after: int,
    accounts_upto: int,
) -> _Link:
    digest, count, first_id, account_count = previous_hash, 0, None, 0
    for _, canonical in account_digest_lines(session, accounts_after, accounts_upto):
        digest = chain(digest, canonical)
        account_count += 1
    for entry_id, canonical, created_at in entry_digest_lines(session, after, upto):
        digest = chain(digest, canonical)
        count += 1
        first_id = entry_id if first_id is None else first_id
        created = as_utc(created_at)
        if max_created is None or (created is not None and created > max_created):
            max_created = created
    return _Link(
        after,
        upto,
        first_id,
        count,
        max_created,
        previous_hash,
        digest,
        max(accounts_upto, accounts_after),
        account_count,
    )


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
            version=SEAL_VERSION,
            account_upto=link.account_upto,
            account_count=link.account_count,
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
