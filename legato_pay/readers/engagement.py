"""Reading time: minutes a reader spent on a piece of content, the basis of the subscription
pool's split between writers (the revenue run sums them per period and writer).

A record names the reader, the content (the writer is taken from it) and whole minutes
(1 to ``MAX_MINUTES``); its period is the ``YYYY-MM`` (UTC) of when it was read. A writer's
reading of their own content is refused (``SELF_ENGAGEMENT``): it would credit them a share of
the subscription pool they pay into.

Nothing is counted twice:

- an optional key makes a record idempotent: the same key and record again is a no-op, a
  different record under the same key is ``IDEMPOTENCY_CONFLICT``;
- a record with its own time (``recorded_at``) also has a row key, the hash of its natural key
  (user, content, recorded_at, minutes): a second record with the same natural key is the same
  reading, skipped as already recorded.

An import needs one of the two on every row (``recorded_at`` or ``key``), so importing the
same file twice counts nothing twice and reports the rows it skipped. It is all-or-nothing:
every row is checked first, and a bad one fails the whole file naming its line. Reading the
file (size and line bounds, encoding, NUL) is ``readers.engagement_csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import (
    IdempotencyConflict,
    InvalidInput,
    InvalidTime,
    LegatoError,
    NotFound,
)
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.readers.content import validate_content_id
from legato_pay.readers.users import validate_user_id
from legato_pay.store.dialect import strings_in
from legato_pay.store.tables import CONTENT, ENGAGEMENT, USERS

#: Minutes in 31 days: a single record can never claim more reading than a month holds.
MAX_MINUTES = 31 * 24 * 60
MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class EngagementInput:
    """One record to store, already checked for shape (not yet against the database)."""

    user_id: str
    content_id: str
    minutes: int
    recorded_at: datetime | None = None
    key: str | None = None
    line: int | None = None

    @property
    def row_key(self) -> str | None:
        """The hash of the natural key, for a record that says when it was read."""
        return row_key(self.user_id, self.content_id, self.recorded_at, self.minutes)


def row_key(
    user_id: str, content_id: str, recorded_at: datetime | None, minutes: int
) -> str | None:
    """SHA-256 of the canonical JSON of (user, content, recorded_at in UTC, minutes)."""
    if recorded_at is None:
        return None
    moment = as_utc(recorded_at)
    assert moment is not None
    return request_hash(
        {"user": user_id, "content": content_id, "at": moment.isoformat(), "minutes": minutes}
    )


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


def engagement_view(row: Any, *, replayed: bool = False) -> EngagementView:
    """A stored ``engagement`` row as read."""
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
        if not value.isascii():
            raise ValueError(value)
        moment = as_utc(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):
        raise InvalidTime(
            f"{value[:60]!r} is not an ISO 8601 time", details={"recorded_at": value[:60]}
        ) from None
    assert moment is not None
    if moment > (as_utc(now) or utcnow()):
        raise InvalidTime(
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
    if key is not None and not key.isprintable():
        raise InvalidInput(
            "an idempotency key must not contain control characters",
            details={"key": key[:120]},
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return EngagementInput(
        user_id=validate_user_id(user_id),
        content_id=validate_content_id(content_id),
        minutes=parse_minutes(minutes),
        recorded_at=when,
        key=check_key(key, max_length=MAX_KEY_LENGTH),
        line=line,
    )


def at_line(error: LegatoError, line: int | None) -> InvalidInput:
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
    """What the database already holds for an import: users, content writers, rows recorded
    under the records' keys and row keys."""

    users: set[str]
    writers: dict[str, str]
    by_key: dict[str, Any]
    by_row_key: dict[str, Any]


def import_engagement(
    session: Session,
    records: Sequence[EngagementInput],
    *,
    now: datetime | None = None,
    single: bool = False,
) -> list[EngagementView]:
    """Store records all-or-nothing in a fixed number of statements (not one per row); one
    view per record, ``replayed`` for a record skipped as already recorded (by its key or its
    row key, in the database or earlier in the same import).

    For a single record unknown users and content are ``NOT_FOUND`` (exit 5); in an import they
    are bad rows (``INVALID_ROW``, exit 3) naming the line, and so is a row with neither
    ``recorded_at`` nor ``key`` (a second import could not tell it from new reading).
    """
    if not records:
        raise InvalidInput("nothing to record", code="INVALID_CSV")
    moment = as_utc(now) or utcnow()

    def fail(error: LegatoError, record: EngagementInput) -> LegatoError:
        return error if single else at_line(error, record.line)

    if not single:
        for record in records:
            if record.key is None and record.recorded_at is None:
                raise fail(
                    InvalidInput(
                        "give recorded_at (or a key) on every imported row, so that importing "
                        "the file again counts nothing twice",
                        code="NO_ROW_KEY",
                    ),
                    record,
                )
    keys = _keys_once(records, fail)
    known = _known(session, records, keys)
    fresh: list[dict[str, Any]] = []
    fresh_rows: dict[str, int] = {}  # row key -> index in fresh
    results: list[EngagementView | int] = []  # a replay, or the index of a fresh row
    for record in records:
        values = _row_values(record, known, moment, fail)
        previous = _previous(record, known, values, fail)
        if previous is not None:
            results.append(engagement_view(previous, replayed=True))
        elif values["row_key"] is not None and values["row_key"] in fresh_rows:
            results.append(-1 - fresh_rows[values["row_key"]])  # the same reading again
        else:
            if values["row_key"] is not None:
                fresh_rows[values["row_key"]] = len(fresh)
            results.append(len(fresh))
            fresh.append(values)
    ids = _insert(session, fresh)
    views = [_fresh_view(values, new_id) for values, new_id in zip(fresh, ids, strict=True)]
    return [
        item
        if isinstance(item, EngagementView)
        else views[item]
        if item >= 0
        else replace(views[-1 - item], replayed=True)
        for item in results
    ]


def _previous(
    record: EngagementInput, known: _Known, values: dict[str, Any], fail: Fail
) -> Any | None:
    """The row already recorded for ``record`` (by key, else by row key), or None."""
    if record.key is not None and record.key in known.by_key:
        previous = known.by_key[record.key]
        try:
            _ensure_same_record(record.key, record, previous, values["recorded_at"])
        except IdempotencyConflict as conflict:
            raise fail(conflict, record) from None
        return previous
    if values["row_key"] is not None:
        return known.by_row_key.get(values["row_key"])
    return None


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
    """Four queries whatever the import's size: users, content writers, rows under the keys
    and under the row keys."""
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
    row_keys = _distinct(key for key in (r.row_key for r in records) if key is not None)
    by_row_key: dict[str, Any] = {}
    if row_keys:
        by_row_key = {
            row.row_key: row
            for row in session.execute(
                select(ENGAGEMENT).where(strings_in(session, ENGAGEMENT.c.row_key, row_keys))
            )
        }
    return _Known(users, writers, by_key, by_row_key)


def _row_values(
    record: EngagementInput, known: _Known, moment: datetime, fail: Fail
) -> dict[str, Any]:
    """The row to insert for ``record``; unknown users and content, and a writer reading their
    own content, are refused here."""
    if record.user_id not in known.users:
        raise fail(_not_found("user", record.user_id, "USER_NOT_FOUND"), record)
    if record.content_id not in known.writers:
        raise fail(_not_found("content", record.content_id, "CONTENT_NOT_FOUND"), record)
    writer = known.writers[record.content_id]
    if writer == record.user_id:
        raise fail(
            InvalidInput(
                f"{writer} wrote {record.content_id}: a writer's reading of their own content "
                "does not count towards the subscription pool",
                details={"user": writer, "content": record.content_id},
                code="SELF_ENGAGEMENT",
            ),
            record,
        )
    when = record.recorded_at or moment
    return {
        "user_id": record.user_id,
        "content_id": record.content_id,
        "writer_id": writer,
        "minutes": record.minutes,
        "period": when.strftime("%Y-%m"),
        "idempotency_key": record.key,
        "row_key": record.row_key,
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
    # A concurrent import of the same keys or row keys makes this insert fail; the unit of
    # work is rerun and the rerun finds them as replays.
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
