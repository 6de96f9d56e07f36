"""What each gateway event does, applied inside the inbox's transaction.

Payment outcomes go through the same purchase service as ``purchases verify``, so a webhook
racing a verify (or a provider retry under a new event id) credits a purchase once. Payout and
transfer events are stored for the payouts work that reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from legato_pay.errors import LegatoError, NotFound
from legato_pay.gateways.base import PaymentStatus
from legato_pay.webhooks.inbox import Outcome, ParsedEvent

Handler = Callable[[Session, ParsedEvent], Outcome]


def _amount(value: Any) -> int:
    """Paystack sometimes sends amounts as strings; amounts are whole minor units."""
    return int(str(value))


def _settle(session: Session, status: PaymentStatus) -> Outcome:
    from legato_pay import purchases

    try:
        result = purchases.apply_payment_status(session, status)
    except NotFound:
        return Outcome("ignored", f"no purchase {status.reference}")
    except LegatoError as error:  # recorded on the purchase (failed, or flagged for a person)
        if status.status == "failed":
            return Outcome("applied", f"purchase {status.reference} failed: {error.message}")
        return Outcome("flagged", f"{error.code}: {error.message}")
    return Outcome("applied", str(result))


def stripe_payment_succeeded(session: Session, event: ParsedEvent) -> Outcome:
    intent = event.data["data"]["object"]
    reference = (intent.get("metadata") or {}).get("reference")
    if not reference:
        return Outcome("ignored", "PaymentIntent without a legato reference")
    from legato_pay.money import normalize_currency

    status = PaymentStatus(
        provider="stripe",
        reference=reference,
        provider_payment_id=intent.get("id"),
        status="succeeded",
        amount=_amount(intent.get("amount_received") or intent.get("amount")),
        currency=normalize_currency(str(intent.get("currency", ""))),
        raw_status=intent.get("status"),
    )
    return _settle(session, status)


def stripe_payment_failed(session: Session, event: ParsedEvent) -> Outcome:
    intent = event.data["data"]["object"]
    reference = (intent.get("metadata") or {}).get("reference")
    if not reference:
        return Outcome("ignored", "PaymentIntent without a legato reference")
    error = intent.get("last_payment_error") or {}
    status = PaymentStatus(
        provider="stripe",
        reference=reference,
        provider_payment_id=intent.get("id"),
        status="failed",
        amount=_amount(intent.get("amount") or 0),
        currency=str(intent.get("currency", "")).upper(),
        failure_reason=error.get("decline_code") or error.get("code") or "payment_failed",
        raw_status=intent.get("status"),
    )
    return _settle(session, status)


def paystack_charge_success(session: Session, event: ParsedEvent) -> Outcome:
    data = event.data["data"]
    from legato_pay.gateways.paystack import project_reference
    from legato_pay.money import normalize_currency

    reference = project_reference(data)
    if not reference:
        return Outcome("ignored", "charge without a reference")
    status = PaymentStatus(
        provider="paystack",
        reference=reference,
        provider_payment_id=str(data.get("id")) if data.get("id") is not None else None,
        status="succeeded" if data.get("status") == "success" else "pending",
        amount=_amount(data.get("amount", 0)),
        currency=normalize_currency(str(data.get("currency", "NGN"))),
        raw_status=data.get("status"),
    )
    return _settle(session, status)


def refund_update(session: Session, event: ParsedEvent) -> Outcome:
    from legato_pay import purchases

    update = getattr(purchases, "apply_refund_event", None)
    if update is None:
        return Outcome("stored", "refund outcome kept for reconciliation")
    return Outcome("applied", str(update(session, event.provider, event.data)))


def stored(_: Session, event: ParsedEvent) -> Outcome:
    return Outcome("stored", f"{event.type} kept for the payouts work")


HANDLERS: dict[tuple[str, str], Handler] = {
    ("stripe", "payment_intent.succeeded"): stripe_payment_succeeded,
    ("stripe", "payment_intent.payment_failed"): stripe_payment_failed,
    ("stripe", "charge.refunded"): refund_update,
    ("stripe", "refund.created"): refund_update,
    ("stripe", "refund.updated"): refund_update,
    ("stripe", "refund.failed"): refund_update,
    ("paystack", "charge.success"): paystack_charge_success,
}


def handle(session: Session, event: ParsedEvent) -> Outcome:
    handler = HANDLERS.get((event.provider, event.type))
    if handler is not None:
        return handler(session, event)
    if event.type.startswith(("transfer.", "payout.")):
        return stored(session, event)
    if event.provider == "paystack" and event.type.startswith("refund."):
        return refund_update(session, event)
    return Outcome("ignored", f"no handler for {event.type}")
