"""Posting: the one path through which value moves.

Every entry, whatever its kind, goes through ``_apply``, which keeps the posting path to a handful
of statements: one conditional ``UPDATE … RETURNING`` per non-hot account (in id order, so
concurrent postings lock accounts in the same order and never deadlock each other; the
``WHERE`` clause enforces no-overdraft limits against the latest committed totals, so concurrent
spends can never overdraw and no update is lost at READ COMMITTED), one multi-row insert of the
entries and one of the legs. Hot accounts are never updated here; ``seal`` rolls them up.

On PostgreSQL each posting also takes a shared advisory lock that ``seal`` takes exclusively for
an instant, so the seal's watermark never passes an entry that is still in flight. There all
of it (lock, idempotency-key lookup, the conditional updates chained in id order, the inserts)
is one prepared statement on the unit of work's own psycopg connection: one round trip per
batch (see ``_pg_post_statement``). SQLite runs the steps one by one.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _json_text
from typing import Any

from sqlalchemy import BigInteger, Engine, bindparam, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
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
from legato_pay.idempotency import check_key
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
from legato_pay.store import arrays
from legato_pay.store.dialect import is_postgres
from legato_pay.store.locks import JOURNAL
from legato_pay.store.tables import ENTRIES, LEGS, PENDING

#: GIL switch interval (seconds) while ``post_entry_batches`` runs its writer thread.
WRITER_SWITCH_INTERVAL = 0.0005


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
    # Built by ``_prepare`` (off the bulk writer's thread); entries made elsewhere get theirs
    # when posted.
    leg_views: tuple[LegView, ...] | None = None


def _content_hash(kind: str, target: int | None, legs: Sequence[tuple[str, str, int, int]]) -> str:
    """What an idempotency key promises: the same kind, target and legs (not actor or times).

    The payload is ``json.dumps([kind, target, sorted(legs)], separators=(",", ":"))``, written
    out by hand (it is built for every entry posted; a test holds it equal to ``json.dumps``)."""
    rows = ",".join(
        [
            f"[{_json_text(account)},{_json_text(side)},{amount},{pending}]"
            for account, side, amount, pending in sorted(legs)
        ]
    )
    head = "null" if target is None else str(target)
    payload = f"[{_json_text(kind)},{head},[{rows}]]"
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("leg amounts must be int minor units", details={"amount": repr(amount)})
    if amount <= 0 or amount > MAX_MINOR_UNITS:
        raise InvalidAmount(
            "leg amounts must be positive and within bounds", details={"amount": amount}
        )
    return amount


def _prepare(spec: EntrySpec, accounts: dict[str, Account]) -> _Prepared:
    """Check one entry and shape it for posting. Runs for every entry posted, so the loop is
    kept plain; every check still raises its own error."""
    spec_legs = spec.legs
    if len(spec_legs) < 2:
        raise UnbalancedEntry("an entry needs at least two legs", details={"legs": len(spec_legs)})
    pending = spec.pending
    if spec.expires_at is not None and not pending:
        raise InvalidInput("only pending entries can expire", details={"field": "expires_at"})
    legs: list[_Leg] = []
    shape: list[tuple[str, str, int, int]] = []
    net: dict[str, int] = {}
    for leg in spec_legs:
        amount = leg.amount
        if type(amount) is not int or amount <= 0 or amount > MAX_MINOR_UNITS:
            _check_amount(amount)  # raises the precise error
        side = leg.side
        if side == "debit":
            is_debit = True
        elif side == "credit":
            is_debit = False
        else:
            raise InvalidInput("leg side must be debit or credit", details={"side": side})
        account = accounts[leg.account]
        currency = account.currency
        if leg.currency is not None and leg.currency != currency:
            raise CurrencyMismatch(
                f"account {account.code} holds {currency}, not {leg.currency}",
                details={
                    "account": account.code,
                    "account_currency": currency,
                    "currency": leg.currency,
                },
            )
        net[currency] = net.get(currency, 0) + (amount if is_debit else -amount)
        posted, held = (0, amount) if pending else (amount, 0)
        legs.append(_Leg(account, is_debit, posted, held))
        shape.append((leg.account, side, amount, 0))
    if len({leg.account for leg in spec_legs}) < 2:
        raise InvalidInput(
            "an entry must move value between at least two different accounts",
            details={"account": spec_legs[0].account},
            code="SAME_ACCOUNT",
        )
    for total in net.values():
        if total:
            raise UnbalancedEntry(
                "debits must equal credits in every currency",
                details={"difference": {cur: diff for cur, diff in net.items() if diff}},
            )
    kind = "pending" if pending else "posted"
    key = spec.idempotency_key
    return _Prepared(
        kind=kind,
        legs=legs,
        key=None if key is None else check_key(key),
        content_hash=_content_hash(kind, None, shape),
        reason=spec.reason,
        metadata=spec.metadata,
        effective_at=None if spec.effective_at is None else as_utc(spec.effective_at),
        expires_at=None if spec.expires_at is None else as_utc(spec.expires_at),
        leg_views=_leg_views(legs),
    )


def post_entries(
    session: Session, specs: Sequence[EntrySpec], *, actor: str, now: datetime | None = None
) -> list[EntryView]:
    """Post entries atomically (all or none) and return them in order.

    An entry whose idempotency key was seen before returns the original (``replayed``) when its
    content is the same and raises ``IDEMPOTENCY_CONFLICT`` when it differs.
    """
    return post_prepared(session, prepare_entries(session, specs), actor=actor, now=now)


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """Entries checked and shaped for posting: all that is left is the write. Accounts are
    immutable and never deleted, so a batch prepared in one unit of work posts in another.
    On PostgreSQL it also holds the posting statement's parameters, so that the unit of work
    that writes it only runs the statement."""

    entries: tuple[_Prepared, ...]
    statement: _PgBatch | None = None


def prepare_entries(session: Session, specs: Sequence[EntrySpec]) -> PreparedBatch:
    """Validate entries and resolve their accounts (no writes unless ``world:<CUR>`` is new)."""
    keys = [spec.idempotency_key for spec in specs if spec.idempotency_key is not None]
    if len(keys) != len(set(keys)):
        raise InvalidInput("the same idempotency key appears twice in one batch")
    accounts = resolve_accounts(session, {leg.account for spec in specs for leg in spec.legs})
    entries = tuple(_prepare(spec, accounts) for spec in specs)
    if entries and is_postgres(session):
        return PreparedBatch(entries, _pg_batch(entries, find=True, lock=True))
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
            return _apply(
                session, prepared, actor=actor, now=now, find_replays=True, batch=batch.statement
            )
        except _KeysSeen as seen:  # nothing was posted; the journal lock is held
            replays = _replays_from_rows(session, prepared, seen.rows)
            locked = True
    else:
        replays = _find_replays(session, prepared)
    fresh = [entry for index, entry in enumerate(prepared) if index not in replays]
    posted = iter(_apply(session, fresh, actor=actor, now=now, locked=locked))
    return [replays[i] if i in replays else next(posted) for i in range(len(prepared))]


def post_entry_batches(
    engine: Engine, batches: Iterable[Sequence[EntrySpec]], *, actor: str
) -> Iterator[list[EntryView]]:
    """Post batches one transaction each, checking and shaping the next batch while the current
    one is written (its statement runs on the server while this thread prepares): for imports
    and bulk jobs. Yields each batch's entries, in order. Stops at the first batch that fails:
    the batches before it stay posted, and with idempotency keys a rerun replays them."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from legato_pay.store.engine import run_in_transaction

    # While this thread prepares, the writer wakes up when the server answers and needs the GIL
    # back; with the default 5 ms switch interval it would wait that long each time (a fifth of
    # a 1,000-entry batch's time). Restored when the batches are done.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, WRITER_SWITCH_INTERVAL))
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-writer") as writer:
            writing: Future[list[EntryView]] | None = None
            for specs in batches:
                batch = run_in_transaction(engine, lambda s, specs=specs: prepare_entries(s, specs))
                if writing is not None:
                    yield writing.result()
                writing = writer.submit(
                    run_in_transaction,
                    engine,
                    lambda s, batch=batch: post_prepared(s, batch, actor=actor),
                )
            if writing is not None:
                yield writing.result()
    finally:
        sys.setswitchinterval(interval)


def _find_replays(session: Session, prepared: Sequence[_Prepared]) -> dict[int, EntryView]:
    keys = [entry.key for entry in prepared if entry.key is not None]
    if not keys:
        return {}
    rows: list[tuple[int, str, str]] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows += session.execute(
            select(ENTRIES.c.id, ENTRIES.c.idempotency_key, ENTRIES.c.content_hash).where(
                ENTRIES.c.idempotency_key.in_(chunk)
            )
        ).all()
    return _replays_from_rows(session, prepared, rows)


def _replays_from_rows(
    session: Session, prepared: Sequence[_Prepared], rows: Sequence[tuple[int, str, str]]
) -> dict[int, EntryView]:
    """Originals for the entries whose keys were found (rows of id, key, content hash)."""
    if not rows:
        return {}
    from legato_pay.ledger.queries import get_entries

    by_key = {entry.key: index for index, entry in enumerate(prepared) if entry.key is not None}
    for entry_id, key, content_hash in rows:
        if content_hash != prepared[by_key[key]].content_hash:
            raise IdempotencyConflict(
                f"idempotency key {key!r} was already used for different content",
                details={"key": key, "entry_id": entry_id},
            )
    originals = get_entries(session, [entry_id for entry_id, _, _ in rows])
    return {by_key[key]: _as_replay(originals[entry_id]) for entry_id, key, _ in rows}


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


# --- statements, built once ----------------------------------------------------------------
#
# The conditional update adds an account's share of the batch to its totals and returns the new
# totals. For a no-overdraft account that loses value in the batch, the ``WHERE`` clause checks
# the limit against the latest committed totals (the row is locked by the update itself).


def _sa_update(limit: str | None) -> Any:
    dp, cp = bindparam("d_dp", type_=BigInteger), bindparam("d_cp", type_=BigInteger)
    dpe, cpe = bindparam("d_dpe", type_=BigInteger), bindparam("d_cpe", type_=BigInteger)
    statement = (
        update(ACCOUNTS)
        .where(ACCOUNTS.c.id == bindparam("account_id", type_=BigInteger))
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

# PostgreSQL: plain SQL on the unit of work's own psycopg connection (same transaction), so each
# statement is prepared once per connection, builds nothing per call and costs one round trip.

_PG_TOTALS = "id, debits_posted, credits_posted, debits_pending, credits_pending"
# Every non-hot account of the batch is updated by one statement driven by arrays (so the text,
# and with it the prepared plan, is the same whatever the batch touches); an account whose
# no-overdraft limit can bite is updated only if its limit holds ("credit"/"debit": its normal
# side, NULL: no check).
_PG_LOCKED = """locked AS MATERIALIZED (
    SELECT id FROM ledger_accounts WHERE id = ANY(%(acct_id)s::bigint[]){start}
    ORDER BY id FOR UPDATE
)"""
# A batch touching one non-hot account (a single posting, typically) updates it by its id with
# plain parameters: cheaper to run than the array form, and still one text per limit kind.
_PG_ONE_ACCOUNT = """totals AS MATERIALIZED (
    UPDATE ledger_accounts SET
        debits_posted = debits_posted + %(dp0)s::bigint,
        credits_posted = credits_posted + %(cp0)s::bigint,
        debits_pending = debits_pending + %(dpe0)s::bigint,
        credits_pending = credits_pending + %(cpe0)s::bigint
    WHERE id = %(id0)s::bigint{limit}{start}
    RETURNING id, debits_posted, credits_posted, debits_pending, credits_pending
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
        debits_pending = a.debits_pending + d.dpe, credits_pending = a.credits_pending + d.cpe
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
    RETURNING a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending
)"""
_PG_ENTRIES = """new_entries AS (
    INSERT INTO ledger_entries (id, idempotency_key, content_hash, kind, target_entry_id,
        reverses_entry_id, actor, reason, metadata_json, created_at, effective_at, expires_at)
    SELECT ids.id[u.ord], u.idempotency_key, u.content_hash, u.kind, u.target_entry_id,
        u.reverses_entry_id, %(actor)s, u.reason, u.metadata_json, %(created_at)s,
        coalesce(u.effective_at::timestamptz, %(created_at)s), u.expires_at::timestamptz
    FROM ids, unnest(%(keys)s::text[], %(hashes)s::text[], %(kinds)s::text[],
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
        %(created_at)s, t.debits_posted - l.sdp, t.credits_posted - l.scp,
        t.debits_pending - l.sdpe, t.credits_pending - l.scpe
    FROM ids, unnest(%(leg_entry)s::int[], %(leg_account)s::bigint[], %(leg_currency)s::text[],
        %(leg_debit)s::bool[], %(leg_amount)s::bigint[], %(leg_pending)s::bigint[],
        %(leg_sdp)s::bigint[], %(leg_scp)s::bigint[], %(leg_sdpe)s::bigint[],
        %(leg_scpe)s::bigint[])
        WITH ORDINALITY AS l(entry_ord, account_id, currency, is_debit, amount, pending_amount,
            sdp, scp, sdpe, scpe, ord)
    LEFT JOIN totals AS t ON t.id = l.account_id AND l.sdp IS NOT NULL
    ORDER BY l.ord
),
new_pending AS (
    INSERT INTO ledger_pending (entry_id, status, expires_at)
    SELECT ids.id[p.entry_ord], 'pending', p.expires_at::timestamptz
    FROM ids, unnest(%(pending_entry)s::int[], %(pending_expires)s::text[])
        AS p(entry_ord, expires_at)
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


@lru_cache(maxsize=8)
def _pg_post_statement(lock: bool, find: bool, shape: str | None) -> str:
    """One statement that posts a batch; its text depends only on ``lock``, ``find`` and
    ``shape`` (``"several"`` non-hot accounts, or the limit kind of the one account: ``"one"``,
    ``"credit"``, ``"debit"``), so it is prepared once per connection.

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
        parts.append(_PG_ACCOUNTS.format(ready=ready))
    elif shape is not None:  # one account needs no ordering
        limit = _PG_ONE_LIMIT[None if shape == "one" else shape]
        parts.append(_PG_ONE_ACCOUNT.format(limit=limit, start=start))
    else:  # no non-hot account: nothing to update
        parts.append(_PG_ACCOUNTS.format(ready="false"))
    gate = (
        " WHERE (SELECT count(*) FROM totals) = cardinality(%(acct_id)s::bigint[])"
        f"{start} AND NOT EXISTS ({_PG_SHORT})"
    )
    parts.append(
        "ids AS MATERIALIZED (SELECT ARRAY(SELECT nextval('ledger_entries_id_seq'::regclass)"
        f" FROM unnest(%(hashes)s::text[])) AS id{gate})"
    )
    seen = "ARRAY(SELECT ARRAY[id::text, idempotency_key, content_hash] FROM seen)"
    result = f"SELECT {_PG_RESULT}, {seen if find else 'NULL::text[]'}"
    return "WITH " + ",\n".join(parts) + ",\n" + _PG_ENTRIES + result


_NAMED_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@lru_cache(maxsize=16)
def _numbered(statement: str) -> tuple[str, tuple[str, ...]]:
    """The statement with ``%(name)s`` placeholders numbered ``$1…$n`` (a name used twice gets
    one number) and the names in number order. psycopg re-parses the placeholders of a query
    longer than 4 KB on every call (about 0.5 ms for the posting statement, a third of a single
    posting's client time); with numbered ones on a raw cursor it parses nothing."""
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        return f"${numbers.setdefault(name, len(numbers) + 1)}"

    return _NAMED_PLACEHOLDER.sub(number, statement), tuple(numbers)


def _pg_cursor(session: Session) -> Any:
    """A raw cursor on the psycopg connection under the session's unit of work (same
    transaction); it takes ``$n`` placeholders (see ``_pg_execute``)."""
    import psycopg

    connection = session.connection().connection.driver_connection  # type: ignore[union-attr]
    return psycopg.RawCursor(connection)


def _pg_execute(cursor: Any, statement: str, params: dict[str, Any]) -> None:
    """Run a statement written with ``%(name)s`` placeholders, raising psycopg errors as
    SQLAlchemy's (which the retry loop reads)."""
    import psycopg

    numbered, names = _numbered(statement)
    try:
        cursor.execute(numbered, [params[name] for name in names])
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, params, exc, psycopg.Error) from exc


class _KeysSeen(Exception):
    """Internal: some idempotency keys of the batch were used before (rows: id, key, hash)."""

    def __init__(self, rows: list[tuple[int, str, str]]) -> None:
        super().__init__("idempotency keys seen before")
        self.rows = rows


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _batch_deltas(prepared: Sequence[_Prepared]) -> tuple[dict[int, Account], dict[int, list[int]]]:
    """Each non-hot account's change over the whole batch: [dp, cp, dpe, cpe]."""
    accounts: dict[int, Account] = {}
    deltas: dict[int, list[int]] = {}
    for entry in prepared:
        for leg in entry.legs:
            account = leg.account
            if account.hot:
                continue
            delta = deltas.get(account.id)
            if delta is None:
                accounts[account.id] = account
                delta = deltas[account.id] = [0, 0, 0, 0]
            if leg.is_debit:
                delta[0] += leg.amount
                delta[2] += leg.pending_amount
            else:
                delta[1] += leg.amount
                delta[3] += leg.pending_amount
    return accounts, deltas


def _outflow(account: Account, delta: Sequence[int]) -> int:
    dp, cp, dpe, cpe = delta
    return (dp + dpe) if account.normal_side == "credit" else (cp + cpe)


def _limit(account: Account, delta: Sequence[int]) -> str | None:
    """Which conditional update an account gets: its normal side if its limit can bite."""
    return account.normal_side if account.no_overdraft and _outflow(account, delta) > 0 else None


def _running_legs(
    session: Session,
    prepared: Sequence[_Prepared],
    accounts: dict[int, Account],
    running: dict[int, list[int]],
) -> list[tuple[Any, ...]]:
    """Legs (entry index, account id, currency, is_debit, amount, pending amount, totals after)
    with the running totals of their non-hot account after each; ``running`` starts at the
    totals before the batch. A no-overdraft account may never be short after any entry."""
    legs: list[tuple[Any, ...]] = []
    for index, entry in enumerate(prepared):
        touched: dict[int, list[int]] = {}  # account id -> this entry's deltas on it
        for leg in entry.legs:
            account = leg.account
            if account.hot:
                legs.append(
                    (index, account.id, account.currency, leg.is_debit, leg.amount,
                     leg.pending_amount, None, None, None, None)
                )  # fmt: skip
                continue
            totals = running[account.id]
            if leg.is_debit:
                totals[0] += leg.amount
                totals[2] += leg.pending_amount
            else:
                totals[1] += leg.amount
                totals[3] += leg.pending_amount
            legs.append(
                (index, account.id, account.currency, leg.is_debit, leg.amount,
                 leg.pending_amount, totals[0], totals[1], totals[2], totals[3])
            )  # fmt: skip
            delta = touched.setdefault(account.id, [0, 0, 0, 0])
            delta[0 if leg.is_debit else 1] += leg.amount
            delta[2 if leg.is_debit else 3] += leg.pending_amount
        for account_id, delta in touched.items():
            if _limit_violated(accounts[account_id], Totals(*running[account_id])):
                account = accounts[account_id]
                raise _insufficient(session, account, _outflow(account, delta))
    return legs


def _apply(
    session: Session,
    prepared: Sequence[_Prepared],
    *,
    actor: str,
    now: datetime | None = None,
    locked: bool = False,
    find_replays: bool = False,
    batch: _PgBatch | None = None,
) -> list[EntryView]:
    """Post prepared entries. ``locked``: the caller already holds the journal lock.
    ``find_replays`` (PostgreSQL): raise ``_KeysSeen``, posting nothing, if a key was used.
    ``batch``: the statement for exactly these entries, built beforehand (``prepare_entries``)."""
    if not prepared:
        return []
    # UTC throughout: SQLite keeps a time's wall clock and drops its offset.
    created_at = as_utc(now) or utcnow()
    if is_postgres(session):
        if batch is None:
            batch = _pg_batch(prepared, find=find_replays, lock=not locked)
        ids = _pg_apply(session, prepared, batch, actor, created_at)
    else:
        accounts, deltas = _batch_deltas(prepared)
        metadata = _metadata_json(prepared)
        ids = _sa_apply(session, prepared, accounts, deltas, metadata, actor, created_at)
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
            legs=entry.leg_views if entry.leg_views is not None else _leg_views(entry.legs),
        )
        for entry_id, entry in zip(ids, prepared, strict=True)
    ]


def _leg_views(legs: Sequence[_Leg]) -> tuple[LegView, ...]:
    return tuple(
        LegView(
            leg.account.code,
            leg.account.currency,
            "debit" if leg.is_debit else "credit",
            leg.amount,
            leg.pending_amount,
        )
        for leg in legs
    )


def _metadata_json(prepared: Sequence[_Prepared]) -> list[str | None]:
    return [
        json.dumps(entry.metadata, sort_keys=True) if entry.metadata else None for entry in prepared
    ]


@dataclass(frozen=True, slots=True)
class _PgBatch:
    """A batch's posting statement with every parameter but the actor and the time (so it can
    be built before the unit of work that runs it), and what reading its result needs."""

    statement: str
    params: dict[str, Any]
    order: list[int]
    accounts: dict[int, Account]
    deltas: dict[int, list[int]]


def _pg_batch(prepared: Sequence[_Prepared], *, find: bool, lock: bool) -> _PgBatch:
    """Build the statement and its parameters for ``_pg_apply``. Arrays go as literals:
    formatting them here is far cheaper than adapting lists value by value."""
    accounts, deltas = _batch_deltas(prepared)
    order = sorted(deltas)
    keys = [entry.key for entry in prepared if entry.key is not None] if find else []
    params: dict[str, Any] = {
        "lock_key": JOURNAL,
        "keys": arrays.texts([entry.key for entry in prepared]),
        "hashes": arrays.texts([entry.content_hash for entry in prepared]),
        "kinds": arrays.texts([entry.kind for entry in prepared]),
        "targets": arrays.ints([entry.target_entry_id for entry in prepared]),
        "reverses": arrays.ints([entry.reverses_entry_id for entry in prepared]),
        "reasons": arrays.texts([entry.reason for entry in prepared]),
        "metadata": arrays.texts(_metadata_json(prepared)),
        "effective": arrays.texts([_iso(entry.effective_at) for entry in prepared]),
        "expires": arrays.texts([_iso(entry.expires_at) for entry in prepared]),
        "find_keys": arrays.texts(keys),
    }
    params["acct_id"] = arrays.ints(order)
    for name, column in (("acct_dp", 0), ("acct_cp", 1), ("acct_dpe", 2), ("acct_cpe", 3)):
        params[name] = arrays.ints([deltas[account_id][column] for account_id in order])
    params["acct_limit"] = arrays.texts(
        [_limit(accounts[account_id], deltas[account_id]) for account_id in order]
    )
    pending = [index for index, entry in enumerate(prepared) if entry.kind == "pending"]
    params["pending_entry"] = arrays.ints([index + 1 for index in pending])
    params["pending_expires"] = arrays.texts(
        [_iso(prepared[index].expires_at) for index in pending]
    )

    # Legs, and per leg of a non-hot account what the batch adds to that account after the leg
    # (its running totals are the account's new totals less that; NULL for hot accounts).
    # Per entry and no-overdraft account it touches: what the entries after it add.
    legs: list[tuple[Any, ...]] = []
    checks: list[tuple[Any, ...]] = []
    rest = {account_id: list(delta) for account_id, delta in deltas.items()}
    for index, entry in enumerate(prepared):
        touched: list[int] = []
        for leg in entry.legs:
            account = leg.account
            if account.hot:
                after: tuple[Any, ...] = (None, None, None, None)
            else:
                left = rest[account.id]
                if leg.is_debit:
                    left[0] -= leg.amount
                    left[2] -= leg.pending_amount
                else:
                    left[1] -= leg.amount
                    left[3] -= leg.pending_amount
                after = (left[0], left[1], left[2], left[3])
                if account.no_overdraft and account.id not in touched:
                    touched.append(account.id)
            legs.append(
                (index + 1, account.id, account.currency, leg.is_debit, leg.amount,
                 leg.pending_amount, *after)
            )  # fmt: skip
        for account_id in touched:
            left = rest[account_id]
            credit = accounts[account_id].normal_side == "credit"
            checks.append((account_id, credit, left[0], left[1], left[2], left[3]))
    columns = list(zip(*legs, strict=True))
    params["leg_entry"], params["leg_account"] = arrays.ints(columns[0]), arrays.ints(columns[1])
    params["leg_currency"], params["leg_debit"] = arrays.texts(columns[2]), arrays.bools(columns[3])
    params["leg_amount"], params["leg_pending"] = arrays.ints(columns[4]), arrays.ints(columns[5])
    params["leg_sdp"], params["leg_scp"] = arrays.ints(columns[6]), arrays.ints(columns[7])
    params["leg_sdpe"], params["leg_scpe"] = arrays.ints(columns[8]), arrays.ints(columns[9])
    columns = list(zip(*checks, strict=True)) or [()] * 6
    params["check_account"], params["check_credit"] = (
        arrays.ints(columns[0]),
        arrays.bools(columns[1]),
    )
    params["check_sdp"], params["check_scp"] = arrays.ints(columns[2]), arrays.ints(columns[3])
    params["check_sdpe"], params["check_scpe"] = arrays.ints(columns[4]), arrays.ints(columns[5])

    if len(order) == 1:
        account_id = order[0]
        dp, cp, dpe, cpe = deltas[account_id]
        params.update(id0=account_id, dp0=dp, cp0=cp, dpe0=dpe, cpe0=cpe)
        shape = _limit(accounts[account_id], deltas[account_id]) or "one"
    else:
        shape = "several" if order else None
    statement = _pg_post_statement(lock, bool(keys), shape)
    return _PgBatch(statement, params, order, accounts, deltas)


def _pg_apply(
    session: Session,
    prepared: Sequence[_Prepared],
    batch: _PgBatch,
    actor: str,
    created_at: datetime,
) -> list[int]:
    """The whole batch in one statement (see ``_pg_post_statement``)."""
    accounts, deltas, order = batch.accounts, batch.deltas, batch.order
    cursor = _pg_cursor(session)
    try:
        _pg_execute(
            cursor, batch.statement, {**batch.params, "actor": actor, "created_at": created_at}
        )
    except IntegrityError as exc:
        # Another unit of work committed the same idempotency key (or reversal) first: rerun,
        # and the rerun will find it.
        raise RetryableConflict(str(exc.orig)) from exc
    ids, totals, seen = cursor.fetchone()
    ids = ids or []
    if seen:
        raise _KeysSeen(
            [(int(entry_id), key, content_hash) for entry_id, key, content_hash in seen]
        )
    if len(totals) < len(order):
        # Some account's limit would be broken: report the first (in id order), as SQLite does.
        updated = {int(row[0]) for row in totals}
        account = accounts[next(account_id for account_id in order if account_id not in updated)]
        raise _insufficient(session, account, _outflow(account, deltas[account.id]))
    if len(ids) < len(prepared):
        # Some no-overdraft account would be short after one of the entries: find which.
        running = {}
        for account_id, dp, cp, dpe, cpe in totals:
            delta = deltas[account_id]
            running[account_id] = [dp - delta[0], cp - delta[1], dpe - delta[2], cpe - delta[3]]
        _running_legs(session, prepared, accounts, running)
        raise RuntimeError("the posting statement inserted no entries, yet no limit is broken")
    return list(ids)


def _sa_apply(
    session: Session,
    prepared: Sequence[_Prepared],
    accounts: dict[int, Account],
    deltas: dict[int, list[int]],
    metadata: Sequence[str | None],
    actor: str,
    created_at: datetime,
) -> list[int]:
    """Conditional updates in account id order, then entries, legs and pending states."""
    connection = session.connection()
    running: dict[int, list[int]] = {}
    for account_id in sorted(deltas):
        account = accounts[account_id]
        dp, cp, dpe, cpe = deltas[account_id]
        row = connection.execute(
            _SA_UPDATES[_limit(account, deltas[account_id])],
            {"account_id": account_id, "d_dp": dp, "d_cp": cp, "d_dpe": dpe, "d_cpe": cpe},
        ).one_or_none()
        if row is None:
            raise _insufficient(session, account, _outflow(account, deltas[account_id]))
        running[account_id] = [row[0] - dp, row[1] - cp, row[2] - dpe, row[3] - cpe]
    legs = _running_legs(session, prepared, accounts, running)

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
            "effective_at": entry.effective_at or created_at,
            "expires_at": entry.expires_at,
        }
        for entry, metadata_json in zip(prepared, metadata, strict=True)
    ]
    try:
        ids = [row[0] for row in connection.execute(_SA_INSERT_ENTRIES, entry_rows)]
    except IntegrityError as exc:
        # Another unit of work committed the same idempotency key (or reversal) first: rerun,
        # and the rerun will find it.
        raise RetryableConflict(str(exc.orig)) from exc
    leg_rows = []
    for leg in legs:
        row = dict(zip(_LEG_COLUMNS, leg, strict=True))
        row["entry_id"] = ids[leg[0]]
        row["created_at"] = created_at
        leg_rows.append(row)
    connection.execute(_SA_INSERT_LEGS, leg_rows)
    pending_rows = [
        {"entry_id": entry_id, "status": "pending", "expires_at": entry.expires_at}
        for entry_id, entry in zip(ids, prepared, strict=True)
        if entry.kind == "pending"
    ]
    if pending_rows:
        connection.execute(_SA_INSERT_PENDING, pending_rows)
    return ids


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
    probe = _Prepared(kind="", legs=[], key=check_key(key), content_hash=content_hash)
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
        key=check_key(idempotency_key),
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
        key=check_key(idempotency_key),
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
