"""Users: readers, writers and investors, known by a stable id chosen by the platform."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import AlreadyExists, InvalidInput, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import USERS

USER_KINDS = ("reader", "writer", "investor")
#: The whole string (``fullmatch``, ASCII only): ``carol\n`` is not ``carol``.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.@]{0,99}", re.ASCII)
#: A deliverable-looking address: one ``@``, no spaces or control characters, at most 254.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}", re.ASCII)
MAX_EMAIL = 254
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    kind: str
    email: str | None
    name: str | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "email": self.email,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
        }


def is_user_id(user_id: object) -> bool:
    return isinstance(user_id, str) and _USER_ID.fullmatch(user_id) is not None


def validate_user_id(user_id: str) -> str:
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise InvalidInput(
            f"{user_id[:120]!r} is not a valid user id (ASCII letters, digits, _ - . @; "
            "at most 100)"
            if isinstance(user_id, str)
            else "a user id must be a string",
            details={"user": user_id[:120] if isinstance(user_id, str) else repr(user_id)},
        )
    return user_id


def validate_email(email: str | None) -> str | None:
    """An email as given, or None; refused when it cannot be an address (or would not fit)."""
    if email is None:
        return None
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email) or not email.isprintable():
        raise InvalidInput(
            f"not a valid email address (name@domain, at most {MAX_EMAIL} characters)",
            details={"email": email[:120]},
            code="INVALID_EMAIL",
        )
    return email


def check_text(value: str | None, field: str, max_length: int) -> str | None:
    """Free text (a name, a title): at most ``max_length`` characters, none of them control
    characters (a NUL cannot even be stored on PostgreSQL)."""
    if value is None:
        return None
    if len(value) > max_length:
        raise InvalidInput(
            f"{field} is longer than {max_length} characters",
            details={field: value[:120], "length": len(value)},
        )
    if not value.isprintable():
        raise InvalidInput(
            f"{field} must not contain control characters (newlines, tabs, NUL)",
            details={field: value[:120]},
        )
    return value


def add_user(
    session: Session,
    user_id: str,
    *,
    kind: str = "reader",
    email: str | None = None,
    name: str | None = None,
    exist_ok: bool = False,
) -> UserView:
    validate_user_id(user_id)
    email = validate_email(email)
    name = check_text(name, "name", MAX_NAME)
    if kind not in USER_KINDS:
        raise InvalidInput(
            f"user kind must be one of {', '.join(USER_KINDS)}", details={"kind": kind}
        )
    inserted = insert_if_absent(
        session, USERS, ["id"], id=user_id, kind=kind, email=email, name=name, created_at=utcnow()
    )
    user = get_user(session, user_id)
    if not inserted and not (exist_ok and user.kind == kind):
        raise AlreadyExists(
            f"user {user_id} already exists", details={"user": user_id, "kind": user.kind}
        )
    return user


def get_user(session: Session, user_id: str, *, kind: str | None = None) -> UserView:
    validate_user_id(user_id)  # a malformed id names nobody (and a NUL never reaches SQL)
    row = session.execute(select(USERS).where(USERS.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user {user_id}", details={"user": user_id}, code="USER_NOT_FOUND")
    if kind is not None and row.kind != kind:
        raise InvalidInput(
            f"user {user_id} is a {row.kind}, not a {kind}",
            details={"user": user_id, "kind": row.kind, "expected": kind},
        )
    return UserView(row.id, row.kind, row.email, row.name, as_utc(row.created_at))  # type: ignore[arg-type]


def list_users(
    session: Session, *, kind: str | None = None, limit: int = 1000, after: str | None = None
) -> list[UserView]:
    """Users by id (after ``after``, for paging), optionally of one kind."""
    if kind is not None and kind not in USER_KINDS:
        raise InvalidInput(f"--kind must be one of {', '.join(USER_KINDS)}", details={"kind": kind})
    if after is not None and not is_user_id(after):
        raise InvalidInput(
            "--cursor must be the next_cursor of a previous page",
            details={"cursor": after[:40]},
            code="INVALID_CURSOR",
        )
    query = select(USERS).order_by(USERS.c.id).limit(limit)
    if kind:
        query = query.where(USERS.c.kind == kind)
    if after is not None:
        query = query.where(USERS.c.id > after)
    return [
        UserView(r.id, r.kind, r.email, r.name, as_utc(r.created_at))  # type: ignore[arg-type]
        for r in session.execute(query)
    ]
