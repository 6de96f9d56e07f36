"""Paystack: the gateway protocol on the thin client in ``paystack_client``.

Hosted checkout (``create_payment`` gives a ``payment_url``), verify, refunds, and transfers
(recipient setup, then a transfer from the balance; ``otp`` → ``finalize_transfer``). The
project's references are made to fit Paystack's character rules deterministically; the
original travels in ``metadata.reference`` (see ``project_reference``). Retry policy: see
``paystack_client``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from legato_pay.errors import (
    AlreadyExists,
    GatewayError,
    IdempotencyConflict,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
)
from legato_pay.gateways.base import (
    PaymentRequest,
    PaymentSession,
    PaymentStatus,
    RefundResult,
    TransferRequest,
    TransferResult,
    provider_error_details,
)
from legato_pay.gateways.keys import check_key_mode, environment, gateway_mode, require_key
from legato_pay.gateways.paystack.client import (
    CHANNELS,
    DEFAULT_BASE_URL,
    PROVIDER,
    SECRET_KEY_ENV,
    InitializeData,
    PaystackClient,
)
from legato_pay.gateways.paystack.references import (
    project_reference,
    transaction_reference,
    transfer_reference,
)
from legato_pay.money import parse_minor_units

if TYPE_CHECKING:
    from legato_pay.config import GatewaySettings

__all__ = [
    "CHANNELS",
    "DEFAULT_BASE_URL",
    "InitializeData",
    "PaystackClient",
    "PaystackGateway",
    "project_reference",
    "transaction_reference",
    "transfer_reference",
]

PUBLIC_KEY_ENV = "PAYSTACK_PUBLIC_KEY"
BASE_URL_ENV = "PAYSTACK_BASE_URL"
CALLBACK_URL_ENV = "PAYSTACK_CALLBACK_URL"
CURRENCIES = ("NGN", "GHS", "ZAR", "KES", "USD")
#: How long an initialized, unpaid (``abandoned``) checkout stays payable: a day.
CHECKOUT_EXPIRY_SECONDS = 24 * 3600

_PAYMENT_STATUS = {
    "success": "succeeded",
    "failed": "failed",
    "abandoned": "pending",  # initialized, not paid yet: still payable (see verify_payment)
    "reversed": "failed",
    "ongoing": "pending",
    "pending": "pending",
    "processing": "pending",
    "queued": "pending",
}
_REFUND_STATUS = {
    "pending": "pending",
    "processing": "pending",
    "needs-attention": "pending",
    "processed": "succeeded",
    "failed": "failed",
}
_TRANSFER_STATUS = {
    "success": "succeeded",
    "pending": "pending",
    "received": "pending",
    "otp": "otp_required",
    "failed": "failed",
    "abandoned": "failed",
    "reversed": "failed",
    "blocked": "failed",
    "rejected": "failed",
}


def _amount(value: Any) -> int:
    """Paystack amounts are subunits; some payloads send them as strings."""
    try:
        return parse_minor_units(value, positive=False)
    except InvalidAmount:
        raise GatewayError(
            "Paystack answered an amount that is not whole subunits",
            details=provider_error_details(PROVIDER, amount=repr(value)),
        ) from None


def _check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise InvalidCurrency(
            f"Paystack does not handle {currency}",
            details={"currency": currency, "known": list(CURRENCIES)},
        )
    return currency


class PaystackGateway:
    """The ``Gateway``/``TransferGateway`` protocol on Paystack (hosted checkout, transfers)."""

    name = PROVIDER

    def __init__(
        self,
        secret_key: str,
        *,
        public_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        mode: str = "test",
        timeout_seconds: float = 10,
        max_retries: int = 2,
        callback_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_seconds: float = 0.25,
        checkout_expiry_seconds: float = CHECKOUT_EXPIRY_SECONDS,
    ) -> None:
        check_key_mode(
            secret_key,
            env_var=SECRET_KEY_ENV,
            mode=mode,
            test_prefixes=("sk_test_",),
            live_prefixes=("sk_live_",),
        )
        if public_key:
            check_key_mode(
                public_key,
                env_var=PUBLIC_KEY_ENV,
                mode=mode,
                test_prefixes=("pk_test_",),
                live_prefixes=("pk_live_",),
            )
        self.mode = mode
        self.checkout_expiry_seconds = checkout_expiry_seconds
        self.public_key = public_key
        self.callback_url = callback_url
        self.client = PaystackClient(
            secret_key,
            base_url,
            transport=transport,
            timeout=timeout_seconds,
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
        )

    @classmethod
    def from_env(
        cls,
        settings: GatewaySettings,
        environ: Mapping[str, str] | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> PaystackGateway:
        """``PAYSTACK_SECRET_KEY`` (required), ``PAYSTACK_PUBLIC_KEY``, ``PAYSTACK_BASE_URL``,
        ``PAYSTACK_CALLBACK_URL``, ``PAYMENT_GATEWAY_MODE``; timeout and retries from settings."""
        env = environment(environ)
        mode = gateway_mode(settings, env)
        return cls(
            require_key(SECRET_KEY_ENV, env, provider=PROVIDER),
            public_key=env.get(PUBLIC_KEY_ENV, "").strip() or None,
            base_url=env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL,
            mode=mode,
            timeout_seconds=settings.timeout_seconds,
            max_retries=settings.max_retries,
            callback_url=env.get(CALLBACK_URL_ENV, "").strip() or None,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PaystackGateway:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- payments -------------------------------------------------------------------------------

    def check_payment(self, request: PaymentRequest) -> None:
        """What Paystack would refuse, refused before anything is recorded or sent: no payer
        email, a currency it does not take, an amount that is not whole subunits, an unknown
        payment channel."""
        if not request.customer_email:
            raise InvalidInput(
                "Paystack needs the payer's email address (users add USER --email …)",
                details={"provider": PROVIDER, "reference": request.reference},
            )
        _check_currency(request.currency)
        parse_minor_units(request.amount)
        unknown = [channel for channel in request.channels if channel not in CHANNELS]
        if unknown:
            raise InvalidInput(
                f"unknown Paystack channel {unknown[0]!r}",
                details={"channels": unknown, "known": list(CHANNELS)},
            )

    def create_payment(self, request: PaymentRequest) -> PaymentSession:
        """Initialize a hosted-checkout transaction: the payer pays at ``payment_url``, through
        ``request.channels`` only when given.

        The original reference travels in ``metadata.reference`` (webhooks should read it from
        there: the Paystack reference differs when the original has characters Paystack refuses).
        A ``duplicate_reference`` refusal surfaces as ``AlreadyExists``: verify the reference.
        """
        self.check_payment(request)
        data = self.client.initialize_transaction(
            email=str(request.customer_email),  # present: check_payment refuses a missing one
            amount=parse_minor_units(request.amount),
            currency=_check_currency(request.currency),
            reference=transaction_reference(request.reference),
            callback_url=self.callback_url,
            metadata={
                **request.metadata,
                "reference": request.reference,
                "customer": request.customer_id,
                "idempotency_key": request.idempotency_key,
            },
            channels=request.channels,
        )
        return PaymentSession(
            provider=PROVIDER,
            reference=request.reference,
            provider_payment_id=data["reference"],
            status="pending",
            client_secret=data["access_code"] or None,
            payment_url=data["authorization_url"],
        )

    def verify_payment(self, reference: str, provider_payment_id: str | None) -> PaymentStatus:
        """Verify by reference (Paystack's key); the answer is HTTP 200 even for failures.

        ``abandoned`` is Paystack's word for a checkout the customer has not completed (every
        initialized, unpaid transaction answers it): still payable, so ``pending`` until the
        checkout is ``checkout_expiry_seconds`` old (from Paystack's ``created_at``), then
        ``failed`` with reason ``abandoned``. ``raw_status`` keeps Paystack's own word.
        """
        conformed = transaction_reference(reference)
        data = self.client.verify_transaction(conformed)
        raw = str(data.get("status"))
        status = _PAYMENT_STATUS.get(raw, "pending")
        reason = (data.get("gateway_response") or raw) if status == "failed" else None
        if raw == "abandoned" and self._checkout_expired(data.get("created_at")):
            hours = round(self.checkout_expiry_seconds / 3600)
            status, reason = "failed", f"abandoned: the checkout was not paid within {hours} h"
        paystack_reference = data.get("reference")
        return PaymentStatus(
            provider=PROVIDER,
            reference=reference,
            provider_payment_id=str(data["id"])
            if data.get("id") is not None
            else provider_payment_id,
            status=status,
            amount=_amount(data.get("amount", 0)),
            currency=str(data.get("currency") or "").upper(),
            failure_reason=reason,
            raw_status=raw,
            aliases=(str(paystack_reference or conformed),),
        )

    def _checkout_expired(self, created_at: Any) -> bool:
        """True when a checkout opened at ``created_at`` (Paystack's ISO time) can no longer be
        paid; a missing or unreadable time counts as still open."""
        if not isinstance(created_at, str):
            return False
        try:
            opened = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        except ValueError:
            return False
        if opened.tzinfo is None:
            opened = opened.replace(tzinfo=UTC)
        return datetime.now(UTC) - opened >= timedelta(seconds=self.checkout_expiry_seconds)

    def refund(
        self,
        *,
        provider_payment_id: str,
        reference: str,
        amount: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        """Paystack has no idempotency key for refunds and this call is never replayed once
        sent: after an unclear failure (timeout), check the transaction before refunding again."""
        data = self.client.create_refund(
            transaction=provider_payment_id,
            amount=parse_minor_units(amount),
            currency=_check_currency(currency),
            merchant_note=f"{reference} ({idempotency_key})",
        )
        raw = str(data.get("status"))
        return RefundResult(
            provider=PROVIDER,
            provider_refund_id=str(data.get("id")),
            status=_REFUND_STATUS.get(raw, "pending"),
            amount=_amount(data.get("amount", amount)),
            currency=str(data.get("currency") or currency).upper(),
        )

    def find_refund(
        self, *, provider_payment_id: str, reference: str, idempotency_key: str
    ) -> RefundResult | None:
        """The refund ``refund`` made for ``idempotency_key`` (its merchant note names it), or
        None: Paystack takes no idempotency key, so a rerun looks before refunding again."""
        note = f"{reference} ({idempotency_key})"
        for data in self.client.list_refunds(transaction=provider_payment_id):
            if data.get("merchant_note") == note:
                raw = str(data.get("status"))
                return RefundResult(
                    provider=PROVIDER,
                    provider_refund_id=str(data.get("id")),
                    status=_REFUND_STATUS.get(raw, "pending"),
                    amount=_amount(data.get("amount", 0)),
                    currency=str(data.get("currency") or "").upper(),
                )
        return None

    # -- transfers ------------------------------------------------------------------------------

    def create_transfer(self, request: TransferRequest) -> TransferResult:
        """Set up (or reuse) the recipient, then transfer from the balance.

        A reference Paystack has seen already is looked up instead of paid again; if that
        transfer is for another amount or currency the reference was reused: refused.
        """
        currency = _check_currency(request.currency)
        amount = parse_minor_units(request.amount)
        recipient = request.recipient
        recipient_code = recipient.recipient_code or str(
            self.client.create_transfer_recipient(
                type=recipient.type,
                name=recipient.name,
                account_number=recipient.account_number,
                bank_code=recipient.bank_code,
                currency=currency,
            )["recipient_code"]
        )
        try:
            data = self.client.initiate_transfer(
                amount=amount,
                recipient=recipient_code,
                reference=transfer_reference(request.reference),
                reason=request.reason,
                currency=currency,
            )
        except AlreadyExists:
            existing = self.verify_transfer(request.reference)
            if (existing.amount, existing.currency) != (amount, currency):
                raise IdempotencyConflict(
                    f"transfer reference {request.reference} was already used for "
                    f"{existing.amount} {existing.currency}",
                    details={
                        "provider": PROVIDER,
                        "reference": request.reference,
                        "existing_amount": existing.amount,
                        "existing_currency": existing.currency,
                    },
                ) from None
            return existing
        return self._transfer_result(request.reference, data, recipient_code)

    def finalize_transfer(
        self, reference: str, provider_transfer_id: str, otp: str
    ) -> TransferResult:
        """Complete a transfer that came back ``otp_required`` with the OTP Paystack sent."""
        data = self.client.finalize_transfer(transfer_code=provider_transfer_id, otp=otp)
        return self._transfer_result(reference, data, None)

    def verify_transfer(
        self, reference: str, provider_transfer_id: str | None = None
    ) -> TransferResult:
        data = self.client.verify_transfer(transfer_reference(reference))
        return self._transfer_result(reference, data, None)

    @staticmethod
    def _transfer_result(
        reference: str, data: Mapping[str, Any], recipient_code: str | None
    ) -> TransferResult:
        raw = str(data.get("status"))
        status = _TRANSFER_STATUS.get(raw, "pending")
        recipient = data.get("recipient")
        if recipient_code is None and isinstance(recipient, dict):
            recipient_code = recipient.get("recipient_code")
        failures = data.get("failures")
        return TransferResult(
            provider=PROVIDER,
            reference=reference,
            provider_transfer_id=data.get("transfer_code"),
            status=status,
            amount=_amount(data.get("amount", 0)),
            currency=str(data.get("currency") or "").upper(),
            raw_status=raw,
            failure_reason=(str(failures) if failures else raw) if status == "failed" else None,
            recipient_code=recipient_code,
        )
