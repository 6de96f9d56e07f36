"""Signed approvals of escrow subjects (releases, dispute resolutions) by an app's approvers:
the ``app:<A>`` scope of ``legato_pay.approvals``, used as ``payouts.approvals`` uses it, plus
``escrow.approval_ttl_hours`` (an approval older than that no longer counts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from legato_pay import approvals
from legato_pay.config import Settings
from legato_pay.errors import InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAX_REASON = 500


def app_scope(app_id: str) -> str:
    return f"app:{app_id}"


def check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(f"--reason is 1 to {MAX_REASON} characters", details={"field": "reason"})
    return reason


@dataclass(frozen=True, slots=True)
class Signed:
    approver: str
    approvers: tuple[str, ...]
    required: int
    replayed: bool

    @property
    def enough(self) -> bool:
        return len(self.approvers) >= self.required


@dataclass(frozen=True, slots=True)
class Signature:
    """Who signs what: an approver's key over one subject's payload."""

    scope: str
    kind: str
    subject_id: int
    payload: bytes
    key: Ed25519PrivateKey
    name: str | None
    actor: str
    requested_by: str


def app_signature(
    app_id: str,
    subject_id: int,
    *,
    requested_by: str,
    kind: str,
    payload: bytes,
    key: Ed25519PrivateKey,
    name: str | None,
    actor: str,
) -> Signature:
    """An approver's signature over one of an app's escrow subjects (a release, a dispute's
    resolution), in the app's approver scope ``app:<A>``."""
    return Signature(
        scope=app_scope(app_id),
        kind=kind,
        subject_id=subject_id,
        payload=payload,
        key=key,
        name=name,
        actor=actor,
        requested_by=requested_by,
    )


def record_signature(session: Session, signature: Signature) -> tuple[str, bool]:
    """Sign and store (``approvals.record_approval`` checks the list, the key and the
    requester); the approver's name and whether it was already stored (a replay)."""
    approver = approvals.resolve_signer(session, signature.scope, signature.key, signature.name)
    recorded = approvals.record_approval(
        session,
        scope=signature.scope,
        subject_kind=signature.kind,
        subject_id=str(signature.subject_id),
        payload=signature.payload,
        signature=signature.key.sign(signature.payload).hex(),
        approver_name=approver,
        actor=signature.actor,
        requested_by=signature.requested_by,
    )
    return approver, recorded.replayed


def sign_and_count(
    session: Session, settings: Settings, signature: Signature, *, now: datetime
) -> Signed:
    """Record the approver's signature and count the valid, fresh ones over its payload."""
    approver, replayed = record_signature(session, signature)
    names = fresh_approvers(
        session,
        settings,
        signature.scope,
        signature.kind,
        signature.subject_id,
        signature.payload,
        now,
    )
    return Signed(approver, names, settings.escrow.required_approvers, replayed)


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


def sign_rejection(session: Session, signature: Signature) -> str:
    """Record an approver's signed rejection (kept as history); the approver's name."""
    approver, _ = record_signature(session, signature)
    approvals.consume_approvals(session, signature.scope, signature.kind, str(signature.subject_id))
    return approver
