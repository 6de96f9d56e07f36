"""``reports users --user U``: one reader's coins — history, spending, purchases, tips, gifts.

- ``history``: the ledger, every leg on ``user:<u>:coins:paid`` / ``:bonus`` in the window,
  oldest first (change signed: + coins in, − coins out), with its entry's reason; at most
  ``limit`` legs (``history_truncated`` says when there were more);
- ``summary`` rows, each summed in SQL over the window:
  - ``spending``: unlocks (``content_unlocks`` joined to ``content_items``) per content type and
    writer, and tips (``coin_transfers``, ``kind = 'tip'``) per writer as type ``tip``: count,
    coins and their value;
  - ``purchases``: ``purchases`` per currency and status: count, coins (paid + bonus) and amount;
  - ``tips_given`` / ``tips_received`` / ``gifts_given`` / ``gifts_received``:
    ``coin_transfers`` per counterparty: count, coins (and value for tips).

``currency`` (``--currency``) filters the money figures in SQL: spending and tips rows valued in
that currency, purchases paid in it. Gifts (coins only, no money) and the coin ``history`` are
not money figures and stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from legato_pay.ledger.types import as_utc
from legato_pay.readers.users import get_user
from legato_pay.reporting.periods import Window
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.sums import in_window, total
from legato_pay.store.tables import (
    ACCOUNTS,
    CONTENT,
    ENTRIES,
    LEGS,
    PURCHASES,
    TRANSFERS,
    UNLOCKS,
)

COLUMNS = ["section", "kind", "subject", "count", "coins", "value_minor", "currency"]


@dataclass(frozen=True, slots=True)
class UserReport:
    user: str
    window: Window
    history: list[dict[str, Any]]
    truncated: bool
    summary: list[dict[str, Any]]

    def totals(self) -> dict[str, int]:
        coins_in = sum(row["change"] for row in self.history if row["change"] > 0)
        coins_out = -sum(row["change"] for row in self.history if row["change"] < 0)
        return {"coins_in": coins_in, "coins_out": coins_out, "net": coins_in - coins_out}

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            **self.window.as_json(),
            "history": self.history,
            "history_truncated": self.truncated,
            "summary": self.summary,
            "totals": self.totals(),
        }

    def result(self) -> ReportResult:
        return ReportResult(
            title=f"coins of {self.user} ({self.window.label})",
            columns=COLUMNS,
            rows=self.summary,
            totals=dict(self.totals()),
            series=None,
            money_columns=["value_minor"],
        )


def user_report(
    session: Session,
    *,
    user_id: str,
    window: Window,
    limit: int = 1000,
    currency: str | None = None,
) -> UserReport:
    """The report of ``user_id`` (USER_NOT_FOUND when there is no such user); money figures in
    ``currency`` only when given."""
    get_user(session, user_id)
    history, truncated = _history(session, user_id, window, limit)
    summary = [
        *_spending(session, user_id, window, currency),
        *_purchases(session, user_id, window, currency),
        *_transfers(session, user_id, window, currency),
    ]
    return UserReport(user_id, window, history, truncated, summary)


def _history(
    session: Session, user_id: str, window: Window, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    codes = [f"user:{user_id}:coins:paid", f"user:{user_id}:coins:bonus"]
    query = in_window(
        select(
            LEGS.c.created_at,
            LEGS.c.entry_id,
            ACCOUNTS.c.code,
            LEGS.c.is_debit,
            LEGS.c.amount,
            ENTRIES.c.reason,
        )
        .select_from(
            LEGS.join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id).join(
                ENTRIES, ENTRIES.c.id == LEGS.c.entry_id
            )
        )
        .where(ACCOUNTS.c.code.in_(codes), LEGS.c.amount > 0),
        LEGS.c.created_at,
        window,
    ).order_by(LEGS.c.entry_id, LEGS.c.id)
    rows = session.execute(query.limit(limit + 1)).all()
    history = [
        {
            "at": as_utc(row.created_at).isoformat(),  # type: ignore[union-attr]
            "entry_id": row.entry_id,
            "bucket": row.code.rsplit(":", 1)[1],
            "change": -row.amount if row.is_debit else row.amount,
            "reason": row.reason,
        }
        for row in rows[:limit]
    ]
    return history, len(rows) > limit


def _row(section: str, kind: str | None, subject: str | None, *values: Any) -> dict[str, Any]:
    count, coins, value, currency = values
    return {
        "section": section,
        "kind": kind,
        "subject": subject,
        "count": int(count),
        "coins": int(coins),
        "value_minor": None if value is None else int(value),
        "currency": currency,
    }


def _only(column: Any, currency: str | None) -> list[Any]:
    """The condition keeping ``currency``'s rows (none without a filter)."""
    return [] if currency is None else [column == currency]


def _spending(
    session: Session, user_id: str, window: Window, currency: str | None
) -> list[dict[str, Any]]:
    unlocks = in_window(
        select(
            CONTENT.c.type,
            UNLOCKS.c.writer_id,
            func.count(),
            total(UNLOCKS.c.coins),
            total(UNLOCKS.c.value),
            UNLOCKS.c.value_currency,
        )
        .select_from(UNLOCKS.join(CONTENT, CONTENT.c.id == UNLOCKS.c.content_id))
        .where(UNLOCKS.c.user_id == user_id, *_only(UNLOCKS.c.value_currency, currency)),
        UNLOCKS.c.created_at,
        window,
    ).group_by(CONTENT.c.type, UNLOCKS.c.writer_id, UNLOCKS.c.value_currency)
    tips = in_window(
        select(
            TRANSFERS.c.to_user,
            func.count(),
            total(TRANSFERS.c.coins),
            total(TRANSFERS.c.value),
            TRANSFERS.c.value_currency,
        ).where(
            TRANSFERS.c.from_user == user_id,
            TRANSFERS.c.kind == "tip",
            *_only(TRANSFERS.c.value_currency, currency),
        ),
        TRANSFERS.c.created_at,
        window,
    ).group_by(TRANSFERS.c.to_user, TRANSFERS.c.value_currency)
    rows = [
        _row("spending", kind, writer, *rest) for kind, writer, *rest in session.execute(unlocks)
    ]
    rows += [_row("spending", "tip", writer, *rest) for writer, *rest in session.execute(tips)]
    return sorted(rows, key=lambda row: (row["kind"], row["subject"]))


def _purchases(
    session: Session, user_id: str, window: Window, currency: str | None
) -> list[dict[str, Any]]:
    query = in_window(
        select(
            PURCHASES.c.currency,
            PURCHASES.c.status,
            func.count(),
            total(PURCHASES.c.coins + PURCHASES.c.bonus_coins),
            total(PURCHASES.c.amount),
        ).where(PURCHASES.c.user_id == user_id, *_only(PURCHASES.c.currency, currency)),
        PURCHASES.c.created_at,
        window,
    ).group_by(PURCHASES.c.currency, PURCHASES.c.status)
    return [
        _row("purchases", status, currency, count, coins, amount, currency)
        for currency, status, count, coins, amount in session.execute(
            query.order_by(PURCHASES.c.currency, PURCHASES.c.status)
        )
    ]


def _transfers(
    session: Session, user_id: str, window: Window, currency: str | None
) -> list[dict[str, Any]]:
    money = (
        []
        if currency is None
        else [or_(TRANSFERS.c.kind != "tip", TRANSFERS.c.value_currency == currency)]
    )
    rows = []
    for direction, mine, other in (
        ("given", TRANSFERS.c.from_user, TRANSFERS.c.to_user),
        ("received", TRANSFERS.c.to_user, TRANSFERS.c.from_user),
    ):
        query = in_window(
            select(
                TRANSFERS.c.kind,
                other,
                func.count(),
                total(TRANSFERS.c.coins),
                total(TRANSFERS.c.value),
                TRANSFERS.c.value_currency,
            ).where(mine == user_id, *money),
            TRANSFERS.c.created_at,
            window,
        ).group_by(TRANSFERS.c.kind, other, TRANSFERS.c.value_currency)
        for kind, counterparty, count, coins, value, currency in session.execute(query):
            section = f"{'tips' if kind == 'tip' else 'gifts'}_{direction}"
            shown = (value, currency) if kind == "tip" else (None, None)
            rows.append(_row(section, kind, counterparty, count, coins, *shown))
    return sorted(rows, key=lambda row: (row["section"], row["subject"]))
