"""Entries checked and shaped for posting, and the per-account arithmetic both posting paths
(``postgres`` and ``sqlite``) share: what a batch changes on each account, whether a
no-overdraft limit can bite, the running totals after each leg.

No statement is built here except the one that reads an account's totals for the
``INSUFFICIENT_FUNDS`` message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_text
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import (
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    UnbalancedEntry,
)
from legato_pay.idempotency import check_key
from legato_pay.ledger.types import (
    Account,
    EntrySpec,
    LegView,
    Totals,
    as_utc,
    balance_from_totals,
)
from legato_pay.money import MAX_MINOR_UNITS, format_amount
from legato_pay.store.tables import ACCOUNTS


@dataclass(slots=True)
class Leg:
    """One leg as posted: ``amount`` moves posted value, ``pending_amount`` reserves (+) or
    releases (-) pending value."""

    account: Account
    is_debit: bool
    amount: int
    pending_amount: int


@dataclass(slots=True)
class Prepared:
    """An entry checked and shaped for posting: all that is left is the write."""

    kind: str
    legs: list[Leg]
    key: str | None
    content_hash: str
    reason: str | None = None
    metadata: dict[str, Any] | None = None
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    post_at: datetime | None = None
    target_entry_id: int | None = None
    reverses_entry_id: int | None = None
    # Built by ``prepare_entry`` (off the bulk writer's thread); entries made elsewhere get theirs
    # when posted.
    leg_views: tuple[LegView, ...] | None = None


def hash_content(kind: str, target: int | None, legs: Sequence[tuple[str, str, int, int]]) -> str:
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


#: The longest actor name stored (``ledger_entries.actor``, ``ledger_seals.actor``).
MAX_ACTOR_LENGTH = 200
#: The longest reason stored with an entry.
MAX_REASON_LENGTH = 2000


def check_actor(actor: object) -> str:
    """Who posts: checked before any statement (a database would refuse it less clearly)."""
    if (
        not isinstance(actor, str)
        or not actor.strip()
        or len(actor) > MAX_ACTOR_LENGTH
        or "\x00" in actor
    ):
        raise InvalidInput(
            f"the actor must be 1 to {MAX_ACTOR_LENGTH} characters (no NUL)",
            details={"field": "actor", "length": len(actor) if isinstance(actor, str) else None},
        )
    return actor


def check_reason(reason: object) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH or "\x00" in reason:
        raise InvalidInput(
            f"a reason is text of at most {MAX_REASON_LENGTH} characters (no NUL)",
            details={"field": "reason"},
        )
    return reason


def check_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount("leg amounts must be int minor units", details={"amount": repr(amount)})
    if amount <= 0 or amount > MAX_MINOR_UNITS:
        raise InvalidAmount(
            "leg amounts must be positive and within bounds", details={"amount": amount}
        )
    return amount


def prepare_entry(spec: EntrySpec, accounts: dict[str, Account]) -> Prepared:
    """Check one entry and shape it for posting; every check raises its own error."""
    _check_entry_shape(spec)
    legs, shape, net = _shape_legs(spec, accounts)
    _check_balanced(spec, net)
    kind = "pending" if spec.pending else "posted"
    key = spec.idempotency_key
    return Prepared(
        kind=kind,
        legs=legs,
        key=None if key is None else check_key(key),
        content_hash=hash_content(kind, None, shape),
        reason=check_reason(spec.reason),
        metadata=spec.metadata,
        effective_at=as_utc(spec.effective_at),
        expires_at=as_utc(spec.expires_at),
        post_at=as_utc(spec.post_at),
        leg_views=leg_views(legs),
    )


def _check_entry_shape(spec: EntrySpec) -> None:
    if len(spec.legs) < 2:
        raise UnbalancedEntry("an entry needs at least two legs", details={"legs": len(spec.legs)})
    if not spec.pending:
        if spec.expires_at is not None:
            raise InvalidInput("only pending entries can expire", details={"field": "expires_at"})
        if spec.post_at is not None:
            raise InvalidInput(
                "only pending entries can be posted later", details={"field": "post_at"}
            )


def _shape_legs(
    spec: EntrySpec, accounts: dict[str, Account]
) -> tuple[list[Leg], list[tuple[str, str, int, int]], dict[str, int]]:
    """The legs to post, their shape for the content hash and the net per currency. Runs for
    every leg posted, so the loop is kept plain."""
    pending = spec.pending
    legs: list[Leg] = []
    shape: list[tuple[str, str, int, int]] = []
    net: dict[str, int] = {}
    for leg in spec.legs:
        amount = leg.amount
        if type(amount) is not int or amount <= 0 or amount > MAX_MINOR_UNITS:
            check_amount(amount)  # raises the precise error
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
            raise _currency_mismatch(account, leg.currency)
        net[currency] = net.get(currency, 0) + (amount if is_debit else -amount)
        posted, held = (0, amount) if pending else (amount, 0)
        legs.append(Leg(account, is_debit, posted, held))
        shape.append((leg.account, side, amount, 0))
    return legs, shape, net


def _currency_mismatch(account: Account, currency: str) -> CurrencyMismatch:
    return CurrencyMismatch(
        f"account {account.code} holds {account.currency}, not {currency}",
        details={
            "account": account.code,
            "account_currency": account.currency,
            "currency": currency,
        },
    )


def _check_balanced(spec: EntrySpec, net: dict[str, int]) -> None:
    if len({leg.account for leg in spec.legs}) < 2:
        raise InvalidInput(
            "an entry must move value between at least two different accounts",
            details={"account": spec.legs[0].account},
            code="SAME_ACCOUNT",
        )
    if any(net.values()):
        raise UnbalancedEntry(
            "debits must equal credits in every currency",
            details={"difference": {cur: diff for cur, diff in net.items() if diff}},
        )


def is_short(account: Account, totals: Totals) -> bool:
    if not account.no_overdraft:
        return False
    return balance_from_totals(account, totals).available < 0


def insufficient_funds(session: Session, account: Account, requested: int) -> InsufficientFunds:
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


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def batch_deltas(prepared: Sequence[Prepared]) -> tuple[dict[int, Account], dict[int, list[int]]]:
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
            add_leg(delta, leg)
    return accounts, deltas


def add_leg(totals: list[int], leg: Leg) -> None:
    """Add a leg to totals kept as [debits posted, credits posted, debits pending, credits
    pending]."""
    if leg.is_debit:
        totals[0] += leg.amount
        totals[2] += leg.pending_amount
    else:
        totals[1] += leg.amount
        totals[3] += leg.pending_amount


def outflow(account: Account, delta: Sequence[int]) -> int:
    dp, cp, dpe, cpe = delta
    return (dp + dpe) if account.normal_side == "credit" else (cp + cpe)


def limit_kind(account: Account, delta: Sequence[int]) -> str | None:
    """Which conditional update an account gets: its normal side if its limit can bite."""
    return account.normal_side if account.no_overdraft and outflow(account, delta) > 0 else None


def running_legs(
    session: Session,
    prepared: Sequence[Prepared],
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
            add_leg(totals, leg)
            legs.append(
                (index, account.id, account.currency, leg.is_debit, leg.amount,
                 leg.pending_amount, totals[0], totals[1], totals[2], totals[3])
            )  # fmt: skip
            add_leg(touched.setdefault(account.id, [0, 0, 0, 0]), leg)
        for account_id, delta in touched.items():
            if is_short(accounts[account_id], Totals(*running[account_id])):
                account = accounts[account_id]
                raise insufficient_funds(session, account, outflow(account, delta))
    return legs


def leg_views(legs: Sequence[Leg]) -> tuple[LegView, ...]:
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


def metadata_texts(prepared: Sequence[Prepared]) -> list[str | None]:
    return [
        json.dumps(entry.metadata, sort_keys=True) if entry.metadata else None for entry in prepared
    ]
