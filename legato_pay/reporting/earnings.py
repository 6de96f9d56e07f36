"""Writers' shares per stream, from the business rows that recorded each one when it was made.

- content: ``content_unlocks.writer_share`` (by ``writer_id``, dated ``created_at``);
- tips: ``coin_transfers.writer_share`` of ``kind = 'tip'`` (the writer is ``to_user``);
- licensing, ads: ``revenue_receipts.writer_share`` (by ``writer_id`` and ``stream``);
- subscription (and true-up adjustments of every stream): ``revenue_lines.amount`` of each run,
  dated by the run's ``created_at``, deferred lines left out (they posted nothing).

Summed in SQL per bucket, currency, stream and (when asked) writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from legato_pay.reporting.periods import Window
from legato_pay.reporting.sums import Part, domain_sums
from legato_pay.store.tables import LINES, RECEIPTS, RUNS, TRANSFERS, UNLOCKS

STREAMS = ("content", "subscription", "licensing", "ads", "tips")


@dataclass(frozen=True, slots=True)
class Share:
    bucket: str
    currency: str
    writer: str | None
    stream: str
    amount: int


@dataclass(frozen=True, slots=True)
class SharePart:
    """A source of writer shares: its stream (None: the first key is the stream column) and
    the part to sum (keys: [stream column], then [writer] when asked per writer)."""

    stream: str | None
    part: Part
    per_writer: bool

    def share(self, bucket: str, currency: str, keys: tuple[Any, ...], amount: int) -> Share:
        stream = self.stream or str(keys[0])
        writer = str(keys[1 if self.stream is None else 0]) if self.per_writer else None
        return Share(bucket, currency, writer, stream, amount)


def share_parts(*, per_writer: bool = False, writer_id: str | None = None) -> list[SharePart]:
    """The four sources of writer shares as parts of one ``domain_sums`` statement."""
    sources: list[tuple[str | None, Select[Any], Any, Any, Any, Any, Any]] = [
        (
            "content",
            select().select_from(UNLOCKS),
            UNLOCKS.c.created_at,
            UNLOCKS.c.value_currency,
            UNLOCKS.c.writer_share,
            UNLOCKS.c.writer_id,
            None,
        ),
        (
            "tips",
            select().select_from(TRANSFERS).where(TRANSFERS.c.kind == "tip"),
            TRANSFERS.c.created_at,
            TRANSFERS.c.value_currency,
            TRANSFERS.c.writer_share,
            TRANSFERS.c.to_user,
            None,
        ),
        (
            None,
            select().select_from(RECEIPTS),
            RECEIPTS.c.created_at,
            RECEIPTS.c.currency,
            RECEIPTS.c.writer_share,
            RECEIPTS.c.writer_id,
            RECEIPTS.c.stream,
        ),
        (
            None,
            select()
            .select_from(LINES.join(RUNS, RUNS.c.id == LINES.c.run_id))
            .where(LINES.c.kind != "deferred"),
            RUNS.c.created_at,
            LINES.c.currency,
            LINES.c.amount,
            LINES.c.writer_id,
            LINES.c.stream,
        ),
    ]
    parts = []
    for stream, query, time, currency, value, writer, stream_column in sources:
        if writer_id is not None:
            query = query.where(writer == writer_id)
        keys = [*([stream_column] if stream is None else []), *([writer] if per_writer else [])]
        parts.append(SharePart(stream, Part(query, time, currency, value, keys), per_writer))
    return parts


def writer_shares(
    session: Session,
    window: Window,
    by: str | None,
    *,
    per_writer: bool = False,
    writer_id: str | None = None,
) -> list[Share]:
    """Every writer share made in ``window``, summed per bucket, currency and stream (and
    writer when ``per_writer``; only ``writer_id``'s when given)."""
    parts = share_parts(per_writer=per_writer, writer_id=writer_id)
    rows = domain_sums(session, [p.part for p in parts], window, by)
    shares = [
        parts[index].share(bucket, cur, keys, amount) for index, bucket, cur, keys, amount in rows
    ]
    return [share for share in shares if share.stream in STREAMS]
