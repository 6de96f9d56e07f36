"""Approver lists: who may approve in a scope (``payouts``, ``app:<A>``), with which public key.

A removed approver keeps its row (``removed_at``), and a re-added name gets a new row, so the
approvals signed under the old row stay void. Removing voids the approver's pending approvals
and runs the hooks domains registered with ``on_approver_removed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from legato_pay.approvals.keys import fingerprint, public_key_hex
from legato_pay.errors import AlreadyExists, InvalidInput, NotFound, Unauthorized
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store.dialect import for_update
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import APPROVALS, APPROVERS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.@]{0,99}", re.ASCII)
MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class ApproverView:
    id: int
    scope: str
    name: str
    public_key: str
    added_by: str
    added_at: datetime
    removed_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "name": self.name,
            "fingerprint": fingerprint(self.public_key),
            "public_key": self.public_key,
            "added_by": self.added_by,
            "added_at": self.added_at.isoformat(),
        }


#: Called as ``hook(session, scope, name, voided)`` inside ``remove_approver``'s unit of work,
#: ``voided`` being the (subject_kind, subject_id) pairs whose pending approvals were voided.
#: A domain registers one to move its subjects' state (e.g. approved -> requested); it is not
#: needed for safety: ``valid_approvals`` ignores removed approvers anyway.
RemovalHook = Callable[[Session, str, str, list[tuple[str, str]]], None]
_removal_hooks: list[RemovalHook] = []


def on_approver_removed(hook: RemovalHook) -> RemovalHook:
    """Register ``hook`` (usable as a decorator) to run whenever an approver is removed."""
    if hook not in _removal_hooks:
        _removal_hooks.append(hook)
    return hook


# -- validation --------------------------------------------------------------------------------


def validate_scope(scope: str) -> str:
    """``payouts`` or ``app:<app id>``; anything else is VALIDATION_ERROR."""
    from legato_pay.shares.apps import validate_app_id

    if scope == "payouts":
        return scope
    if isinstance(scope, str) and scope.startswith("app:"):
        validate_app_id(scope[4:])
        return scope
    raise InvalidInput(
        f"{str(scope)[:100]!r} is not an approver scope: payouts or app:<app id>",
        details={"scope": str(scope)[:100]},
    )


def _require_scope(session: Session, scope: str) -> str:
    """A valid scope whose app exists (APP_NOT_FOUND otherwise)."""
    validate_scope(scope)
    if scope.startswith("app:"):
        from legato_pay.shares.apps import require_app

        require_app(session, scope[4:])
    return scope


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{str(name)[:100]!r} is not a valid approver name (letters, digits, _ - . @; "
            "at most 100)",
            details={"name": str(name)[:100]},
        )
    return name


def _view(row: Any) -> ApproverView:
    return ApproverView(
        id=row.id,
        scope=row.scope,
        name=row.name,
        public_key=row.public_key,
        added_by=row.added_by,
        added_at=as_utc(row.added_at),  # type: ignore[arg-type]
        removed_at=as_utc(row.removed_at),
    )


# -- the approver list -------------------------------------------------------------------------


def active_approver(session: Session, scope: str, name: str, *, lock: bool = False) -> Any:
    """The active row of ``name`` on ``scope``'s list, or None (``lock``: held shared until the
    unit of work ends on PostgreSQL, so a removal waits for an approval being recorded)."""
    query = select(APPROVERS).where(
        APPROVERS.c.scope == scope, APPROVERS.c.name == name, APPROVERS.c.removed_at.is_(None)
    )
    if lock:
        query = for_update(query, session, read=True)
    return session.execute(query).first()


def add_approver(
    session: Session, *, scope: str, name: str, public_key: str, actor: str
) -> ApproverView:
    """Put ``name`` with ``public_key`` (hex) on ``scope``'s list. ALREADY_EXISTS if the name
    is on it, or if the key already belongs to another approver of the scope (one key, one
    person: two names sharing a key would let one person count twice)."""
    _require_scope(session, scope)
    validate_name(name)
    if active_approver(session, scope, name) is not None:
        raise AlreadyExists(
            f"{name} is already an approver for {scope}", details={"scope": scope, "name": name}
        )
    shared = session.execute(
        select(APPROVERS.c.name).where(
            APPROVERS.c.scope == scope,
            APPROVERS.c.public_key == public_key,
            APPROVERS.c.removed_at.is_(None),
        )
    ).first()
    if shared is not None:
        raise AlreadyExists(
            f"that public key already belongs to approver {shared.name} of {scope}",
            details={"scope": scope, "name": shared.name},
        )
    generation = session.execute(
        select(func.coalesce(func.max(APPROVERS.c.generation), 0)).where(
            APPROVERS.c.scope == scope, APPROVERS.c.name == name
        )
    ).scalar_one()
    inserted = insert_if_absent(
        session,
        APPROVERS,
        ["scope", "name", "generation"],
        scope=scope,
        name=name,
        generation=int(generation) + 1,
        public_key=public_key,
        added_by=actor,
        added_at=utcnow(),
    )
    if not inserted:  # a concurrent add of the same name won
        raise AlreadyExists(
            f"{name} is already an approver for {scope}", details={"scope": scope, "name": name}
        )
    return _view(active_approver(session, scope, name))


def get_approver(session: Session, scope: str, name: str) -> ApproverView:
    """The active approver ``name`` of ``scope``; APPROVER_NOT_FOUND (5) otherwise."""
    validate_scope(scope)
    validate_name(name)
    row = active_approver(session, scope, name)
    if row is None:
        raise NotFound(
            f"{name} is not an approver for {scope}",
            details={"scope": scope, "name": name},
            code="APPROVER_NOT_FOUND",
        )
    return _view(row)


def list_approvers(session: Session, *, scope: str | None = None) -> list[ApproverView]:
    """Active approvers by scope and name (a scope naming an unknown app is APP_NOT_FOUND)."""
    query = (
        select(APPROVERS)
        .where(APPROVERS.c.removed_at.is_(None))
        .order_by(APPROVERS.c.scope, APPROVERS.c.name)
        .limit(MAX_LIST)
    )
    if scope is not None:
        _require_scope(session, scope)
        query = query.where(APPROVERS.c.scope == scope)
    return [_view(row) for row in session.execute(query)]


def resolve_signer(session: Session, scope: str, key: Ed25519PrivateKey, name: str | None) -> str:
    """The approver name to sign as in ``scope``: ``name`` if given (the signature check then
    proves the key is theirs), else the approver of ``scope`` whose public key is this key's
    (UNAUTHORIZED, exit 8, if none). Used by payouts (``payouts``) and escrow (``app:<A>``)."""
    if name is not None:
        return validate_name(name)
    public = public_key_hex(key.public_key())
    for approver in list_approvers(session, scope=scope):
        if approver.public_key == public:
            return approver.name
    raise Unauthorized(
        f"this key belongs to no approver on `approvers list --scope {scope}`",
        details={"scope": scope, "reason": "not_an_approver"},
    )


def remove_approver(
    session: Session, *, scope: str, name: str, actor: str
) -> tuple[ApproverView, list[tuple[str, str]]]:
    """Take ``name`` off ``scope``'s list and void its pending (not yet consumed) approvals;
    returns the approver and the subjects whose approvals were voided, after running the
    registered removal hooks."""
    validate_scope(scope)
    validate_name(name)
    row = session.execute(
        for_update(
            select(APPROVERS).where(
                APPROVERS.c.scope == scope,
                APPROVERS.c.name == name,
                APPROVERS.c.removed_at.is_(None),
            ),
            session,
        )
    ).first()
    if row is None:
        raise NotFound(
            f"{name} is not an approver for {scope}",
            details={"scope": scope, "name": name},
            code="APPROVER_NOT_FOUND",
        )
    now = utcnow()
    session.execute(
        update(APPROVERS).where(APPROVERS.c.id == row.id).values(removed_at=now, removed_by=actor)
    )
    voided = void_approvals_of(session, approver_id=row.id, reason=f"approver {name} removed")
    for hook in list(_removal_hooks):
        hook(session, scope, name, voided)
    return _view(row), voided


def void_approvals_of(session: Session, *, approver_id: int, reason: str) -> list[tuple[str, str]]:
    """Void one approver row's pending approvals; the distinct subjects they were for."""
    pending = and_(
        APPROVALS.c.approver_id == approver_id,
        APPROVALS.c.voided_at.is_(None),
        APPROVALS.c.consumed_at.is_(None),
    )
    subjects = sorted(
        {
            (row.subject_kind, row.subject_id)
            for row in session.execute(
                select(APPROVALS.c.subject_kind, APPROVALS.c.subject_id).where(pending)
            )
        }
    )
    session.execute(
        update(APPROVALS).where(pending).values(voided_at=utcnow(), void_reason=reason[:200])
    )
    return subjects
