"""SQL building blocks the money reports share: sums grouped in the database.

``ledger_sums`` reads journal legs by account family (the chart's code prefixes) and returns,
per bucket and account code, the posted credits, posted debits and the net pending change;
``domain_sums`` sums one money column of a business table per bucket and currency. Both filter
on the report's window (half-open, UTC) and label buckets with ``periods.bucket_sql``, so the
rows that come back are already aggregated: a report only maps them to its columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from legato_pay.reporting.periods import Window, bucket_sql
from legato_pay.store.dialect import is_postgres
from legato_pay.store.tables import ACCOUNTS, LEGS

#: The label of the single bucket a report without ``--by`` groups into.
WHOLE = "all"


def dialect_name(session: Session) -> str:
    return "postgresql" if is_postgres(session) else "sqlite"


def bucket_of(session: Session, column: Any, by: str | None) -> ColumnElement[str] | None:
    """The bucket label of ``column``, None when ``by`` is None (one bucket, ``WHOLE``)."""
    if by is None:
        return None
    return bucket_sql(column, by, dialect_name(session))


def _labelled(expression: ColumnElement[Any] | None, name: str, default: Any) -> Any:
    return (expression if expression is not None else literal(default)).label(name)


def _grouping(*expressions: ColumnElement[Any] | None) -> list[ColumnElement[Any]]:
    """What to GROUP BY: the real expressions (a constant in GROUP BY is an error on
    PostgreSQL); a bucket by its label, since its SQL carries bound parameters that would
    differ between the select list and the GROUP BY."""
    return [expression for expression in expressions if expression is not None]


def in_window(query: Select[Any], column: Any, window: Window) -> Select[Any]:
    if window.start is not None:
        query = query.where(column >= window.start)
    if window.end is not None:
        query = query.where(column < window.end)
    return query


def total(expression: Any) -> ColumnElement[int]:
    """``SUM(expression)`` as a BIGINT, 0 when there is nothing to add."""
    return cast(func.coalesce(func.sum(expression), 0), BigInteger)


def _code_like(prefix: str) -> ColumnElement[bool]:
    """``code LIKE 'prefix%'`` with LIKE's wildcards in ``prefix`` escaped, the pattern written
    into the SQL (``literal_execute``): a prepared statement's generic plan then still sees a
    constant prefix and uses ``ix_ledger_accounts_code_pattern`` instead of reading every
    account."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = literal(f"{escaped}%", String, literal_execute=True)
    return ACCOUNTS.c.code.like(pattern, escape="/")


@dataclass(frozen=True, slots=True)
class LegSums:
    bucket: str
    code: str
    currency: str
    credits: int  # posted credits
    debits: int  # posted debits
    pending_credits: int  # net change of pending credits (reserved, not yet posted)
    pending_debits: int  # net change of pending debits
    settled_credits: int  # posted credits that settle a pending one (e.g. a hold released)

    @property
    def net_credit(self) -> int:
        return self.credits - self.debits


def ledger_sums(
    session: Session,
    prefixes: Sequence[str],
    window: Window,
    by: str | None,
    *,
    code: str | None = None,
) -> list[LegSums]:
    """Legs of the accounts whose code starts with one of ``prefixes`` (or is ``code``),
    created in ``window``, summed per bucket and account in SQL."""
    raw = bucket_of(session, LEGS.c.created_at, by)
    bucket = None if raw is None else raw.label("bucket")
    credit = case((LEGS.c.is_debit, 0), else_=LEGS.c.amount)
    debit = case((LEGS.c.is_debit, LEGS.c.amount), else_=0)
    pending_credit = case((LEGS.c.is_debit, 0), else_=LEGS.c.pending_amount)
    pending_debit = case((LEGS.c.is_debit, LEGS.c.pending_amount), else_=0)
    settled = case(
        (and_(LEGS.c.is_debit.is_(False), LEGS.c.pending_amount < 0), LEGS.c.amount), else_=0
    )
    accounts = select(ACCOUNTS.c.id, ACCOUNTS.c.code).where(
        ACCOUNTS.c.code == code
        if code is not None
        else or_(*(_code_like(prefix) for prefix in prefixes))
    )
    chosen = accounts.subquery()
    query = (
        select(
            _labelled(raw, "bucket", WHOLE) if bucket is None else bucket,
            chosen.c.code,
            LEGS.c.currency,
            total(credit),
            total(debit),
            total(pending_credit),
            total(pending_debit),
            total(settled),
        )
        .join(chosen, chosen.c.id == LEGS.c.account_id)
        .group_by(*_grouping(bucket, chosen.c.code, LEGS.c.currency))
    )
    query = in_window(query, LEGS.c.created_at, window)
    return [
        LegSums(str(row[0]), str(row[1]), str(row[2]), *(int(value) for value in row[3:]))
        for row in session.execute(query)
    ]


def family_part(prefixes: Sequence[str], *, credits_only: bool = False) -> Part:
    """Legs of the accounts under ``prefixes`` as a ``domain_sums`` part keyed by account code:
    posted credits − posted debits (or the posted credits alone)."""
    accounts = select(ACCOUNTS.c.id, ACCOUNTS.c.code).where(
        or_(*(_code_like(prefix) for prefix in prefixes))
    )
    chosen = accounts.subquery()
    signed = case((LEGS.c.is_debit, 0 if credits_only else -LEGS.c.amount), else_=LEGS.c.amount)
    return Part(
        select().select_from(LEGS.join(chosen, chosen.c.id == LEGS.c.account_id)),
        LEGS.c.created_at,
        LEGS.c.currency,
        signed,
        [chosen.c.code],
    )


@dataclass(frozen=True, slots=True)
class Part:
    """One business table's money column to sum: ``query`` is a ``select().select_from(...)
    .where(...)`` naming the tables and filters; ``keys`` are grouped on beside the bucket and
    currency; ``window`` overrides the report's (e.g. everything up to its end)."""

    query: Select[Any]
    time: Any
    currency: Any
    value: Any
    keys: Sequence[Any] = ()
    window: Window | None = None


def domain_sums(
    session: Session, parts: Sequence[Part], window: Window, by: str | None
) -> list[tuple[int, str, str, tuple[Any, ...], int]]:
    """``(part index, bucket, currency, (key values…), SUM(value))`` for every part's rows in
    its window, grouped per part: one statement (``UNION ALL``), one round trip."""
    if not parts:
        return []
    width = max(len(part.keys) for part in parts)
    selects = []
    for index, part in enumerate(parts):
        raw = bucket_of(session, part.time, by)
        bucket = None if raw is None else raw.label("bucket")
        padding = [cast(literal(None), String) for _ in range(width - len(part.keys))]
        selects.append(
            in_window(
                part.query.add_columns(
                    literal(index).label("part"),
                    _labelled(raw, "bucket", WHOLE) if bucket is None else bucket,
                    part.currency,
                    *[cast(key, String) for key in part.keys],
                    *padding,
                    total(part.value),
                ),
                part.time,
                part.window or window,
            ).group_by(*_grouping(bucket, part.currency, *part.keys))
        )
    statement = selects[0] if len(selects) == 1 else union_all(*selects)
    return [
        (int(row[0]), str(row[1]), str(row[2]), tuple(row[3 : 3 + width]), int(row[-1]))
        for row in session.execute(statement)
    ]
