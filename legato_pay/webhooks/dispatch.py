"""What each gateway event does, applied inside the inbox's transaction.

Payments of escrow deposits (``metadata.payment_type: investment``) and refunds of them go to
the escrow services (``escrow_routes``); other payment outcomes go through the same purchase
service as ``purchases verify``, so a webhook
racing a verify (or a provider retry under a new event id) credits a purchase once. Refund
outcomes complete, release or undo our refunds (``purchases.update_refunds_from_event``).
Transfer outcomes settle payouts (``payouts.sending_events``); other payout events are
stored. The gateways read the provider's payload (``gateways.events``); this module only
decides what the result means.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, LegatoError, NotFound
from legato_pay.gateways.base import PaymentStatus
from legato_pay.gateways.events import (
    NotOurs,
    is_refund_event,
    payment_status,
    payment_type,
    refund_notices,
)
from legato_pay.readers import purchases
from legato_pay.readers.purchases.refund_events import apply_refund_notices
from legato_pay.readers.purchases.settle import OTHER_PAYMENT
from legato_pay.webhooks import escrow_routes
from legato_pay.webhooks.events import Outcome, ParsedEvent

#: Event types kept as they are for the payouts work.
STORED_PREFIXES = ("transfer.", "payout.")


def settle_outcome(payment: PaymentStatus, result: purchases.SettleResult | LegatoError) -> Outcome:
    """What a settlement (``purchases.settle_payments``' result, or its error) means for the
    inbox: a failed or mismatched payment is recorded on the purchase, the event is done."""
    error = result if isinstance(result, LegatoError) else result.error
    if isinstance(error, NotFound):
        return Outcome("ignored", f"no purchase {payment.reference}")
    if error is not None and error.code == OTHER_PAYMENT:
        return Outcome("flagged", f"{error.code}: {error.message}")
    if error is not None:
        if payment.status == "failed":
            return Outcome("applied", f"purchase {payment.reference} failed: {error.message}")
        return Outcome("flagged", f"{error.code}: {error.message}")
    return Outcome("applied", str(result))


def refund_update(session: Session, event: ParsedEvent) -> Outcome:
    """Paystack ``refund.*`` and Stripe refund outcomes update our refunds: ``flagged`` if any
    refund in the event needs a person (or the event cannot be read), ``applied`` if one of
    ours was found, else ``ignored``."""
    try:
        notices = refund_notices(event.provider, event.data)
    except InvalidInput as error:
        return _unreadable(event, error)
    escrow_results, notices = escrow_routes.apply_escrow_refund_notices(
        session, event.provider, notices
    )
    results = [(result.outcome, result.message) for result in escrow_results]
    results += [
        (result.outcome, result.message)
        for result in apply_refund_notices(session, event.provider, notices)
    ]
    if not results:
        return Outcome("ignored", f"{event.type} names no refund")
    outcomes = {outcome for outcome, _ in results}
    status = next(s for s in ("flagged", "applied", "ignored") if s in outcomes)
    return Outcome(status, "; ".join(message for _, message in results))


def handle(session: Session, event: ParsedEvent) -> Outcome:
    return handle_many(session, [event])[0]


def handle_many(session: Session, events: Sequence[ParsedEvent]) -> list[Outcome]:
    """Apply events in order; every payment outcome among them is settled in one
    ``purchases.settle_payments`` call per provider (a few statements for the whole batch)."""
    outcomes: dict[int, Outcome] = {}
    payments: list[tuple[int, PaymentStatus]] = []
    deposits: list[tuple[int, PaymentStatus]] = []  # escrow deposits (payment_type investment)
    for index, event in enumerate(events):
        if event.problem is not None:
            outcomes[index] = Outcome(
                "flagged", f"malformed {event.provider} event: {event.problem}"
            )
            continue
        try:
            read = payment_status(event)
        except InvalidInput as error:
            outcomes[index] = _unreadable(event, error)
            continue
        if read is None:
            outcomes[index] = _handle_other(session, event)
        elif isinstance(read, NotOurs):
            outcomes[index] = Outcome("ignored", read.reason)
        elif payment_type(event) == escrow_routes.PAYMENT_TYPE:
            deposits.append((index, read))
        else:
            payments.append((index, read))
    outcomes.update(_settle(session, payments))
    outcomes.update(escrow_routes.settle_deposits(session, deposits))
    return [outcomes[index] for index in range(len(events))]


def _settle(session: Session, payments: list[tuple[int, PaymentStatus]]) -> dict[int, Outcome]:
    """Settle the payments of a batch, one call per provider; their outcomes by position."""
    outcomes: dict[int, Outcome] = {}
    for provider in sorted({payment.provider for _, payment in payments}):
        group = [(index, payment) for index, payment in payments if payment.provider == provider]
        results = purchases.settle_payments(
            session, [payment for _, payment in group], actor=f"webhook:{provider}"
        )
        for (index, payment), result in zip(group, results, strict=True):
            outcomes[index] = settle_outcome(payment, result)
    return outcomes


def _unreadable(event: ParsedEvent, error: InvalidInput) -> Outcome:
    """A signed event whose fields are not what the provider sends (an amount in other
    digits, an unknown currency, an object where an id belongs): a person looks at it."""
    return Outcome("flagged", f"{event.type} cannot be read: {error.code}: {error.message}")


def _handle_other(session: Session, event: ParsedEvent) -> Outcome:
    if is_refund_event(event):
        return refund_update(session, event)
    from legato_pay.payouts import sending_events

    if sending_events.is_transfer_event(event):
        return sending_events.apply_transfer_event(session, event)
    if event.type.startswith(STORED_PREFIXES):
        return Outcome("stored", f"{event.type} kept for the payouts work")
    return Outcome("ignored", f"no handler for {event.type}")
