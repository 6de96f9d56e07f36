"""Where the gateway's records come from: one reader per gateway and input, behind one shape.

A source hands back ``GatewayRecord`` values for the period and its slack, and says how a
project reference may appear at that gateway (``reference_forms``: Paystack conforms references
with characters it refuses). The API readers live in ``paystack_api`` and ``stripe_api``, the
CSV readers in ``csv_exports``; the sandbox's own book is read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.ledger.types import as_utc
from legato_pay.reconcile.records import (
    FAILED,
    IN_FLIGHT,
    SETTLED,
    Direction,
    GatewayRecord,
    Period,
)
from legato_pay.store.tables import BOOK


@dataclass(frozen=True, slots=True)
class Source:
    """Records for a period, and the forms a project reference takes at the gateway."""

    name: str  # api | csv | book
    fetch: Callable[[Period], list[GatewayRecord]]
    reference_forms: Callable[[str], set[str]] = lambda reference: {reference}
    file_name: str | None = None


def parse_time(value: object) -> datetime | None:
    """A provider's ISO 8601 time (``…Z`` or an offset; none means UTC), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


_SANDBOX_STATES = {"succeeded": SETTLED, "pending": IN_FLIGHT, "failed": FAILED}


def sandbox_records(session: Session, period: Period) -> list[GatewayRecord]:
    """The sandbox gateway's book (``sandbox_payments``): payments in, refunds and payouts out."""
    rows = session.execute(
        select(BOOK).where(
            BOOK.c.created_at >= period.read_from, BOOK.c.created_at <= period.read_to
        )
    )
    records = []
    for row in rows:
        direction: Direction = "in" if row.kind == "payment" else "out"
        records.append(
            GatewayRecord(
                gateway_id=row.id,
                kind=row.kind,
                direction=direction,
                amount=row.paid_amount,
                currency=row.paid_currency,
                state=_SANDBOX_STATES.get(row.status, IN_FLIGHT),
                raw_status=row.status,
                occurred_at=as_utc(row.created_at),
                refs=frozenset({row.reference}),
                reference=row.reference,
            )
        )
    return records
