"""What users hold: readers' coins (one reader: ``coin_summary``; every reader, paged) and
writers' earnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, literal, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.ledger import get_balance, list_accounts
from legato_pay.money import Money
from legato_pay.readers.coin_summary import UserCoins, coin_summary
from legato_pay.readers.users import get_user, is_user_id
from legato_pay.store.lightread import SessionRows
from legato_pay.store.tables import ACCOUNTS, USERS

#: ``balances list --limit`` and ``--min`` bounds (a bigger number is a validation error).
MAX_LIST = 100_000
MAX_COINS_FILTER = 10**15


@dataclass(frozen=True, slots=True)
class Earnings:
    """One currency of a writer's earnings: ``on_hold`` is still under the refund hold,
    ``reserved`` is on its way out (payouts in flight), ``available`` can be paid out."""

    currency: str
    posted: int
    on_hold: int
    reserved: int
    available: int

    def as_json(self) -> dict[str, Any]:
        """Each figure as a money object ``{"amount" (minor units), "currency", "display"}``."""
        return {
            "currency": self.currency,
            "posted": Money(self.posted, self.currency).as_json(),
            "on_hold": Money(self.on_hold, self.currency).as_json(),
            "reserved": Money(self.reserved, self.currency).as_json(),
            "available": Money(self.available, self.currency).as_json(),
        }


def user_coins(session: Session, user_id: str) -> UserCoins:
    """A user's coins now and over their lifetime (``USER_NOT_FOUND`` for an unknown id)."""
    get_user(session, user_id)
    return coin_summary(SessionRows(session), user_id)


def _reader_coins_query(min_total: int) -> tuple[Any, list[Any]]:
    """Every reader's id and available paid, bonus and total coins (readers without wallets
    hold 0), and the conditions ``min_total`` adds. Each reader's two wallets are found by their
    codes through the unique index on code, so the work grows with the readers, not the ledger."""
    paid = ACCOUNTS.alias("paid")
    bonus = ACCOUNTS.alias("bonus")

    def wallet_code(bucket: str) -> Any:
        return literal("user:", String).concat(USERS.c.id).concat(f":coins:{bucket}")

    def available(account: Any) -> Any:
        # Wallets are credit-normal: credits less debits, less what is reserved going out.
        return func.coalesce(
            account.c.credits_posted - account.c.debits_posted - account.c.debits_pending, 0
        )

    total = available(paid) + available(bonus)
    columns = [
        USERS.c.id.label("user"),
        available(paid).label("paid"),
        available(bonus).label("bonus"),
        total.label("total"),
    ]
    joined = USERS.outerjoin(paid, paid.c.code == wallet_code("paid")).outerjoin(
        bonus, bonus.c.code == wallet_code("bonus")
    )
    conditions = [USERS.c.kind == "reader"]
    if min_total:
        conditions.append(total >= min_total)
    return select(*columns).select_from(joined), conditions


def _check_list_bounds(min_total: int, limit: int) -> None:
    if isinstance(limit, bool) or limit < 1 or limit > MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}", details={"limit": limit})
    if min_total < 0 or min_total > MAX_COINS_FILTER:
        raise InvalidInput(
            f"--min must be from 0 to {MAX_COINS_FILTER}", details={"min": str(min_total)[:40]}
        )


def list_reader_coins(
    session: Session, *, min_total: int = 0, limit: int = 1000, after: str | None = None
) -> list[dict[str, Any]]:
    """Every reader's coins in one query, by user id (after ``after``, for paging)."""
    _check_list_bounds(min_total, limit)
    query, conditions = _reader_coins_query(min_total)
    if after is not None:
        conditions.append(USERS.c.id > after)
    rows = session.execute(query.where(*conditions).order_by(USERS.c.id).limit(limit))
    return [
        {"user": row.user, "paid": int(row.paid), "bonus": int(row.bonus), "total": int(row.total)}
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class ReaderCoinsPage:
    """One page of readers' coins, the cursor of the next page, and the totals of every reader
    the filter matches (not only this page)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None
    totals: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"balances": self.rows, "totals": self.totals, "next_cursor": self.next_cursor}


def reader_coins_page(
    session: Session, *, min_total: int = 0, limit: int = 1000, cursor: str | None = None
) -> ReaderCoinsPage:
    """``list_reader_coins`` paged by a cursor (the last user id shown), with totals."""
    _check_list_bounds(min_total, limit)
    if cursor is not None and not is_user_id(cursor):
        raise InvalidInput(
            "--cursor must be the next_cursor of a previous page",
            details={"cursor": cursor[:40]},
            code="INVALID_CURSOR",
        )
    rows = list_reader_coins(session, min_total=min_total, limit=limit + 1, after=cursor)
    query, conditions = _reader_coins_query(min_total)
    matched = query.where(*conditions).subquery()
    readers, paid, bonus, total = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(matched.c.paid), 0),
            func.coalesce(func.sum(matched.c.bonus), 0),
            func.coalesce(func.sum(matched.c.total), 0),
        ).select_from(matched)
    ).one()
    more = len(rows) > limit
    return ReaderCoinsPage(
        rows=rows[:limit],
        next_cursor=rows[limit - 1]["user"] if more else None,
        totals={
            "readers": int(readers),
            "paid": int(paid),
            "bonus": int(bonus),
            "total": int(total),
        },
    )


def writer_earnings(session: Session, writer_id: str) -> list[Earnings]:
    """A writer's earnings per currency (an empty list before the first earning)."""
    get_user(session, writer_id, kind="writer")
    result = []
    for account in list_accounts(session, prefix=f"writer:{writer_id}:earnings:"):
        balance = get_balance(session, account.code)
        result.append(
            Earnings(
                currency=account.currency,
                posted=balance.posted,
                on_hold=balance.totals.credits_pending,
                reserved=balance.totals.debits_pending,
                available=balance.available,
            )
        )
    return result
