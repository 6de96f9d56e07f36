"""Licensing and ads revenue: money the platform received for a writer's work, split.

``revenue record`` (one receipt) and ``revenue import FILE.csv`` (many) split each amount by
``revenue.<stream>`` (85/15 licensing, 60/40 ads by default, largest remainder) and post, per
receipt, the platform's share ``platform:receipts:<stream>:<CUR>`` → ``platform:revenue:<stream>:
<CUR>`` and the writer's ``platform:receipts:<stream>:<CUR>`` → ``writer:<w>:earnings:<CUR>``
(pending under the refund hold, like every writer share). Every receipt has its key: the same
key and receipt again is a replay (nothing posted twice, so a file imported twice changes
nothing); the same key for a different receipt is ``IDEMPOTENCY_CONFLICT``. An import checks
every row first: a bad one fails the whole file naming its line, and nothing is applied.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.earnings.holds import platform_share_legs, split_value, writer_share_entry
from legato_pay.errors import IdempotencyConflict, InvalidInput, LegatoError, NotFound
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger import EntrySpec, post_entries
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, normalize_currency, parse_amount
from legato_pay.revenue.common import RECEIPT_STREAMS, parse_choice
from legato_pay.store.dialect import strings_in
from legato_pay.store.tables import CONTENT, RECEIPTS, USERS

MAX_SOURCE = 500
CSV_COLUMNS = ("stream", "writer", "content", "amount", "currency", "source", "key")
CSV_REQUIRED = ("stream", "writer", "amount", "currency", "source", "key")
#: A receipt's entries are keyed ``receipt:<key>`` and ``receipt:<key>:writer``.
MAX_KEY = 180


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    stream: str
    writer_id: str
    content_id: str | None
    amount: int
    currency: str
    source: str
    key: str
    line: int | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "writer": self.writer_id,
            "content": self.content_id,
            "amount": self.amount,
            "currency": self.currency,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ReceiptView:
    id: int
    stream: str
    writer_id: str
    content_id: str | None
    amount: int
    currency: str
    writer_share: int
    platform_share: int
    source: str
    key: str
    entry_id: int | None
    writer_entry_id: int | None
    created_at: datetime
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        def money(minor: int) -> dict[str, Any]:
            return {
                "amount": minor,
                "currency": self.currency,
                "display": format_amount(minor, self.currency),
            }

        return {
            "id": self.id,
            "stream": self.stream,
            "writer": self.writer_id,
            "content": self.content_id,
            "amount": money(self.amount),
            "writer_share": money(self.writer_share),
            "platform_share": money(self.platform_share),
            "source": self.source,
            "key": self.key,
            "entry_id": self.entry_id,
            "writer_entry_id": self.writer_entry_id,
            "created_at": self.created_at.isoformat(),
            "replayed": self.replayed,
        }


def receipt_input(
    *,
    stream: str,
    writer: str,
    content: str | None,
    amount: str,
    currency: str,
    source: str,
    key: str | None,
    line: int | None = None,
) -> ReceiptInput:
    """Check one receipt's shape (amount in major units, e.g. ``120.50``)."""
    code = normalize_currency(currency)
    text = (source or "").strip()
    if not text or len(text) > MAX_SOURCE or not text.isprintable():
        raise InvalidInput(
            f"source must be 1 to {MAX_SOURCE} printable characters",
            details={"source": text[:40]},
        )
    checked = check_key(key, max_length=MAX_KEY)
    if checked is None:
        raise InvalidInput("a receipt needs its --key", code="INVALID_IDEMPOTENCY_KEY")
    writer_id = writer.strip()
    if not writer_id:
        raise InvalidInput("writer is empty", details={"writer": writer})
    return ReceiptInput(
        stream=parse_choice(stream, RECEIPT_STREAMS, "--stream"),
        writer_id=writer_id,
        content_id=(content or "").strip() or None,
        amount=parse_amount(amount, code),
        currency=code,
        source=text,
        key=checked,
        line=line,
    )


def read_receipts_csv(text: str) -> list[ReceiptInput]:
    """``stream,writer,content,amount,currency,source,key`` with a header (line 1); text the
    csv module cannot read (a field over its limit, a NUL, a stray quote) is ``INVALID_CSV``
    naming the line, like a bad row."""
    reader = csv.reader(io.StringIO(text))
    try:
        return _read_receipts(reader)
    except csv.Error as error:
        line = max(reader.line_num, 1)
        raise InvalidInput(
            f"line {line}: not valid CSV ({error})", details={"line": line}, code="INVALID_CSV"
        ) from None


def _read_receipts(reader: Any) -> list[ReceiptInput]:
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the CSV file is empty", code="INVALID_CSV")
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise InvalidInput(
            "line 1: the header must name " + ",".join(CSV_REQUIRED) + " and optionally content",
            details={"line": 1, "unknown": unknown, "missing": missing},
            code="INVALID_CSV",
        )
    rows: list[ReceiptInput] = []
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        try:
            if len(values) != len(columns):
                raise InvalidInput(f"expected {len(columns)} fields, found {len(values)}")
            row = dict(zip(columns, values, strict=True))
            rows.append(
                receipt_input(
                    stream=row["stream"],
                    writer=row["writer"],
                    content=row.get("content"),
                    amount=row["amount"],
                    currency=row["currency"],
                    source=row["source"],
                    key=row["key"].strip() or None,
                    line=line,
                )
            )
        except LegatoError as error:
            raise _at_line(error, line) from None
    if not rows:
        raise InvalidInput("the CSV file holds no rows", code="INVALID_CSV")
    return rows


def _at_line(error: LegatoError, line: int | None) -> LegatoError:
    if line is None:
        return error
    return InvalidInput(
        f"line {line}: {error.message}",
        details={"line": line, "problem": error.code, **error.details},
        code="INVALID_ROW",
    )


def record_receipts(
    session: Session,
    settings: Settings,
    receipts: Sequence[ReceiptInput],
    *,
    actor: str,
    now: datetime | None = None,
    single: bool = False,
) -> list[ReceiptView]:
    """Check every receipt, then record the new ones (all in the caller's transaction)."""
    moment = as_utc(now) or utcnow()

    def fail(error: LegatoError, receipt: ReceiptInput) -> LegatoError:
        return error if single else _at_line(error, receipt.line)

    _refuse_repeated_keys(receipts, fail)
    known = _known_rows(session, receipts)
    writers, content = _known_subjects(session, receipts)
    results: list[ReceiptView] = []
    for receipt in receipts:
        if receipt.writer_id not in writers:
            raise fail(_not_found("writer", receipt.writer_id, "USER_NOT_FOUND"), receipt)
        if writers[receipt.writer_id] != "writer":
            kind = writers[receipt.writer_id]
            raise fail(
                InvalidInput(
                    f"user {receipt.writer_id} is a {kind}, not a writer",
                    details={"writer": receipt.writer_id, "kind": kind},
                    code="NOT_A_WRITER",
                ),
                receipt,
            )
        if receipt.content_id is not None:
            owner = content.get(receipt.content_id)
            if owner is None:
                raise fail(_not_found("content", receipt.content_id, "CONTENT_NOT_FOUND"), receipt)
            if owner != receipt.writer_id:
                raise fail(
                    InvalidInput(
                        f"content {receipt.content_id} is {owner}'s, not {receipt.writer_id}'s",
                        details={"content": receipt.content_id, "writer": receipt.writer_id},
                    ),
                    receipt,
                )
        previous = known.get(receipt.key)
        if previous is not None:
            try:
                ensure_same_request(
                    receipt.key,
                    stored=_stored_fields(previous),
                    wanted=receipt.fields(),
                    what="receipt",
                    details={"receipt": previous.id},
                )
            except IdempotencyConflict as conflict:
                raise fail(conflict, receipt) from None
            results.append(replace(_view(previous), replayed=True))
            continue
        results.append(_record(session, settings, receipt, actor=actor, moment=moment))
    return results


def _refuse_repeated_keys(receipts: Sequence[ReceiptInput], fail: Any) -> None:
    seen: dict[str, ReceiptInput] = {}
    for receipt in receipts:
        if receipt.key in seen:
            raise fail(
                InvalidInput(
                    f"key {receipt.key!r} appears twice (first on line {seen[receipt.key].line})",
                    details={"key": receipt.key},
                ),
                receipt,
            )
        seen[receipt.key] = receipt


def _known_rows(session: Session, receipts: Sequence[ReceiptInput]) -> dict[str, Any]:
    keys = [receipt.key for receipt in receipts]
    return {
        row.idempotency_key: row
        for row in session.execute(
            select(RECEIPTS).where(strings_in(session, RECEIPTS.c.idempotency_key, keys))
        )
    }


def _known_subjects(
    session: Session, receipts: Sequence[ReceiptInput]
) -> tuple[dict[str, str], dict[str, str]]:
    writer_ids = list(dict.fromkeys(r.writer_id for r in receipts))
    content_ids = list(dict.fromkeys(r.content_id for r in receipts if r.content_id))
    writers = {
        str(row.id): str(row.kind)
        for row in session.execute(
            select(USERS.c.id, USERS.c.kind).where(strings_in(session, USERS.c.id, writer_ids))
        )
    }
    content: dict[str, str] = {}
    if content_ids:
        content = {
            str(row.id): str(row.writer_id)
            for row in session.execute(
                select(CONTENT.c.id, CONTENT.c.writer_id).where(
                    strings_in(session, CONTENT.c.id, content_ids)
                )
            )
        }
    return writers, content


def _not_found(what: str, name: str, code: str) -> NotFound:
    return NotFound(f"no {what} {name}", details={what: name}, code=code)


def _stored_fields(row: Any) -> dict[str, Any]:
    return {
        "stream": row.stream,
        "writer": row.writer_id,
        "content": row.content_id,
        "amount": int(row.amount),
        "currency": row.currency,
        "source": row.source,
    }


def _view(row: Any) -> ReceiptView:
    return ReceiptView(
        id=int(row.id),
        stream=row.stream,
        writer_id=row.writer_id,
        content_id=row.content_id,
        amount=int(row.amount),
        currency=row.currency,
        writer_share=int(row.writer_share),
        platform_share=int(row.platform_share),
        source=row.source,
        key=row.idempotency_key,
        entry_id=row.entry_id,
        writer_entry_id=row.writer_entry_id,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
    )


def _record(
    session: Session, settings: Settings, receipt: ReceiptInput, *, actor: str, moment: datetime
) -> ReceiptView:
    split = split_value(settings, receipt.stream, receipt.amount, receipt.currency)
    source = chart.revenue_receipts(receipt.stream, receipt.currency)
    chart.open_accounts(
        session,
        [
            chart.system_account(source, receipt.currency, debit_normal=True),
            chart.system_account(
                chart.platform_revenue(receipt.stream, receipt.currency), receipt.currency
            ),
        ],
    )
    meta = {"kind": receipt.stream, "writer": receipt.writer_id, "source": receipt.source}
    specs: list[EntrySpec] = []
    legs = platform_share_legs(split, receipt.stream, source)
    if legs:
        specs.append(
            EntrySpec(
                legs=tuple(legs),
                idempotency_key=f"receipt:{receipt.key}",
                reason=f"{receipt.stream} revenue: platform share",
                metadata=meta,
            )
        )
    writer_spec = writer_share_entry(
        settings,
        session,
        split,
        writer_id=receipt.writer_id,
        source=source,
        key=f"receipt:{receipt.key}:writer",
        reason=f"{receipt.stream} revenue: writer share",
        metadata=meta,
    )
    if writer_spec is not None:
        specs.append(writer_spec)
    views = post_entries(session, specs, actor=actor, now=moment)
    entry_id = views[0].id if legs else None
    writer_entry_id = views[-1].id if writer_spec is not None else None
    new_id = session.execute(
        RECEIPTS.insert()
        .values(
            stream=receipt.stream,
            writer_id=receipt.writer_id,
            content_id=receipt.content_id,
            amount=receipt.amount,
            currency=receipt.currency,
            writer_share=split.writer,
            platform_share=split.platform,
            source=receipt.source,
            idempotency_key=receipt.key,
            entry_id=entry_id,
            writer_entry_id=writer_entry_id,
            actor=actor,
            created_at=moment,
        )
        .returning(RECEIPTS.c.id)
    ).scalar_one()
    return ReceiptView(
        id=int(new_id),
        stream=receipt.stream,
        writer_id=receipt.writer_id,
        content_id=receipt.content_id,
        amount=receipt.amount,
        currency=receipt.currency,
        writer_share=split.writer,
        platform_share=split.platform,
        source=receipt.source,
        key=receipt.key,
        entry_id=entry_id,
        writer_entry_id=writer_entry_id,
        created_at=moment,
    )
