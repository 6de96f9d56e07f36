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
from legato_pay.reporting.sums import domain_sums
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
class _Source:
    stream: str | None  # None: the stream is a column (``stream_column``)
    query: Select[Any]
    time: Any
    currency: Any
    value: Any
    writer: Any
    stream_column: Any = None


def _sources() -> list[_Source]:
    return [
        _Source(
            "content",
            select().select_from(UNLOCKS),
            UNLOCKS.c.created_at,
            UNLOCKS.c.value_currency,
            UNLOCKS.c.writer_share,
            UNLOCKS.c.writer_id,
        ),
        _Source(
            "tips",
            select().select_from(TRANSFERS).where(TRANSFERS.c.kind == "tip"),
            TRANSFERS.c.created_at,
            TRANSFERS.c.value_currency,
            TRANSFERS.c.writer_share,
            TRANSFERS.c.to_user,
        ),
        _Source(
            None,
            select().select_from(RECEIPTS),
            RECEIPTS.c.created_at,
            RECEIPTS.c.currency,
            RECEIPTS.c.writer_share,
            RECEIPTS.c.writer_id,
            RECEIPTS.c.stream,
        ),
        _Source(
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
    shares = []
    for source in _sources():
        query = source.query
        if writer_id is not None:
            query = query.where(source.writer == writer_id)
        keys = [
            *([source.stream_column] if source.stream is None else []),
            *([source.writer] if per_writer else []),
        ]
        for bucket, currency, values, amount in domain_sums(
            session,
            query,
            time_column=source.time,
            currency_column=source.currency,
            value=source.value,
            window=window,
            by=by,
            keys=keys,
        ):
            stream = source.stream or values[0]
            writer = values[-1] if per_writer else None
            if stream in STREAMS:
                shares.append(Share(bucket, currency, writer, stream, amount))
    return shares
