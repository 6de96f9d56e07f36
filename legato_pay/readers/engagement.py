"""Reading time: minutes a reader spent on a piece of content, the basis of the subscription
pool's split between writers (the revenue run sums them per period and writer).

A record names the reader, the content (the writer is taken from it) and whole minutes
(1 to ``MAX_MINUTES``); its period is the ``YYYY-MM`` (UTC) of when it was read. An optional
key makes a record idempotent: the same key and record again is a no-op, a different record
under the same key is ``IDEMPOTENCY_CONFLICT``. An import is all-or-nothing: every row is
checked first, and a bad one fails the whole file naming its line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import IdempotencyConflict, InvalidInput, LegatoError, NotFound
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store.dialect import strings_in
from legato_pay.store.tables import CONTENT, ENGAGEMENT, USERS

#: Minutes in 31 days: a single record can never claim more reading than a month holds.
MAX_MINUTES = 31 * 24 * 60
MAX_KEY_LENGTH = 200
CSV_REQUIRED = ("user", "content", "minutes")
CSV_OPTIONAL = ("recorded_at", "key")


@dataclass(frozen=True, slots=True)
class EngagementInput:
    """One record to store, already checked for shape (not yet against the database)."""

    user_id: str
    content_id: str
    minutes: int
    recorded_at: datetime | None = None
    key: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class EngagementView:
    id: int
    user_id: str
    content_id: str
    writer_id: str
    minutes: int
    period: str
    recorded_at: datetime
    idempotency_key: str | None
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user_id,
            "content": self.content_id,
            "writer": self.writer_id,
            "minutes": self.minutes,
            "period": self.period,
            "recorded_at": self.recorded_at.isoformat(),
            "key": self.idempotency_key,
            "replayed": self.replayed,
        }


def _view(row: Any, *, replayed: bool = False) -> EngagementView:
    return EngagementView(
        id=row.id,
        user_id=row.user_id,
        content_id=row.content_id,
        writer_id=row.writer_id,
        minutes=row.minutes,
        period=row.period,
        recorded_at=as_utc(row.recorded_at),  # type: ignore[arg-type]
        idempotency_key=row.idempotency_key,
        replayed=replayed,
    )


def parse_minutes(value: object) -> int:
    """Whole minutes from the edge: "15" or 15, never "1.5", 0, negative or absurdly large."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("minutes must be a whole number", details={"minutes": repr(value)})
    raw = str(value).strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1 or int(raw) > MAX_MINUTES:
        raise InvalidInput(
            f"minutes must be a whole number from 1 to {MAX_MINUTES}",
            details={"minutes": raw},
            code="INVALID_MINUTES",
        )
    return int(raw)


def parse_recorded_at(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC when no offset is given), not in the future."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not an ISO 8601 time", details={"recorded_at": value}
        ) from None
    moment = as_utc(moment)  # type: ignore[assignment]
    if moment > (as_utc(now) or utcnow()):
        raise InvalidInput(
            "recorded_at is in the future", details={"recorded_at": moment.isoformat()}
        )
    return moment


def engagement_input(
    user_id: str,
    content_id: str,
    minutes: object,
    *,
    recorded_at: str | datetime | None = None,
    key: str | None = None,
    line: int | None = None,
    now: datetime | None = None,
) -> EngagementInput:
    """Check one record's shape; the database checks come in ``record_engagement``."""
    when = (
        parse_recorded_at(recorded_at, now=now)
        if isinstance(recorded_at, str)
        else as_utc(recorded_at)
    )
    return EngagementInput(
        user_id=user_id.strip(),
        content_id=content_id.strip(),
        minutes=parse_minutes(minutes),
        recorded_at=when,
        key=check_key(key, max_length=MAX_KEY_LENGTH),
        line=line,
    )


def read_engagement_csv(text: str, *, now: datetime | None = None) -> list[EngagementInput]:
    """Parse ``user,content,minutes[,recorded_at][,key]`` with a header row; lines are named
    as a text editor counts them (the header is line 1)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise InvalidInput("the CSV file is empty", code="INVALID_CSV")
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in CSV_REQUIRED + CSV_OPTIONAL]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise InvalidInput(
            "line 1: the header must name user,content,minutes and optionally recorded_at,key",
            details={"line": 1, "header": header, "unknown": unknown, "missing": missing},
            code="INVALID_CSV",
        )
    rows: list[EngagementInput] = []
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        try:
            if len(values) != len(columns):
                raise InvalidInput(f"expected {len(columns)} fields, found {len(values)}")
            row = dict(zip(columns, values, strict=True))
            for name in CSV_REQUIRED:
                if not row[name].strip():
                    raise InvalidInput(f"{name} is empty")
            rows.append(
                engagement_input(
                    row["user"],
                    row["content"],
                    row["minutes"],
                    recorded_at=row.get("recorded_at", "").strip() or None,
                    key=row.get("key", "").strip() or None,
                    line=line,
                    now=now,
                )
            )
        except InvalidInput as error:
            raise _at_line(error, line) from None
    if not rows:
        raise InvalidInput("the CSV file holds no rows", code="INVALID_CSV")
    return rows


def _at_line(error: LegatoError, line: int | None) -> InvalidInput:
    """The same problem, told as a bad row of an import (exit 3, naming the line)."""
    if line is None:
        return error if isinstance(error, InvalidInput) else InvalidInput(error.message)
    return InvalidInput(
        f"line {line}: {error.message}",
        details={"line": line, "problem": error.code, **error.details},
        code="INVALID_ROW",
    )


def record_engagement(
    session: Session, record: EngagementInput, *, now: datetime | None = None
) -> EngagementView:
    """Store one record (the writer comes from the content)."""
    return import_engagement(session, [record], now=now, single=True)[0]


Fail = Callable[[LegatoError, EngagementInput], LegatoError]


@dataclass(frozen=True, slots=True)
class _Known:
    """What the database already holds for an import: users, content writers, keyed rows."""

    users: set[str]
    writers: dict[str, str]
    by_key: dict[str, Any]


def import_engagement(
    session: Session,
    records: Sequence[EngagementInput],
    *,
    now: datetime | None = None,
    single: bool = False,
) -> list[EngagementView]:
    """Store records all-or-nothing in a fixed number of statements (not one per row).

    For a single record unknown users and content are ``NOT_FOUND`` (exit 5); in an import they
    are bad rows (``INVALID_ROW``, exit 3) naming the line.
    """
    if not records:
        raise InvalidInput("nothing to record", code="INVALID_CSV")
    moment = as_utc(now) or utcnow()

    def fail(error: LegatoError, record: EngagementInput) -> LegatoError:
        return error if single else _at_line(error, record.line)

    keys = _keys_once(records, fail)
    known = _known(session, records, keys)
    fresh: list[dict[str, Any]] = []
    results: list[EngagementView | int] = []  # a replay, or the index of a fresh row
    for record in records:
        values = _row_values(record, known, moment, fail)
        if record.key is None or record.key not in known.by_key:
            results.append(len(fresh))
            fresh.append(values)
            continue
        previous = known.by_key[record.key]
        try:
            _ensure_same_record(record.key, record, previous, values["recorded_at"])
        except IdempotencyConflict as conflict:
            raise fail(conflict, record) from None
        results.append(_view(previous, replayed=True))
    ids = _insert(session, fresh)
    return [
        _fresh_view(fresh[item], ids[item]) if isinstance(item, int) else item for item in results
    ]


def _keys_once(records: Sequence[EngagementInput], fail: Fail) -> list[str]:
    """The records' keys, refusing one that appears twice in the same import."""
    seen: dict[str, EngagementInput] = {}
    for record in records:
        if record.key is None:
            continue
        if record.key in seen:
            raise fail(
                InvalidInput(
                    f"key {record.key!r} appears twice (first on line {seen[record.key].line})",
                    details={"key": record.key},
                ),
                record,
            )
        seen[record.key] = record
    return list(seen)


def _known(session: Session, records: Sequence[EngagementInput], keys: list[str]) -> _Known:
    """Three queries whatever the import's size: users, content writers, rows under the keys."""
    users = set(
        session.execute(
            select(USERS.c.id).where(
                strings_in(session, USERS.c.id, _distinct(r.user_id for r in records))
            )
        ).scalars()
    )
    writers: dict[str, str] = {
        row.id: row.writer_id
        for row in session.execute(
            select(CONTENT.c.id, CONTENT.c.writer_id).where(
                strings_in(session, CONTENT.c.id, _distinct(r.content_id for r in records))
            )
        )
    }
    by_key: dict[str, Any] = {}
    if keys:
        by_key = {
            row.idempotency_key: row
            for row in session.execute(
                select(ENGAGEMENT).where(strings_in(session, ENGAGEMENT.c.idempotency_key, keys))
            )
        }
    return _Known(users, writers, by_key)


def _row_values(
    record: EngagementInput, known: _Known, moment: datetime, fail: Fail
) -> dict[str, Any]:
    """The row to insert for ``record``; unknown users and content are refused here."""
    if record.user_id not in known.users:
        raise fail(_not_found("user", record.user_id, "USER_NOT_FOUND"), record)
    if record.content_id not in known.writers:
        raise fail(_not_found("content", record.content_id, "CONTENT_NOT_FOUND"), record)
    when = record.recorded_at or moment
    return {
        "user_id": record.user_id,
        "content_id": record.content_id,
        "writer_id": known.writers[record.content_id],
        "minutes": record.minutes,
        "period": when.strftime("%Y-%m"),
        "idempotency_key": record.key,
        "recorded_at": when,
    }


def _not_found(what: str, name: str, code: str) -> NotFound:
    return NotFound(f"no {what} {name}", details={what: name}, code=code)


def _ensure_same_record(key: str, record: EngagementInput, previous: Any, when: datetime) -> None:
    """A key repeated with the same user, content and minutes (and time, when one is given)
    is a replay; anything else is ``IDEMPOTENCY_CONFLICT``."""
    timed = record.recorded_at is not None
    ensure_same_request(
        key,
        stored={
            "user": previous.user_id,
            "content": previous.content_id,
            "minutes": previous.minutes,
            "recorded_at": as_utc(previous.recorded_at) if timed else None,
        },
        wanted={
            "user": record.user_id,
            "content": record.content_id,
            "minutes": record.minutes,
            "recorded_at": when if timed else None,
        },
        what="record",
        details={"engagement": previous.id},
    )


def _insert(session: Session, fresh: list[dict[str, Any]]) -> list[int]:
    """Insert the new rows in one statement; their ids in the order given."""
    if not fresh:
        return []
    # A concurrent import of the same keys makes this insert fail; the unit of work is rerun
    # and the rerun finds them as replays.
    return list(
        session.execute(
            ENGAGEMENT.insert().returning(ENGAGEMENT.c.id, sort_by_parameter_order=True), fresh
        ).scalars()
    )


def _fresh_view(values: dict[str, Any], new_id: int) -> EngagementView:
    return EngagementView(
        id=new_id,
        user_id=values["user_id"],
        content_id=values["content_id"],
        writer_id=values["writer_id"],
        minutes=values["minutes"],
        period=values["period"],
        recorded_at=values["recorded_at"],
        idempotency_key=values["idempotency_key"],
    )


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
