"""The one small gateway protocol and the project's own result types.

Gateways are called outside database transactions (a network call must never hold locks), with
the project's idempotency key on every mutating call. Provider errors are wrapped where they
enter into ``GatewayError`` / ``GatewayUnavailable`` with provider, http status and request id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

#: Normalised payment statuses every gateway maps its own onto.
PAYMENT_STATUSES = ("pending", "succeeded", "failed")


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


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider: str
    provider_refund_id: str
    status: str  # pending | succeeded | failed
    amount: int
    currency: str


class Gateway(Protocol):
    name: str

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


def describe(result: Any) -> dict[str, Any]:
    """A gateway result as JSON-ready data (never carries a key: results hold none)."""
    return {name: getattr(result, name) for name in result.__dataclass_fields__}
