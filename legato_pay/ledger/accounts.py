"""Accounts: opening, lookup (with a per-process cache of their immutable attributes) and listing.

``world:<CUR>`` is the unlimited outside world for a currency: it funds opening balances and
tests, is opened on first use, and is *hot* (its totals are rolled up at each seal, so it is
never a lock that every posting waits on).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from legato_pay.errors import AccountNotFound, AlreadyExists, InvalidInput
from legato_pay.ledger.types import Account, AccountRequest, Side, as_utc, utcnow
from legato_pay.money import normalize_currency
from legato_pay.store import arrays
from legato_pay.store.dialect import is_postgres
from legato_pay.store.engine import (
    column_in,
    insert_if_absent,
    insert_rows_ignore,
    on_commit,
    on_dispose,
)
from legato_pay.store.locks import JOURNAL, advisory_xact_lock
from legato_pay.store.raw import pg_execute
from legato_pay.store.tables import ACCOUNTS

# Whole strings only (``fullmatch``: a ``$`` would let a trailing newline through), ASCII only.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_\-.@/]{0,199}", re.ASCII)
_WORLD = re.compile(r"world:([A-Z]{3,4})", re.ASCII)

#: Every column of an account row (what ``_row_to_account`` reads), and those but id and code.
_COLUMNS = [column.name for column in ACCOUNTS.columns]
_REST = [name for name in _COLUMNS if name not in ("id", "code")]

# PostgreSQL: ``open_accounts``' journal lock, insert of the accounts not known yet and lookup of
# those that existed before, as one statement (three round trips before). The lock gates the
# insert (an uncorrelated EXISTS is evaluated before the first row), as in the posting
# statement. The lookup sees the statement's snapshot: an account committed by another
# transaction while this insert waited on it is neither inserted nor seen, and is read after.
# An account inserted comes back as its id and code only (the rest is what was asked for, and
# its time is ``$7``); one found comes back whole.
_PG_OPEN_ACCOUNTS = f"""WITH journal_lock AS MATERIALIZED
    (SELECT pg_advisory_xact_lock_shared($1::bigint) AS locked),
opened AS (
    INSERT INTO ledger_accounts (code, currency, normal_side, no_overdraft, hot, metadata_json,
        created_at, debits_posted, credits_posted, debits_pending, credits_pending)
    SELECT code, currency, normal_side, no_overdraft, hot, NULL, $7, 0, 0, 0, 0
    FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::boolean[])
        AS r(code, currency, normal_side, no_overdraft, hot)
    WHERE EXISTS (SELECT FROM journal_lock)
    ON CONFLICT (code) DO NOTHING
    RETURNING id, code
)
SELECT id, code, true AS opened, {", ".join(f"NULL AS {name}" for name in _REST)} FROM opened
UNION ALL
SELECT id, code, false, {", ".join(_REST)}
FROM ledger_accounts
WHERE code = ANY($2::text[]) AND code NOT IN (SELECT code FROM opened)"""

_cache: dict[tuple[str, str], Account] = {}
_urls: dict[Any, str] = {}  # engine -> its URL rendered once (engines live as long as the process)


@on_dispose
def clear_account_cache() -> None:
    """Forget every cached account (a database was dropped and recreated under its URL)."""
    _cache.clear()
    _urls.clear()


def _cache_key(session: Session, code: str) -> tuple[str, str]:
    return (_engine_url(session.get_bind().engine), code)


def _engine_url(engine: Engine) -> str:
    url = _urls.get(engine)
    if url is None:  # rendering a URL costs microseconds; postings look up several accounts
        url = _urls[engine] = str(engine.url)
    return url


def cached_accounts(engine: Engine, codes: Iterable[str]) -> dict[str, Account] | None:
    """The accounts if this process knows them all (committed before), else None: lets a
    posting skip the unit of work it would need to look them up."""
    url = _engine_url(engine)
    found: dict[str, Account] = {}
    for code in codes:
        account = _cache.get((url, code))
        if account is None:
            return None
        found[code] = account
    return found


def _row_to_account(row: Any) -> Account:
    return Account(
        id=row.id,
        code=row.code,
        currency=row.currency,
        normal_side=row.normal_side,
        no_overdraft=bool(row.no_overdraft),
        hot=bool(row.hot),
        metadata=json.loads(row.metadata_json) if row.metadata_json else None,
        created_at=as_utc(row.created_at),
    )


def validate_code(code: str) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidInput(
            f"{code!r} is not a valid account code (letters, digits and : _ - . @ /, "
            "starting with a letter or digit, at most 200 characters)",
            details={"code": code},
            code="INVALID_ACCOUNT_CODE",
        )
    return code


def open_account(
    session: Session,
    code: str,
    currency: str,
    *,
    no_overdraft: bool = False,
    hot: bool = False,
    normal_side: Side = "credit",
    metadata: dict[str, Any] | None = None,
    exist_ok: bool = False,
) -> Account:
    """Open an account. With ``exist_ok`` an identical existing account is returned as is."""
    currency = _check_shape(code, currency, no_overdraft, hot, normal_side)
    known = _cache.get(_cache_key(session, code))
    if (
        known is not None
        and exist_ok
        and _same_shape(known, currency, no_overdraft, hot, normal_side)
    ):
        return known  # committed before and never deleted: no round trip needed
    _hold_journal(session)
    inserted = insert_if_absent(
        session,
        ACCOUNTS,
        ["code"],
        code=code,
        currency=currency,
        normal_side=normal_side,
        no_overdraft=no_overdraft,
        hot=hot,
        metadata_json=json.dumps(metadata, sort_keys=True) if metadata else None,
        created_at=utcnow(),
        debits_posted=0,
        credits_posted=0,
        debits_pending=0,
        credits_pending=0,
    )
    account = get_account(session, code)
    if not inserted and (
        not exist_ok or not _same_shape(account, currency, no_overdraft, hot, normal_side)
    ):
        raise _already_exists(account)
    return account


def _hold_journal(session: Session) -> None:
    """Before inserting accounts, take the journal lock postings take (shared, PostgreSQL): the
    seal finds its watermark with it held exclusively for an instant, so every account below
    the watermark it seals is committed (``ledger.seal`` covers account definitions)."""
    if session.info.get("ledger_journal_held"):
        return
    advisory_xact_lock(session, JOURNAL, shared=True)
    session.info["ledger_journal_held"] = True


def open_accounts(session: Session, requests: Sequence[AccountRequest]) -> dict[str, Account]:
    """Open many accounts at once, or fetch identical existing ones: for batches (the webhook
    listener's) that would otherwise open each new wallet with two round trips."""
    wanted = _distinct_requests(requests)
    url = _engine_url(session.get_bind().engine)
    unknown = [
        request
        for code, request in sorted(wanted.items())  # one insertion order: no deadlocks
        if (url, code) not in _cache
    ]
    if unknown and is_postgres(session):
        _pg_open(session, unknown)
    elif unknown:
        _hold_journal(session)
        now = utcnow()
        rows = [_new_row(r, now) for r in unknown]
        # The rows inserted come back whole (RETURNING), so only the codes that existed before
        # are looked up after: one INSERT … ON CONFLICT DO NOTHING, one SELECT of the rest.
        inserted = insert_rows_ignore(session, ACCOUNTS, ["code"], rows, _COLUMNS)
        _learn(session, {row.code: _row_to_account(row) for row in inserted})
    found = resolve_accounts(session, wanted)
    for code, request in wanted.items():
        account = found[code]
        if (account.currency, account.no_overdraft, account.hot, account.normal_side) != (
            request.currency,
            request.no_overdraft,
            request.hot,
            request.normal_side,
        ):
            raise _already_exists(account)
    return found


def _pg_open(session: Session, unknown: Sequence[AccountRequest]) -> None:
    """``open_accounts``' writes on PostgreSQL in one round trip (``_PG_OPEN_ACCOUNTS``): the
    accounts inserted and those found are learned; any still missing (committed by another
    transaction meanwhile) are read by ``resolve_accounts`` after. An account inserted is made
    from its request (what the row holds), so a batch of new accounts reads back no columns."""
    now = utcnow()
    rows = pg_execute(
        session,
        _PG_OPEN_ACCOUNTS,
        [
            JOURNAL,
            arrays.texts([request.code for request in unknown]),
            arrays.texts([request.currency for request in unknown]),
            arrays.texts([request.normal_side for request in unknown]),
            arrays.bools([request.no_overdraft for request in unknown]),
            arrays.bools([request.hot for request in unknown]),
            now,
        ],
    )
    session.info["ledger_journal_held"] = True
    asked = {request.code: request for request in unknown}
    learned: dict[str, Account] = {}
    for row in rows:
        if row.opened:
            request = asked[row.code]
            learned[row.code] = Account(
                row.id,
                row.code,
                request.currency,
                request.normal_side,
                request.no_overdraft,
                request.hot,
                None,
                now,
            )
        else:
            learned[row.code] = _row_to_account(row)
    _learn(session, learned)


def _distinct_requests(requests: Sequence[AccountRequest]) -> dict[str, AccountRequest]:
    """Requests checked and normalized, one per code; two shapes for one code are refused.
    (A batch holds few shapes, so each is checked once; every code is validated.)"""
    wanted: dict[str, AccountRequest] = {}
    currencies: dict[tuple[str, bool, bool, str], str] = {}
    for request in dict.fromkeys(requests):  # a batch asks for its system accounts many times
        code = request.code
        shape = (request.currency, request.no_overdraft, request.hot, request.normal_side)
        currency = currencies.get(shape)
        if currency is None:
            currency = currencies[shape] = _check_shape(code, *shape)
        else:
            validate_code(code)
        if currency != request.currency:
            request = AccountRequest(
                code, currency, request.no_overdraft, request.hot, request.normal_side
            )
        known = wanted.setdefault(code, request)
        if known is not request and known != request:
            raise InvalidInput(
                f"account {code} is asked for with two different shapes",
                details={"code": code},
            )
    return wanted


def _new_row(request: AccountRequest, now: datetime) -> dict[str, Any]:
    return {
        "code": request.code,
        "currency": request.currency,
        "normal_side": request.normal_side,
        "no_overdraft": request.no_overdraft,
        "hot": request.hot,
        "metadata_json": None,
        "created_at": now,
        "debits_posted": 0,
        "credits_posted": 0,
        "debits_pending": 0,
        "credits_pending": 0,
    }


def _already_exists(account: Account) -> AlreadyExists:
    """An account with this code exists with another shape (or ``exist_ok`` was not given)."""
    return AlreadyExists(
        f"account {account.code} already exists",
        details={
            "code": account.code,
            "currency": account.currency,
            "no_overdraft": account.no_overdraft,
            "hot": account.hot,
        },
    )


def _check_shape(code: str, currency: str, no_overdraft: bool, hot: bool, normal_side: str) -> str:
    """Validate a new account's attributes; returns the normalized currency."""
    validate_code(code)
    if hot and no_overdraft:
        raise InvalidInput(
            "a hot account cannot have a no-overdraft limit (its totals are rolled up later)",
            details={"code": code},
        )
    if normal_side not in ("debit", "credit"):
        raise InvalidInput("normal side must be debit or credit", details={"side": normal_side})
    return normalize_currency(currency)


def _same_shape(
    account: Account, currency: str, no_overdraft: bool, hot: bool, normal_side: str
) -> bool:
    return (account.currency, account.no_overdraft, account.hot, account.normal_side) == (
        currency,
        no_overdraft,
        hot,
        normal_side,
    )


def get_account(session: Session, code: str) -> Account:
    return resolve_accounts(session, [code])[code]


def resolve_accounts(session: Session, codes: Iterable[str]) -> dict[str, Account]:
    """Look accounts up by code, opening ``world:<CUR>`` on first use; unknown codes raise."""
    wanted = set(codes)
    found: dict[str, Account] = {}
    missing = []
    # Accounts this unit of work already read or opened (the process cache learns them only
    # when it commits): a batch that opens wallets and then posts to them reads them once.
    seen_here: dict[str, Account] = session.info.setdefault("ledger_accounts", {})
    url = _engine_url(session.get_bind().engine)
    for code in wanted:
        cached = _cache.get((url, code)) or seen_here.get(code)
        if cached is not None:
            found[code] = cached
        else:
            missing.append(code)
    if missing:
        for code in missing:
            if not isinstance(code, str) or not _CODE.fullmatch(code):
                # no such account can exist; and a NUL would be a database error on PostgreSQL
                raise AccountNotFound(
                    f"no account {code!r}"[:250], details={"account": str(code)[:200]}
                )
        rows = session.execute(
            select(ACCOUNTS).where(column_in(session, ACCOUNTS.c.code, missing))
        ).all()
        fresh = {row.code: _row_to_account(row) for row in rows}
        for code in missing:
            if code not in fresh:
                world = _WORLD.fullmatch(code)
                if not world:
                    raise AccountNotFound(f"no account {code}", details={"account": code})
                fresh[code] = _open_world(session, code, world.group(1))
        found.update(fresh)
        _learn(session, fresh)
    return found


def _learn(session: Session, fresh: dict[str, Account]) -> None:
    """Accounts read (or opened) in this unit of work: known to it now, to the process once it
    commits."""
    if not fresh:
        return
    session.info.setdefault("ledger_accounts", {}).update(fresh)
    url = _cache_key(session, "")[0]
    on_commit(session, lambda: _remember(url, fresh))


def _remember(url: str, accounts: dict[str, Account]) -> None:
    for code, account in accounts.items():
        _cache[(url, code)] = account


def _open_world(session: Session, code: str, currency: str) -> Account:
    return open_account(session, code, currency, hot=True, normal_side="credit", exist_ok=True)


def list_accounts(
    session: Session, *, prefix: str | None = None, limit: int = 1000, after: str | None = None
) -> list[Account]:
    for name, value in (("prefix", prefix), ("after", after)):
        if value is not None and (len(value) > 200 or "\x00" in value):
            raise InvalidInput(
                f"{name} must be at most 200 characters (no NUL)", details={"field": name}
            )
    query = select(ACCOUNTS).order_by(ACCOUNTS.c.code).limit(limit)
    if prefix:
        query = query.where(ACCOUNTS.c.code.startswith(prefix, autoescape=True))
    if after:
        query = query.where(ACCOUNTS.c.code > after)
    return [_row_to_account(row) for row in session.execute(query)]
