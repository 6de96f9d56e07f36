"""Paystack webhook bodies read into the project's own event types.

Paystack events carry no id, so the inbox key is built from the payload (see
``parse_event``). ``charge.success`` becomes a ``PaymentStatus`` under our own reference (read
from ``metadata.reference``: Paystack's reference is ours made conformant), ``refund.*`` one
``RefundNotice``.
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
from legato_pay.gateways.paystack.references import project_reference
from legato_pay.money import normalize_currency

PROVIDER = "paystack"
PAYMENT_EVENT_TYPES = ("charge.success",)
REFUND_EVENT_PREFIX = "refund."

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
    the same notification dedups and a new state does not."""
    event_type = body.get("event")
    data = body.get("data")
    if not isinstance(event_type, str) or not isinstance(data, dict):
        raise InvalidInput("a Paystack event needs an event name and a data object")
    reference = data.get("reference") or data.get("transfer_code")
    object_id = data.get("id") or reference or data.get("transaction_reference")
    status = data.get("status", "")
    if object_id is None:
        raise InvalidInput("a Paystack event's data needs an id or reference")
    key = f"{event_type}:{object_id}:{status}"
    return ParsedEvent(PROVIDER, key, event_type, str(reference or object_id), body)


def payment_status(event: ParsedEvent) -> PaymentStatus | NotOurs | None:
    """A ``charge.success`` in the project's terms; None for any other event type."""
    if event.type not in PAYMENT_EVENT_TYPES:
        return None
    data = event.data["data"]
    reference = project_reference(data)
    if not reference:
        return NotOurs("charge without a reference")
    return PaymentStatus(
        provider=PROVIDER,
        reference=reference,
        provider_payment_id=str(data.get("id")) if data.get("id") is not None else None,
        status="succeeded" if data.get("status") == "success" else "pending",
        amount=whole_units(data.get("amount", 0)),
        currency=normalize_currency(str(data.get("currency", "NGN"))),
        raw_status=data.get("status"),
    )


def is_refund_event(event: ParsedEvent) -> bool:
    return event.type.startswith(REFUND_EVENT_PREFIX)


def refund_notices(body: dict[str, Any]) -> list[RefundNotice]:
    """The one refund a ``refund.*`` body speaks of; its status falls back to the event name."""
    data = body.get("data") or {}
    raw = str(data.get("status") or str(body.get("event", "")).removeprefix(REFUND_EVENT_PREFIX))
    return [
        refund_notice(
            PROVIDER,
            REFUND_NOTICE_STATUS,
            refund_id=data.get("id"),
            raw_status=raw,
            amount=data.get("amount"),
            hint=data.get("transaction_reference"),
        )
    ]
