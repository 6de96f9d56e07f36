"""``reports content``: per content piece, revenue, unlocks, engagement and conversion.

- revenue, unlocks, tips, writer / platform shares: ``reporting.reports.content_revenue`` (the
  ``reports content-revenue`` figures: ``content_unlocks`` and tips tied to the piece), summed
  over the window; tips with no content piece belong to no row here.
- ``engagement_minutes``, ``engaged_readers``: ``engagement`` rows of the piece recorded in the
  window (``recorded_at``): the minutes, and how many distinct readers they are from.
- ``converted_readers``: those engaged readers who have unlocked the piece (at any time before
  the window's end).
- ``conversion`` = converted_readers ÷ engaged_readers, a decimal string rounded half-even to
  4 places (``"0.5000"``); **null** when no reader engaged with the piece in the window (never
  0 or infinity). Readers who unlocked without any recorded engagement count in ``unlocks``,
  not in the conversion: it measures how often reading turned into buying.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from legato_pay.money import normalize_currency
from legato_pay.readers.content import get_content
from legato_pay.readers.users import get_user
from legato_pay.reporting.periods import Window
from legato_pay.reporting.reports import COUNTERS, content_revenue
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.sums import in_window, total
from legato_pay.store.dialect import strings_in
from legato_pay.store.tables import CONTENT, ENGAGEMENT, UNLOCKS

MONEY = ("value", "writer_share", "platform_share")
COUNTS = ("unlocks", "tips", "engagement_minutes", "engaged_readers", "converted_readers")
COLUMNS = [
    "content",
    "writer",
    "currency",
    "unlocks",
    "tips",
    *(f"{name}_minor" for name in MONEY),
    "engagement_minutes",
    "engaged_readers",
    "converted_readers",
    "conversion",
]


def conversion(converted: int, engaged: int) -> str | None:
    """``converted ÷ engaged`` to 4 places (half-even); None when nobody engaged."""
    if engaged == 0:
        return None
    ratio = Decimal(converted) / Decimal(engaged)
    return str(ratio.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class ContentReport:
    window: Window
    currency: str
    rows: list[dict[str, Any]]

    def totals(self) -> dict[str, Any]:
        sums = {name: sum(row[name] for row in self.rows) for name in COUNTS}
        money = {f"{n}_minor": sum(row[f"{n}_minor"] for row in self.rows) for n in MONEY}
        return {
            "currency": self.currency,
            **sums,
            **money,
            "conversion": conversion(sums["converted_readers"], sums["engaged_readers"]),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            **self.window.as_json(),
            "currency": self.currency,
            "rows": self.rows,
            "totals": self.totals(),
        }

    def result(self) -> ReportResult:
        return ReportResult(
            title=f"content ({self.window.label}, {self.currency})",
            columns=COLUMNS,
            rows=self.rows,
            totals=self.totals(),
            series=None,
            money_columns=[f"{name}_minor" for name in MONEY],
        )


def content_report(
    session: Session,
    *,
    window: Window,
    currency: str,
    content_id: str | None = None,
    writer_id: str | None = None,
) -> ContentReport:
    """Every piece with revenue or engagement in the window (``content_id`` always, even with
    nothing); an unknown ``--content``/``--writer`` is NOT_FOUND."""
    code = normalize_currency(currency)
    if writer_id is not None:
        get_user(session, writer_id, kind="writer")
    if content_id is not None:
        get_content(session, content_id)
    revenue = content_revenue(
        session,
        currency=code,
        by="month",
        content_id=content_id,
        writer_id=writer_id,
        since=window.start,
        until=window.end,
    )
    pieces: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in revenue.rows:
        if row.content is not None:
            sums = pieces[row.content].setdefault("sums", dict.fromkeys(COUNTERS, 0))
            for name in COUNTERS:
                sums[name] += row.sums[name]
    engagement = _engagement(session, window, content_id, writer_id)
    wanted = set(pieces) | set(engagement) | ({content_id} if content_id else set())
    writers = _writers(session, wanted)
    rows = [
        _row(piece, writers.get(piece, ""), code, pieces[piece].get("sums"), engagement.get(piece))
        for piece in sorted(wanted)
    ]
    return ContentReport(window, code, rows)


def _row(
    piece: str,
    writer: str,
    currency: str,
    sums: dict[str, int] | None,
    engaged: tuple[int, int, int] | None,
) -> dict[str, Any]:
    sums = sums or dict.fromkeys(COUNTERS, 0)
    minutes, readers, converted = engaged or (0, 0, 0)
    return {
        "content": piece,
        "writer": writer,
        "currency": currency,
        "unlocks": sums["unlocks"],
        "tips": sums["tips"],
        **{f"{name}_minor": sums[name] for name in MONEY},
        "engagement_minutes": minutes,
        "engaged_readers": readers,
        "converted_readers": converted,
        "conversion": conversion(converted, readers),
    }


def _engagement(
    session: Session, window: Window, content_id: str | None, writer_id: str | None
) -> dict[str, tuple[int, int, int]]:
    """Per piece: minutes, distinct engaged readers, and those of them who unlocked it."""
    unlocked_by = [
        UNLOCKS.c.user_id == ENGAGEMENT.c.user_id,
        UNLOCKS.c.content_id == ENGAGEMENT.c.content_id,
    ]
    if window.end is not None:
        unlocked_by.append(UNLOCKS.c.created_at < window.end)
    query = in_window(
        select(
            ENGAGEMENT.c.content_id,
            total(ENGAGEMENT.c.minutes),
            func.count(distinct(ENGAGEMENT.c.user_id)),
            func.count(distinct(case((UNLOCKS.c.id.is_not(None), ENGAGEMENT.c.user_id)))),
        ).select_from(ENGAGEMENT.outerjoin(UNLOCKS, and_(*unlocked_by))),
        ENGAGEMENT.c.recorded_at,
        window,
    ).group_by(ENGAGEMENT.c.content_id)
    if content_id is not None:
        query = query.where(ENGAGEMENT.c.content_id == content_id)
    if writer_id is not None:
        query = query.where(ENGAGEMENT.c.writer_id == writer_id)
    return {
        piece: (int(minutes), int(readers), int(converted))
        for piece, minutes, readers, converted in session.execute(query)
    }


def _writers(session: Session, pieces: set[str]) -> dict[str, str]:
    if not pieces:
        return {}
    query = select(CONTENT.c.id, CONTENT.c.writer_id).where(
        strings_in(session, CONTENT.c.id, sorted(pieces))
    )
    return {piece: writer for piece, writer in session.execute(query)}
