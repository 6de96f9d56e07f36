"""Signature checks over the raw body. Constant-time comparisons; secrets never logged.

A check only says who sent the bytes: whether they are a usable event is the inbox's question
(``gateways.events.read_event``), so a signed body that is not JSON is stored flagged and
answered 200 instead of being refused as a bad signature the provider would retry forever.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from legato_pay.errors import InvalidSignature

_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)


def verify_paystack(body: bytes, signature: str | None, secret: str) -> None:
    """Paystack: ``x-paystack-signature`` is the hex HMAC-SHA512 of the raw body."""
    if not signature:
        raise InvalidSignature("missing x-paystack-signature header")
    expected = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise InvalidSignature("x-paystack-signature does not match the body")


def verify_stripe(
    body: bytes, signature: str | None, secret: str, tolerance: int, now: float | None = None
) -> None:
    """Stripe: ``Stripe-Signature: t=…,v1=…`` is HMAC-SHA256 over ``"{t}." + body`` with the
    ``whsec_`` secret (what ``stripe.WebhookSignature.verify_header`` checks, done over the
    raw bytes: the SDK wants text and would refuse a signed body that is not UTF-8). The
    timestamp must be within ``tolerance`` seconds of now in BOTH directions: the SDK only
    refuses old ones, so a header dated a year ahead would stay replayable for a year."""
    if not signature:
        raise InvalidSignature("missing Stripe-Signature header")
    timestamp: str | None = None
    candidates: list[str] = []
    for item in signature.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and timestamp is None:
            timestamp = value
        elif name == "v1" and _HEX.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature("Stripe-Signature has no valid timestamp")
    if not candidates:
        raise InvalidSignature("Stripe-Signature has no v1 signature")
    signed = timestamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in candidates):
        raise InvalidSignature("Stripe-Signature does not match the body")
    skew = (time.time() if now is None else now) - int(timestamp)
    if skew > tolerance:
        raise InvalidSignature(f"Stripe-Signature timestamp is older than {tolerance} s")
    if -skew > tolerance:
        raise InvalidSignature(f"Stripe-Signature timestamp is more than {tolerance} s ahead")


def sign_paystack(body: bytes, secret: str) -> str:
    """What Paystack sends, for tests and benchmarks."""
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
