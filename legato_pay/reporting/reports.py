"""Reports read from the business records: revenue per content piece, purchase history.

Content revenue comes from ``content_unlocks`` and tip rows in ``coin_transfers``; both carry
the value and its split as recorded when the coins moved, so a report never re-derives a split
and its totals are exact sums of its rows. Periods (day, ISO week, month) are computed in Python
from the UTC ``created_at`` in one pass, the same on SQLite and PostgreSQL. In JSON, amounts of
money are named ``…_minor`` (minor units of the report's currency); coins are counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, InvalidTime
from legato_pay.ledger.types import as_utc
from legato_pay.money import format_amount, normalize_currency
from legato_pay.readers.content import get_content, validate_content_id
from legato_pay.readers.users import get_user, validate_user_id
from legato_pay.reporting.periods import BUCKETS as PERIODS
from legato_pay.reporting.periods import bucket_label
from legato_pay.store.tables import PURCHASES, TRANSFERS, UNLOCKS

#: The summed fields of a content revenue row, in output order.
COUNTERS = (
    "unlocks",
    "unlock_coins",
    "unlock_value",
    "tips",
    "tip_coins",
    "tip_value",
    "coins",
    "value",
    "writer_share",
    "platform_share",
)
#: The counters that are money (minor units of the report's currency), not counts of coins.
MONEY_COUNTERS = ("unlock_value", "tip_value", "value", "writer_share", "platform_share")


def _named(sums: dict[str, int]) -> dict[str, int]:
    """The sums as JSON names them: money counters end in ``_minor``."""
    return {f"{name}_minor" if name in MONEY_COUNTERS else name: sums[name] for name in COUNTERS}


def period_of(moment: datetime, by: str) -> str:
    """The period label of a UTC time: ``2026-01-05``, ``2026-W02`` (ISO week) or ``2026-01``."""
    if by not in PERIODS:
        raise InvalidInput(f"--by must be one of {', '.join(PERIODS)}", details={"by": by})
    return bucket_label(moment, by)


@dataclass
class ContentRevenueRow:
    period: str
    content: str | None
    writer: str
    currency: str
    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "content": self.content,
            "writer": self.writer,
            "currency": self.currency,
            **_named(self.sums),
            "display": format_amount(self.sums["value"], self.currency),
        }


@dataclass(frozen=True, slots=True)
class ContentRevenueReport:
    by: str
    currency: str
    since: datetime | None
    until: datetime | None
    rows: list[ContentRevenueRow]

    @property
    def sums(self) -> dict[str, int]:
        """Every counter summed over the rows."""
        return {name: sum(row.sums[name] for row in self.rows) for name in COUNTERS}

    @property
    def totals(self) -> dict[str, Any]:
        sums = self.sums
        return {
            "currency": self.currency,
            **_named(sums),
            "display": format_amount(sums["value"], self.currency),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "currency": self.currency,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "rows": [row.as_json() for row in self.rows],
            "totals": self.totals,
        }


def content_revenue(
    session: Session,
    *,
    currency: str,
    by: str = "day",
    content_id: str | None = None,
    writer_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ContentRevenueReport:
    """Unlocks and tips per period, content piece and writer, in one currency of coin value.

    ``since`` is inclusive, ``until`` exclusive. Tips not tied to a content piece appear in a
    row with ``content`` null for their writer (left out when ``content_id`` is given). A filter
    naming a content piece or writer that does not exist is ``*_NOT_FOUND`` (an id that cannot
    be one is refused before any query), a reversed window ``INVALID_TIME``: an empty report
    would read as "nothing was earned".
    """
    if by not in PERIODS:
        raise InvalidInput(f"--by must be one of {', '.join(PERIODS)}", details={"by": by})
    currency = normalize_currency(currency)
    since, until = as_utc(since), as_utc(until)
    if since is not None and until is not None and until < since:
        raise InvalidTime(
            "--until is before --since",
            details={"since": since.isoformat(), "until": until.isoformat()},
        )
    if writer_id is not None:
        get_user(session, validate_user_id(writer_id), kind="writer")
    if content_id is not None:
        get_content(session, validate_content_id(content_id))
    window = _Window(content_id, writer_id, since, until)
    unlocks = _window(
        select(
            UNLOCKS.c.content_id,
            UNLOCKS.c.writer_id,
            UNLOCKS.c.coins,
            UNLOCKS.c.value,
            UNLOCKS.c.writer_share,
            UNLOCKS.c.platform_share,
            UNLOCKS.c.created_at,
        ).where(UNLOCKS.c.value_currency == currency),
        UNLOCKS,
        UNLOCKS.c.writer_id,
        window,
    )
    tips = _window(
        select(
            TRANSFERS.c.content_id,
            TRANSFERS.c.to_user,
            TRANSFERS.c.coins,
            TRANSFERS.c.value,
            TRANSFERS.c.writer_share,
            TRANSFERS.c.platform_share,
            TRANSFERS.c.created_at,
        ).where(TRANSFERS.c.kind == "tip", TRANSFERS.c.value_currency == currency),
        TRANSFERS,
        TRANSFERS.c.to_user,
        window,
    )
    grouped: dict[tuple[str, str | None, str], ContentRevenueRow] = {}
    _accumulate(grouped, "unlock", session.execute(unlocks), by, currency)
    _accumulate(grouped, "tip", session.execute(tips), by, currency)
    rows = [
        grouped[key]
        for key in sorted(grouped, key=lambda k: (k[0], k[1] is None, k[1] or "", k[2]))
    ]
    return ContentRevenueReport(by, currency, since, until, rows)


@dataclass(frozen=True, slots=True)
class _Window:
    """The report's filters, applied alike to unlocks and tips."""

    content_id: str | None
    writer_id: str | None
    since: datetime | None
    until: datetime | None


def _window(query: Select[Any], table: Table, writer_column: Any, window: _Window) -> Select[Any]:
    if window.content_id is not None:
        query = query.where(table.c.content_id == window.content_id)
    if window.writer_id is not None:
        query = query.where(writer_column == window.writer_id)
    if window.since is not None:
        query = query.where(table.c.created_at >= window.since)
    if window.until is not None:
        query = query.where(table.c.created_at < window.until)
    return query


def _accumulate(
    grouped: dict[tuple[str, str | None, str], ContentRevenueRow],
    source: str,
    records: Iterable[Any],
    by: str,
    currency: str,
) -> None:
    count = "unlocks" if source == "unlock" else "tips"
    for content, writer, coins, value, writer_share, platform_share, created in records:
        period = period_of(as_utc(created), by)  # type: ignore[arg-type]
        row = grouped.get((period, content, writer))
        if row is None:
            row = grouped[(period, content, writer)] = ContentRevenueRow(
                period, content, writer, currency
            )
        sums = row.sums
        sums[count] += 1
        sums[f"{source}_coins"] += coins
        sums[f"{source}_value"] += value
        sums["coins"] += coins
        sums["value"] += value
        sums["writer_share"] += writer_share
        sums["platform_share"] += platform_share


def purchase_history(session: Session, user_id: str) -> list[dict[str, Any]]:
    """A user's coin purchases, oldest first, as the purchases table records them."""
    get_user(session, validate_user_id(user_id))
    query = (
        select(PURCHASES)
        .where(PURCHASES.c.user_id == user_id)
        .order_by(PURCHASES.c.created_at, PURCHASES.c.reference)
    )
    return [
        {
            "reference": row.reference,
            "package": row.package_id,
            "coins": row.coins,
            "bonus": row.bonus_coins,
            "amount_minor": row.amount,
            "currency": row.currency,
            "display": format_amount(row.amount, row.currency),
            "status": row.status,
            "created_at": as_utc(row.created_at).isoformat(),  # type: ignore[union-attr]
        }
        for row in session.execute(query)
    ]
