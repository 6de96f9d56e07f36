"""Reading the ledger: entries, balances now and as of a time, history with cursor pagination."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from legato_pay.errors import EntryNotFound, InvalidInput
from legato_pay.ledger.accounts import get_account
from legato_pay.ledger.current import current_totals
from legato_pay.ledger.types import (
    Account,
    Balance,
    EntryView,
    LegView,
    Totals,
    as_utc,
    balance_from_totals,
)
from legato_pay.store.lightread import SessionRows
from legato_pay.store.tables import ACCOUNTS, CHECKPOINTS, ENTRIES, LEGS, PENDING, SEALS


def leg_sums(*conditions: Any) -> Any:
    """``SUM`` expressions for the four totals over legs matching ``conditions``."""
    return (
        func.coalesce(func.sum(case((LEGS.c.is_debit, LEGS.c.amount), else_=0)), 0),
        func.coalesce(func.sum(case((LEGS.c.is_debit, 0), else_=LEGS.c.amount)), 0),
        func.coalesce(func.sum(case((LEGS.c.is_debit, LEGS.c.pending_amount), else_=0)), 0),
        func.coalesce(func.sum(case((LEGS.c.is_debit, 0), else_=LEGS.c.pending_amount)), 0),
    )


def sealed_watermark() -> Any:
    """The last entry id rolled up into hot accounts' totals (0 before the first seal)."""
    return select(func.coalesce(func.max(SEALS.c.to_entry_id), 0)).scalar_subquery()


def get_entries(session: Session, entry_ids: Sequence[int]) -> dict[int, EntryView]:
    if not entry_ids:
        return {}
    entries = session.execute(
        select(ENTRIES, PENDING.c.status)
        .outerjoin(PENDING, PENDING.c.entry_id == ENTRIES.c.id)
        .where(ENTRIES.c.id.in_(list(entry_ids)))
    ).all()
    legs: dict[int, list[LegView]] = {}
    for row in session.execute(
        select(LEGS, ACCOUNTS.c.code)
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .where(LEGS.c.entry_id.in_(list(entry_ids)))
        .order_by(LEGS.c.id)
    ):
        legs.setdefault(row.entry_id, []).append(
            LegView(
                row.code,
                row.currency,
                "debit" if row.is_debit else "credit",
                row.amount,
                row.pending_amount,
            )
        )
    return {
        row.id: EntryView(
            id=row.id,
            kind=row.kind,
            idempotency_key=row.idempotency_key,
            actor=row.actor,
            reason=row.reason,
            created_at=as_utc(row.created_at),  # type: ignore[arg-type]
            effective_at=as_utc(row.effective_at),  # type: ignore[arg-type]
            expires_at=as_utc(row.expires_at),
            target_entry_id=row.target_entry_id,
            reverses_entry_id=row.reverses_entry_id,
            status=row.status or "posted",
            metadata=json.loads(row.metadata_json) if row.metadata_json else None,
            legs=tuple(legs.get(row.id, ())),
        )
        for row in entries
    }


def get_entry(session: Session, entry_id: int) -> EntryView:
    found = get_entries(session, [entry_id]).get(entry_id)
    if found is None:
        raise EntryNotFound(f"no entry {entry_id}", details={"entry_id": entry_id})
    return found


def account_totals(session: Session, account: Account) -> Totals:
    """Current totals (``ledger/current``: hot accounts add the legs since the last seal in
    the same statement)."""
    return current_totals(SessionRows(session), [account.code])[account.code][1]


def get_balance(session: Session, code: str, *, as_of: datetime | None = None) -> Balance:
    account = get_account(session, code)
    if as_of is None:
        return balance_from_totals(account, account_totals(session, account))
    moment = as_utc(as_of) or as_of  # UTC: SQLite compares stored wall clocks, not offsets
    return balance_from_totals(account, _totals_as_of(session, account, moment), moment)


def _totals_as_of(session: Session, account: Account, moment: datetime) -> Totals:
    """Totals after every leg created at or before ``moment`` (system time).

    Ordinary accounts read the running totals of their last leg by then: one index lookup,
    right because posting stamps an account's legs in posting order (``ledger.posting``).
    Hot accounts start from the newest seal checkpoint wholly before ``moment`` and add the
    legs after it, so the work is bounded by the sealing interval, not by history.
    """
    if not account.hot:
        row = session.execute(
            select(
                LEGS.c.debits_posted_after,
                LEGS.c.credits_posted_after,
                LEGS.c.debits_pending_after,
                LEGS.c.credits_pending_after,
            )
            .where(LEGS.c.account_id == account.id, LEGS.c.created_at <= moment)
            .order_by(LEGS.c.created_at.desc(), LEGS.c.entry_id.desc(), LEGS.c.id.desc())
            .limit(1)
        ).first()
        return Totals(*row) if row else Totals()
    checkpoint = session.execute(
        select(
            SEALS.c.to_entry_id,
            CHECKPOINTS.c.debits_posted,
            CHECKPOINTS.c.credits_posted,
            CHECKPOINTS.c.debits_pending,
            CHECKPOINTS.c.credits_pending,
        )
        .join(CHECKPOINTS, CHECKPOINTS.c.seal_id == SEALS.c.id)
        .where(CHECKPOINTS.c.account_id == account.id, SEALS.c.max_created_at <= moment)
        .order_by(SEALS.c.to_entry_id.desc())
        .limit(1)
    ).first()
    base, after = (Totals(*checkpoint[1:]), checkpoint[0]) if checkpoint else (Totals(), 0)
    rest = session.execute(
        select(*leg_sums()).where(
            LEGS.c.account_id == account.id,
            LEGS.c.entry_id > after,
            LEGS.c.created_at <= moment,
        )
    ).one()
    return base + Totals(*(int(value) for value in rest))


@dataclass(frozen=True, slots=True)
class HistoryPage:
    account: str
    currency: str
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _encode_cursor(entry_id: int, leg_id: int) -> str:
    return base64.urlsafe_b64encode(f"{entry_id}:{leg_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        entry_id, leg_id = base64.urlsafe_b64decode(padded.encode("ascii")).decode().split(":")
        if not (entry_id.isascii() and leg_id.isascii()):
            raise ValueError(cursor)
        ids = int(entry_id), int(leg_id)
        if not all(0 < value < 2**63 for value in ids):
            raise ValueError(cursor)
        return ids
    except (ValueError, UnicodeError):
        raise InvalidInput("not a valid history cursor", details={"cursor": cursor[:100]}) from None


def history(
    session: Session,
    code: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> HistoryPage:
    """Legs on an account, newest first; ``next_cursor`` continues where this page ended.
    ``start``/``end`` keep legs created at or after / before those times."""
    if limit < 1 or limit > 10000:
        raise InvalidInput("limit must be between 1 and 10000", details={"limit": limit})
    account = get_account(session, code)
    query = (
        select(LEGS, ENTRIES.c.kind, ENTRIES.c.reason, ENTRIES.c.actor, ENTRIES.c.effective_at)
        .join(ENTRIES, ENTRIES.c.id == LEGS.c.entry_id)
        .where(LEGS.c.account_id == account.id)
        .order_by(LEGS.c.entry_id.desc(), LEGS.c.id.desc())
        .limit(limit + 1)
    )
    if start is not None:
        query = query.where(LEGS.c.created_at >= as_utc(start))
    if end is not None:
        query = query.where(LEGS.c.created_at < as_utc(end))
    if cursor:
        entry_id, leg_id = _decode_cursor(cursor)
        query = query.where(
            (LEGS.c.entry_id < entry_id) | and_(LEGS.c.entry_id == entry_id, LEGS.c.id < leg_id)
        )
    rows = session.execute(query).all()
    page = rows[:limit]
    result = []
    for row in page:
        balance_after = None
        if row.debits_posted_after is not None:
            after = Totals(
                row.debits_posted_after,
                row.credits_posted_after,
                row.debits_pending_after,
                row.credits_pending_after,
            )
            balance_after = balance_from_totals(account, after).posted
        result.append(
            {
                "entry_id": row.entry_id,
                "kind": row.kind,
                "side": "debit" if row.is_debit else "credit",
                "amount": row.amount,
                "pending_amount": row.pending_amount,
                "currency": row.currency,
                "balance_after": balance_after,
                "created_at": as_utc(row.created_at).isoformat(),  # type: ignore[union-attr]
                "effective_at": as_utc(row.effective_at).isoformat(),  # type: ignore[union-attr]
                "actor": row.actor,
                "reason": row.reason,
            }
        )
    next_cursor = _encode_cursor(page[-1].entry_id, page[-1].id) if len(rows) > limit else None
    return HistoryPage(account.code, account.currency, result, next_cursor)


@dataclass(frozen=True, slots=True)
class AccountPage:
    """One page of accounts by code with their balances, the page's totals per currency
    (posted, pending, available) and the code to continue after, if there are more."""

    accounts: list[tuple[Account, Balance]]
    totals: dict[str, tuple[int, int, int]]
    next_cursor: str | None


def account_page(
    session: Session, *, prefix: str | None = None, limit: int = 1000, after: str | None = None
) -> AccountPage:
    """Accounts (codes starting with ``prefix``, after the code ``after``) and balances."""
    from legato_pay.ledger.accounts import list_accounts

    if limit < 1 or limit > 10000:
        raise InvalidInput("limit must be between 1 and 10000", details={"limit": limit})
    found = list_accounts(session, prefix=prefix, limit=limit + 1, after=after)
    page = [
        (account, balance_from_totals(account, account_totals(session, account)))
        for account in found[:limit]
    ]
    sums: dict[str, tuple[int, int, int]] = {}
    for account, balance in page:
        posted, pending, available = sums.get(account.currency, (0, 0, 0))
        sums[account.currency] = (
            posted + balance.posted,
            pending + balance.pending,
            available + balance.available,
        )
    next_cursor = page[-1][0].code if len(found) > limit else None
    return AccountPage(page, dict(sorted(sums.items())), next_cursor)


def lock_balances(session: Session, codes: Sequence[str]) -> dict[str, Balance]:
    """Lock non-hot accounts (in id order, like postings) and return their current balances.

    For decisions that depend on several balances at once (which coin bucket to spend first):
    holding the rows until commit means the plan cannot be invalidated by a concurrent spend.
    SQLite needs no row locks: a write unit already holds the database's write lock.
    """
    from legato_pay.ledger.accounts import resolve_accounts
    from legato_pay.store.dialect import for_update

    accounts = resolve_accounts(session, codes)
    ordinary = sorted((a for a in accounts.values() if not a.hot), key=lambda a: a.id)
    result: dict[str, Balance] = {}
    if ordinary:
        query = (
            select(
                ACCOUNTS.c.id,
                ACCOUNTS.c.debits_posted,
                ACCOUNTS.c.credits_posted,
                ACCOUNTS.c.debits_pending,
                ACCOUNTS.c.credits_pending,
            )
            .where(ACCOUNTS.c.id.in_([a.id for a in ordinary]))
            .order_by(ACCOUNTS.c.id)
        )
        query = for_update(query, session)
        rows = {row.id: Totals(*row[1:]) for row in session.execute(query)}
        for account in ordinary:
            result[account.code] = balance_from_totals(account, rows[account.id])
    for account in accounts.values():
        if account.hot:
            result[account.code] = balance_from_totals(account, account_totals(session, account))
    return result
