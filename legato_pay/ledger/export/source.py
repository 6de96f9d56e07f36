"""What the books are made of, read from the journal a batch at a time (never all at once).

The period is system time: a leg belongs to it when ``start <= created_at < end``. Only posted
value is read (``ledger_legs.amount``): a pending entry reserves (``pending_amount``) and moves
nothing, so it is not in the books until it is posted, and then it appears at its posting entry
(dated when that was recorded, for the amount posted); voided reservations never appear.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from legato_pay.ledger.types import as_utc
from legato_pay.store.dialect import is_postgres
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS

#: Rows fetched per round trip (a server-side cursor on PostgreSQL).
BATCH = 5000


@dataclass(frozen=True, slots=True)
class AccountRow:
    """An account and when the books open it (its creation, or its first leg if earlier)."""

    code: str
    currency: str
    normal_side: str
    opened_at: datetime


class LegRow(NamedTuple):
    """One posted leg (a tuple: an export makes one per leg)."""

    code: str
    normal_side: str
    currency: str
    is_debit: bool
    amount: int


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What the books say about an entry besides its legs; ``created_at`` is when it was
    recorded (its legs' time)."""

    id: int
    created_at: datetime
    kind: str
    reason: str | None
    metadata: dict[str, Any] | None
    effective_at: datetime
    reverses_entry_id: int | None
    target_entry_id: int | None


@dataclass(frozen=True, slots=True)
class BalanceRow:
    code: str
    normal_side: str
    currency: str
    net_debit: int  # posted debits minus posted credits


def snapshot(session: Session) -> None:
    """On PostgreSQL, make every read of this export see one snapshot (a posting committed
    while the export runs appears in none of its parts or in all of them). Must be the
    transaction's first statement; SQLite readers already see one snapshot per transaction."""
    if is_postgres(session):
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


def _stream(session: Session, query: Any) -> Iterator[Any]:
    """Rows ``BATCH`` at a time through the session's connection (Core, no ORM per row)."""
    result = session.connection().execution_options(yield_per=BATCH).execute(query)
    try:
        for batch in result.partitions():
            yield from batch
    finally:
        result.close()


def accounts(session: Session, end: datetime | None) -> Iterator[AccountRow]:
    """Accounts opened before ``end`` (all without one), by id."""
    first_leg = (
        select(func.min(LEGS.c.created_at))
        .where(LEGS.c.account_id == ACCOUNTS.c.id)
        .scalar_subquery()
    )
    query = select(
        ACCOUNTS.c.code,
        ACCOUNTS.c.currency,
        ACCOUNTS.c.normal_side,
        ACCOUNTS.c.created_at,
        first_leg.label("first_leg"),
    ).order_by(ACCOUNTS.c.id)
    if end is not None:
        query = query.where(ACCOUNTS.c.created_at < end)
    for row in _stream(session, query):
        opened = as_utc(row.created_at)
        first = as_utc(row.first_leg)
        if first is not None and opened is not None and first < opened:
            opened = first
        assert opened is not None
        yield AccountRow(row.code, row.currency, row.normal_side, opened)


def entries(
    session: Session, start: datetime | None, end: datetime | None
) -> Iterator[tuple[EntryHead, list[LegRow]]]:
    """Entries with posted legs created in ``[start, end)``, in id order, each with those legs
    (one entry's legs are held at a time)."""
    query = (
        select(
            ACCOUNTS.c.code,
            ACCOUNTS.c.normal_side,
            LEGS.c.currency,
            LEGS.c.is_debit,
            LEGS.c.amount,
            LEGS.c.entry_id,
            LEGS.c.created_at,
            ENTRIES.c.kind,
            ENTRIES.c.reason,
            ENTRIES.c.metadata_json,
            ENTRIES.c.effective_at,
            ENTRIES.c.reverses_entry_id,
            ENTRIES.c.target_entry_id,
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .join(ENTRIES, ENTRIES.c.id == LEGS.c.entry_id)
        .where(LEGS.c.amount != 0)
        .order_by(LEGS.c.entry_id, LEGS.c.id)
    )
    if start is not None:
        query = query.where(LEGS.c.created_at >= start)
    if end is not None:
        query = query.where(LEGS.c.created_at < end)
    make_leg = LegRow._make
    for _, rows in groupby(_stream(session, query), key=itemgetter(5)):
        first, *rest = rows
        head = EntryHead(
            first.entry_id,
            as_utc(first.created_at),  # type: ignore[arg-type]
            first.kind,
            first.reason,
            json.loads(first.metadata_json) if first.metadata_json else None,
            as_utc(first.effective_at),  # type: ignore[arg-type]
            first.reverses_entry_id,
            first.target_entry_id,
        )
        yield head, [make_leg(first[:5]), *(make_leg(row[:5]) for row in rest)]


def balances(
    session: Session, before: datetime | None, *, opened_before: datetime | None
) -> Iterator[BalanceRow]:
    """Each account opened before ``opened_before`` (all for None): its posted debits minus
    credits over legs created before ``before`` (all for None), by account id (zero for an
    account with none)."""
    net = func.coalesce(func.sum(case((LEGS.c.is_debit, LEGS.c.amount), else_=-LEGS.c.amount)), 0)
    joined = LEGS.c.account_id == ACCOUNTS.c.id
    if before is not None:
        joined = joined & (LEGS.c.created_at < before)
    query = (
        select(ACCOUNTS.c.code, ACCOUNTS.c.normal_side, ACCOUNTS.c.currency, net.label("net"))
        .select_from(ACCOUNTS.outerjoin(LEGS, joined))
        .group_by(ACCOUNTS.c.id, ACCOUNTS.c.code, ACCOUNTS.c.normal_side, ACCOUNTS.c.currency)
        .order_by(ACCOUNTS.c.id)
    )
    if opened_before is not None:
        query = query.where(ACCOUNTS.c.created_at < opened_before)
    for row in _stream(session, query):
        yield BalanceRow(row.code, row.normal_side, row.currency, int(row.net))
