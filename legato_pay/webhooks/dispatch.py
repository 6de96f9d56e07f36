"""What each gateway event does, applied inside the inbox's transaction.

Payment outcomes go through the same purchase service as ``purchases verify``, so a webhook
racing a verify (or a provider retry under a new event id) credits a purchase once. Refund
outcomes complete, release or undo our refunds (``purchases.update_refunds_from_event``). Payout
and transfer events are stored for the payouts work that reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from legato_pay.errors import LegatoError, NotFound
from legato_pay.gateways.base import PaymentStatus
from legato_pay.webhooks.inbox import Outcome, ParsedEvent

Handler = Callable[[Session, ParsedEvent], Outcome]
PaymentReader = Callable[[ParsedEvent], "PaymentStatus | Outcome"]


def _amount(value: Any) -> int:
    """Paystack sometimes sends amounts as strings; amounts are whole minor units."""
    return int(str(value))


def settle_outcome(payment: PaymentStatus, result: Any) -> Outcome:
    """What a settlement (``purchases.settle_payments``' result, or its error) means for the
    inbox: a failed or mismatched payment is recorded on the purchase, the event is done."""
    error = result if isinstance(result, LegatoError) else result.error
    if isinstance(error, NotFound):
        return Outcome("ignored", f"no purchase {payment.reference}")
    if error is not None:
        if payment.status == "failed":
            return Outcome("applied", f"purchase {payment.reference} failed: {error.message}")
        return Outcome("flagged", f"{error.code}: {error.message}")
    return Outcome("applied", str(result))


def stripe_payment_succeeded(event: ParsedEvent) -> PaymentStatus | Outcome:
    intent = event.data["data"]["object"]
    reference = (intent.get("metadata") or {}).get("reference")
    if not reference:
        return Outcome("ignored", "PaymentIntent without a legato reference")
    from legato_pay.money import normalize_currency

    return PaymentStatus(
        provider="stripe",
        reference=reference,
        provider_payment_id=intent.get("id"),
        status="succeeded",
        amount=_amount(intent.get("amount_received") or intent.get("amount")),
        currency=normalize_currency(str(intent.get("currency", ""))),
        raw_status=intent.get("status"),
    )


def stripe_payment_failed(event: ParsedEvent) -> PaymentStatus | Outcome:
    intent = event.data["data"]["object"]
    reference = (intent.get("metadata") or {}).get("reference")
    if not reference:
        return Outcome("ignored", "PaymentIntent without a legato reference")
    error = intent.get("last_payment_error") or {}
    return PaymentStatus(
        provider="stripe",
        reference=reference,
        provider_payment_id=intent.get("id"),
        status="failed",
        amount=_amount(intent.get("amount") or 0),
        currency=str(intent.get("currency", "")).upper(),
        failure_reason=error.get("decline_code") or error.get("code") or "payment_failed",
        raw_status=intent.get("status"),
    )


def paystack_charge_success(event: ParsedEvent) -> PaymentStatus | Outcome:
    data = event.data["data"]
    from legato_pay.gateways.paystack.gateway import project_reference
    from legato_pay.money import normalize_currency

    reference = project_reference(data)
    if not reference:
        return Outcome("ignored", "charge without a reference")
    return PaymentStatus(
        provider="paystack",
        reference=reference,
        provider_payment_id=str(data.get("id")) if data.get("id") is not None else None,
        status="succeeded" if data.get("status") == "success" else "pending",
        amount=_amount(data.get("amount", 0)),
        currency=normalize_currency(str(data.get("currency", "NGN"))),
        raw_status=data.get("status"),
    )


def refund_update(session: Session, event: ParsedEvent) -> Outcome:
    """Paystack ``refund.*`` and Stripe refund outcomes update our refunds: ``flagged`` if any
    refund in the event needs a person, ``applied`` if one of ours was found, else ``ignored``."""
    from legato_pay.readers import purchases

    results = purchases.update_refunds_from_event(session, event.provider, event.data)
    if not results:
        return Outcome("ignored", f"{event.type} names no refund")
    outcomes = {result.outcome for result in results}
    status = next(s for s in ("flagged", "applied", "ignored") if s in outcomes)
    return Outcome(status, "; ".join(result.message for result in results))


def stored(_: Session, event: ParsedEvent) -> Outcome:
    return Outcome("stored", f"{event.type} kept for the payouts work")


PAYMENT_EVENTS: dict[tuple[str, str], PaymentReader] = {
    ("stripe", "payment_intent.succeeded"): stripe_payment_succeeded,
    ("stripe", "payment_intent.payment_failed"): stripe_payment_failed,
    ("paystack", "charge.success"): paystack_charge_success,
}

HANDLERS: dict[tuple[str, str], Handler] = {
    ("stripe", "charge.refunded"): refund_update,
    ("stripe", "refund.created"): refund_update,
    ("stripe", "refund.updated"): refund_update,
    ("stripe", "refund.failed"): refund_update,
}


def handle(session: Session, event: ParsedEvent) -> Outcome:
    return handle_many(session, [event])[0]


def handle_many(session: Session, events: Sequence[ParsedEvent]) -> list[Outcome]:
    """Apply events in order; every payment outcome among them is settled in one
    ``purchases.settle_payments`` call (a few statements for the whole batch)."""
    from legato_pay.readers import purchases

    outcomes: list[Outcome | None] = [None] * len(events)
    payments: list[tuple[int, PaymentStatus]] = []
    for index, event in enumerate(events):
        reader = PAYMENT_EVENTS.get((event.provider, event.type))
        if reader is None:
            outcomes[index] = _handle_other(session, event)
            continue
        read = reader(event)
        if isinstance(read, Outcome):
            outcomes[index] = read
        else:
            payments.append((index, read))
    for provider in sorted({payment.provider for _, payment in payments}):
        group = [(index, payment) for index, payment in payments if payment.provider == provider]
        results = purchases.settle_payments(
            session, [payment for _, payment in group], actor=f"webhook:{provider}"
        )
        for (index, payment), result in zip(group, results, strict=True):
            outcomes[index] = settle_outcome(payment, result)
    return outcomes  # type: ignore[return-value]


def _handle_other(session: Session, event: ParsedEvent) -> Outcome:
    handler = HANDLERS.get((event.provider, event.type))
    if handler is not None:
        return handler(session, event)
    if event.type.startswith(("transfer.", "payout.")):
        return stored(session, event)
    if event.provider == "paystack" and event.type.startswith("refund."):
        return refund_update(session, event)
    return Outcome("ignored", f"no handler for {event.type}")
