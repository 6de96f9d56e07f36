"""Maker-checker for payouts: ``payouts approve|reject`` signed with an approver's Ed25519 key.

What an approval signs is the payout's canonical content (``views.approval_content`` plus who
requested it) as ``approvals.canonical_payload("payout", ...)``. Authority comes only from the
key: the approver is the one on ``approvers list --scope payouts`` whose public key verifies
the signature (``--name`` picks the name, else the key's owner is found by its public key);
``actor`` only labels the audit trail. ``approvals.record_approval`` refuses (UNAUTHORIZED,
exit 8, nothing written) a name not on the list, a wrong key and the requester (by name or by
acting label); the same approver twice counts once.

A payout needing approval becomes ``approved`` when ``payouts.required_approvals`` distinct
approvers' signatures are valid over its *current* content; a payout that did not need approval
(auto-approved below the threshold) answers INVALID_STATE. ``approvals_still_valid`` is the
re-check the sending run makes just before sending: a change to the amount, currency, source
or destination since the signing (or an approver removed) makes it False.

Removing an approver (``approvers remove``) voids their pending approvals; the hook registered
here moves a payout that is ``approved`` but no longer has enough valid approvals back to
``requested`` (it has not been sent: sent payouts' approvals are consumed, so history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from legato_pay import approvals
from legato_pay.config import Settings
from legato_pay.errors import InvalidInput, InvalidState, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.payouts.methods import get_method, parse_id
from legato_pay.payouts.status import lock_payout, mark_approved, mark_rejected, mark_unapproved
from legato_pay.payouts.views import PayoutView, approval_content, get_payout, record_event

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SCOPE = "payouts"
KIND = "payout"
REJECTION_KIND = "payout_rejection"
HOOK_ACTOR = "system:approvers"
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class ApprovalOutcome:
    """What ``payouts approve`` did: the payout now, who signed, and how many count."""

    payout: PayoutView
    approver: str
    approvers: tuple[str, ...]
    required: int
    replayed: bool
    approved_now: bool

    def as_json(self) -> dict[str, Any]:
        return self.payout.as_json() | {
            "approval": {
                "approver": self.approver,
                "valid_approvals": len(self.approvers),
                "approvers": list(self.approvers),
                "required": self.required,
                "replayed": self.replayed,
                "approved_now": self.approved_now,
            }
        }


def payout_payload(view: PayoutView) -> bytes:
    """The bytes an approval of ``view`` signs: its approval content and its requester."""
    return approvals.canonical_payload(
        KIND, approval_content(view) | {"requested_by": view.requested_by}
    )


def rejection_payload(view: PayoutView, reason: str) -> bytes:
    """The bytes a rejection signs: the same content, the reason, under another kind (a
    rejection's signature can never be replayed as an approval)."""
    return approvals.canonical_payload(
        REJECTION_KIND,
        approval_content(view) | {"requested_by": view.requested_by, "reason": reason},
    )


def _auto_approved(view: PayoutView) -> bool:
    return any(step.action == "auto_approved" for step in view.timeline)


def needs_approval(session: Session, settings: Settings, view: PayoutView) -> bool:
    """True unless it was auto-approved at request and is still below the threshold, to a
    method not recently changed (judged again now: a later change brings approval back)."""
    if not _auto_approved(view):
        return True
    threshold = settings.payouts.approval_threshold.get(view.currency)
    if threshold is None or view.gross >= threshold:
        return True
    return get_method(session, settings, view.method_id).recently_changed


def approvals_still_valid(session: Session, settings: Settings, payout_id: int | str) -> bool:
    """Re-check just before sending: the payout is ``approved`` and either needs no approval
    or has ``payouts.required_approvals`` valid signatures over its current content (each
    verified again). False after any change to what was signed or a removed approver. Call it
    in the unit of work that moves the payout to ``sending``, then
    ``consume_payout_approvals``."""
    view = get_payout(session, payout_id)
    if view.status != "approved":
        return False
    if not needs_approval(session, settings, view):
        return True
    valid = approvals.valid_approvals(session, SCOPE, KIND, str(view.id), payout_payload(view))
    return len(valid) >= settings.payouts.required_approvals


def consume_payout_approvals(session: Session, payout_id: int | str) -> int:
    """For the sending run, once the payout has left: its approvals become history (removing
    their approver later no longer voids them nor re-queues the payout)."""
    number = parse_id(payout_id, field="payout")
    return approvals.consume_approvals(session, SCOPE, KIND, str(number))


def _check_open(view: PayoutView, wanted: str) -> None:
    if view.status not in ("requested", "approved"):
        raise InvalidState(
            f"payout {view.id} is {view.status}: it cannot be {wanted}",
            details={"payout": view.id, "status": view.status},
        )


def approve_payout(
    session: Session,
    settings: Settings,
    payout_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    actor: str,
    now: datetime | None = None,
) -> ApprovalOutcome:
    """Sign the payout's content with ``key`` and record it; approve the payout once enough
    approvers' signatures are valid (see the module docstring)."""
    number = parse_id(payout_id, field="payout")
    moment = as_utc(now) or utcnow()
    lock_payout(session, number)  # one approval of a payout at a time: the count is exact
    view = get_payout(session, number)
    _check_open(view, "approved")
    approver = approvals.resolve_signer(session, SCOPE, key, name)
    payload = payout_payload(view)
    recorded = approvals.record_approval(
        session,
        scope=SCOPE,
        subject_kind=KIND,
        subject_id=str(number),
        payload=payload,
        signature=key.sign(payload).hex(),
        approver_name=approver,
        actor=actor,
        requested_by=view.requested_by,
    )
    valid = approvals.valid_approvals(session, SCOPE, KIND, str(number), payload)
    names = tuple(v.approver for v in valid)
    required = settings.payouts.required_approvals
    if view.status == "approved":
        if recorded.replayed and approver in names:  # the same approver again: counts once
            return ApprovalOutcome(view, approver, names, required, True, False)
        why = "did not need approval" if _auto_approved(view) else "is already approved"
        raise InvalidState(
            f"payout {number} {why}",
            details={"payout": number, "status": view.status},
        )
    summary = f"signed by {', '.join(names)} ({len(names)} of {required})"
    if len(names) >= required:  # also on a replay: e.g. re-queued, then its approvals suffice
        approved = mark_approved(session, number, actor=actor, reason=summary, now=moment)
        return ApprovalOutcome(approved, approver, names, required, recorded.replayed, True)
    if recorded.replayed:
        return ApprovalOutcome(view, approver, names, required, True, False)
    record_event(
        session,
        number,
        action="approval",
        from_status="requested",
        to_status="requested",
        actor=actor,
        reason=summary,
        now=moment,
    )
    return ApprovalOutcome(get_payout(session, number), approver, names, required, False, False)


def reject_payout(
    session: Session,
    payout_id: int | str,
    *,
    key: Ed25519PrivateKey,
    name: str | None,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> PayoutView:
    """An approver's signed rejection: the payout is cancelled, its reservation voided (the
    money back in earnings, exactly once) and its pending approvals voided. The requester
    cannot reject (they cancel); a second rejection is INVALID_STATE."""
    number = parse_id(payout_id, field="payout")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"a rejection needs a --reason of at most {MAX_REASON} characters",
            details={"field": "reason"},
        )
    lock_payout(session, number)
    view = get_payout(session, number)
    _check_open(view, "rejected")
    approver = approvals.resolve_signer(session, SCOPE, key, name)
    payload = rejection_payload(view, reason)
    approvals.record_approval(
        session,
        scope=SCOPE,
        subject_kind=REJECTION_KIND,
        subject_id=str(number),
        payload=payload,
        signature=key.sign(payload).hex(),
        approver_name=approver,
        actor=actor,
        requested_by=view.requested_by,
    )
    rejected = mark_rejected(
        session, number, actor=actor, reason=f"{reason} (rejected by {approver})", now=now
    )
    approvals.void_subject_approvals(session, SCOPE, KIND, str(number), reason="payout rejected")
    approvals.consume_approvals(session, SCOPE, REJECTION_KIND, str(number))  # history now
    return rejected


@approvals.on_approver_removed
def requeue_after_removal(
    session: Session, scope: str, name: str, voided: list[tuple[str, str]]
) -> None:
    """An approved, unsent payout whose approvals no longer suffice goes back to
    ``requested`` (registered with ``approvals.on_approver_removed``)."""
    if scope != SCOPE:
        return
    from legato_pay.config import load_settings

    # The hook is not given the application's settings: LEGATO_CONFIG and the environment's
    # (a `--config` file only through LEGATO_CONFIG). Safety does not rest on this: the sending
    # run re-checks with approvals_still_valid under its own settings.
    settings = load_settings()
    for kind, subject in voided:
        if kind != KIND or not subject.isdigit():
            continue
        try:
            lock_payout(session, int(subject))
        except NotFound:
            continue  # an approval of a subject that is not (or no longer) a payout
        view = get_payout(session, subject)
        if view.status == "approved" and not approvals_still_valid(session, settings, view.id):
            mark_unapproved(
                session,
                view.id,
                actor=HOOK_ACTOR,
                reason=f"approver {name} removed: its approvals no longer count",
            )
