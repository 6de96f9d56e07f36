"""Approving, rejecting and expiring held releases (``escrow approve|reject|expire``).

An approval is an Ed25519 signature by an approver of ``app:<A>`` over the release's canonical
payload (``release_payload``: id, amount, currency, source escrow account, destination app
funds account, requester). The requester can never approve (nor reject) their own release,
a key off the list is UNAUTHORIZED (8), one approver twice counts once, and approvals older
than ``escrow.approval_ttl_hours`` do not count. When ``escrow.required_approvers`` valid ones
are in, the pending entry posts (``posted``). A signed rejection voids it (``rejected``): the
first of "enough approvals" and "a rejection" wins, the other then finds it no longer held
(INVALID_STATE). A held release past its ``expires_at`` (requested + TTL) is voided
(``expired``) when next touched: by an approval or rejection of it, a new release of its
deposit, or the ``escrow expire`` sweep. While its deposit is in dispute it cannot be approved
(DEPOSIT_IN_DISPUTE); rejecting it (which only returns money to escrow) is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay import approvals
from legato_pay.config import Settings
from legato_pay.errors import InvalidState
from legato_pay.escrow.balances import lock_deposit
from legato_pay.escrow.disputes_guard import assert_not_in_dispute
from legato_pay.escrow.releases import (
    ReleaseView,
    get_release,
    lock_release,
    parse_release_id,
)
from legato_pay.escrow.signing import (
    app_scope,
    app_signature,
    check_reason,
    sign_and_count,
    sign_rejection,
)
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.ledger import resolve_pending
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.store.tables import ESCROW_RELEASES, PENDING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KIND = "escrow_release"
REJECTION_KIND = "escrow_release_rejection"
SWEEP_ACTOR = "system:escrow-expiry"


@dataclass(frozen=True, slots=True)
class ReleaseApproval:
    """What ``escrow approve RELEASE`` did."""

    release: ReleaseView
    approver: str | None
    approvers: tuple[str, ...]
    required: int
    replayed: bool
    posted_now: bool
    expired_now: bool = False

    def as_json(self) -> dict[str, Any]:
        return self.release.as_json() | {
            "approval": {
                "approver": self.approver,
                "valid_approvals": len(self.approvers),
                "approvers": list(self.approvers),
                "required": self.required,
                "replayed": self.replayed,
                "posted_now": self.posted_now,
                "expired_now": self.expired_now,
            }
        }


def release_content(view: ReleaseView) -> dict[str, Any]:
    return {
        "id": view.id,
        "amount_minor": view.amount,
        "currency": view.currency,
        "source": view.source,
        "destination": view.destination,
        "requested_by": view.requested_by,
    }


def release_payload(view: ReleaseView) -> bytes:
    """The bytes an approval of the release signs."""
    return approvals.canonical_payload(KIND, release_content(view))


def rejection_payload(view: ReleaseView, reason: str) -> bytes:
    return approvals.canonical_payload(REJECTION_KIND, release_content(view) | {"reason": reason})


def _lock(session: Session, release_id: int | str) -> ReleaseView:
    """Lock the release's deposit, then the release (escrow's one lock order)."""
    view = get_release(session, release_id)
    lock_deposit(session, view.deposit)
    lock_release(session, view.id)
    return get_release(session, view.id)


def _set_status(
    session: Session, view: ReleaseView, status: str, *, reason: str | None, now: datetime
) -> None:
    changed = session.execute(
        update(ESCROW_RELEASES)
        .where(ESCROW_RELEASES.c.id == view.id, ESCROW_RELEASES.c.status == "held")
        .values(status=status, reason=reason, resolved_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:  # pragma: no cover - the row lock (or SQLite's write lock) prevents it
        raise InvalidState(f"release {view.id} changed meanwhile", details={"release": view.id})


def _void_entry(session: Session, view: ReleaseView, *, actor: str, reason: str) -> None:
    """Void the held entry unless something (``ledger`` expiry tooling) already did."""
    state = session.execute(
        select(PENDING.c.status).where(PENDING.c.entry_id == view.entry_id)
    ).scalar_one_or_none()
    if state == "pending" and view.entry_id is not None:
        resolve_pending(session, view.entry_id, post=False, actor=actor, reason=reason)


def _expire(session: Session, view: ReleaseView, *, actor: str, now: datetime) -> ReleaseView:
    reason = "its approvals did not arrive within escrow.approval_ttl_hours"
    _void_entry(session, view, actor=actor, reason=f"escrow release {view.id} expired")
    _set_status(session, view, "expired", reason=reason, now=now)
    approvals.void_subject_approvals(
        session, app_scope(view.app), KIND, str(view.id), reason="release expired"
    )
    record_escrow_event(
        session,
        view.deposit,
        "release_expired",
        actor,
        amount=view.amount,
        subject=f"release:{view.id}",
        details={"reason": reason},
        now=now,
    )
    return get_release(session, view.id)


def _is_due(view: ReleaseView, now: datetime) -> bool:
    return view.status == "held" and view.expires_at is not None and view.expires_at <= now


def _require_held(view: ReleaseView, wanted: str) -> None:
    if view.status != "held":
        raise InvalidState(
            f"escrow release {view.id} is {view.status}: it cannot be {wanted}",
            details={"release": view.id, "status": view.status},
        )


def approve_release(
    session: Session,
    settings: Settings,
    release_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    actor: str,
    now: datetime | None = None,
) -> ReleaseApproval:
    """Sign the held release with ``key``; post it once enough approvals are valid. A release
    found past its expiry is expired instead (``expired_now``; the command then exits 6)."""
    moment = as_utc(now) or utcnow()
    view = _lock(session, parse_release_id(release_id))
    required = settings.escrow.required_approvers
    if _is_due(view, moment):
        expired = _expire(session, view, actor=actor, now=moment)
        return ReleaseApproval(expired, None, (), required, False, False, expired_now=True)
    _require_held(view, "approved")
    assert_not_in_dispute(session, view.deposit)
    signed = sign_and_count(
        session,
        settings,
        app_signature(
            view.app,
            view.id,
            requested_by=view.requested_by,
            kind=KIND,
            payload=release_payload(view),
            key=key,
            name=name,
            actor=actor,
        ),
        now=moment,
    )
    summary = {"approvers": list(signed.approvers), "required": required}
    if not signed.enough:
        if not signed.replayed:
            record_escrow_event(
                session,
                view.deposit,
                "release_approved",
                actor,
                amount=view.amount,
                subject=f"release:{view.id}",
                details={"approver": signed.approver} | summary,
                now=moment,
            )
        return ReleaseApproval(
            view, signed.approver, signed.approvers, required, signed.replayed, False
        )
    assert view.entry_id is not None
    resolve_pending(
        session,
        view.entry_id,
        post=True,
        actor=actor,
        now=moment,
        reason=f"escrow release {view.id} approved by {', '.join(signed.approvers)}",
    )
    _set_status(session, view, "posted", reason=None, now=moment)
    approvals.consume_approvals(session, app_scope(view.app), KIND, str(view.id))
    record_escrow_event(
        session,
        view.deposit,
        "released",
        actor,
        amount=view.amount,
        subject=f"release:{view.id}",
        details={"approver": signed.approver} | summary,
        now=moment,
    )
    posted = get_release(session, view.id)
    return ReleaseApproval(
        posted, signed.approver, signed.approvers, required, signed.replayed, True
    )


def reject_release(
    session: Session,
    settings: Settings,
    release_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> ReleaseView:
    """An approver's signed rejection: the held entry is voided (the money is available in
    escrow again, exactly once) and the release's approvals voided."""
    check_reason(reason)
    moment = as_utc(now) or utcnow()
    view = _lock(session, parse_release_id(release_id))
    if _is_due(view, moment):
        return _expire(session, view, actor=actor, now=moment)
    _require_held(view, "rejected")
    approver = sign_rejection(
        session,
        app_signature(
            view.app,
            view.id,
            requested_by=view.requested_by,
            kind=REJECTION_KIND,
            payload=rejection_payload(view, reason),
            key=key,
            name=name,
            actor=actor,
        ),
    )
    _void_entry(session, view, actor=actor, reason=f"escrow release {view.id} rejected")
    _set_status(session, view, "rejected", reason=f"{reason} (rejected by {approver})", now=moment)
    approvals.void_subject_approvals(
        session, app_scope(view.app), KIND, str(view.id), reason="release rejected"
    )
    record_escrow_event(
        session,
        view.deposit,
        "release_rejected",
        actor,
        amount=view.amount,
        subject=f"release:{view.id}",
        details={"approver": approver, "reason": reason},
        now=moment,
    )
    return get_release(session, view.id)


def expire_due_releases(
    session: Session,
    settings: Settings,
    *,
    deposit_id: int | None = None,
    actor: str = SWEEP_ACTOR,
    now: datetime | None = None,
) -> list[int]:
    """Expire every held release past its ``expires_at`` (of one deposit, or all): their
    entries voided, the money available in escrow again. Returns their ids."""
    moment = as_utc(now) or utcnow()
    query = select(ESCROW_RELEASES.c.id).where(
        ESCROW_RELEASES.c.status == "held", ESCROW_RELEASES.c.expires_at <= moment
    )
    if deposit_id is not None:
        query = query.where(ESCROW_RELEASES.c.deposit_id == deposit_id)
    expired: list[int] = []
    for release_id in session.execute(query.order_by(ESCROW_RELEASES.c.id)).scalars().all():
        view = _lock(session, release_id)
        if _is_due(view, moment):
            _expire(session, view, actor=actor, now=moment)
            expired.append(view.id)
    return expired
