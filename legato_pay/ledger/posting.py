"""Posting: the one path through which value moves.

Every entry, whatever its kind, goes through ``_apply``, which keeps the posting path to a handful
of statements: one conditional ``UPDATE … RETURNING`` per non-hot account (in id order, so
concurrent postings lock accounts in the same order and never deadlock each other; the
``WHERE`` clause enforces no-overdraft limits against the latest committed totals, so concurrent
spends can never overdraw and no update is lost at READ COMMITTED), one multi-row insert of the
entries and one of the legs. Hot accounts are never updated here; ``seal`` rolls them up.

On PostgreSQL each posting also takes a shared advisory lock that ``seal`` takes exclusively for
an instant, so the seal's watermark never passes an entry that is still in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from legato_pay.errors import (
    AlreadyReversed,
    CurrencyMismatch,
    EntryNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    PendingExpired,
    RetryableConflict,
    UnbalancedEntry,
)
from legato_pay.ledger.accounts import ACCOUNTS, resolve_accounts
from legato_pay.ledger.types import (
    Account,
    EntrySpec,
    EntryView,
    LegView,
    Totals,
    as_utc,
    balance_from_totals,
    utcnow,
)
from legato_pay.money import MAX_MINOR_UNITS, format_amount
from legato_pay.store.engine import is_postgres
from legato_pay.store.models import LedgerEntry, LedgerLeg, LedgerPending

ENTRIES = LedgerEntry.__table__  # type: ignore[attr-defined]
LEGS = LedgerLeg.__table__  # type: ignore[attr-defined]
PENDING = LedgerPending.__table__  # type: ignore[attr-defined]

#: Advisory lock shared by postings and taken exclusively by ``seal`` (PostgreSQL only).
JOURNAL_LOCK_KEY = 7210002
MAX_KEY_LENGTH = 200


@dataclass(slots=True)
class _Leg:
    account: Account
    is_debit: bool
    amount: int
    pending_amount: int


@dataclass(slots=True)
class _Prepared:
    kind: str
    legs: list[_Leg]
    key: str | None
    content_hash: str
    reason: str | None = None
    metadata: dict[str, Any] | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    target_entry_id: int | None = None
    reverses_entry_id: int | None = None


def _content_hash(kind: str, target: int | None, legs: Sequence[tuple[str, str, int, int]]) -> str:
    """What an idempotency key promises: the same kind, target and legs (not actor or times)."""
    payload = json.dumps([kind, target, sorted(legs)], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"idempotency key must be 1 to {MAX_KEY_LENGTH} characters",
            details={"key": key},
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return key


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("leg amounts must be int minor units", details={"amount": repr(amount)})
    if amount <= 0 or amount > MAX_MINOR_UNITS:
        raise InvalidAmount(
            "leg amounts must be positive and within bounds", details={"amount": amount}
        )
    return amount


def _prepare(spec: EntrySpec, accounts: dict[str, Account]) -> _Prepared:
    if len(spec.legs) < 2:
        raise UnbalancedEntry("an entry needs at least two legs", details={"legs": len(spec.legs)})
    if spec.expires_at is not None and not spec.pending:
        raise InvalidInput("only pending entries can expire", details={"field": "expires_at"})
    if len({leg.account for leg in spec.legs}) < 2:
        raise InvalidInput(
            "an entry must move value between at least two different accounts",
            details={"account": spec.legs[0].account},
            code="SAME_ACCOUNT",
        )
    legs: list[_Leg] = []
    net: dict[str, int] = {}
    for leg in spec.legs:
        amount = _check_amount(leg.amount)
        if leg.side not in ("debit", "credit"):
            raise InvalidInput("leg side must be debit or credit", details={"side": leg.side})
        account = accounts[leg.account]
        if leg.currency is not None and leg.currency != account.currency:
            raise CurrencyMismatch(
                f"account {account.code} holds {account.currency}, not {leg.currency}",
                details={
                    "account": account.code,
                    "account_currency": account.currency,
                    "currency": leg.currency,
                },
            )
        is_debit = leg.side == "debit"
        net[account.currency] = net.get(account.currency, 0) + (amount if is_debit else -amount)
        legs.append(
            _Leg(account, is_debit, 0 if spec.pending else amount, amount if spec.pending else 0)
        )
    unbalanced = {currency: total for currency, total in net.items() if total}
    if unbalanced:
        raise UnbalancedEntry(
            "debits must equal credits in every currency", details={"difference": unbalanced}
        )
    kind = "pending" if spec.pending else "posted"
    shape = [(leg.account, leg.side, leg.amount, 0) for leg in spec.legs]
    return _Prepared(
        kind=kind,
        legs=legs,
        key=_check_key(spec.idempotency_key),
        content_hash=_content_hash(kind, None, shape),
        reason=spec.reason,
        metadata=spec.metadata,
        effective_at=as_utc(spec.effective_at),
        expires_at=as_utc(spec.expires_at),
    )


def post_entries(
    session: Session, specs: Sequence[EntrySpec], *, actor: str, now: datetime | None = None
) -> list[EntryView]:
    """Post entries atomically (all or none) and return them in order.

    An entry whose idempotency key was seen before returns the original (``replayed``) when its
    content is the same and raises ``IDEMPOTENCY_CONFLICT`` when it differs.
    """
    keys = [spec.idempotency_key for spec in specs if spec.idempotency_key is not None]
    if len(keys) != len(set(keys)):
        raise InvalidInput("the same idempotency key appears twice in one batch")
    accounts = resolve_accounts(session, {leg.account for spec in specs for leg in spec.legs})
    prepared = [_prepare(spec, accounts) for spec in specs]
    replays = _find_replays(session, prepared)
    fresh = [entry for index, entry in enumerate(prepared) if index not in replays]
    posted = iter(_apply(session, fresh, actor=actor, now=now))
    return [replays[i] if i in replays else next(posted) for i in range(len(prepared))]


def _find_replays(session: Session, prepared: Sequence[_Prepared]) -> dict[int, EntryView]:
    by_key = {entry.key: index for index, entry in enumerate(prepared) if entry.key is not None}
    if not by_key:
        return {}
    from legato_pay.ledger.queries import get_entries

    rows = []
    keys = list(by_key)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows += session.execute(
            select(ENTRIES.c.id, ENTRIES.c.idempotency_key, ENTRIES.c.content_hash).where(
                ENTRIES.c.idempotency_key.in_(chunk)
            )
        ).all()
    if not rows:
        return {}
    for row in rows:
        entry = prepared[by_key[row.idempotency_key]]
        if row.content_hash != entry.content_hash:
            raise IdempotencyConflict(
                f"idempotency key {row.idempotency_key!r} was already used for different content",
                details={"key": row.idempotency_key, "entry_id": row.id},
            )
    originals = get_entries(session, [row.id for row in rows])
    return {by_key[row.idempotency_key]: _as_replay(originals[row.id]) for row in rows}


def _as_replay(view: EntryView) -> EntryView:
    from dataclasses import replace

    return replace(view, replayed=True)


def _limit_violated(account: Account, totals: Totals) -> bool:
    if not account.no_overdraft:
        return False
    return balance_from_totals(account, totals).available < 0


def _insufficient(session: Session, account: Account, requested: int) -> InsufficientFunds:
    row = session.execute(
        select(
            ACCOUNTS.c.debits_posted,
            ACCOUNTS.c.credits_posted,
            ACCOUNTS.c.debits_pending,
            ACCOUNTS.c.credits_pending,
        ).where(ACCOUNTS.c.id == account.id)
    ).one()
    available = balance_from_totals(account, Totals(*row)).available
    return InsufficientFunds(
        f"account {account.code} has {format_amount(available, account.currency)} available, "
        f"needs {format_amount(requested, account.currency)}",
        details={
            "account": account.code,
            "currency": account.currency,
            "available": available,
            "requested": requested,
        },
    )


def _apply(
    session: Session, prepared: Sequence[_Prepared], *, actor: str, now: datetime | None = None
) -> list[EntryView]:
    if not prepared:
        return []
    connection = session.connection()
    if is_postgres(session):
        connection.execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": JOURNAL_LOCK_KEY}
        )
    accounts: dict[int, Account] = {}
    deltas: dict[int, list[int]] = {}
    for entry in prepared:
        for leg in entry.legs:
            if leg.account.hot:
                continue
            accounts[leg.account.id] = leg.account
            delta = deltas.setdefault(leg.account.id, [0, 0, 0, 0])
            if leg.is_debit:
                delta[0] += leg.amount
                delta[2] += leg.pending_amount
            else:
                delta[1] += leg.amount
                delta[3] += leg.pending_amount

    running: dict[int, Totals] = {}
    for account_id in sorted(deltas):
        account = accounts[account_id]
        dp, cp, dpe, cpe = deltas[account_id]
        statement = (
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == account_id)
            .values(
                debits_posted=ACCOUNTS.c.debits_posted + dp,
                credits_posted=ACCOUNTS.c.credits_posted + cp,
                debits_pending=ACCOUNTS.c.debits_pending + dpe,
                credits_pending=ACCOUNTS.c.credits_pending + cpe,
            )
            .returning(
                ACCOUNTS.c.debits_posted,
                ACCOUNTS.c.credits_posted,
                ACCOUNTS.c.debits_pending,
                ACCOUNTS.c.credits_pending,
            )
        )
        outflow = (dp + dpe) if account.normal_side == "credit" else (cp + cpe)
        if account.no_overdraft and outflow > 0:
            if account.normal_side == "credit":
                statement = statement.where(
                    ACCOUNTS.c.debits_posted + dp + ACCOUNTS.c.debits_pending + dpe
                    <= ACCOUNTS.c.credits_posted + cp
                )
            else:
                statement = statement.where(
                    ACCOUNTS.c.credits_posted + cp + ACCOUNTS.c.credits_pending + cpe
                    <= ACCOUNTS.c.debits_posted + dp
                )
        row = connection.execute(statement).one_or_none()
        if row is None:
            raise _insufficient(session, account, outflow)
        running[account_id] = Totals(*row) - Totals(dp, cp, dpe, cpe)

    # UTC throughout: SQLite keeps a time's wall clock and drops its offset.
    created_at = as_utc(now) or utcnow()
    leg_rows: list[list[dict[str, Any]]] = []
    for entry in prepared:
        rows = []
        touched = set()
        for leg in entry.legs:
            account = leg.account
            row: dict[str, Any] = {
                "account_id": account.id,
                "currency": account.currency,
                "is_debit": leg.is_debit,
                "amount": leg.amount,
                "pending_amount": leg.pending_amount,
                "created_at": created_at,
                "debits_posted_after": None,
                "credits_posted_after": None,
                "debits_pending_after": None,
                "credits_pending_after": None,
            }
            if not account.hot:
                change = (
                    Totals(leg.amount, 0, leg.pending_amount, 0)
                    if leg.is_debit
                    else Totals(0, leg.amount, 0, leg.pending_amount)
                )
                after = running[account.id] = running[account.id] + change
                row.update(
                    debits_posted_after=after.debits_posted,
                    credits_posted_after=after.credits_posted,
                    debits_pending_after=after.debits_pending,
                    credits_pending_after=after.credits_pending,
                )
                touched.add(account.id)
            rows.append(row)
        for account_id in touched:
            if _limit_violated(accounts[account_id], running[account_id]):
                raise _insufficient(session, accounts[account_id], 0)
        leg_rows.append(rows)

    entry_rows = [
        {
            "idempotency_key": entry.key,
            "content_hash": entry.content_hash,
            "kind": entry.kind,
            "target_entry_id": entry.target_entry_id,
            "reverses_entry_id": entry.reverses_entry_id,
            "actor": actor,
            "reason": entry.reason,
            "metadata_json": json.dumps(entry.metadata, sort_keys=True) if entry.metadata else None,
            "created_at": created_at,
            "effective_at": entry.effective_at or created_at,
            "expires_at": entry.expires_at,
        }
        for entry in prepared
    ]
    try:
        ids = [
            row.id
            for row in connection.execute(
                ENTRIES.insert().returning(ENTRIES.c.id, sort_by_parameter_order=True), entry_rows
            )
        ]
    except IntegrityError as exc:
        # Another unit of work committed the same idempotency key (or reversal) first: rerun,
        # and the rerun will find it.
        raise RetryableConflict(str(exc.orig)) from exc
    flat_legs = []
    for entry_id, rows in zip(ids, leg_rows, strict=True):
        for row in rows:
            row["entry_id"] = entry_id
            flat_legs.append(row)
    connection.execute(LEGS.insert(), flat_legs)
    pending_rows = [
        {"entry_id": entry_id, "status": "pending", "expires_at": entry.expires_at}
        for entry_id, entry in zip(ids, prepared, strict=True)
        if entry.kind == "pending"
    ]
    if pending_rows:
        connection.execute(PENDING.insert(), pending_rows)

    return [
        EntryView(
            id=entry_id,
            kind=entry.kind,
            idempotency_key=entry.key,
            actor=actor,
            reason=entry.reason,
            created_at=created_at,
            effective_at=entry.effective_at or created_at,
            expires_at=entry.expires_at,
            target_entry_id=entry.target_entry_id,
            reverses_entry_id=entry.reverses_entry_id,
            status="pending" if entry.kind == "pending" else "posted",
            metadata=entry.metadata,
            legs=tuple(
                LegView(
                    leg.account.code,
                    leg.account.currency,
                    "debit" if leg.is_debit else "credit",
                    leg.amount,
                    leg.pending_amount,
                )
                for leg in entry.legs
            ),
        )
        for entry_id, entry in zip(ids, prepared, strict=True)
    ]


def _entry_legs(session: Session, entry_id: int) -> list[tuple[Account, bool, int, int]]:
    from legato_pay.ledger.accounts import _row_to_account

    rows = session.execute(
        select(ACCOUNTS, LEGS.c.is_debit, LEGS.c.amount, LEGS.c.pending_amount)
        .join(LEGS, LEGS.c.account_id == ACCOUNTS.c.id)
        .where(LEGS.c.entry_id == entry_id)
        .order_by(LEGS.c.id)
    ).all()
    return [(_row_to_account(row), row.is_debit, row.amount, row.pending_amount) for row in rows]


def _replay_or_none(session: Session, key: str | None, content_hash: str) -> EntryView | None:
    if key is None:
        return None
    probe = _Prepared(kind="", legs=[], key=_check_key(key), content_hash=content_hash)
    return _find_replays(session, [probe]).get(0)


def resolve_pending(
    session: Session,
    entry_id: int,
    *,
    post: bool,
    actor: str,
    amount: int | None = None,
    idempotency_key: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> EntryView:
    """Post a pending entry (in full, or ``amount`` of a two-leg one) or void it.

    A partial post posts ``amount`` and releases the rest: the pending entry is then closed.
    """
    kind = "post_pending" if post else "void_pending"
    if amount is not None:
        _check_amount(amount)
        if not post:
            raise InvalidInput("a void releases the whole pending amount; drop --amount")
    content_hash = _content_hash(kind, entry_id, [("amount", "", amount or 0, 0)])
    replay = _replay_or_none(session, idempotency_key, content_hash)
    if replay is not None:
        return replay
    moment = as_utc(now) or utcnow()
    claimed = session.execute(
        update(PENDING)
        .where(PENDING.c.entry_id == entry_id, PENDING.c.status == "pending")
        .values(status="posted" if post else "voided")
        .returning(PENDING.c.expires_at)
    ).one_or_none()
    if claimed is None:
        status = session.execute(
            select(PENDING.c.status).where(PENDING.c.entry_id == entry_id)
        ).scalar_one_or_none()
        if status is None:
            exists = session.execute(select(ENTRIES.c.kind).where(ENTRIES.c.id == entry_id)).first()
            if exists is None:
                raise EntryNotFound(f"no entry {entry_id}", details={"entry_id": entry_id})
            raise InvalidState(
                f"entry {entry_id} is not a pending entry",
                details={"entry_id": entry_id, "kind": exists.kind},
            )
        raise InvalidState(
            f"pending entry {entry_id} is already {status}",
            details={"entry_id": entry_id, "status": status},
        )
    expires_at = as_utc(claimed.expires_at)
    if post and expires_at is not None and expires_at <= moment:
        raise PendingExpired(
            f"pending entry {entry_id} expired at {expires_at.isoformat()}",
            details={"entry_id": entry_id, "expires_at": expires_at.isoformat()},
        )
    original = _entry_legs(session, entry_id)
    reserved = max(pending for *_, pending in original)
    if amount is not None and amount != reserved:
        if len(original) != 2:
            raise InvalidInput(
                "a partial post needs a two-leg pending entry", details={"legs": len(original)}
            )
        if amount > reserved:
            raise InvalidAmount(
                "cannot post more than is pending",
                details={"pending": reserved, "requested": amount},
            )
    legs = [
        _Leg(
            account,
            is_debit,
            (pending if amount is None else amount) if post else 0,
            -pending,
        )
        for account, is_debit, _, pending in original
    ]
    prepared = _Prepared(
        kind=kind,
        legs=legs,
        key=_check_key(idempotency_key),
        content_hash=content_hash,
        reason=reason,
        target_entry_id=entry_id,
    )
    view = _apply(session, [prepared], actor=actor, now=moment)[0]
    session.execute(
        update(PENDING).where(PENDING.c.entry_id == entry_id).values(resolved_entry_id=view.id)
    )
    return view


def reverse_entry(
    session: Session,
    entry_id: int,
    *,
    actor: str,
    reason: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> EntryView:
    """Undo the posted effect of an entry with a new entry pointing at it; at most once."""
    if not reason or not reason.strip():
        raise InvalidInput("a reversal needs a reason", details={"field": "reason"})
    content_hash = _content_hash("reversal", entry_id, [])
    replay = _replay_or_none(session, idempotency_key, content_hash)
    if replay is not None:
        return replay
    kind = session.execute(select(ENTRIES.c.kind).where(ENTRIES.c.id == entry_id)).scalar()
    if kind is None:
        raise EntryNotFound(f"no entry {entry_id}", details={"entry_id": entry_id})
    existing = session.execute(
        select(ENTRIES.c.id).where(ENTRIES.c.reverses_entry_id == entry_id)
    ).scalar()
    if existing is not None:
        raise AlreadyReversed(
            f"entry {entry_id} was already reversed by entry {existing}",
            details={"entry_id": entry_id, "reversal_entry_id": existing},
        )
    legs = [
        _Leg(account, not is_debit, posted, 0)
        for account, is_debit, posted, _ in _entry_legs(session, entry_id)
        if posted > 0
    ]
    if not legs:
        raise InvalidState(
            f"entry {entry_id} ({kind}) moved no posted value; void a pending entry instead",
            details={"entry_id": entry_id, "kind": kind},
        )
    prepared = _Prepared(
        kind="reversal",
        legs=legs,
        key=_check_key(idempotency_key),
        content_hash=content_hash,
        reason=reason,
        reverses_entry_id=entry_id,
    )
    return _apply(session, [prepared], actor=actor, now=now)[0]


def expired_pending_ids(session: Session, *, now: datetime | None = None) -> list[int]:
    moment = as_utc(now) or utcnow()
    return list(
        session.execute(
            select(PENDING.c.entry_id)
            .where(PENDING.c.status == "pending", PENDING.c.expires_at <= moment)
            .order_by(PENDING.c.entry_id)
        ).scalars()
    )
