"""Cancelling a stale purchase: one left ``pending`` that nobody is going to pay.

Only a ``pending`` purchase can be cancelled, and only while no payment is confirmed: when the
gateway may hold a payment for it (a provider id, or an attempt whose outcome was unknown) the
gateway is asked first (no transaction held), and a payment it reports as succeeded refuses the
cancel (``INVALID_STATE``: run ``purchases verify`` to credit it). A purchase whose gateway
never opened a payment (no provider id) is cancelled without asking when that gateway is not
configured here. The status change is conditional, so a verify or webhook that lands first wins.

A cancelled purchase is never reopened by a retry under its key; a payment the gateway confirms
for it later is still credited by ``purchases verify`` or the webhook (the reader paid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from legato_pay import gateways
from legato_pay.errors import ConfigError, InvalidState
from legato_pay.ledger.types import utcnow
from legato_pay.readers.purchases.views import PurchaseView, get_purchase
from legato_pay.store.tables import PURCHASES

if TYPE_CHECKING:
    from legato_pay.context import AppContext


@dataclass(frozen=True, slots=True)
class CancelResult:
    purchase: PurchaseView
    #: What the gateway said before the cancel: its payment status, ``none`` (it has no
    #: payment for the purchase) or ``not_asked`` (no payment was ever opened there).
    gateway_status: str

    def as_json(self) -> dict[str, Any]:
        return {
            **self.purchase.as_json(refunds=False),
            "gateway_status": self.gateway_status,
        }


def cancel_purchase(app: AppContext, reference: str) -> CancelResult:
    """Cancel a pending purchase after making sure the gateway holds no payment for it."""
    purchase = app.run(lambda s: get_purchase(s, reference), write=False)
    _check_pending(purchase)
    said = _ask_gateway(app, purchase)
    actor = app.actor
    return CancelResult(app.run(lambda s: _mark_cancelled(s, reference, said, actor)), said)


def _check_pending(purchase: PurchaseView) -> None:
    if purchase.status != "pending":
        raise InvalidState(
            f"purchase {purchase.reference} is {purchase.status}; only a pending purchase "
            "can be cancelled",
            details={"purchase": purchase.reference, "status": purchase.status},
        )


def _ask_gateway(app: AppContext, purchase: PurchaseView) -> str:
    """The gateway's word on the purchase's payment; refuses when it was paid."""
    try:
        client = gateways.get_gateway(app, purchase.gateway)
    except ConfigError:
        if purchase.gateway_payment_id is None and purchase.failure_reason is None:
            return "not_asked"  # the gateway was never reached: nothing to ask
        raise
    payment = gateways.ask_payment(client, purchase.reference, purchase.gateway_payment_id)
    if payment is None:
        return "none"
    if payment.status == "succeeded":
        raise InvalidState(
            f"the {purchase.gateway} gateway reports purchase {purchase.reference} as paid: "
            f"run `purchases verify {purchase.reference}` to credit it instead",
            details={
                "purchase": purchase.reference,
                "gateway": purchase.gateway,
                "gateway_status": payment.raw_status or payment.status,
            },
        )
    return payment.raw_status or payment.status


def _mark_cancelled(session: Session, reference: str, said: str, actor: str) -> PurchaseView:
    """Pending → cancelled, only if still pending (a verify may have credited it meanwhile)."""
    changed = session.execute(
        update(PURCHASES)
        .where(PURCHASES.c.reference == reference, PURCHASES.c.status == "pending")
        .values(
            status="cancelled",
            failure_reason=f"cancelled by {actor} (gateway: {said})"[:2000],
            updated_at=utcnow(),
        )
        .returning(PURCHASES.c.reference)
    ).first()
    purchase = get_purchase(session, reference)
    if changed is None:
        _check_pending(purchase)
    return purchase
