"""Escrow's share of the webhook dispatch: deposit payments (``metadata.payment_type:
investment``) confirmed through the same service as ``escrow confirm``, and refund notices
about escrow refunds settled through the escrow refunds. An investment payment naming no
deposit of ours is flagged (stored, never credited)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from legato_pay.errors import LegatoError, NotFound
from legato_pay.escrow.deposits import PAYMENT_TYPE
from legato_pay.escrow.deposits_confirm import (
    PAYMENT_MISMATCH,
    ConfirmResult,
    settle_deposit_payments,
)
from legato_pay.escrow.refunds_events import apply_escrow_refund_notices
from legato_pay.gateways.base import PaymentStatus
from legato_pay.webhooks.events import Outcome

__all__ = ["PAYMENT_TYPE", "apply_escrow_refund_notices", "settle_deposits"]


def settle_deposits(
    session: Session, payments: list[tuple[int, PaymentStatus]]
) -> dict[int, Outcome]:
    """Confirm the deposits a batch's investment payments name; their outcomes by position."""
    outcomes: dict[int, Outcome] = {}
    for provider in sorted({payment.provider for _, payment in payments}):
        group = [(index, payment) for index, payment in payments if payment.provider == provider]
        results = settle_deposit_payments(
            session, [payment for _, payment in group], actor=f"webhook:{provider}"
        )
        for (index, payment), result in zip(group, results, strict=True):
            outcomes[index] = _outcome(payment, result)
    return outcomes


def _outcome(payment: PaymentStatus, result: ConfirmResult | LegatoError) -> Outcome:
    error = result if isinstance(result, LegatoError) else result.error
    if isinstance(error, NotFound):
        return Outcome("flagged", f"investment payment for unknown deposit {payment.reference}")
    if error is not None and (error.code == PAYMENT_MISMATCH or payment.status != "failed"):
        return Outcome("flagged", f"{error.code}: {error.message}")
    if error is not None:
        return Outcome("applied", f"deposit {payment.reference} failed: {error.message}")
    return Outcome("applied", str(result))
