"""Signed approvals of escrow subjects (releases, dispute resolutions) by an app's approvers:
the ``app:<A>`` scope of ``legato_pay.approvals``, used as ``payouts.approvals`` uses it, plus
``escrow.approval_ttl_hours`` (an approval older than that no longer counts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from legato_pay import approvals
from legato_pay.approvals.keys import public_key_hex
from legato_pay.config import Settings
from legato_pay.errors import InvalidInput, Unauthorized

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAX_REASON = 500


def app_scope(app_id: str) -> str:
    return f"app:{app_id}"


def check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(f"--reason is 1 to {MAX_REASON} characters", details={"field": "reason"})
    return reason


def resolve_approver(session: Session, scope: str, key: Ed25519PrivateKey, name: str | None) -> str:
    """``name`` if given (the signature check then proves the key is theirs), else the
    approver of ``scope`` whose public key is this key's (UNAUTHORIZED if none)."""
    if name is not None:
        return approvals.approvers.validate_name(name)
    public = public_key_hex(key.public_key())
    for approver in approvals.list_approvers(session, scope=scope):
        if approver.public_key == public:
            return approver.name
    raise Unauthorized(
        f"this key belongs to no approver on `approvers list --scope {scope}`",
        details={"scope": scope, "reason": "not_an_approver"},
    )


@dataclass(frozen=True, slots=True)
class Signed:
    approver: str
    approvers: tuple[str, ...]
    required: int
    replayed: bool

    @property
    def enough(self) -> bool:
        return len(self.approvers) >= self.required


def sign_and_count(
    session: Session,
    settings: Settings,
    *,
    scope: str,
    kind: str,
    subject_id: int,
    payload: bytes,
    key: Ed25519PrivateKey,
    name: str | None,
    actor: str,
    requested_by: str,
    now: datetime,
) -> Signed:
    """Record the approver's signature over ``payload`` and count the valid, fresh ones."""
    approver = resolve_approver(session, scope, key, name)
    recorded = approvals.record_approval(
        session,
        scope=scope,
        subject_kind=kind,
        subject_id=str(subject_id),
        payload=payload,
        signature=key.sign(payload).hex(),
        approver_name=approver,
        actor=actor,
        requested_by=requested_by,
    )
    names = fresh_approvers(session, settings, scope, kind, subject_id, payload, now)
    return Signed(approver, names, settings.escrow.required_approvers, recorded.replayed)


def fresh_approvers(
    session: Session,
    settings: Settings,
    scope: str,
    kind: str,
    subject_id: int,
    payload: bytes,
    now: datetime,
) -> tuple[str, ...]:
    """Approvers whose signature over ``payload`` is valid and younger than the TTL."""
    oldest = now - timedelta(hours=settings.escrow.approval_ttl_hours)
    valid = approvals.valid_approvals(session, scope, kind, str(subject_id), payload)
    return tuple(v.approver for v in valid if v.created_at > oldest)


def sign_rejection(
    session: Session,
    *,
    scope: str,
    kind: str,
    subject_id: int,
    payload: bytes,
    key: Ed25519PrivateKey,
    name: str | None,
    actor: str,
    requested_by: str,
) -> str:
    """Record an approver's signed rejection (kept as history); the approver's name."""
    approver = resolve_approver(session, scope, key, name)
    approvals.record_approval(
        session,
        scope=scope,
        subject_kind=kind,
        subject_id=str(subject_id),
        payload=payload,
        signature=key.sign(payload).hex(),
        approver_name=approver,
        actor=actor,
        requested_by=requested_by,
    )
    approvals.consume_approvals(session, scope, kind, str(subject_id))
    return approver
