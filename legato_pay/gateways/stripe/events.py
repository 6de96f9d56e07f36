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
    refund_notice,
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
    """The envelope: Stripe's event id and type, and the id of the object it is about."""
    event_id = body.get("id")
    event_type = body.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise InvalidInput("a Stripe event needs string id and type")
    return ParsedEvent(PROVIDER, event_id, event_type, _object(body).get("id"), body)


def _object(body: dict[str, Any]) -> dict[str, Any]:
    obj = (body.get("data") or {}).get("object") or {}
    return obj if isinstance(obj, dict) else {}


def payment_status(event: ParsedEvent) -> PaymentStatus | NotOurs | None:
    """A PaymentIntent outcome in the project's terms; None for any other event type."""
    if event.type not in PAYMENT_EVENT_TYPES:
        return None
    intent = event.data["data"]["object"]
    reference = (intent.get("metadata") or {}).get("reference")
    if not reference:
        return NotOurs("PaymentIntent without a legato reference")
    if event.type == "payment_intent.succeeded":
        return PaymentStatus(
            provider=PROVIDER,
            reference=reference,
            provider_payment_id=intent.get("id"),
            status="succeeded",
            amount=whole_units(intent.get("amount_received") or intent.get("amount")),
            currency=normalize_currency(str(intent.get("currency", ""))),
            raw_status=intent.get("status"),
        )
    error = intent.get("last_payment_error") or {}
    return PaymentStatus(
        provider=PROVIDER,
        reference=reference,
        provider_payment_id=intent.get("id"),
        status="failed",
        amount=whole_units(intent.get("amount") or 0),
        currency=str(intent.get("currency", "")).upper(),
        failure_reason=error.get("decline_code") or error.get("code") or "payment_failed",
        raw_status=intent.get("status"),
    )


def is_refund_event(event: ParsedEvent) -> bool:
    return event.type in REFUND_EVENT_TYPES


def refund_notices(body: dict[str, Any]) -> list[RefundNotice]:
    """The refunds a body speaks of: one for ``refund.*``, each refund of a charge otherwise."""
    obj = _object(body)
    if body.get("type") == "charge.refunded" or obj.get("object") == "charge":
        refunds = (obj.get("refunds") or {}).get("data") or []
    else:
        refunds = [obj]
    default = "failed" if body.get("type") == "refund.failed" else ""
    return [
        refund_notice(
            PROVIDER,
            REFUND_NOTICE_STATUS,
            refund_id=refund.get("id"),
            raw_status=str(refund.get("status") or default),
            amount=refund.get("amount"),
            hint=(refund.get("metadata") or {}).get("reference"),
        )
        for refund in refunds
    ]
