"""The three formats, written a line at a time: beancount, hledger's journal, CSV of legs.

A writer receives the export's parts in order (``header``, one ``account`` per account, the
``opening`` balances when the period has a start, one ``entry`` per journal entry, the
``closing`` balances) and writes them to a text stream; nothing is kept between calls beyond
the current entry.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Protocol, TextIO

from legato_pay.ledger.export.names import book_account
from legato_pay.ledger.export.source import AccountRow, BalanceRow, EntryHead, LegRow
from legato_pay.money import CURRENCY_EXPONENTS, to_decimal_string

#: The CSV export's columns: one row per posted leg, amounts in minor units.
CSV_COLUMNS = ("entry_id", "created_at", "account", "currency", "debit_minor", "credit_minor")

#: Commodity directives are dated here: before any account can exist.
_EPOCH = "1970-01-01"


class BookWriter(Protocol):
    def header(self, start: datetime | None, end: datetime | None) -> None: ...
    def account(self, row: AccountRow) -> None: ...
    def opening(self, day: date, start: datetime, rows: Iterable[BalanceRow]) -> None: ...
    def entry(self, head: EntryHead, legs: Sequence[LegRow]) -> None: ...
    def closing(self, day: date, end: datetime | None, rows: Iterable[BalanceRow]) -> None: ...


def _until(end: datetime | None) -> str:
    return f"before {end.isoformat()}" if end else "the last entry"


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _printable(text: str) -> str:
    """One line of valid UTF-8: control characters become spaces, lone surrogates ``?``."""
    cleaned = _CONTROL.sub(" ", text)
    return cleaned if cleaned.isascii() else cleaned.encode("utf-8", "replace").decode("utf-8")


def _quoted(text: str) -> str:
    """A beancount string literal."""
    return '"' + _printable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _code_note(code: str) -> str:
    """An account code as one ASCII line that gives back the exact code (JSON)."""
    return json.dumps(code)


def narration(head: EntryHead) -> str:
    """What an entry's transaction says: its reason, else its kind (and what it resolves)."""
    if head.reason:
        return head.reason
    if head.reverses_entry_id is not None:
        return f"reversal of entry {head.reverses_entry_id}"
    if head.target_entry_id is not None:
        return f"{head.kind.replace('_', ' ')} of entry {head.target_entry_id}"
    return f"{head.kind} entry"


def signed(leg: LegRow) -> int:
    """A leg as the books sign it: debits positive, credits negative."""
    return leg.amount if leg.is_debit else -leg.amount


def book_balance(row: BalanceRow) -> str:
    return f"{to_decimal_string(row.net_debit, row.currency)} {row.currency}"


def _name(row: AccountRow | BalanceRow | LegRow) -> str:
    return book_account(row.code, row.normal_side).name


def _postings(legs: Iterable[LegRow], indent: str) -> list[str]:
    return [
        f"{indent}{_name(leg)}  {to_decimal_string(signed(leg), leg.currency)} {leg.currency}\n"
        for leg in legs
    ]


def _balances(out: TextIO, title: str, lines: Iterable[str]) -> None:
    """``title`` then ``lines``, or nothing at all when there are no lines (no empty
    transaction)."""
    for index, line in enumerate(lines):
        out.write(title + line if index == 0 else line)


class BeancountWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def header(self, start: datetime | None, end: datetime | None) -> None:
        since = start.isoformat() if start else "the first entry"
        self.out.write(
            f"; legato-pay ledger export: posted legs from {since} to {_until(end)}\n"
            'option "title" "legato-pay books"\n\n'
        )
        for currency in CURRENCY_EXPONENTS:
            self.out.write(f"{_EPOCH} commodity {currency}\n")
        self.out.write("\n")

    def account(self, row: AccountRow) -> None:
        self.out.write(
            f"{row.opened_at.date().isoformat()} open {_name(row)} {row.currency}\n"
            f"  code: {_quoted(row.code)}\n"
        )

    def opening(self, day: date, start: datetime, rows: Iterable[BalanceRow]) -> None:
        title = f'\n{day.isoformat()} * "opening balances before {start.isoformat()}"\n'
        _balances(self.out, title, (f"  {_name(row)}  {book_balance(row)}\n" for row in rows))

    def entry(self, head: EntryHead, legs: Sequence[LegRow]) -> None:
        lines = [
            f"\n{head.created_at.date().isoformat()} * {_quoted(narration(head))}"
            f" ^legato-entry-{head.id}\n"
            f'  entry_id: "{head.id}"\n'
            f'  kind: "{head.kind}"\n'
            f'  recorded_at: "{head.created_at.isoformat()}"\n'
            f'  effective_at: "{head.effective_at.isoformat()}"\n'
        ]
        if head.metadata:
            lines.append(f"  entry_metadata: {_quoted(json.dumps(head.metadata))}\n")
        self.out.write("".join(lines + _postings(legs, "  ")))

    def closing(self, day: date, end: datetime | None, rows: Iterable[BalanceRow]) -> None:
        self.out.write(f"\n; balances of every account, {_until(end)}\n")
        for row in rows:
            self.out.write(f"{day.isoformat()} balance {_name(row)}  {book_balance(row)}\n")


def _hledger_text(text: str) -> str:
    """A description hledger reads back whole: no comment start."""
    return _printable(text).replace(";", ",")


class HledgerWriter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def header(self, start: datetime | None, end: datetime | None) -> None:
        since = start.isoformat() if start else "the first entry"
        self.out.write(f"; legato-pay ledger export: posted legs from {since} to {_until(end)}\n\n")
        for currency, exponent in CURRENCY_EXPONENTS.items():
            sample = "1000." + "0" * exponent  # hledger wants the decimal mark shown
            self.out.write(f"commodity {sample} {currency}\n")
        self.out.write("\n")

    def account(self, row: AccountRow) -> None:
        self.out.write(f"account {_name(row)}  ; code: {_code_note(row.code)}\n")

    def opening(self, day: date, start: datetime, rows: Iterable[BalanceRow]) -> None:
        title = f"\n{day.isoformat()} opening balances before {start.isoformat()}\n"
        _balances(self.out, title, (f"    {_name(row)}  {book_balance(row)}\n" for row in rows))

    def entry(self, head: EntryHead, legs: Sequence[LegRow]) -> None:
        title = (
            f"\n{head.created_at.date().isoformat()} * ({head.id}) {_hledger_text(narration(head))}"
            f"  ; entry_id:{head.id}, kind:{head.kind}\n"
        )
        self.out.write("".join([title, *_postings(legs, "    ")]))

    def closing(self, day: date, end: datetime | None, rows: Iterable[BalanceRow]) -> None:
        title = f"\n{day.isoformat()} balances, {_until(end)}\n"
        lines = (f"    {_name(row)}  0 {row.currency} = {book_balance(row)}\n" for row in rows)
        _balances(self.out, title, lines)


class CsvWriter:
    def __init__(self, out: TextIO) -> None:
        self.rows = csv.writer(out, lineterminator="\n")

    def header(self, start: datetime | None, end: datetime | None) -> None:
        self.rows.writerow(CSV_COLUMNS)

    def account(self, row: AccountRow) -> None:
        return None

    def opening(self, day: date, start: datetime, rows: Iterable[BalanceRow]) -> None:
        return None

    def entry(self, head: EntryHead, legs: Sequence[LegRow]) -> None:
        time = head.created_at.isoformat()
        self.rows.writerows(
            (
                head.id,
                time,
                leg.code,
                leg.currency,
                leg.amount if leg.is_debit else 0,
                0 if leg.is_debit else leg.amount,
            )
            for leg in legs
        )

    def closing(self, day: date, end: datetime | None, rows: Iterable[BalanceRow]) -> None:
        return None


WRITERS: dict[str, type[BeancountWriter] | type[HledgerWriter] | type[CsvWriter]] = {
    "beancount": BeancountWriter,
    "hledger": HledgerWriter,
    "csv": CsvWriter,
}
