"""The ledger's side: posted legs on ``gateway:<g>:<CUR>``, one item per entry and account.

An item's keys come from its entry's metadata (and, for a posting of a pending entry, the
pending entry's), by the names in the package docstring, so a new kind of entry is matched
without a change here. The sources that predate the convention are read through the domain
rows that point at their entries (``purchases``, ``subscriptions``, ``purchase_refunds``).
A reversed entry is one item marked ``reversed`` (its reversal is left out): it matches a
gateway record that says the money came back or never moved, and is not reported when the
gateway has no record of it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.ledger.types import as_utc
from legato_pay.reconcile.records import Direction, LedgerItem, Period
from legato_pay.store.engine import column_in
from legato_pay.store.tables import ACCOUNTS, ENTRIES, LEGS, PURCHASES, REFUNDS, SUBSCRIPTIONS

#: Metadata naming the gateway's own id of what the entry books.
ID_KEYS = ("gateway_ref", "gateway_payment_id", "gateway_refund_id", "gateway_transfer_id")
#: Metadata naming the project's reference the gateway carries too.
REF_KEYS = ("reference",)
#: Metadata naming what a refund or reversal gives back.
RELATED_KEYS = ("refund_of",)
_CHUNK = 500


@dataclass
class _Keys:
    ids: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)
    related: set[str] = field(default_factory=set)


def _metadata(raw: str | None) -> dict[str, Any]:
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _values(metadata: dict[str, Any], names: Iterable[str]) -> set[str]:
    return {str(metadata[name]) for name in names if metadata.get(name) not in (None, "")}


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _legs(gateway: str, period: Period) -> Select[Any]:
    prefix = chart.gateway_cash(gateway, "")  # "gateway:<g>:"
    return (
        select(
            LEGS.c.entry_id,
            ACCOUNTS.c.code,
            LEGS.c.currency,
            LEGS.c.is_debit,
            LEGS.c.amount,
            ENTRIES.c.effective_at,
            ENTRIES.c.metadata_json,
            ENTRIES.c.target_entry_id,
            ENTRIES.c.reverses_entry_id,
            ENTRIES.c.idempotency_key,
        )
        .join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id)
        .join(ENTRIES, ENTRIES.c.id == LEGS.c.entry_id)
        .where(
            ACCOUNTS.c.code.startswith(prefix, autoescape=True),
            ENTRIES.c.effective_at >= period.read_from,
            ENTRIES.c.effective_at <= period.read_to,
            LEGS.c.amount != 0,
        )
    )


def _reversed(session: Session, entry_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(entry_ids):
        rows = session.execute(
            select(ENTRIES.c.reverses_entry_id).where(
                column_in(session, ENTRIES.c.reverses_entry_id, chunk)
            )
        )
        found.update(int(row[0]) for row in rows)
    return found


def _target_metadata(session: Session, target_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(target_ids):
        rows = session.execute(
            select(ENTRIES.c.id, ENTRIES.c.metadata_json).where(
                column_in(session, ENTRIES.c.id, chunk)
            )
        )
        found.update({int(row.id): _metadata(row.metadata_json) for row in rows})
    return found


def _domain_keys(session: Session, entry_ids: Sequence[int]) -> dict[int, _Keys]:
    """Keys the older sources keep on their own rows rather than in entry metadata."""
    keys: dict[int, _Keys] = defaultdict(_Keys)
    for chunk in _chunks(entry_ids):
        for row in session.execute(
            select(
                PURCHASES.c.entry_id, PURCHASES.c.reference, PURCHASES.c.gateway_payment_id
            ).where(column_in(session, PURCHASES.c.entry_id, chunk))
        ):
            keys[int(row.entry_id)].refs.add(row.reference)
            if row.gateway_payment_id:
                keys[int(row.entry_id)].ids.add(row.gateway_payment_id)
        for sub in session.execute(
            select(SUBSCRIPTIONS.c.entry_id, SUBSCRIPTIONS.c.gateway_payment_id).where(
                column_in(session, SUBSCRIPTIONS.c.entry_id, chunk)
            )
        ):
            if sub.gateway_payment_id:
                keys[int(sub.entry_id)].ids.add(sub.gateway_payment_id)
        for row in session.execute(
            select(REFUNDS.c.entry_id, REFUNDS.c.reference, REFUNDS.c.gateway_refund_id).where(
                column_in(session, REFUNDS.c.entry_id, chunk)
            )
        ):
            keys[int(row.entry_id)].related.add(row.reference)
            if row.gateway_refund_id:
                keys[int(row.entry_id)].ids.add(row.gateway_refund_id)
    return keys


def _entry_keys(metadata: dict[str, Any], direction: Direction) -> _Keys:
    keys = _Keys(
        ids=_values(metadata, ID_KEYS),
        refs=_values(metadata, REF_KEYS),
        related=_values(metadata, RELATED_KEYS),
    )
    # ``purchase`` names the purchase: the item itself on money in, what it refunds on money out.
    (keys.refs if direction == "in" else keys.related).update(_values(metadata, ("purchase",)))
    return keys


def _kind(metadata: dict[str, Any], idempotency_key: str | None, direction: Direction) -> str:
    if metadata.get("kind"):
        return str(metadata["kind"])[:40]
    if idempotency_key and ":" in idempotency_key:
        return idempotency_key.split(":", 1)[0][:40]
    return "payment" if direction == "in" else "payment_out"


def ledger_items(session: Session, gateway: str, period: Period) -> list[LedgerItem]:
    """The clearing account's posted items over the period and its slack."""
    rows = session.execute(_legs(gateway, period)).all()
    entry_ids = sorted({int(row.entry_id) for row in rows})
    reversed_ids = _reversed(session, entry_ids)
    targets = _target_metadata(
        session, sorted({int(r.target_entry_id) for r in rows if r.target_entry_id})
    )
    domain = _domain_keys(
        session, entry_ids + sorted(int(r.target_entry_id) for r in rows if r.target_entry_id)
    )
    net: dict[tuple[int, str], int] = defaultdict(int)
    first: dict[tuple[int, str], Any] = {}
    for row in rows:
        if row.reverses_entry_id is not None:
            continue
        key = (int(row.entry_id), row.code)
        net[key] += row.amount if row.is_debit else -row.amount
        first.setdefault(key, row)
    items = []
    for key, amount in net.items():
        if amount:
            items.append(_item(first[key], amount, targets, domain, key[0] in reversed_ids))
    return items


def _item(
    row: Any,
    amount: int,
    targets: dict[int, dict[str, Any]],
    domain: dict[int, _Keys],
    reversed_: bool,
) -> LedgerItem:
    direction: Direction = "in" if amount > 0 else "out"
    target = int(row.target_entry_id) if row.target_entry_id else None
    metadata = {**(targets.get(target, {}) if target else {}), **_metadata(row.metadata_json)}
    keys = _entry_keys(metadata, direction)
    for source in (int(row.entry_id), target):
        if source is not None and source in domain:
            keys.ids |= domain[source].ids
            keys.refs |= domain[source].refs
            keys.related |= domain[source].related
    occurred: datetime = as_utc(row.effective_at)  # type: ignore[assignment]
    return LedgerItem(
        entry_id=int(row.entry_id),
        direction=direction,
        amount=abs(amount),
        currency=row.currency,
        occurred_at=occurred,
        kind=_kind(metadata, row.idempotency_key, direction),
        ids=frozenset(keys.ids),
        refs=frozenset(keys.refs),
        related=frozenset(keys.related),
        reference=min(keys.refs) if keys.refs else (min(keys.ids) if keys.ids else None),
        reversed=reversed_,
    )
