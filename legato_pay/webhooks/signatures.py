"""Signature checks over the raw body. Constant-time comparisons; secrets never logged."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from legato_pay.errors import InvalidSignature


def verify_paystack(body: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """Paystack: ``x-paystack-signature`` is the hex HMAC-SHA512 of the raw body."""
    if not signature:
        raise InvalidSignature("missing x-paystack-signature header")
    expected = hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise InvalidSignature("x-paystack-signature does not match the body")
    return _json_object(body)


def verify_stripe(
    body: bytes, signature: str | None, secret: str, tolerance: int
) -> dict[str, Any]:
    """Stripe: the SDK's ``construct_event`` (HMAC-SHA256 over ``t.body``, timestamp tolerance)."""
    if not signature:
        raise InvalidSignature("missing Stripe-Signature header")
    import stripe

    try:
        stripe.Webhook.construct_event(body.decode("utf-8"), signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(f"Stripe-Signature rejected: {exc.user_message or exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignature("the body is not valid JSON") from None
    return _json_object(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidSignature("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidSignature("the body is not a JSON object")
    return data


def sign_paystack(body: bytes, secret: str) -> str:
    """What Paystack sends, for tests and benchmarks."""
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()
