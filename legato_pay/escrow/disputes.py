"""Disputes (``features.enable_dispute_resolution``; off: FEATURE_DISABLED, exit 14).

``open_dispute`` freezes one confirmed deposit: its releases and refunds answer
DEPOSIT_IN_DISPUTE (exit 6) and change nothing, its held releases cannot be approved.
Resolving takes the same approvals as a release above the threshold, in two steps:

1. ``request_resolution`` (``escrow dispute resolve D --release|--refund|--split P/Q``)
   records the wanted outcome: the dispute becomes ``resolving`` (still freezing).
2. ``approve_resolution`` (``escrow approve dispute:<D> --key-file F``): each approver of
   ``app:<A>`` signs the resolution's payload — dispute id, deposit, outcome, the split in
   basis points, the exact amounts each side gets (from what is available now), currency,
   source escrow account, the app's funds account, the investor, the requester, the reason.
   When ``escrow.required_approvers`` fresh, valid approvals are in, it posts: release → all
   that is available to the app's funds (a ``posted`` release row pointing at the dispute),
   refund → all of it back to the investor, split P/Q → P % to the app and Q % to the investor,
   exactly (largest remainder). The dispute is ``resolved``. The release part posts in the
   resolving transaction; the refund part is reserved there too (``refunds.reserve_refund``
   with the dispute's id: a pending entry, committed with the resolution) and then sent to the
   deposit's gateway (``disputes_approvals.approve_dispute``), settled by its outcome like any
   refund (``escrow refund-status`` or the refund webhook; a declined one is back in escrow).
   ``reject_resolution`` (``escrow reject dispute:<D>``) sends it back to ``open``.

The requester of the resolution never approves it; what is available changing before the
last approval (a held release rejected or expired) changes the payload, so earlier approvals
no longer count: sign again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import (
    DepositInDispute,
    FeatureDisabled,
    InvalidInput,
    InvalidState,
    NotFound,
    UsageError,
)
from legato_pay.escrow.balances import lock_deposit, parse_deposit_id, require_confirmed
from legato_pay.escrow.disputes_guard import open_dispute_of
from legato_pay.escrow.milestones import FULL_BP, format_bp
from legato_pay.escrow.signing import check_reason
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.payouts.methods import parse_id
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import ESCROW_DEPOSITS, ESCROW_DISPUTES

OUTCOMES = ("release", "refund", "split")
#: P/Q: two plain percentages (digits, at most two decimals; no sign or exponent).
_SPLIT = re.compile(r"([0-9]{1,3}(?:\.[0-9]{1,2})?)\s*/\s*([0-9]{1,3}(?:\.[0-9]{1,2})?)", re.ASCII)
STATUSES = ("open", "resolving", "resolved")


@dataclass(frozen=True, slots=True)
class DisputeView:
    id: int
    deposit: int
    app: str
    investor: str
    currency: str
    status: str
    reason: str
    outcome: str | None
    release_bp: int | None
    resolution_reason: str | None
    opened_by: str
    resolution_requested_by: str | None
    created_at: datetime
    resolved_at: datetime | None
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deposit": self.deposit,
            "app": self.app,
            "investor": self.investor,
            "currency": self.currency,
            "status": self.status,
            "reason": self.reason,
            "outcome": self.outcome,
            "release_percent": format_bp(self.release_bp) if self.release_bp is not None else None,
            "refund_percent": (
                format_bp(FULL_BP - self.release_bp) if self.release_bp is not None else None
            ),
            "resolution_reason": self.resolution_reason,
            "opened_by": self.opened_by,
            "resolution_requested_by": self.resolution_requested_by,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "replayed": self.replayed,
        }


def require_feature(settings: Settings) -> None:
    if not settings.features.enable_dispute_resolution:
        raise FeatureDisabled(
            "dispute resolution is turned off (features.enable_dispute_resolution, "
            "LEGATO_ENABLE_DISPUTE_RESOLUTION)",
            details={"flag": "enable_dispute_resolution"},
        )


def _select() -> Any:
    return select(
        ESCROW_DISPUTES,
        ESCROW_DEPOSITS.c.app_id,
        ESCROW_DEPOSITS.c.investor_id,
        ESCROW_DEPOSITS.c.currency,
        ESCROW_DEPOSITS.c.gateway,
    ).join(ESCROW_DEPOSITS, ESCROW_DEPOSITS.c.id == ESCROW_DISPUTES.c.deposit_id)


def _view(row: Any, *, replayed: bool = False) -> DisputeView:
    return DisputeView(
        id=row.id,
        deposit=row.deposit_id,
        app=row.app_id,
        investor=row.investor_id,
        currency=row.currency,
        status=row.status,
        reason=row.reason,
        outcome=row.outcome,
        release_bp=row.release_bp,
        resolution_reason=row.resolution_reason,
        opened_by=row.opened_by,
        # resolved_by holds who asked for the resolution (its approvers are in the approvals)
        resolution_requested_by=row.resolved_by,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        resolved_at=as_utc(row.resolved_at),
        replayed=replayed,
    )


def get_dispute(session: Session, dispute_id: int | str) -> DisputeView:
    number = parse_id(dispute_id, field="dispute")
    row = session.execute(_select().where(ESCROW_DISPUTES.c.id == number)).first()
    if row is None:
        raise NotFound(
            f"no escrow dispute {number}", details={"dispute": number}, code="DISPUTE_NOT_FOUND"
        )
    return _view(row)


def lock_dispute(session: Session, dispute_id: int | str) -> DisputeView:
    """Lock the dispute's deposit, then the dispute (escrow's lock order)."""
    view = get_dispute(session, dispute_id)
    lock_deposit(session, view.deposit)
    session.execute(
        for_update(select(ESCROW_DISPUTES.c.id).where(ESCROW_DISPUTES.c.id == view.id), session)
    )
    return get_dispute(session, view.id)


def parse_split(split: str) -> int:
    """``"P/Q"`` (percentages, at most two decimals each, P + Q = 100): P in basis points."""
    match = _SPLIT.fullmatch(split.strip()) if isinstance(split, str) else None
    numbers = [Decimal(part) for part in match.groups()] if match else []
    if len(numbers) != 2 or sum(numbers) != 100:
        raise InvalidInput(
            "--split is P/Q: the app's and the investor's percentages, adding up to 100 "
            "(e.g. 60/40)",
            details={"split": str(split)[:40]},
        )
    return int(numbers[0].scaleb(2))


def open_dispute(
    session: Session,
    settings: Settings,
    *,
    deposit: int | str,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> DisputeView:
    """Open a dispute on a confirmed deposit, freezing it (DEPOSIT_IN_DISPUTE if one is
    already open)."""
    require_feature(settings)
    check_reason(reason)
    row = lock_deposit(session, parse_deposit_id(deposit))
    require_confirmed(row, "disputed")
    current = open_dispute_of(session, row.id)
    if current is not None:
        raise DepositInDispute(
            f"escrow deposit {row.id} is already in dispute (dispute {current.id})",
            details={"deposit": row.id, "dispute": current.id, "status": current.status},
        )
    moment = as_utc(now) or utcnow()
    dispute_id = session.execute(
        insert(ESCROW_DISPUTES)
        .values(deposit_id=row.id, status="open", reason=reason, opened_by=actor, created_at=moment)
        .returning(ESCROW_DISPUTES.c.id)
    ).scalar_one()
    record_escrow_event(
        session,
        row.id,
        "dispute_opened",
        actor,
        subject=f"dispute:{dispute_id}",
        details={"reason": reason},
        now=moment,
    )
    return get_dispute(session, dispute_id)


def request_resolution(
    session: Session,
    settings: Settings,
    dispute_id: int | str,
    *,
    release: bool = False,
    refund: bool = False,
    split: str | None = None,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> DisputeView:
    """Record the outcome wanted (``resolving``); approvals then post it. The same request
    again is a replay; another while resolving (or once resolved) is INVALID_STATE."""
    require_feature(settings)
    if [release, refund, split is not None].count(True) != 1:
        raise UsageError("pass exactly one of --release, --refund or --split P/Q", details={})
    release_bp = FULL_BP if release else 0 if refund else parse_split(split or "")
    outcome = "release" if release else "refund" if refund else "split"
    check_reason(reason)
    view = lock_dispute(session, dispute_id)
    if view.status == "resolving" and (view.outcome, view.release_bp, view.resolution_reason) == (
        outcome,
        release_bp,
        reason,
    ):
        return _view(
            session.execute(_select().where(ESCROW_DISPUTES.c.id == view.id)).one(), replayed=True
        )
    if view.status != "open":
        raise InvalidState(
            f"dispute {view.id} is {view.status}: "
            + (
                "reject the resolution asked for first"
                if view.status == "resolving"
                else "it is closed"
            ),
            details={"dispute": view.id, "status": view.status},
        )
    moment = as_utc(now) or utcnow()
    session.execute(
        update(ESCROW_DISPUTES)
        .where(ESCROW_DISPUTES.c.id == view.id)
        .values(
            status="resolving",
            outcome=outcome,
            release_bp=release_bp,
            resolution_reason=reason,
            resolved_by=actor,
        )
    )
    record_escrow_event(
        session,
        view.deposit,
        "dispute_resolving",
        actor,
        subject=f"dispute:{view.id}",
        details={"outcome": outcome, "release_percent": format_bp(release_bp), "reason": reason},
        now=moment,
    )
    return get_dispute(session, view.id)


def disputes_of(session: Session, deposit_id: int) -> list[DisputeView]:
    rows = session.execute(
        _select().where(ESCROW_DISPUTES.c.deposit_id == deposit_id).order_by(ESCROW_DISPUTES.c.id)
    )
    return [_view(row) for row in rows]
