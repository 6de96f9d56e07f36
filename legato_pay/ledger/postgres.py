"""The PostgreSQL posting path: a whole batch in one prepared statement.

All of it (the journal lock shared with ``seal``, the idempotency-key lookup, the conditional
updates of the non-hot accounts chained in id order, the inserts of entries, legs and pending
states) is one statement on a raw psycopg cursor of the unit of work's own connection: one
round trip per batch, planned once per connection (see ``_pg_post_statement``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from legato_pay.errors import RetryableConflict
from legato_pay.ledger.pg_params import account_params, entry_params, leg_params
from legato_pay.ledger.shaping import (
    Prepared,
    batch_deltas,
    insufficient_funds,
    limit_kind,
    outflow,
    running_legs,
)
from legato_pay.ledger.types import Account, as_utc
from legato_pay.store import raw

# PostgreSQL: plain SQL on the unit of work's own psycopg connection (same transaction), so each
# statement is prepared once per connection, builds nothing per call and costs one round trip.

# Every non-hot account of the batch is updated by one statement driven by arrays (so the text,
# and with it the prepared plan, is the same whatever the batch touches); an account whose
# no-overdraft limit can bite is updated only if its limit holds ("credit"/"debit": its normal
# side, NULL: no check).
_PG_LOCKED = """locked AS MATERIALIZED (
    SELECT id, last_leg_at FROM ledger_accounts WHERE id = ANY(%(acct_id)s::bigint[]){start}
    ORDER BY id FOR UPDATE
)"""
# A batch touching one non-hot account (a single posting, typically) updates it by its id with
# plain parameters: cheaper to run than the array form, and still one text per limit kind.
_PG_ONE_ACCOUNT = """totals AS MATERIALIZED (
    UPDATE ledger_accounts SET
        debits_posted = debits_posted + %(dp0)s::bigint,
        credits_posted = credits_posted + %(cp0)s::bigint,
        debits_pending = debits_pending + %(dpe0)s::bigint,
        credits_pending = credits_pending + %(cpe0)s::bigint,
        last_leg_at = greatest(last_leg_at, %(created_at)s::timestamptz)
    WHERE id = %(id0)s::bigint{limit}{start}
    RETURNING id, debits_posted, credits_posted, debits_pending, credits_pending, last_leg_at
)"""
_PG_ONE_LIMIT = {
    None: "",
    "credit": " AND debits_posted + %(dp0)s::bigint + debits_pending + %(dpe0)s::bigint"
    " <= credits_posted + %(cp0)s::bigint",
    "debit": " AND credits_posted + %(cp0)s::bigint + credits_pending + %(cpe0)s::bigint"
    " <= debits_posted + %(dp0)s::bigint",
}
_PG_ACCOUNTS = """totals AS MATERIALIZED (
    UPDATE ledger_accounts AS a SET
        debits_posted = a.debits_posted + d.dp, credits_posted = a.credits_posted + d.cp,
        debits_pending = a.debits_pending + d.dpe, credits_pending = a.credits_pending + d.cpe,
        last_leg_at = {stamp}
    FROM unnest(%(acct_id)s::bigint[], %(acct_dp)s::bigint[], %(acct_cp)s::bigint[],
        %(acct_dpe)s::bigint[], %(acct_cpe)s::bigint[], %(acct_limit)s::text[])
        AS d(id, dp, cp, dpe, cpe, lim)
    WHERE a.id = ANY(%(acct_id)s::bigint[]) AND a.id = d.id
        AND {ready}
        AND CASE d.lim
            WHEN 'credit' THEN a.debits_posted + d.dp + a.debits_pending + d.dpe
                <= a.credits_posted + d.cp
            WHEN 'debit' THEN a.credits_posted + d.cp + a.credits_pending + d.cpe
                <= a.debits_posted + d.dp
            ELSE true END
    RETURNING a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
        a.last_leg_at
)"""
# The batch's time: the caller's, or the last leg of an account it updates if that is later
# (``totals`` returns each account's ``last_leg_at``, already moved up to it). Read from the rows
# the statement locked, so it is the latest committed value even after waiting for a lock.
_PG_STAMP = """stamp AS MATERIALIZED (
    SELECT coalesce((SELECT max(last_leg_at) FROM totals), %(created_at)s::timestamptz) AS at
)"""
_PG_ENTRIES = """new_entries AS (
    INSERT INTO ledger_entries (id, idempotency_key, content_hash, kind, target_entry_id,
        reverses_entry_id, actor, reason, metadata_json, created_at, effective_at, expires_at)
    SELECT ids.id[u.ord], u.idempotency_key, u.content_hash, u.kind, u.target_entry_id,
        u.reverses_entry_id, %(actor)s, u.reason, u.metadata_json, stamp.at,
        coalesce(u.effective_at::timestamptz, %(created_at)s), u.expires_at::timestamptz
    FROM ids, stamp, unnest(%(keys)s::text[], %(hashes)s::text[], %(kinds)s::text[],
        %(targets)s::bigint[], %(reverses)s::bigint[], %(reasons)s::text[], %(metadata)s::text[],
        %(effective)s::text[], %(expires)s::text[])
        WITH ORDINALITY AS u(idempotency_key, content_hash, kind, target_entry_id,
            reverses_entry_id, reason, metadata_json, effective_at, expires_at, ord)
    ORDER BY u.ord
),
new_legs AS (
    INSERT INTO ledger_legs (entry_id, account_id, currency, is_debit, amount, pending_amount,
        created_at, debits_posted_after, credits_posted_after, debits_pending_after,
        credits_pending_after)
    SELECT ids.id[l.entry_ord], l.account_id, l.currency, l.is_debit, l.amount, l.pending_amount,
        stamp.at, t.debits_posted - l.sdp, t.credits_posted - l.scp,
        t.debits_pending - l.sdpe, t.credits_pending - l.scpe
    FROM ids, stamp, unnest(%(leg_entry)s::int[], %(leg_account)s::bigint[], %(leg_currency)s::text[],
        %(leg_debit)s::bool[], %(leg_amount)s::bigint[], %(leg_pending)s::bigint[],
        %(leg_sdp)s::bigint[], %(leg_scp)s::bigint[], %(leg_sdpe)s::bigint[],
        %(leg_scpe)s::bigint[])
        WITH ORDINALITY AS l(entry_ord, account_id, currency, is_debit, amount, pending_amount,
            sdp, scp, sdpe, scpe, ord)
    LEFT JOIN totals AS t ON t.id = l.account_id AND l.sdp IS NOT NULL
    ORDER BY l.ord
),
new_pending AS (
    INSERT INTO ledger_pending (entry_id, status, expires_at, post_at)
    SELECT ids.id[p.entry_ord], 'pending', p.expires_at::timestamptz, p.post_at::timestamptz
    FROM ids, unnest(%(pending_entry)s::int[], %(pending_expires)s::text[],
        %(pending_post_at)s::text[]) AS p(entry_ord, expires_at, post_at)
)
"""
_PG_RESULT = (
    "(SELECT id FROM ids), ARRAY(SELECT ARRAY[id, debits_posted, credits_posted,"
    " debits_pending, credits_pending] FROM totals)"
)


# A no-overdraft account short after some entry of the batch (even if not after the last): its
# totals then were its new totals less what the entries after that one add.
_PG_SHORT = """SELECT FROM unnest(%(check_account)s::bigint[], %(check_credit)s::bool[],
        %(check_sdp)s::bigint[], %(check_scp)s::bigint[], %(check_sdpe)s::bigint[],
        %(check_scpe)s::bigint[]) AS c(account_id, credit_normal, sdp, scp, sdpe, scpe)
    JOIN totals AS t ON t.id = c.account_id
    WHERE CASE WHEN c.credit_normal
        THEN (t.credits_posted - c.scp) - (t.debits_posted - c.sdp) - (t.debits_pending - c.sdpe)
        ELSE (t.debits_posted - c.sdp) - (t.credits_posted - c.scp) - (t.credits_pending - c.scpe)
        END < 0"""


# Run alone (autocommit, its own transaction), the statement must fail rather than post part of
# a batch: accounts may have been updated before the gate stopped the entries. The function
# (migration 0006) raises, and with it everything the statement did is rolled back.
_PG_REFUSE = ", CASE WHEN (SELECT id FROM ids) IS NULL THEN ledger_refuse_posting() END"


@lru_cache(maxsize=16)
def _pg_post_statement(lock: bool, find: bool, shape: str | None, alone: bool = False) -> str:
    """One statement that posts a batch; its text depends only on ``lock``, ``find``,
    ``shape`` (``"several"`` non-hot accounts, or the limit kind of the one account: ``"one"``,
    ``"credit"``, ``"debit"``) and ``alone``, so it is prepared once per connection. ``alone``:
    it is a transaction of its own, and raises instead of posting nothing.

    Order inside it is forced by data dependencies, not left to the planner: the journal lock
    (``lock``) and, with ``find``, the lookup of the batch's idempotency keys gate everything
    (a key seen before stops everything; the caller sorts replays out and posts the rest with a
    second statement); then every non-hot account of the batch is locked in id order (with
    ``several``, one ``SELECT … ORDER BY id FOR UPDATE``, so concurrent batches never
    deadlock) and updated,
    each no-overdraft account only if its limit holds after the whole batch; entry ids are drawn
    only if every account was updated and no no-overdraft account would be short after any
    entry of the batch (so on every account, entry id order is lock order, which running totals
    follow), in batch order; entries, legs and pending states are inserted from those ids, legs
    in batch order (so leg ids follow too), with running totals computed from the new account
    totals. Foreign keys are checked at the end of the statement. It returns the entry ids and
    the new totals of the accounts updated.
    """
    parts = []
    start = ""
    if lock:
        parts.append(
            "journal_lock AS MATERIALIZED"
            " (SELECT pg_advisory_xact_lock_shared(%(lock_key)s::bigint) AS locked)"
        )
        start += " AND EXISTS (SELECT FROM journal_lock)"
    if find:
        parts.append(
            "seen AS MATERIALIZED (SELECT id, idempotency_key, content_hash FROM ledger_entries"
            " WHERE idempotency_key = ANY(%(find_keys)s::text[]))"
        )
        start += " AND NOT EXISTS (SELECT FROM seen)"
    if shape == "several":  # lock them all first, in id order
        parts.append(_PG_LOCKED.format(start=start))
        ready = "(SELECT count(*) FROM locked) = cardinality(%(acct_id)s::bigint[])"
        stamp = "greatest(%(created_at)s::timestamptz, (SELECT max(last_leg_at) FROM locked))"
        parts.append(_PG_ACCOUNTS.format(ready=ready, stamp=stamp))
    elif shape is not None:  # one account needs no ordering
        limit = _PG_ONE_LIMIT[None if shape == "one" else shape]
        parts.append(_PG_ONE_ACCOUNT.format(limit=limit, start=start))
    else:  # no non-hot account: nothing to update
        parts.append(_PG_ACCOUNTS.format(ready="false", stamp="a.last_leg_at"))
    parts.append(_PG_STAMP)
    gate = (
        " WHERE (SELECT count(*) FROM totals) = cardinality(%(acct_id)s::bigint[])"
        f"{start} AND NOT EXISTS ({_PG_SHORT})"
    )
    parts.append(
        "ids AS MATERIALIZED (SELECT ARRAY(SELECT nextval('ledger_entries_id_seq'::regclass)"
        f" FROM unnest(%(hashes)s::text[])) AS id{gate})"
    )
    seen = "ARRAY(SELECT ARRAY[id::text, idempotency_key, content_hash] FROM seen)"
    result = f"SELECT {_PG_RESULT}, {seen if find else 'NULL::text[]'}, (SELECT at FROM stamp)"
    if alone:
        result += _PG_REFUSE
    return "WITH " + ",\n".join(parts) + ",\n" + _PG_ENTRIES + result


class KeysSeen(Exception):
    """Internal: some idempotency keys of the batch were used before (rows: id, key, hash)."""

    def __init__(self, rows: list[tuple[int, str, str]]) -> None:
        super().__init__("idempotency keys seen before")
        self.rows = rows


@dataclass(frozen=True, slots=True)
class PgBatch:
    """A batch's posting statement with every parameter but the actor and the time (so it can
    be built before the unit of work that runs it), and what reading its result needs."""

    statement: str
    params: dict[str, Any]
    order: list[int]
    accounts: dict[int, Account]
    deltas: dict[int, list[int]]


def build_pg_batch(
    prepared: Sequence[Prepared], *, find: bool, lock: bool, alone: bool = False
) -> PgBatch:
    """Build the statement and its parameters for ``run_pg_batch`` (``run_pg_batch_alone``
    with ``alone``). Arrays go as literals: formatting them here is far cheaper than adapting
    lists value by value (``ledger.pg_params``)."""
    accounts, deltas = batch_deltas(prepared)
    order = sorted(deltas)
    keys = [entry.key for entry in prepared if entry.key is not None] if find else []
    params = entry_params(prepared, keys)
    # Several accounts: checks the accounts' update makes anyway are folded into it.
    legs, folded = leg_params(prepared, accounts, deltas, fold=len(order) > 1)
    params.update(legs)
    shape: str | None
    if len(order) == 1:  # updated by its id (``_PG_ONE_ACCOUNT``): no per-account arrays
        account_id = order[0]
        dp, cp, dpe, cpe = deltas[account_id]
        params.update(acct_id=f"{{{account_id}}}", id0=account_id, dp0=dp, cp0=cp, dpe0=dpe)
        params["cpe0"] = cpe
        shape = limit_kind(accounts[account_id], deltas[account_id]) or "one"
    else:
        params.update(account_params(accounts, deltas, order, folded))
        shape = "several" if order else None
    statement = _pg_post_statement(lock, bool(keys), shape, alone)
    return PgBatch(statement, params, order, accounts, deltas)


def execute_pg_batch(cursor: Any, batch: PgBatch, actor: str, created_at: datetime) -> Any:
    """Run a batch's statement on a raw cursor; its one row: (entry ids, new totals, seen keys,
    the time the entries were stamped with). ``created_at`` is the caller's time: the entries
    are stamped with it, or with the last leg of a non-hot account they touch if that is later.
    Whoever runs it commits only if ``posted_ids`` finds every entry inserted."""
    try:
        raw.execute_named(
            cursor, batch.statement, {**batch.params, "actor": actor, "created_at": created_at}
        )
    except IntegrityError as exc:
        # Another unit of work committed the same idempotency key (or reversal) first: rerun,
        # and the rerun will find it.
        raise RetryableConflict(str(exc.orig)) from exc
    return cursor.fetchone()


def posted_ids(prepared: Sequence[Prepared], row: Any) -> tuple[list[int], datetime] | None:
    """The new entries' ids and time if the statement posted the whole batch, else None."""
    ids = row[0] or []
    if len(ids) != len(prepared) or row[2]:
        return None
    return list(ids), as_utc(row[3]) or row[3]


def run_pg_batch(
    session: Session,
    prepared: Sequence[Prepared],
    batch: PgBatch,
    actor: str,
    created_at: datetime,
) -> tuple[list[int], datetime]:
    """The whole batch in one statement (see ``_pg_post_statement``) on the session's own
    connection: the entry ids and their time; raises what stopped it (keys seen before, a
    limit)."""
    row = execute_pg_batch(raw.raw_cursor(session), batch, actor, created_at)
    posted = posted_ids(prepared, row)
    if posted is None:
        _raise_refusal(session, prepared, batch, row)
    return posted


def _raise_refusal(
    session: Session, prepared: Sequence[Prepared], batch: PgBatch, row: Any
) -> NoReturn:
    """Why the statement posted nothing: keys seen before, or which limit would break."""
    totals, seen = row[1], row[2]
    accounts, deltas, order = batch.accounts, batch.deltas, batch.order
    if seen:
        raise KeysSeen([(int(entry_id), key, content_hash) for entry_id, key, content_hash in seen])
    if len(totals) < len(order):
        # Some account's limit would be broken: report the first (in id order), as SQLite does.
        updated = {int(row[0]) for row in totals}
        account = accounts[next(account_id for account_id in order if account_id not in updated)]
        raise insufficient_funds(session, account, outflow(account, deltas[account.id]))
    # Some no-overdraft account would be short after one of the entries: find which.
    running = {}
    for account_id, dp, cp, dpe, cpe in totals:
        delta = deltas[account_id]
        running[account_id] = [dp - delta[0], cp - delta[1], dpe - delta[2], cpe - delta[3]]
    running_legs(session, prepared, accounts, running)
    raise RuntimeError("the posting statement inserted no entries, yet no limit is broken")


def run_pg_batch_alone(
    engine: Engine,
    prepared: Sequence[Prepared],
    batch: PgBatch,
    actor: str,
    created_at: datetime,
) -> tuple[list[int], datetime] | None:
    """Run a batch's statement (built ``alone``) as a transaction of its own on this thread's
    autocommit connection (``raw.autocommit_cursor``), with no unit of work around it: one round trip, no ``BEGIN`` or ``COMMIT``.
    Returns the entry ids and their time, or None when the server refused it (a key seen before, a limit, a
    lost race): nothing of it stayed, and the caller takes the ordinary path, which says why.
    """
    cursor = raw.autocommit_cursor(engine)
    try:
        row = execute_pg_batch(cursor, batch, actor, created_at)
    except (DBAPIError, RetryableConflict) as exc:
        if not _refused_by_server(exc):
            raw.discard_autocommit_connection(engine)
            raise  # the connection failed: whether it committed is unknown
        return None
    except BaseException:
        raw.discard_autocommit_connection(engine)  # interrupted: its state is unknown
        raise
    return posted_ids(prepared, row)


def _refused_by_server(exc: BaseException) -> bool:
    """The server answered with an error (so the statement, and its transaction, rolled back)
    rather than the connection failing."""
    orig = getattr(exc, "orig", None) or getattr(exc.__cause__, "orig", None)
    diag = getattr(orig, "diag", None)
    return getattr(diag, "sqlstate", None) is not None
