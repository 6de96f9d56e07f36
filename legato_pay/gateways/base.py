"""The one small gateway protocol and the project's own result and event types.

Gateways are called outside database transactions (a network call must never hold locks), with
the project's idempotency key on every mutating call. Provider errors are wrapped where they
enter into ``GatewayError`` / ``GatewayUnavailable`` with provider, http status and request id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from legato_pay.errors import InvalidAmount, InvalidInput
from legato_pay.money import parse_minor_units

#: Normalised payment statuses every gateway maps its own onto.
PAYMENT_STATUSES = ("pending", "succeeded", "failed")
#: Normalised refund statuses.
REFUND_STATUSES = ("pending", "succeeded", "failed")
#: Normalised transfer/payout statuses; ``otp_required`` waits for ``finalize_transfer`` (Paystack).
TRANSFER_STATUSES = ("pending", "succeeded", "failed", "otp_required")
#: What a refund event says happened; ``attention`` needs a person, ``unknown`` is unmapped.
REFUND_NOTICE_STATUSES = ("succeeded", "failed", "pending", "attention", "unknown")


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    reference: str
    amount: int
    currency: str
    idempotency_key: str
    customer_id: str
    customer_email: str | None = None
    description: str | None = None
    payment_method: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    #: Paystack payment channels the payer may use (empty: every channel the account offers).
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentSession:
    """What the payer needs to pay: a client secret (Stripe) or a payment URL (Paystack)."""

    provider: str
    reference: str
    provider_payment_id: str
    status: str
    client_secret: str | None = None
    payment_url: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    provider: str
    reference: str
    provider_payment_id: str | None
    status: str  # one of PAYMENT_STATUSES
    amount: int
    currency: str
    failure_reason: str | None = None
    raw_status: str | None = None
    #: Other names the provider gives the same payment (Paystack: its transaction reference
    #: beside the numeric id), so a recorded id of either kind matches it.
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every name of this payment at the provider (its id first)."""
        first = (self.provider_payment_id,) if self.provider_payment_id else ()
        return first + self.aliases


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider: str
    provider_refund_id: str
    status: str  # pending | succeeded | failed
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class RecipientDetails:
    """Where a transfer goes. ``recipient_code`` (Paystack ``RCP_…``) skips recipient setup."""

    name: str
    account_number: str
    bank_code: str
    type: str = "nuban"
    recipient_code: str | None = None


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A payout: money leaves the platform's balance for a bank account.

    Stripe pays out to the account's own bank account and ignores ``recipient``; Paystack sets
    up (or reuses) a transfer recipient first.
    """

    reference: str
    amount: int
    currency: str
    recipient: RecipientDetails
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class TransferResult:
    provider: str
    reference: str
    provider_transfer_id: str | None
    status: str  # one of TRANSFER_STATUSES
    amount: int
    currency: str
    raw_status: str | None = None
    failure_reason: str | None = None
    recipient_code: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """A provider's webhook body with what the inbox keys it by: ``key`` is unique per
    provider and notification (Stripe's event id; for Paystack, built from the payload).

    ``problem`` is set for a signed body that is not a usable event (not JSON, no id, a field
    of the wrong shape): it is stored ``flagged`` under a key made from the body's digest and
    answered 200, so the provider stops retrying what will never apply."""

    provider: str
    key: str
    type: str
    object_ref: str | None
    data: dict[str, Any]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class NotOurs:
    """A payment event that names no purchase of ours (no project reference): ignored."""

    reason: str


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """One refund as a provider's event describes it. ``purchase_hint`` leads to the purchase
    when the provider's refund id is not on our row yet: Stripe's ``metadata.reference`` (ours),
    Paystack's ``transaction_reference`` (our reference made Paystack-conformant)."""

    provider: str
    refund_id: str | None
    status: str  # one of REFUND_NOTICE_STATUSES
    raw_status: str
    amount: int | None
    purchase_hint: str | None


def provider_error_details(
    provider: str,
    *,
    http_status: int | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``details`` of a wrapped provider error: what an operator needs, never a key."""
    details: dict[str, Any] = {
        "provider": provider,
        "http_status": http_status,
        "request_id": request_id,
    }
    details.update({key: value for key, value in extra.items() if value is not None})
    return details


def whole_units(value: Any) -> int:
    """An amount from a webhook body: whole minor units in ASCII digits, sometimes sent as a
    string (Paystack). Anything else (``1e3``, Arabic-Indic digits, a negative, an object) is
    INVALID_AMOUNT, so the event is flagged for a person and credits nothing."""
    if not isinstance(value, (int, str)):
        raise InvalidAmount("the event's amount is not a whole number")
    minor = parse_minor_units(value, positive=False)
    if minor < 0:
        raise InvalidAmount("the event's amount is negative", details={"amount": minor})
    return minor


#: What an id, reference or type read from a provider's body may be: printable ASCII without
#: spaces, bounded (the inbox's columns hold 100-300 characters).
_TOKEN = re.compile(r"[\x21-\x7e]+", re.ASCII)


def token(value: Any, field: str, *, limit: int = 200) -> str:
    """A string or integer id from a provider's body as text, checked whole: printable ASCII,
    at most ``limit`` characters. Anything else is VALIDATION_ERROR (missing, a NUL, a
    100,000-character id, an object where an id belongs)."""
    text = optional_token(value, field, limit=limit)
    if text is None:
        raise InvalidInput(f"the event has no {field}", details={"field": field})
    return text


def optional_token(value: Any, field: str, *, limit: int = 200) -> str | None:
    """``token``, where a missing (null or empty) value is None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"the event's {field} is not a string", details={"field": field})
    text = str(value)
    if len(text) > limit or not _TOKEN.fullmatch(text):
        raise InvalidInput(
            f"the event's {field} is not printable ASCII of at most {limit} characters",
            details={"field": field, "length": len(text)},
        )
    return text


def mapping(value: Any, field: str, *, required: bool = True) -> dict[str, Any]:
    """A JSON object from a provider's body; missing is ``{}`` unless ``required``."""
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"the event's {field} is not an object", details={"field": field})
    return dict(value)


def refund_notice(
    provider: str,
    statuses: dict[str, str],
    *,
    refund_id: Any,
    raw_status: str,
    amount: Any,
    hint: Any,
) -> RefundNotice:
    """One notice from a provider's fields; an amount that is not whole units is unknown."""
    try:
        minor = parse_minor_units(amount, positive=False) if amount is not None else None
    except InvalidAmount:
        minor = None
    return RefundNotice(
        provider=provider,
        refund_id=str(refund_id) if refund_id not in (None, "") else None,
        status=statuses.get(raw_status, "unknown"),
        raw_status=raw_status,
        amount=minor,
        purchase_hint=str(hint) if hint else None,
    )


class Gateway(Protocol):
    name: str

    def check_payment(self, request: PaymentRequest) -> None:
        """Refuse a request this gateway would refuse, without calling it: run before the
        purchase is recorded, so a refusal leaves nothing behind."""
        ...

    def create_payment(self, request: PaymentRequest) -> PaymentSession: ...

    def verify_payment(self, reference: str, provider_payment_id: str | None) -> PaymentStatus: ...

    def refund(
        self,
        *,
        provider_payment_id: str,
        reference: str,
        amount: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult: ...


class TransferGateway(Gateway, Protocol):
    """A gateway that can also pay out (Stripe payouts, Paystack transfers).

    Kept apart from ``Gateway`` so the offline sandbox, which has no transfers, still fits it.
    """

    def create_transfer(self, request: TransferRequest) -> TransferResult: ...

    def verify_transfer(
        self, reference: str, provider_transfer_id: str | None = None
    ) -> TransferResult: ...


class RefundLookupGateway(Gateway, Protocol):
    """A gateway that can find a refund it already made, by the idempotency key it was asked
    with: a rerun after a crash between the gateway's refund and our books asks this before
    refunding again, so a refund is never sent twice (Paystack's refunds take no idempotency
    key). None when the gateway has no such refund."""

    def find_refund(
        self, *, provider_payment_id: str, reference: str, idempotency_key: str
    ) -> RefundResult | None: ...


def refuse_channels(provider: str, request: PaymentRequest) -> None:
    """Payment channels are Paystack's: any other gateway refuses them rather than ignore them."""
    if request.channels:
        raise InvalidInput(
            f"--channels is for Paystack purchases; the {provider} gateway has no channels",
            details={"gateway": provider, "channels": list(request.channels)},
        )


def describe(result: Any) -> dict[str, Any]:
    """A gateway result as JSON-ready data (never carries a key: results hold none)."""
    return {name: getattr(result, name) for name in result.__dataclass_fields__}
