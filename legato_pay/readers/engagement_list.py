"""Listing reading time for operators: by reader, content or writer, over a time range, paged.

Filters name ids that must exist (an unknown one is ``NOT_FOUND``, never an empty page); the
range applies to ``recorded_at`` (``from`` inclusive, ``to`` exclusive). Pages are in id order,
continued with the cursor the previous page returned; the totals (rows and minutes) cover every
row the filters match, not just the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.readers.content import get_content
from legato_pay.readers.engagement import EngagementView, engagement_view
from legato_pay.readers.paging import parse_id_cursor
from legato_pay.readers.users import get_user
from legato_pay.store.tables import ENGAGEMENT

MAX_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class EngagementPage:
    rows: list[EngagementView]
    next_cursor: str | None
    total_rows: int
    total_minutes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "engagement": [row.as_json() for row in self.rows],
            "totals": {"rows": self.total_rows, "minutes": self.total_minutes},
            "next_cursor": self.next_cursor,
        }


def list_engagement(
    session: Session,
    *,
    user_id: str | None = None,
    content_id: str | None = None,
    writer_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> EngagementPage:
    """One page of records matching every filter given, and the totals of all that match."""
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", details={"limit": limit})
    after = parse_id_cursor(cursor)
    conditions = []
    if user_id is not None:
        get_user(session, user_id)
        conditions.append(ENGAGEMENT.c.user_id == user_id)
    if content_id is not None:
        get_content(session, content_id)
        conditions.append(ENGAGEMENT.c.content_id == content_id)
    if writer_id is not None:
        get_user(session, writer_id, kind="writer")
        conditions.append(ENGAGEMENT.c.writer_id == writer_id)
    if start is not None:
        conditions.append(ENGAGEMENT.c.recorded_at >= start)
    if end is not None:
        conditions.append(ENGAGEMENT.c.recorded_at < end)
    rows = session.execute(
        select(ENGAGEMENT)
        .where(*conditions, ENGAGEMENT.c.id > after)
        .order_by(ENGAGEMENT.c.id)
        .limit(limit + 1)
    ).all()
    count, minutes = session.execute(
        select(func.count(), func.coalesce(func.sum(ENGAGEMENT.c.minutes), 0)).where(*conditions)
    ).one()
    more = len(rows) > limit
    page = [engagement_view(row) for row in rows[:limit]]
    return EngagementPage(
        rows=page,
        next_cursor=str(page[-1].id) if more else None,
        total_rows=int(count),
        total_minutes=int(minutes),
    )
