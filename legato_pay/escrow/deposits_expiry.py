"""Expiring deposits nobody paid (``escrow expire-deposits``, for cron).

A deposit stays ``pending`` from the moment it is recorded until its gateway's answer arrives
(``escrow confirm`` or the payment webhook). A checkout the investor abandons would stay pending
for ever, in every report and list. Once a deposit is older than ``escrow.deposit_ttl_hours``
(72 by default) this asks its gateway first, with no transaction held, as ``purchases cancel``
does for purchases:

- the gateway reports the payment succeeded, failed or differed: that answer is applied exactly
  as ``escrow confirm`` applies it (credited once, ``failed`` or ``flagged``) — never expired;
- the gateway holds no payment for it, or the payment is still open there: the deposit becomes
  ``expired`` (in one conditional transaction on the locked row, so a webhook that lands first
  wins);
- the gateway cannot be reached or is not configured here (after a payment was opened there):
  the deposit is left pending and reported ``unknown``; the next run asks again.

A payment the gateway reports later for an expired deposit is not credited by itself: like a
flagged one it needs a person (``escrow confirm`` answers with its status, exit 7), and
``reconcile`` lists the money the gateway holds for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from legato_pay import gateways
from legato_pay.errors import ConfigError, GatewayError
from legato_pay.escrow.deposits import DepositView, deposit_row, deposit_view
from legato_pay.escrow.deposits_confirm import record_outcome, settle_deposit_payment
from legato_pay.gateways.base import PaymentStatus
from legato_pay.ledger.types import utcnow
from legato_pay.store.tables import ESCROW_DEPOSITS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from legato_pay.context import AppContext

#: Deposits handled per call at most (cron comes back for the rest).
MAX_PER_RUN = 1000
EXPIRED_REASON = "no payment within escrow.deposit_ttl_hours"


@dataclass(frozen=True, slots=True)
class ExpiryOutcome:
    """What one stale deposit came to: ``expired``, ``confirmed``, ``failed`` or ``flagged`` (the
    gateway's answer applied), ``unknown`` (left pending), or ``due`` (a dry run)."""

    deposit: int
    reference: str
    gateway: str
    outcome: str
    #: The gateway's payment status, ``none`` (it holds no payment), ``not_asked`` (a dry run,
    #: or no payment was ever opened there) or ``unreachable``.
    gateway_status: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "deposit": self.deposit,
            "reference": self.reference,
            "gateway": self.gateway,
            "outcome": self.outcome,
            "gateway_status": self.gateway_status,
            "created_at": self.created_at.isoformat(),
        }


def expire_stale_deposits(
    app: AppContext,
    *,
    older_than_hours: int | None = None,
    dry_run: bool = False,
    limit: int = MAX_PER_RUN,
    now: datetime | None = None,
) -> list[ExpiryOutcome]:
    """Settle or expire every deposit pending for longer than the TTL, oldest first."""
    moment = now or utcnow()
    hours = app.settings.escrow.deposit_ttl_hours if older_than_hours is None else older_than_hours
    cutoff = moment - timedelta(hours=hours)
    stale = app.run(lambda s: stale_pending_deposits(s, cutoff, limit), write=False)
    if dry_run:
        return [_outcome(view, "due", "not_asked") for view in stale]
    return [_expire_or_settle(app, view, moment) for view in stale]


def stale_pending_deposits(session: Session, cutoff: datetime, limit: int) -> list[DepositView]:
    """Pending deposits recorded before ``cutoff``, oldest first."""
    rows = session.execute(
        select(ESCROW_DEPOSITS)
        .where(ESCROW_DEPOSITS.c.status == "pending", ESCROW_DEPOSITS.c.created_at < cutoff)
        .order_by(ESCROW_DEPOSITS.c.id)
        .limit(limit)
    ).all()
    return [deposit_view(row) for row in rows]


def _expire_or_settle(app: AppContext, view: DepositView, now: datetime) -> ExpiryOutcome:
    said, payment = _ask_gateway(app, view)
    if said == "unreachable":
        return _outcome(view, "unknown", said)
    if payment is not None and payment.status != "pending":
        result = app.run(lambda s: settle_deposit_payment(s, payment, actor=app.actor))
        return _outcome(result.deposit, result.deposit.status, said)
    settled = app.run(lambda s: _mark_expired(s, view.id, app.actor, now))
    return _outcome(settled, settled.status, said)


def _ask_gateway(app: AppContext, view: DepositView) -> tuple[str, PaymentStatus | None]:
    """The gateway's word on the deposit's payment: (its status or ``none``/``not_asked``/
    ``unreachable``, the payment when there is one)."""
    opened = view.provider_payment_id is not None or view.checkout_url is not None
    try:
        client = gateways.get_gateway(app, view.gateway)
    except ConfigError:
        # never reached that gateway: nothing can have been paid there
        return ("unreachable", None) if opened else ("not_asked", None)
    try:
        payment = gateways.ask_payment(client, view.reference, view.provider_payment_id)
    except GatewayError:  # unavailable, or an answer we cannot read: ask again next run
        return "unreachable", None
    return ("none", None) if payment is None else (payment.status, payment)


def _mark_expired(session: Session, deposit_id: int, actor: str, now: datetime) -> DepositView:
    """Expire the deposit if it is still pending (locked), else leave what landed first."""
    view = deposit_view(deposit_row(session, deposit_id, lock=True))
    if view.status != "pending":
        return view
    return record_outcome(
        session,
        view,
        "expired",
        EXPIRED_REASON,
        view.provider_payment_id,
        actor,
        "deposit_expired",
        now=now,
    )


def _outcome(view: DepositView, outcome: str, said: str) -> ExpiryOutcome:
    return ExpiryOutcome(
        deposit=view.id,
        reference=view.reference,
        gateway=view.gateway,
        outcome=outcome,
        gateway_status=said,
        created_at=view.created_at,
    )
