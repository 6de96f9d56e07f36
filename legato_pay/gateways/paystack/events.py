"""Paystack webhook bodies read into the project's own event types.

Paystack events carry no id, so the inbox key is built from the payload (see
``parse_event``). ``charge.success`` becomes a ``PaymentStatus`` under our own reference (read
from ``metadata.reference``: Paystack's reference is ours made conformant), ``refund.*`` one
``RefundNotice``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from legato_pay.errors import InvalidInput
from legato_pay.gateways.base import (
    NotOurs,
    ParsedEvent,
    PaymentStatus,
    RefundNotice,
    mapping,
    optional_token,
    refund_notice,
    token,
    whole_units,
)
from legato_pay.gateways.paystack.references import project_reference
from legato_pay.money import normalize_currency

PROVIDER = "paystack"
PAYMENT_EVENT_TYPES = ("charge.success",)
REFUND_EVENT_PREFIX = "refund."
#: The inbox's ``event_key`` column holds 300 characters.
MAX_KEY_LENGTH = 300

#: What a Paystack refund status means for our refund row.
REFUND_NOTICE_STATUS = {
    "processed": "succeeded",
    "failed": "failed",
    "pending": "pending",
    "processing": "pending",
    "needs-attention": "attention",
}


def parse_event(body: dict[str, Any]) -> ParsedEvent:
    """The key is the event name, the object's id or reference, and its status, so a retry of
    the same notification dedups and a new state does not. A ``refund.*`` event is keyed by the
    refund itself: Paystack's refund payloads may carry no ``id``, and two partial refunds of
    one transaction share its ``transaction_reference``, so the key also holds the refund's
    ``refund_reference`` and amount. Fields of the wrong shape are VALIDATION_ERROR (the inbox
    stores the body as a flagged, malformed event)."""
    event_type = token(body.get("event"), "event", limit=100)
    data = mapping(body.get("data"), "data")
    object_id = optional_token(data.get("id"), "data.id")
    reference = optional_token(data.get("reference"), "data.reference") or optional_token(
        data.get("transfer_code"), "data.transfer_code"
    )
    status = optional_token(data.get("status"), "data.status", limit=50) or ""
    if event_type.startswith(REFUND_EVENT_PREFIX):
        transaction = optional_token(data.get("transaction_reference"), "transaction_reference")
        refund_reference = optional_token(data.get("refund_reference"), "refund_reference")
        amount = optional_token(data.get("amount"), "data.amount", limit=30)
        if object_id is None and transaction is None and refund_reference is None:
            raise InvalidInput("a Paystack refund event needs an id or a transaction reference")
        parts = [event_type, object_id, transaction, refund_reference, amount, status]
        object_ref = transaction or refund_reference or object_id
    else:
        object_ref = (
            reference
            or object_id
            or optional_token(data.get("transaction_reference"), "transaction_reference")
        )
        if object_ref is None:
            raise InvalidInput("a Paystack event's data needs an id or reference")
        parts = [event_type, object_id or object_ref, status]
    key = ":".join(part or "" for part in parts)
    if len(key) > MAX_KEY_LENGTH:  # long parts: keep the key unique and within its column
        key = f"{event_type}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return ParsedEvent(PROVIDER, key, event_type, object_ref, body)


def payment_status(event: ParsedEvent) -> PaymentStatus | NotOurs | None:
    """A ``charge.success`` in the project's terms; None for any other event type. The
    payment is named by Paystack's transaction id and, as an alias, its transaction reference
    (the purchase recorded the reference when the checkout was opened)."""
    if event.type not in PAYMENT_EVENT_TYPES:
        return None
    data = mapping(event.data.get("data"), "data")
    reference = optional_token(project_reference(data), "metadata.reference")
    if not reference:
        return NotOurs("charge without a reference")
    currency = data.get("currency")
    if not isinstance(currency, str):
        raise InvalidInput("the charge's currency is not a string")
    paystack_reference = optional_token(data.get("reference"), "data.reference")
    raw_status = optional_token(data.get("status"), "data.status", limit=50)
    return PaymentStatus(
        provider=PROVIDER,
        reference=reference,
        provider_payment_id=optional_token(data.get("id"), "data.id"),
        status="succeeded" if raw_status == "success" else "pending",
        amount=whole_units(data.get("amount")),
        currency=normalize_currency(currency),
        raw_status=raw_status,
        aliases=(paystack_reference,) if paystack_reference else (),
    )


def is_refund_event(event: ParsedEvent) -> bool:
    return event.type.startswith(REFUND_EVENT_PREFIX)


def refund_notices(body: dict[str, Any]) -> list[RefundNotice]:
    """The one refund a ``refund.*`` body speaks of; its status falls back to the event name."""
    data = mapping(body.get("data"), "data")
    event_type = token(body.get("event"), "event", limit=100)
    raw = optional_token(data.get("status"), "data.status", limit=50) or event_type.removeprefix(
        REFUND_EVENT_PREFIX
    )
    return [
        refund_notice(
            PROVIDER,
            REFUND_NOTICE_STATUS,
            refund_id=optional_token(data.get("id"), "data.id"),
            raw_status=raw,
            amount=data.get("amount"),
            hint=optional_token(data.get("transaction_reference"), "transaction_reference"),
        )
    ]
