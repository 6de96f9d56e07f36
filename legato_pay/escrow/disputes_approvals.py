"""Approving or rejecting a dispute's resolution (``escrow approve|reject dispute:<id>``):
the second step of ``disputes`` (see its docstring). The payload signed names the exact
amounts each side gets from what is available now; when ``escrow.required_approvers`` fresh,
valid approvals are in, the outcome posts and the dispute is ``resolved``: the release part
posted and the refund part reserved (a pending entry) in that one transaction; then
``approve_dispute`` sends the refund to the deposit's gateway, whose outcome settles it like
any escrow refund."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from legato_pay import approvals, chart
from legato_pay.config import Settings
from legato_pay.errors import InvalidState
from legato_pay.escrow.balances import lock_deposit
from legato_pay.escrow.disputes import DisputeView, get_dispute, lock_dispute, require_feature
from legato_pay.escrow.milestones import FULL_BP
from legato_pay.escrow.refunds import RefundView, reserve_refund, send_refund
from legato_pay.escrow.releases import available_in_escrow, create_release
from legato_pay.escrow.signing import (
    app_scope,
    app_signature,
    check_reason,
    sign_and_count,
    sign_rejection,
)
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import allocate
from legato_pay.store.tables import ESCROW_DISPUTES

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from legato_pay.context import AppContext

KIND = "escrow_dispute"
REJECTION_KIND = "escrow_dispute_rejection"


@dataclass(frozen=True, slots=True)
class DisputeApproval:
    dispute: DisputeView
    approver: str
    approvers: tuple[str, ...]
    required: int
    replayed: bool
    resolved_now: bool
    release_id: int | None = None
    refund_id: int | None = None
    #: The refund part as the gateway left it (``approve_dispute``): succeeded, or pending.
    refund: RefundView | None = None

    def as_json(self) -> dict[str, Any]:
        return self.dispute.as_json() | {
            "approval": {
                "approver": self.approver,
                "valid_approvals": len(self.approvers),
                "approvers": list(self.approvers),
                "required": self.required,
                "replayed": self.replayed,
                "resolved_now": self.resolved_now,
                "release": self.release_id,
                "refund": self.refund_id,
                "refund_status": self.refund.status if self.refund else None,
            }
        }


def resolution_parts(session: Session, view: DisputeView) -> tuple[int, int, int]:
    """(available, to the app, to the investor) now, split by largest remainder."""
    deposit = lock_deposit(session, view.deposit)
    available = max(available_in_escrow(session, deposit), 0)
    bp = view.release_bp or 0
    if available == 0:
        return 0, 0, 0
    to_app, to_investor = allocate(available, [bp, FULL_BP - bp])
    return available, to_app, to_investor


def resolution_payload(session: Session, view: DisputeView) -> bytes:
    available, to_app, to_investor = resolution_parts(session, view)
    return approvals.canonical_payload(
        KIND,
        {
            "id": view.id,
            "deposit": view.deposit,
            "outcome": view.outcome,
            "release_bp": view.release_bp,
            "currency": view.currency,
            "amount_minor": available,
            "release_minor": to_app,
            "refund_minor": to_investor,
            "source": chart.escrow_account_code(view.deposit, view.currency),
            "destination": chart.app_funds(view.app, view.currency),
            "investor": view.investor,
            "requested_by": view.resolution_requested_by,
            "reason": view.resolution_reason,
        },
    )


def _require_resolving(view: DisputeView, wanted: str) -> None:
    if view.status != "resolving":
        raise InvalidState(
            f"dispute {view.id} is {view.status}: only a resolution asked for "
            f"(`escrow dispute resolve`) can be {wanted}",
            details={"dispute": view.id, "status": view.status},
        )


def approve_dispute(
    app: AppContext,
    dispute_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    now: datetime | None = None,
) -> DisputeApproval:
    """``escrow approve dispute:<D>``: sign (``approve_resolution``, one transaction); when
    that resolved it, send its refund part to the deposit's gateway (``refunds.send_refund``):
    RefundFailed (exit 7) if declined, the money back in escrow; GATEWAY_UNAVAILABLE (7) if
    unknown, the refund pending for ``escrow refund-status``. The dispute stays resolved."""
    outcome: DisputeApproval = app.run(
        lambda s: approve_resolution(
            s, app.settings, dispute_id, key=key, name=name, actor=app.actor, now=now
        )
    )
    if not outcome.resolved_now or outcome.refund_id is None:
        return outcome
    return replace(outcome, refund=send_refund(app, outcome.refund_id, look_first=False))


def approve_resolution(
    session: Session,
    settings: Settings,
    dispute_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    actor: str,
    now: datetime | None = None,
) -> DisputeApproval:
    """Sign the resolution; post its outcome once enough approvals are valid."""
    require_feature(settings)
    moment = as_utc(now) or utcnow()
    view = lock_dispute(session, dispute_id)
    _require_resolving(view, "approved")
    payload = resolution_payload(session, view)
    signed = sign_and_count(
        session,
        settings,
        app_signature(
            view.app,
            view.id,
            requested_by=view.resolution_requested_by or view.opened_by,
            kind=KIND,
            payload=payload,
            key=key,
            name=name,
            actor=actor,
        ),
        now=moment,
    )
    required = signed.required
    if not signed.enough:
        if not signed.replayed:
            record_escrow_event(
                session,
                view.deposit,
                "dispute_approved",
                actor,
                subject=f"dispute:{view.id}",
                details={"approver": signed.approver, "approvers": list(signed.approvers)},
                now=moment,
            )
        return DisputeApproval(
            view, signed.approver, signed.approvers, required, signed.replayed, False
        )
    release_id, refund_id = _post_outcome(session, settings, view, actor=actor, now=moment)
    session.execute(
        update(ESCROW_DISPUTES)
        .where(ESCROW_DISPUTES.c.id == view.id)
        .values(status="resolved", resolved_at=moment)
    )
    approvals.consume_approvals(session, app_scope(view.app), KIND, str(view.id))
    record_escrow_event(
        session,
        view.deposit,
        "dispute_resolved",
        actor,
        subject=f"dispute:{view.id}",
        details={
            "outcome": view.outcome,
            "approvers": list(signed.approvers),
            "release": release_id,
            "refund": refund_id,
        },
        now=moment,
    )
    return DisputeApproval(
        get_dispute(session, view.id),
        signed.approver,
        signed.approvers,
        required,
        signed.replayed,
        True,
        release_id,
        refund_id,
    )


def _post_outcome(
    session: Session, settings: Settings, view: DisputeView, *, actor: str, now: datetime
) -> tuple[int | None, int | None]:
    deposit = lock_deposit(session, view.deposit)
    _, to_app, to_investor = resolution_parts(session, view)
    release_id = refund_id = None
    if to_app > 0:
        release_id = create_release(
            session,
            settings,
            deposit_row=deposit,
            milestone_id=None,
            amount=to_app,
            key=f"dispute:{view.id}:release",
            request={"dispute": view.id, "release": to_app},
            actor=actor,
            now=now,
            dispute_id=view.id,
            approved=True,
        )
    if to_investor > 0:
        refund, _ = reserve_refund(
            session,
            deposit.id,
            reason=view.resolution_reason or view.reason,
            key=f"dispute:{view.id}:refund",
            actor=actor,
            amount_minor=to_investor,
            dispute_id=view.id,
            now=now,
        )
        refund_id = refund.id
    return release_id, refund_id


def reject_resolution(
    session: Session,
    settings: Settings,
    dispute_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> DisputeView:
    """An approver's signed rejection of the resolution asked for: the dispute is ``open``
    again (still freezing) and the resolution's approvals are voided."""
    require_feature(settings)
    check_reason(reason)
    moment = as_utc(now) or utcnow()
    view = lock_dispute(session, dispute_id)
    _require_resolving(view, "rejected")
    payload = approvals.canonical_payload(
        REJECTION_KIND,
        {
            "id": view.id,
            "outcome": view.outcome,
            "release_bp": view.release_bp,
            "requested_by": view.resolution_requested_by,
            "reason": reason,
        },
    )
    approver = sign_rejection(
        session,
        app_signature(
            view.app,
            view.id,
            requested_by=view.resolution_requested_by or view.opened_by,
            kind=REJECTION_KIND,
            payload=payload,
            key=key,
            name=name,
            actor=actor,
        ),
    )
    session.execute(
        update(ESCROW_DISPUTES)
        .where(ESCROW_DISPUTES.c.id == view.id)
        .values(
            status="open", outcome=None, release_bp=None, resolution_reason=None, resolved_by=None
        )
    )
    approvals.void_subject_approvals(
        session, app_scope(view.app), KIND, str(view.id), reason="resolution rejected"
    )
    record_escrow_event(
        session,
        view.deposit,
        "dispute_resolution_rejected",
        actor,
        subject=f"dispute:{view.id}",
        details={"approver": approver, "reason": reason},
        now=moment,
    )
    return get_dispute(session, view.id)
