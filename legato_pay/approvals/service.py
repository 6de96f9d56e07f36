"""Signed approvals: what payouts and escrow call for maker-checker.

A domain asking "is this subject approved?" never trusts a stored flag: ``valid_approvals``
re-checks every stored signature against the subject's *current* canonical payload and the
approver's *current* key on the scope's list, so an edited subject, a removed approver or a
tampered row counts for nothing. ``--actor`` only labels the audit trail; authority comes from
holding the private key whose public half is on the list.

Scopes: ``payouts`` (the payout approvers) and ``app:<A>`` (an app's escrow approvers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay.approvals.approvers import active_approver, validate_name, validate_scope
from legato_pay.approvals.keys import payload_digest, signature_valid
from legato_pay.errors import InvalidInput, Unauthorized
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store.engine import insert_if_absent
from legato_pay.store.tables import APPROVALS, APPROVERS

_SUBJECT_KIND = re.compile(r"[a-z][a-z0-9_.]{0,39}", re.ASCII)
_SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.@:]{0,99}", re.ASCII)
MAX_PAYLOAD_BYTES = 65536
_VERIFY_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class ApprovalView:
    id: int
    scope: str
    subject_kind: str
    subject_id: str
    approver: str
    actor: str
    created_at: datetime
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "subject_kind": self.subject_kind,
            "subject_id": self.subject_id,
            "approver": self.approver,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


def _validate_subject(subject_kind: str, subject_id: str) -> None:
    if not isinstance(subject_kind, str) or not _SUBJECT_KIND.fullmatch(subject_kind):
        raise InvalidInput("subject kinds are lower-case ASCII", details={"kind": subject_kind})
    if not isinstance(subject_id, str) or not _SUBJECT_ID.fullmatch(subject_id):
        raise InvalidInput(
            f"{str(subject_id)[:100]!r} is not a valid subject id",
            details={"subject": str(subject_id)[:100]},
        )


# -- approvals ---------------------------------------------------------------------------------


def record_approval(
    session: Session,
    *,
    scope: str,
    subject_kind: str,
    subject_id: str,
    payload: bytes,
    signature: str,
    approver_name: str,
    actor: str,
    requested_by: str | None = None,
) -> ApprovalView:
    """Store ``approver_name``'s signature over ``payload`` for a subject, after checking it.

    UNAUTHORIZED (8) and nothing written when: the name is not on the scope's list, the
    signature is not the payload signed by that approver's key, or the approver (or the acting
    label) is the subject's requester (``requested_by``, else the payload's ``requested_by``
    field). The same approver approving the same payload again returns the first approval
    (``replayed``): it counts once."""
    validate_scope(scope)
    _validate_subject(subject_kind, subject_id)
    validate_name(approver_name)
    _check_payload(payload)
    requester = requested_by if requested_by is not None else _payload_requester(payload)
    details = {"scope": scope, "subject": f"{subject_kind}:{subject_id}", "approver": approver_name}
    if requester is not None and requester in (approver_name, actor):
        raise Unauthorized(
            "the requester cannot approve their own request", details=details | {"reason": "self"}
        )
    approver = active_approver(session, scope, approver_name, lock=True)
    if approver is None:
        raise Unauthorized(
            f"{approver_name} is not an approver for {scope}",
            details=details | {"reason": "not_an_approver"},
        )
    if not signature_valid(approver.public_key, payload, signature):
        raise Unauthorized(
            f"the signature is not {approver_name}'s over this {subject_kind}",
            details=details | {"reason": "bad_signature"},
        )
    digest = payload_digest(payload)
    now = utcnow()
    inserted = insert_if_absent(
        session,
        APPROVALS,
        ["scope", "subject_kind", "subject_id", "approver_id", "payload_sha256"],
        scope=scope,
        subject_kind=subject_kind,
        subject_id=subject_id,
        approver_id=approver.id,
        approver_name=approver_name,
        payload=payload.decode("ascii"),
        payload_sha256=digest,
        signature=signature,
        actor=actor,
        created_at=now,
    )
    row = session.execute(
        select(APPROVALS).where(
            APPROVALS.c.scope == scope,
            APPROVALS.c.subject_kind == subject_kind,
            APPROVALS.c.subject_id == subject_id,
            APPROVALS.c.approver_id == approver.id,
            APPROVALS.c.payload_sha256 == digest,
        )
    ).one()
    if row.voided_at is not None:  # signed again after a void: the earlier row stays void
        raise Unauthorized(
            f"{approver_name}'s approval of this {subject_kind} was voided ({row.void_reason})",
            details=details | {"reason": "voided"},
        )
    return _approval_view(row, replayed=not inserted)


def _check_payload(payload: bytes) -> None:
    """Bytes from ``canonical_payload``: ASCII JSON, of a size a subject's content has."""
    if not isinstance(payload, bytes) or len(payload) > MAX_PAYLOAD_BYTES or not payload.isascii():
        raise InvalidInput(
            f"the payload is ASCII bytes from canonical_payload, at most {MAX_PAYLOAD_BYTES}"
        )


def _payload_requester(payload: bytes) -> str | None:
    import json

    try:
        document = json.loads(payload)
    except ValueError:
        raise InvalidInput("the payload is not canonical JSON") from None
    value = document.get("requested_by") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _approval_view(row: Any, *, replayed: bool = False) -> ApprovalView:
    return ApprovalView(
        id=row.id,
        scope=row.scope,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        approver=row.approver_name,
        actor=row.actor,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        replayed=replayed,
    )


def valid_approvals(
    session: Session, scope: str, subject_kind: str, subject_id: str, payload: bytes
) -> list[ApprovalView]:
    """The approvals that count now, one per approver name: not voided, by an approver still
    on the list under the key it signed with, over exactly ``payload`` (the subject's current
    canonical content), each signature verified again here."""
    validate_scope(scope)
    _validate_subject(subject_kind, subject_id)
    _check_payload(payload)
    query = (
        select(APPROVALS, APPROVERS.c.public_key)
        .join(APPROVERS, APPROVERS.c.id == APPROVALS.c.approver_id)
        .where(
            APPROVALS.c.scope == scope,
            APPROVALS.c.subject_kind == subject_kind,
            APPROVALS.c.subject_id == subject_id,
            APPROVALS.c.voided_at.is_(None),
            APPROVERS.c.removed_at.is_(None),
            APPROVERS.c.scope == scope,
        )
        .order_by(APPROVALS.c.id)
    )
    text = payload.decode("ascii")
    counted: dict[str, ApprovalView] = {}
    for row in session.execute(query):
        if row.approver_name in counted or row.payload != text:
            continue
        if signature_valid(row.public_key, payload, row.signature):
            counted[row.approver_name] = _approval_view(row)
    return list(counted.values())


def consume_approvals(session: Session, scope: str, subject_kind: str, subject_id: str) -> int:
    """Mark a subject's approvals as used (the payout was sent, the release made), so that
    removing the approver later no longer voids them: they are history. Returns the count."""
    validate_scope(scope)
    _validate_subject(subject_kind, subject_id)
    result = session.execute(
        update(APPROVALS)
        .where(
            APPROVALS.c.scope == scope,
            APPROVALS.c.subject_kind == subject_kind,
            APPROVALS.c.subject_id == subject_id,
            APPROVALS.c.voided_at.is_(None),
            APPROVALS.c.consumed_at.is_(None),
        )
        .values(consumed_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def void_subject_approvals(
    session: Session, scope: str, subject_kind: str, subject_id: str, *, reason: str
) -> int:
    """Void a subject's pending approvals (it was rejected, cancelled or changed)."""
    validate_scope(scope)
    _validate_subject(subject_kind, subject_id)
    result = session.execute(
        update(APPROVALS)
        .where(
            APPROVALS.c.scope == scope,
            APPROVALS.c.subject_kind == subject_kind,
            APPROVALS.c.subject_id == subject_id,
            APPROVALS.c.voided_at.is_(None),
            APPROVALS.c.consumed_at.is_(None),
        )
        .values(voided_at=utcnow(), void_reason=reason[:200])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def verify_approvals(session: Session) -> list[dict[str, Any]]:
    """Every stored approval checked against its own stored payload and its approver's key:
    the problems found (``problem``: ``bad_signature``, ``unknown_approver``,
    ``payload_digest_mismatch``; ``code``/``message`` in the shape of ``ledger verify``'s
    problems, e.g. ``APPROVAL_BAD_SIGNATURE``), empty when all is well. Reads in pages."""
    problems: list[dict[str, Any]] = []
    after = 0
    while True:
        rows = list(
            session.execute(
                select(
                    APPROVALS,
                    APPROVERS.c.public_key,
                    APPROVERS.c.scope.label("approver_scope"),
                    APPROVERS.c.name.label("listed_name"),
                )
                .outerjoin(APPROVERS, APPROVERS.c.id == APPROVALS.c.approver_id)
                .where(APPROVALS.c.id > after)
                .order_by(APPROVALS.c.id)
                .limit(_VERIFY_CHUNK)
            )
        )
        if not rows:
            return problems
        for row in rows:
            problem = _approval_problem(row)
            if problem is not None:
                problems.append(
                    {
                        "code": f"APPROVAL_{problem.upper()}",
                        "message": f"approval {row.id} by {row.approver_name} of "
                        f"{row.subject_kind}:{row.subject_id}: {problem.replace('_', ' ')}",
                        "approval": row.id,
                        "scope": row.scope,
                        "subject": f"{row.subject_kind}:{row.subject_id}",
                        "approver": row.approver_name,
                        "problem": problem,
                    }
                )
        after = rows[-1].id


def _approval_problem(row: Any) -> str | None:
    if (
        row.public_key is None
        or row.approver_scope != row.scope
        or row.listed_name != row.approver_name
    ):
        return "unknown_approver"
    payload = row.payload.encode("utf-8")
    if payload_digest(payload) != row.payload_sha256:
        return "payload_digest_mismatch"
    if not signature_valid(row.public_key, payload, row.signature):
        return "bad_signature"
    return None
