"""Webhook bodies of any provider read into the project's own event types.

The domain (the inbox, purchases) asks here and never reads a provider's payload itself; each
provider's reading lives in ``gateways/<provider>/events.py``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from legato_pay.errors import InvalidInput
from legato_pay.gateways.base import NotOurs, ParsedEvent, PaymentStatus, RefundNotice
from legato_pay.gateways.paystack import events as paystack_events
from legato_pay.gateways.stripe import events as stripe_events

__all__ = [
    "EventReader",
    "NotOurs",
    "ParsedEvent",
    "RefundNotice",
    "is_refund_event",
    "parse_event",
    "parse_stored",
    "payment_status",
    "payment_type",
    "read_event",
    "refund_notices",
    "stored_payload",
]

#: The type stored for a signed body that is not a usable event.
MALFORMED = "malformed"


class EventReader(Protocol):
    """What each ``gateways/<provider>/events.py`` module provides."""

    def parse_event(self, body: dict[str, Any]) -> ParsedEvent: ...

    def payment_status(self, event: ParsedEvent) -> PaymentStatus | NotOurs | None: ...

    def is_refund_event(self, event: ParsedEvent) -> bool: ...

    def refund_notices(self, body: dict[str, Any]) -> list[RefundNotice]: ...


_READERS: dict[str, EventReader] = {"stripe": stripe_events, "paystack": paystack_events}


def _reader(provider: str) -> EventReader:
    try:
        return _READERS[provider]
    except KeyError:
        raise InvalidInput(
            f"no webhook events from {provider!r}",
            details={"provider": provider, "known": list(_READERS)},
        ) from None


def parse_event(provider: str, body: dict[str, Any]) -> ParsedEvent:
    """A verified body as the event the inbox stores (INVALID_INPUT if it is not one)."""
    return _reader(provider).parse_event(body)


def read_event(provider: str, body: bytes) -> ParsedEvent:
    """A verified body as the event to store; never raises for a known provider. A body that
    is not UTF-8 JSON, not an object, or not an event (no id, a field of the wrong shape) comes
    back with ``problem`` set, keyed by its digest, to be stored ``flagged``."""
    _reader(provider)
    try:
        text = body.decode("utf-8")
        data = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return malformed(provider, body, "the body is not UTF-8 JSON")
    if not isinstance(data, dict):
        return malformed(provider, body, "the body is not a JSON object")
    try:
        return parse_event(provider, data)
    except InvalidInput as error:
        return malformed(provider, body, error.message)


def malformed(provider: str, body: bytes, problem: str) -> ParsedEvent:
    """The event stored for a signed body that is not one (see ``read_event``)."""
    digest = hashlib.sha256(body).hexdigest()
    return ParsedEvent(provider, f"{MALFORMED}:{digest}", MALFORMED, None, {}, problem)


def stored_payload(body: bytes) -> str:
    """The body as the inbox keeps it: the text itself for UTF-8 (JSON cannot hold a raw NUL),
    else with undecodable bytes and NULs replaced (PostgreSQL text refuses NUL)."""
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def parse_stored(provider: str, payload: str) -> ParsedEvent:
    """An event the inbox stored, read again from its raw body (``webhooks replay``)."""
    return read_event(provider, payload.encode("utf-8"))


def payment_status(event: ParsedEvent) -> PaymentStatus | NotOurs | None:
    """The payment outcome an event reports, ``NotOurs``, or None if it is not about a payment."""
    return _reader(event.provider).payment_status(event)


def is_refund_event(event: ParsedEvent) -> bool:
    """True when the event reports on refunds (see ``refund_notices``)."""
    return _reader(event.provider).is_refund_event(event)


def refund_notices(provider: str, body: dict[str, Any]) -> list[RefundNotice]:
    """The refunds a webhook body speaks of: Paystack ``refund.*`` (one), Stripe ``refund.*``
    (one) or ``charge.refunded`` (each refund in the charge's ``refunds.data``)."""
    return _reader(provider).refund_notices(body)


def payment_type(event: ParsedEvent) -> str | None:
    """The ``metadata.payment_type`` a payment event carries (``investment`` for an escrow
    deposit; purchases set none), None when absent or unreadable."""
    body = event.data if isinstance(event.data, dict) else {}
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    holder = data.get("object") if event.provider == "stripe" else data
    metadata = holder.get("metadata") if isinstance(holder, dict) else None
    if isinstance(metadata, str):  # Paystack sometimes hands metadata back as a JSON string
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    value = metadata.get("payment_type") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else None
