"""The ledger as books an accounting tool accepts: beancount, hledger's journal, or CSV legs.

``export_ledger`` streams one snapshot of the journal to a text stream: an ``open`` (beancount)
or ``account`` (hledger) directive per account, dated at its creation, with its ledger code
beside it; with a start, one transaction of the opening balances (each account's posted balance
before the start; they add up to zero per currency, as every entry does); one transaction per
journal entry with posted value in the period (dated when it was recorded, linked and tagged
with its entry id); and a balance assertion per account for its posted balance before the end,
dated the day after the end's date (beancount checks a ``balance`` at the start of its day;
hledger's ``=`` assertions sit in one closing transaction on the same day). Pending value is not
in the books until posted (``source``). CSV holds the period's posted legs only
(``CSV_COLUMNS``). Account names: ``names``, which mirrors the chart's families (a test keeps
the two in step) rather than importing the chart: nothing here imports above the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TextIO

from sqlalchemy.orm import Session

from legato_pay.errors import InvalidTime
from legato_pay.ledger.export import source
from legato_pay.ledger.export.names import book_account
from legato_pay.ledger.export.writers import CSV_COLUMNS, WRITERS, BookWriter
from legato_pay.ledger.types import as_utc, utcnow

ExportFormat = Literal["beancount", "hledger", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("beancount", "hledger", "csv")

__all__ = [
    "CSV_COLUMNS",
    "EXPORT_FORMATS",
    "ExportFormat",
    "ExportSummary",
    "book_account",
    "export_ledger",
]


@dataclass
class ExportSummary:
    """What an export wrote; ``end`` None is everything there was."""

    format: str
    start: datetime | None
    end: datetime | None
    accounts: int = 0
    entries: int = 0
    legs: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "accounts": self.accounts,
            "entries": self.entries,
            "legs": self.legs,
        }


def export_ledger(
    session: Session,
    out: TextIO,
    *,
    format: ExportFormat,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ExportSummary:
    """Write the books of ``[start, end)`` (system time; either end may be open) to ``out``.

    Must be the first thing ``session``'s transaction does (it takes one snapshot on
    PostgreSQL). A reversed range is ``INVALID_TIME``. The closing assertions are dated the day
    after ``end``'s date, or without an end the day after today or the last entry's date."""
    start, end = as_utc(start), as_utc(end)
    if start is not None and end is not None and end < start:
        raise InvalidTime(
            "--to is before --from",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )
    if format not in WRITERS:
        raise ValueError(format)
    source.snapshot(session)
    writer: BookWriter = WRITERS[format](out)
    summary = ExportSummary(format, start, end)
    writer.header(start, end)
    for account in source.accounts(session, end):
        summary.accounts += 1
        writer.account(account)
    if start is not None:
        rows = source.balances(session, start, opened_before=end)
        writer.opening(start.date(), start, (row for row in rows if row.net_debit))
    latest = end or utcnow()
    for head, legs in source.entries(session, start, end):
        summary.entries += 1
        summary.legs += len(legs)
        latest = max(latest, head.created_at)
        writer.entry(head, legs)
    closing_day = latest.date() + timedelta(days=1)
    writer.closing(closing_day, end, source.balances(session, end, opened_before=end))
    return summary
