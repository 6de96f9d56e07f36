"""Per-period true-up of per-transaction rounding (content, tips, licensing, ads).

Each unlock, tip or receipt splits its own value, ties to the writer, so a writer of 25-coin
chapters gets 18 of every 25 cents at 70 %: 72 %. For each writer and currency the run takes the
period's value V and what the writer was credited W (both summed in SQL), computes the exact
share T of V (largest remainder over the writer's whole period: |T - V·p| < 1 minor unit) and
posts T - W as an adjustment line between ``platform:revenue:<stream>:<CUR>`` and the writer.

A negative adjustment the writer's available earnings cannot cover yet (their shares still under
the refund hold, or paid out) is recorded as a *deferred* line and collected by the next run of
the same stream that can (the deferred line then points at the entry that collected it, or at
entry 0 when what it was netted against left nothing to post).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.money import allocate_by_percent
from legato_pay.revenue.pool import Line
from legato_pay.store.tables import LINES, RECEIPTS, TRANSFERS, UNLOCKS


@dataclass(frozen=True, slots=True)
class Value:
    writer_id: str
    currency: str
    value: int
    credited: int


@dataclass(slots=True)
class TrueUp:
    """One stream's true-up: lines (with deferred amounts collected) and their net."""

    stream: str
    lines: list[Line] = field(default_factory=list)
    collected: list[int] = field(default_factory=list)  # ids of deferred lines settled now

    def totals(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for line in self.lines:
            per = result.setdefault(
                line.currency, {"value": 0, "credited": 0, "adjustments": 0, "deferred": 0}
            )
            per["value"] += line.basis_value
            per["credited"] += line.paid_before
            per["deferred" if line.kind == "deferred" else "adjustments"] += line.amount
        return result


def period_values(session: Session, stream: str, start: datetime, end: datetime) -> list[Value]:
    """Per writer and currency: the period's value and the writer's credited shares."""
    if stream == "content":
        writer, currency, table = UNLOCKS.c.writer_id, UNLOCKS.c.value_currency, UNLOCKS
        where: Any = and_(UNLOCKS.c.created_at >= start, UNLOCKS.c.created_at < end)
        value, credited = UNLOCKS.c.value, UNLOCKS.c.writer_share
    elif stream == "tips":
        writer, currency, table = TRANSFERS.c.to_user, TRANSFERS.c.value_currency, TRANSFERS
        where = and_(
            TRANSFERS.c.kind == "tip",
            TRANSFERS.c.value_currency.is_not(None),
            TRANSFERS.c.created_at >= start,
            TRANSFERS.c.created_at < end,
        )
        value, credited = TRANSFERS.c.value, TRANSFERS.c.writer_share
    else:
        writer, currency, table = RECEIPTS.c.writer_id, RECEIPTS.c.currency, RECEIPTS
        where = and_(
            RECEIPTS.c.stream == stream,
            RECEIPTS.c.created_at >= start,
            RECEIPTS.c.created_at < end,
        )
        value, credited = RECEIPTS.c.amount, RECEIPTS.c.writer_share
    rows = session.execute(
        select(writer, currency, func.sum(value), func.sum(credited))
        .select_from(table)
        .where(where)
        .group_by(writer, currency)
        .order_by(writer, currency)
    )
    return [Value(str(w), str(c), int(v or 0), int(p or 0)) for w, c, v, p in rows]


def open_deferred(session: Session, stream: str) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """Deferred lines of earlier runs of ``stream`` not collected yet: (writer, currency) ->
    [(line id, amount)]."""
    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    rows = session.execute(
        select(LINES.c.id, LINES.c.writer_id, LINES.c.currency, LINES.c.amount)
        .where(LINES.c.stream == stream, LINES.c.kind == "deferred", LINES.c.entry_id.is_(None))
        .order_by(LINES.c.id)
    )
    for line_id, writer, currency, amount in rows:
        found.setdefault((str(writer), str(currency)), []).append((int(line_id), int(amount)))
    return found


def true_up(
    settings: Settings,
    stream: str,
    values: list[Value],
    deferred: dict[tuple[str, str], list[tuple[int, int]]],
    available: dict[tuple[str, str], int],
) -> TrueUp:
    """The adjustment lines: exact share minus credited, plus what earlier runs deferred; a
    negative amount beyond the writer's ``available`` earnings is deferred again."""
    shares = getattr(settings.revenue, stream)
    percents = [shares.writer_percent, shares.platform_percent]
    result = TrueUp(stream)
    seen: set[tuple[str, str]] = set()
    for item in values:
        key = (item.writer_id, item.currency)
        seen.add(key)
        exact = allocate_by_percent(item.value, percents)[0] if item.value > 0 else 0
        floor = math.floor(item.value * Fraction(shares.writer_percent) / 100)
        share = Fraction(exact, item.value) if item.value else Fraction(0)
        amount = exact - item.credited
        _add(result, key, amount, deferred, available, item, exact - floor, share)
    for key in sorted(set(deferred) - seen):
        _add(result, key, 0, deferred, available, None, 0, Fraction(0))
    return result


def _add(
    result: TrueUp,
    key: tuple[str, str],
    amount: int,
    deferred: dict[tuple[str, str], list[tuple[int, int]]],
    available: dict[tuple[str, str], int],
    item: Value | None,
    remainder: int,
    share: Fraction,
) -> None:
    owed = deferred.get(key, [])
    total = amount + sum(part for _, part in owed)
    writer, currency = key
    if total < 0 and -total > max(available.get(key, 0), 0):
        if item is None or amount == 0:
            return  # nothing new, and the old deferred lines stay open
        kind, posted = "deferred", amount  # this period's own part waits, like the older ones
    else:
        if item is None and total == 0:
            return
        kind, posted = "adjustment", total
        result.collected.extend(line_id for line_id, _ in owed)
    result.lines.append(
        Line(
            writer_id=writer,
            currency=currency,
            kind=kind,
            basis_minutes=0,
            basis_value=item.value if item else 0,
            paid_before=item.credited if item else 0,
            share=share,
            amount=posted,
            remainder_units=remainder,
        )
    )
