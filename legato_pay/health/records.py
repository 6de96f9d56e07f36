"""``health_records``: the last outcome per check key (see ``store/models/health.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.ledger.types import as_utc
from legato_pay.store.engine import insert_ignore
from legato_pay.store.tables import HEALTH_RECORDS


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    ok: bool
    detail: dict[str, Any]
    elapsed_ms: int
    checked_at: datetime


def read_record(session: Session, key: str) -> Record | None:
    row = session.execute(select(HEALTH_RECORDS).where(HEALTH_RECORDS.c.key == key)).first()
    if row is None:
        return None
    try:
        detail = json.loads(row.detail)
    except ValueError:
        detail = {}
    return Record(row.key, bool(row.ok), detail, int(row.elapsed_ms), as_utc(row.checked_at))  # type: ignore[arg-type]


def write_record(session: Session, record: Record) -> None:
    """Insert or replace the row for ``record.key`` (safe when two writers race)."""
    values = {
        "ok": record.ok,
        "detail": json.dumps(record.detail, sort_keys=True, default=str),
        "elapsed_ms": record.elapsed_ms,
        "checked_at": record.checked_at,
    }
    session.execute(
        insert_ignore(session, HEALTH_RECORDS, ["key"]).values(key=record.key, **values)
    )
    session.execute(
        update(HEALTH_RECORDS).where(HEALTH_RECORDS.c.key == record.key).values(**values)
    )
