"""Apps: what investors hold shares in. Each has an owner (the user escrow releases pay)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legato_pay.errors import AlreadyExists, InvalidInput, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.readers.users import get_user
from legato_pay.store.dialect import for_update
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import APPS, HOLDINGS

#: Same alphabet as user ids: an app id goes into account codes (``app:<a>:funds:<CUR>``).
_APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.@]{0,99}", re.ASCII)
MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class AppView:
    id: str
    name: str
    owner: str
    created_at: datetime
    holders: int = 0
    units: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "holders": self.holders,
            "units": self.units,
            "created_at": self.created_at.isoformat(),
        }


def validate_app_id(app_id: str) -> str:
    if not isinstance(app_id, str) or not _APP_ID.fullmatch(app_id):
        raise InvalidInput(
            f"{app_id[:100]!r} is not a valid app id (letters, digits, _ - . @; at most 100)",
            details={"app": app_id[:100]},
        )
    return app_id


def add_app(session: Session, app_id: str, *, name: str, owner: str) -> AppView:
    """Register an app; its owner must be a known user (ALREADY_EXISTS if the id is taken)."""
    validate_app_id(app_id)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"an app name is 1 to {MAX_NAME_LENGTH} characters", details={"length": len(name)}
        )
    get_user(session, owner)
    inserted = insert_if_absent(
        session, APPS, ["id"], id=app_id, name=name, owner_id=owner, created_at=utcnow()
    )
    if not inserted:
        raise AlreadyExists(f"app {app_id} already exists", details={"app": app_id})
    return get_app(session, app_id)


def get_app(session: Session, app_id: str) -> AppView:
    """One app with its holder count and units outstanding; APP_NOT_FOUND (5) if unknown."""
    validate_app_id(app_id)
    row = session.execute(select(APPS).where(APPS.c.id == app_id)).first()
    if row is None:
        raise NotFound(f"no app {app_id}", details={"app": app_id}, code="APP_NOT_FOUND")
    holders, units = _outstanding(session, [app_id]).get(app_id, (0, 0))
    return AppView(row.id, row.name, row.owner_id, as_utc(row.created_at), holders, units)  # type: ignore[arg-type]


def require_app(session: Session, app_id: str) -> None:
    """Raise APP_NOT_FOUND unless the app exists (cheaper than ``get_app``)."""
    validate_app_id(app_id)
    found = session.execute(select(APPS.c.id).where(APPS.c.id == app_id)).first()
    if found is None:
        raise NotFound(f"no app {app_id}", details={"app": app_id}, code="APP_NOT_FOUND")


def lock_app(session: Session, app_id: str, *, exclusive: bool) -> None:
    """Raise APP_NOT_FOUND unless the app exists, and hold its row until the unit of work ends
    (PostgreSQL; SQLite's write transaction is exclusive already). Issues and transfers hold it
    shared, a distribution exclusively: a distribution waits for the movements in flight, whose
    times may precede its record date, and those that start later wait for it."""
    validate_app_id(app_id)
    query = for_update(select(APPS.c.id).where(APPS.c.id == app_id), session, read=not exclusive)
    if session.execute(query).first() is None:
        raise NotFound(f"no app {app_id}", details={"app": app_id}, code="APP_NOT_FOUND")


def list_apps(session: Session, *, owner: str | None = None, limit: int = 1000) -> list[AppView]:
    """Apps by id; ``owner`` must be a known user (a filter naming nobody is USER_NOT_FOUND)."""
    query = select(APPS).order_by(APPS.c.id).limit(limit)
    if owner is not None:
        get_user(session, owner)
        query = query.where(APPS.c.owner_id == owner)
    rows = list(session.execute(query))
    counts = _outstanding(session, [row.id for row in rows])
    return [
        AppView(
            row.id,
            row.name,
            row.owner_id,
            as_utc(row.created_at),  # type: ignore[arg-type]
            *counts.get(row.id, (0, 0)),
        )
        for row in rows
    ]


def _outstanding(session: Session, app_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(holders with units, units outstanding) per app, from the current holdings."""
    if not app_ids:
        return {}
    query = (
        select(HOLDINGS.c.app_id, func.count(), func.sum(HOLDINGS.c.units))
        .where(HOLDINGS.c.app_id.in_(app_ids), HOLDINGS.c.units > 0)
        .group_by(HOLDINGS.c.app_id)
    )
    return {row[0]: (int(row[1]), int(row[2] or 0)) for row in session.execute(query)}
