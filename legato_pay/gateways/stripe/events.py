"""Stripe webhook bodies read into the project's own event types.

The listener has checked the signature; this module only reads: the event envelope (Stripe's
event id is the inbox key), PaymentIntent outcomes as ``PaymentStatus``, and refund outcomes
(``refund.*`` carries one refund, ``charge.refunded`` each refund of the charge) as
``RefundNotice``. A PaymentIntent without our ``metadata.reference`` is ``NotOurs``.
"""

from __future__ import annotations

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
from legato_pay.money import normalize_currency

PROVIDER = "stripe"
PAYMENT_EVENT_TYPES = ("payment_intent.succeeded", "payment_intent.payment_failed")
REFUND_EVENT_TYPES = ("charge.refunded", "refund.created", "refund.updated", "refund.failed")

#: What a Stripe refund status means for our refund row.
REFUND_NOTICE_STATUS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
    "pending": "pending",
    "requires_action": "pending",
}


def parse_event(body: dict[str, Any]) -> ParsedEvent:
    """The envelope: Stripe's event id and type, and the id of the object it is about. Every
    Stripe event has ``data.object``; an envelope without one (or with fields of the wrong
    shape) is VALIDATION_ERROR, which the inbox stores as a flagged, malformed event."""
    event_id = token(body.get("id"), "id", limit=255)
    event_type = token(body.get("type"), "type", limit=100)
    obj = _object(body)
    object_ref = optional_token(obj.get("id"), "data.object.id")
    return ParsedEvent(PROVIDER, event_id, event_type, object_ref, body)


def _object(body: dict[str, Any]) -> dict[str, Any]:
    return mapping(mapping(body.get("data"), "data").get("object"), "data.object")


def payment_status(event: ParsedEvent) -> PaymentStatus | NotOurs | None:
    """A PaymentIntent outcome in the project's terms; None for any other event type.
    VALIDATION_ERROR (flagged by the inbox) for a reference, id, amount or currency that is
    not what Stripe sends."""
    if event.type not in PAYMENT_EVENT_TYPES:
        return None
    intent = _object(event.data)
    reference = optional_token(
        mapping(intent.get("metadata"), "metadata", required=False).get("reference"),
        "metadata.reference",
    )
    if not reference:
        return NotOurs("PaymentIntent without a legato reference")
    intent_id = token(intent.get("id"), "data.object.id")
    raw_status = optional_token(intent.get("status"), "data.object.status", limit=50)
    currency = normalize_currency(_text(intent.get("currency"), "currency"))
    if event.type == "payment_intent.succeeded":
        received = intent.get("amount_received")
        return PaymentStatus(
            provider=PROVIDER,
            reference=reference,
            provider_payment_id=intent_id,
            status="succeeded",
            amount=whole_units(intent.get("amount") if received in (None, 0) else received),
            currency=currency,
            raw_status=raw_status,
        )
    error = mapping(intent.get("last_payment_error"), "last_payment_error", required=False)
    reason = error.get("decline_code") or error.get("code") or "payment_failed"
    return PaymentStatus(
        provider=PROVIDER,
        reference=reference,
        provider_payment_id=intent_id,
        status="failed",
        amount=whole_units(intent.get("amount") or 0),
        currency=currency,
        failure_reason=token(reason, "decline_code", limit=100),
        raw_status=raw_status,
    )


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"the event's {field} is not a string", details={"field": field})
    return value


def is_refund_event(event: ParsedEvent) -> bool:
    return event.type in REFUND_EVENT_TYPES


def refund_notices(body: dict[str, Any]) -> list[RefundNotice]:
    """The refunds a body speaks of: one for ``refund.*``, each refund of a charge otherwise."""
    obj = _object(body)
    if body.get("type") == "charge.refunded" or obj.get("object") == "charge":
        listed = mapping(obj.get("refunds"), "refunds", required=False).get("data") or []
        if not isinstance(listed, list):
            raise InvalidInput("the charge's refunds.data is not a list")
        refunds = [mapping(refund, "refunds.data[]") for refund in listed]
    else:
        refunds = [obj]
    default = "failed" if body.get("type") == "refund.failed" else ""
    return [
        refund_notice(
            PROVIDER,
            REFUND_NOTICE_STATUS,
            refund_id=optional_token(refund.get("id"), "refund id"),
            raw_status=optional_token(refund.get("status"), "refund status", limit=50) or default,
            amount=refund.get("amount"),
            hint=optional_token(
                mapping(refund.get("metadata"), "metadata", required=False).get("reference"),
                "metadata.reference",
            ),
        )
        for refund in refunds
    ]
