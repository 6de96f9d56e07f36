"""The SQLAlchemy Core posting path, the one SQLite takes: the steps of a posting one statement
each, inside the unit of work (SQLite runs one writer at a time, ``BEGIN IMMEDIATE``).

The conditional update adds an account's share of the batch to its totals and returns the new
totals. For a no-overdraft account that loses value in the batch, the ``WHERE`` clause checks
the limit against the latest committed totals (the row is locked by the update itself). It also
moves the account's ``last_leg_at`` up to the caller's time and returns it: the batch is stamped
with the latest of those, so no leg is ever stamped before one posted earlier on its account.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, bindparam, case, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from legato_pay.errors import RetryableConflict
from legato_pay.ledger.shaping import (
    Prepared,
    batch_deltas,
    insufficient_funds,
    limit_kind,
    metadata_texts,
    outflow,
    running_legs,
)
from legato_pay.ledger.types import Account, as_utc
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, PENDING

# --- statements, built once ----------------------------------------------------------------


def _sa_update(limit: str | None) -> Any:
    dp, cp = bindparam("d_dp", type_=BigInteger), bindparam("d_cp", type_=BigInteger)
    dpe, cpe = bindparam("d_dpe", type_=BigInteger), bindparam("d_cpe", type_=BigInteger)
    at = bindparam("at", type_=DateTime(timezone=True))
    statement = (
        update(ACCOUNTS)
        .where(ACCOUNTS.c.id == bindparam("account_id", type_=BigInteger))
        .values(
            debits_posted=ACCOUNTS.c.debits_posted + dp,
            credits_posted=ACCOUNTS.c.credits_posted + cp,
            debits_pending=ACCOUNTS.c.debits_pending + dpe,
            credits_pending=ACCOUNTS.c.credits_pending + cpe,
            last_leg_at=case((ACCOUNTS.c.last_leg_at > at, ACCOUNTS.c.last_leg_at), else_=at),
        )
        .returning(
            ACCOUNTS.c.debits_posted,
            ACCOUNTS.c.credits_posted,
            ACCOUNTS.c.debits_pending,
            ACCOUNTS.c.credits_pending,
            ACCOUNTS.c.last_leg_at,
        )
    )
    if limit == "credit":
        statement = statement.where(
            ACCOUNTS.c.debits_posted + dp + ACCOUNTS.c.debits_pending + dpe
            <= ACCOUNTS.c.credits_posted + cp
        )
    elif limit == "debit":
        statement = statement.where(
            ACCOUNTS.c.credits_posted + cp + ACCOUNTS.c.credits_pending + cpe
            <= ACCOUNTS.c.debits_posted + dp
        )
    return statement


_SA_UPDATES = {limit: _sa_update(limit) for limit in (None, "credit", "debit")}
_SA_RAISE_CLOCK = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.id.in_(bindparam("account_ids", expanding=True)))
    .values(last_leg_at=bindparam("at", type_=DateTime(timezone=True)))
)
_SA_INSERT_ENTRIES = ENTRIES.insert().returning(ENTRIES.c.id, sort_by_parameter_order=True)
_SA_INSERT_LEGS = LEGS.insert()
_SA_INSERT_PENDING = PENDING.insert()
_LEG_COLUMNS = (
    "entry_id",
    "account_id",
    "currency",
    "is_debit",
    "amount",
    "pending_amount",
    "debits_posted_after",
    "credits_posted_after",
    "debits_pending_after",
    "credits_pending_after",
)


def apply_entries(
    session: Session, prepared: Sequence[Prepared], actor: str, now: datetime
) -> tuple[list[int], datetime]:
    """Conditional updates in account id order, then entries, legs and pending states; returns
    the new entries' ids and the time they were stamped with: ``now``, or the last leg of an
    account they touch if that is later."""
    connection = session.connection()
    accounts, deltas = batch_deltas(prepared)
    running, created_at = _update_accounts(session, connection, accounts, deltas, now)
    legs = running_legs(session, prepared, accounts, running)
    ids = _insert_entries(connection, prepared, actor, created_at, now)
    _insert_legs(connection, legs, ids, created_at)
    _insert_pending(connection, prepared, ids)
    return ids, created_at


def _update_accounts(
    session: Session,
    connection: Connection,
    accounts: dict[int, Account],
    deltas: dict[int, list[int]],
    now: datetime,
) -> tuple[dict[int, list[int]], datetime]:
    """Each non-hot account's totals before the batch, after updating them in id order (a
    no-overdraft account only if its limit holds), and the batch's time: the latest of ``now``
    and the accounts' last legs, which every account's ``last_leg_at`` is then moved up to."""
    running: dict[int, list[int]] = {}
    stamps: dict[int, datetime] = {}
    for account_id in sorted(deltas):
        account = accounts[account_id]
        dp, cp, dpe, cpe = deltas[account_id]
        row = connection.execute(
            _SA_UPDATES[limit_kind(account, deltas[account_id])],
            {
                "account_id": account_id,
                "d_dp": dp,
                "d_cp": cp,
                "d_dpe": dpe,
                "d_cpe": cpe,
                "at": now,
            },
        ).one_or_none()
        if row is None:
            raise insufficient_funds(session, account, outflow(account, deltas[account_id]))
        running[account_id] = [row[0] - dp, row[1] - cp, row[2] - dpe, row[3] - cpe]
        stamps[account_id] = as_utc(row[4]) or now
    created_at = max(stamps.values(), default=now)
    behind = [account_id for account_id, stamp in stamps.items() if stamp < created_at]
    if behind:  # another account of the batch had a later leg (a backdated batch: rare)
        connection.execute(_SA_RAISE_CLOCK, {"account_ids": behind, "at": created_at})
    return running, created_at


def _insert_entries(
    connection: Connection,
    prepared: Sequence[Prepared],
    actor: str,
    created_at: datetime,
    now: datetime,
) -> list[int]:
    entry_rows = [
        {
            "idempotency_key": entry.key,
            "content_hash": entry.content_hash,
            "kind": entry.kind,
            "target_entry_id": entry.target_entry_id,
            "reverses_entry_id": entry.reverses_entry_id,
            "actor": actor,
            "reason": entry.reason,
            "metadata_json": metadata_json,
            "created_at": created_at,
            "effective_at": entry.effective_at or now,
            "expires_at": entry.expires_at,
        }
        for entry, metadata_json in zip(prepared, metadata_texts(prepared), strict=True)
    ]
    try:
        return [row[0] for row in connection.execute(_SA_INSERT_ENTRIES, entry_rows)]
    except IntegrityError as exc:
        # Another unit of work committed the same idempotency key (or reversal) first: rerun,
        # and the rerun will find it.
        raise RetryableConflict(str(exc.orig)) from exc


def _insert_legs(
    connection: Connection, legs: list[tuple[Any, ...]], ids: list[int], created_at: datetime
) -> None:
    leg_rows = []
    for leg in legs:
        row = dict(zip(_LEG_COLUMNS, leg, strict=True))
        row["entry_id"] = ids[leg[0]]
        row["created_at"] = created_at
        leg_rows.append(row)
    connection.execute(_SA_INSERT_LEGS, leg_rows)


def _insert_pending(connection: Connection, prepared: Sequence[Prepared], ids: list[int]) -> None:
    pending_rows = [
        {
            "entry_id": entry_id,
            "status": "pending",
            "expires_at": entry.expires_at,
            "post_at": entry.post_at,
        }
        for entry_id, entry in zip(ids, prepared, strict=True)
        if entry.kind == "pending"
    ]
    if pending_rows:
        connection.execute(_SA_INSERT_PENDING, pending_rows)
