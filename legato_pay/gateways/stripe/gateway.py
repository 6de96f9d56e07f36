"""Stripe through the official SDK: PaymentIntents, refunds and payouts.

The ``stripe`` package is imported only when a ``StripeGateway`` is built, so commands that never
touch Stripe do not pay for importing it. Every mutating call carries the caller's idempotency
key; ``max_network_retries`` lets the SDK retry connection errors, 409s and 5xx, which is safe
precisely because Stripe replays a POST with the same key instead of repeating it. Amounts are
minor units as the project keeps them: Stripe's zero-decimal currencies (JPY, XOF, RWF, UGX) have
exponent 0 in ``money.CURRENCY_EXPONENTS`` too, so they pass through unchanged.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from legato_pay.errors import (
    GatewayError,
    GatewayUnavailable,
    IdempotencyConflict,
    InvalidCurrency,
    InvalidInput,
    LegatoError,
    NotFound,
)
from legato_pay.gateways.base import (
    PaymentRequest,
    PaymentSession,
    PaymentStatus,
    RefundResult,
    TransferRequest,
    TransferResult,
    provider_error_details,
    refuse_channels,
)
from legato_pay.gateways.keys import (
    check_key_mode,
    environment,
    gateway_mode,
    redact,
    require_key,
)
from legato_pay.money import currency_exponent, parse_minor_units

if TYPE_CHECKING:
    from legato_pay.config import GatewaySettings

T = TypeVar("T")

PROVIDER = "stripe"
SECRET_KEY_ENV = "STRIPE_SECRET_KEY"
WEBHOOK_SECRET_ENV = "STRIPE_WEBHOOK_SECRET"
API_BASE_ENV = "STRIPE_API_BASE"
DEFAULT_API_BASE = "https://api.stripe.com"
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")

_INTENT_STATUS = {
    "succeeded": "succeeded",
    "canceled": "failed",
    "processing": "pending",
    "requires_confirmation": "pending",
    "requires_action": "pending",
    "requires_capture": "pending",
}
_REFUND_STATUS = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}
_PAYOUT_STATUS = {
    "paid": "succeeded",
    "pending": "pending",
    "in_transit": "pending",
    "canceled": "failed",
    "failed": "failed",
}


def stripe_amount(amount: int, currency: str) -> int:
    """The ``amount`` Stripe expects: the project's minor units, checked to be a positive int."""
    if currency == "COIN":
        raise InvalidCurrency(
            "coins are not a currency Stripe can charge", details={"currency": currency}
        )
    currency_exponent(currency)
    return parse_minor_units(amount)


def intent_status(intent: Mapping[str, Any]) -> tuple[str, str | None]:
    """A PaymentIntent's status in the project's terms, and why it failed if it did.

    ``requires_payment_method`` is where a new intent starts *and* where a declined attempt
    lands; only ``last_payment_error`` tells them apart.
    """
    raw = intent.get("status")
    error = intent.get("last_payment_error") or {}
    if raw == "requires_payment_method":
        if error:
            return "failed", error.get("decline_code") or error.get("code") or "payment_failed"
        return "pending", None
    status = _INTENT_STATUS.get(str(raw), "pending")
    if status == "failed":
        return status, error.get("decline_code") or error.get("code") or str(raw)
    return status, None


def _data(obj: Any) -> dict[str, Any]:
    """StripeObject is not a dict since stripe 15: work on a plain copy."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


class StripeGateway:
    """The ``Gateway``/``TransferGateway`` protocol on Stripe."""

    name = PROVIDER

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str = DEFAULT_API_BASE,
        mode: str = "test",
        max_retries: int = 2,
        timeout_seconds: float = 10,
        http_client: Any | None = None,
    ) -> None:
        check_key_mode(
            secret_key,
            env_var=SECRET_KEY_ENV,
            mode=mode,
            test_prefixes=TEST_KEY_PREFIXES,
            live_prefixes=LIVE_KEY_PREFIXES,
        )
        import stripe

        self.mode = mode
        self._secret = secret_key
        self._close: Callable[[], Any] | None = None
        if http_client is None:
            import requests

            session = requests.Session()
            http_client = stripe.RequestsClient(timeout=timeout_seconds, session=session)
            # Pooled sockets are closed even if a caller forgets close(): no ResourceWarning.
            self._close = weakref.finalize(self, session.close)
        self._client: Any = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=max_retries,
            http_client=http_client,
        )

    @classmethod
    def from_env(
        cls, settings: GatewaySettings, environ: Mapping[str, str] | None = None
    ) -> StripeGateway:
        """``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE``, ``PAYMENT_GATEWAY_MODE`` + settings."""
        env = environment(environ)
        mode = gateway_mode(settings, env)
        key = require_key(SECRET_KEY_ENV, env, provider=PROVIDER)
        return cls(
            key,
            api_base=env.get(API_BASE_ENV, "").strip() or DEFAULT_API_BASE,
            mode=mode,
            max_retries=settings.max_retries,
            timeout_seconds=settings.timeout_seconds,
        )

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def __enter__(self) -> StripeGateway:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- payments -------------------------------------------------------------------------------

    def check_payment(self, request: PaymentRequest) -> None:
        """What Stripe would refuse, refused before anything is recorded or sent: a currency or
        amount it cannot charge, Paystack channels."""
        refuse_channels(PROVIDER, request)
        stripe_amount(request.amount, request.currency)

    def create_payment(self, request: PaymentRequest) -> PaymentSession:
        """A card PaymentIntent; with ``payment_method`` it is confirmed in the same call."""
        self.check_payment(request)
        metadata = {
            **request.metadata,
            "reference": request.reference,
            "customer": request.customer_id,
        }
        if request.description:
            metadata.setdefault("description", request.description)
        params: dict[str, Any] = {
            "amount": stripe_amount(request.amount, request.currency),
            "currency": request.currency.lower(),
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if request.payment_method:
            params.update(confirm=True, payment_method=request.payment_method)
        intent = _data(
            self._call(
                "create_payment",
                lambda: self._client.v1.payment_intents.create(
                    params=params, options={"idempotency_key": request.idempotency_key}
                ),
                reference=request.reference,
            )
        )
        status, _ = intent_status(intent)
        return PaymentSession(
            provider=PROVIDER,
            reference=request.reference,
            provider_payment_id=intent["id"],
            status=status,
            client_secret=intent.get("client_secret"),
        )

    def verify_payment(self, reference: str, provider_payment_id: str | None) -> PaymentStatus:
        """Retrieve by id; without one, search by ``metadata.reference`` (Stripe's search API)."""
        if provider_payment_id:
            intent = _data(
                self._call(
                    "verify_payment",
                    lambda: self._client.v1.payment_intents.retrieve(provider_payment_id),
                    reference=reference,
                )
            )
            owner = (intent.get("metadata") or {}).get("reference")
            if owner and owner != reference:
                raise GatewayError(
                    f"Stripe PaymentIntent {provider_payment_id} belongs to {owner}, not {reference}",
                    details=provider_error_details(
                        PROVIDER, reference=reference, provider_payment_id=provider_payment_id
                    ),
                )
        else:
            intent = self._find_intent(reference)
        status, reason = intent_status(intent)
        amount = intent.get("amount_received") if status == "succeeded" else None
        return PaymentStatus(
            provider=PROVIDER,
            reference=reference,
            provider_payment_id=intent["id"],
            status=status,
            amount=int(amount or intent["amount"]),
            currency=str(intent["currency"]).upper(),
            failure_reason=reason,
            raw_status=intent.get("status"),
        )

    def _find_intent(self, reference: str) -> dict[str, Any]:
        escaped = reference.replace("\\", "\\\\").replace("'", "\\'")
        found = self._call(
            "verify_payment",
            lambda: self._client.v1.payment_intents.search(
                params={"query": f"metadata['reference']:'{escaped}'"}
            ),
            reference=reference,
        )
        intents = [_data(item) for item in _data(found).get("data", [])]
        if not intents:
            raise NotFound(
                f"Stripe has no PaymentIntent for {reference}",
                details=provider_error_details(PROVIDER, reference=reference),
            )
        # A retried purchase may have left several: a success wins, then the newest.
        intents.sort(key=lambda i: (i.get("status") == "succeeded", i.get("created") or 0))
        return intents[-1]

    def refund(
        self,
        *,
        provider_payment_id: str,
        reference: str,
        amount: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        refund = _data(
            self._call(
                "refund",
                lambda: self._client.v1.refunds.create(
                    params={
                        "payment_intent": provider_payment_id,
                        "amount": stripe_amount(amount, currency),
                        "metadata": {"reference": reference},
                    },
                    options={"idempotency_key": idempotency_key},
                ),
                reference=reference,
            )
        )
        return RefundResult(
            provider=PROVIDER,
            provider_refund_id=refund["id"],
            status=_REFUND_STATUS.get(str(refund.get("status")), "pending"),
            amount=int(refund["amount"]),
            currency=str(refund["currency"]).upper(),
        )

    def find_refund(
        self, *, provider_payment_id: str, reference: str, idempotency_key: str
    ) -> RefundResult | None:
        """The PaymentIntent's refund whose ``metadata.reference`` is ``reference`` (what
        ``refund`` sets), or None."""
        listed = _data(
            self._call(
                "find_refund",
                lambda: self._client.v1.refunds.list(
                    params={"payment_intent": provider_payment_id, "limit": 100}
                ),
                reference=reference,
            )
        )
        for item in listed.get("data", []):
            refund = _data(item)
            if (refund.get("metadata") or {}).get("reference") == reference:
                return RefundResult(
                    provider=PROVIDER,
                    provider_refund_id=refund["id"],
                    status=_REFUND_STATUS.get(str(refund.get("status")), "pending"),
                    amount=int(refund["amount"]),
                    currency=str(refund["currency"]).upper(),
                )
        return None

    # -- payouts --------------------------------------------------------------------------------

    def create_transfer(self, request: TransferRequest) -> TransferResult:
        """A payout to the Stripe account's own bank account (``recipient`` is not used)."""
        payout = _data(
            self._call(
                "create_transfer",
                lambda: self._client.v1.payouts.create(
                    params={
                        "amount": stripe_amount(request.amount, request.currency),
                        "currency": request.currency.lower(),
                        "description": request.reason,
                        "metadata": {"reference": request.reference},
                    },
                    options={"idempotency_key": request.idempotency_key},
                ),
                reference=request.reference,
            )
        )
        return self._transfer_result(request.reference, payout)

    def verify_transfer(
        self, reference: str, provider_transfer_id: str | None = None
    ) -> TransferResult:
        """Payouts cannot be searched: the ``po_…`` id is needed. A caller that lost it can
        repeat ``create_transfer`` with the same idempotency key to get the same payout back."""
        if not provider_transfer_id:
            raise InvalidInput(
                "verifying a Stripe payout needs its id (po_…)",
                details={"provider": PROVIDER, "reference": reference},
            )
        payout = _data(
            self._call(
                "verify_transfer",
                lambda: self._client.v1.payouts.retrieve(provider_transfer_id),
                reference=reference,
            )
        )
        return self._transfer_result(reference, payout)

    @staticmethod
    def _transfer_result(reference: str, payout: Mapping[str, Any]) -> TransferResult:
        raw = str(payout.get("status"))
        status = _PAYOUT_STATUS.get(raw, "pending")
        return TransferResult(
            provider=PROVIDER,
            reference=reference,
            provider_transfer_id=payout["id"],
            status=status,
            amount=int(payout["amount"]),
            currency=str(payout["currency"]).upper(),
            raw_status=raw,
            failure_reason=(payout.get("failure_code") or raw) if status == "failed" else None,
        )

    def balance(self) -> dict[str, Any]:
        """``GET /v1/balance`` as a dict (``available``/``pending``: ``[{amount, currency}]``):
        a cheap authenticated call (health probes)."""
        found = self._call(
            "balance", lambda: self._client.v1.balance.retrieve(), reference="balance"
        )
        return _data(found)

    # -- balance transactions (reconciliation) ----------------------------------------------------

    def balance_transactions(self, created_gte: int, created_lte: int) -> list[dict[str, Any]]:
        """Every balance transaction created in ``created_gte..created_lte`` (Unix seconds, both
        inclusive), with ``source`` expanded (the charge's ``payment_intent`` and ``metadata``),
        read page after page (``starting_after``) by the SDK's auto-paging."""
        params = {
            "created": {"gte": created_gte, "lte": created_lte},
            "limit": 100,
            "expand": ["data.source"],
        }

        def read() -> list[dict[str, Any]]:
            listing = self._client.v1.balance_transactions.list(params=params)
            return [_data(item) for item in listing.auto_paging_iter()]

        return self._call("list balance transactions", read, reference=str(created_gte))

    # -- errors ---------------------------------------------------------------------------------

    def _call(self, operation: str, call: Callable[[], T], *, reference: str) -> T:
        import stripe

        try:
            return call()
        except stripe.StripeError as exc:
            raise self._wrap(exc, operation, reference) from exc

    def _wrap(self, exc: Any, operation: str, reference: str) -> LegatoError:
        """Stripe's exception as the project's: kind decides the class, never the key in it."""
        import stripe

        body = exc.json_body if isinstance(exc.json_body, dict) else {}
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        intent = error.get("payment_intent")
        details = provider_error_details(
            PROVIDER,
            http_status=exc.http_status,
            request_id=exc.request_id,
            operation=operation,
            reference=reference,
            stripe_code=exc.code or error.get("code"),
            decline_code=error.get("decline_code"),
            error_type=error.get("type"),
            provider_payment_id=intent.get("id") if isinstance(intent, dict) else intent,
        )
        said = redact(exc.user_message or type(exc).__name__, self._secret)
        if isinstance(exc, stripe.CardError):
            reason = error.get("decline_code") or exc.code or "card_declined"
            return GatewayError(f"Stripe declined the payment ({reason}): {said}", details=details)
        if isinstance(exc, stripe.AuthenticationError):
            return GatewayUnavailable(
                f"Stripe refused the API key ({self.mode} mode): check {SECRET_KEY_ENV}",
                details=details,
            )
        if isinstance(exc, stripe.PermissionError):
            return GatewayUnavailable(
                f"the Stripe key may not {operation}: check {SECRET_KEY_ENV}'s permissions",
                details=details,
            )
        if isinstance(exc, stripe.IdempotencyError):
            return IdempotencyConflict(
                f"Stripe saw this idempotency key with different parameters: {said}",
                details=details,
            )
        if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)):
            return GatewayUnavailable(
                f"Stripe is unavailable for {operation}: {said}", details=details
            )
        if isinstance(exc, stripe.InvalidRequestError) and exc.http_status == 404:
            return NotFound(f"Stripe has no such object for {reference}: {said}", details=details)
        return GatewayError(f"Stripe refused {operation}: {said}", details=details)
