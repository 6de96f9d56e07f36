"""The sandbox gateway: offline, deterministic, the default, so everything runs with no keys.

It keeps its own book (``sandbox_payments``) the way a provider would, in separate transactions
from the caller's. It succeeds unless told otherwise through the payment method, like Stripe's
test cards:

=========================  ====================================================
``pm_sandbox_ok``          (default) succeeds for the amount asked
``pm_sandbox_fail``        declined: ``failed``, reason ``card_declined``
``pm_sandbox_pending``     stays ``pending`` (verify again later)
``pm_sandbox_underpay``    succeeds for one minor unit less than asked
``pm_sandbox_wrong_currency``  succeeds in a different currency
``pm_sandbox_refund_fail`` pays, but any refund of it fails
=========================  ====================================================
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, Row, select
from sqlalchemy.orm import Session

from legato_pay.errors import GatewayError, InvalidInput, NotFound
from legato_pay.gateways.base import (
    PaymentRequest,
    PaymentSession,
    PaymentStatus,
    RefundResult,
    refuse_channels,
)
from legato_pay.ledger.types import utcnow
from legato_pay.store.engine import insert_ignore, run_in_transaction
from legato_pay.store.tables import BOOK

PAYMENT_METHODS = (
    "pm_sandbox_ok",
    "pm_sandbox_fail",
    "pm_sandbox_pending",
    "pm_sandbox_underpay",
    "pm_sandbox_wrong_currency",
    "pm_sandbox_refund_fail",
)


def _sandbox_id(prefix: str, reference: str) -> str:
    return f"{prefix}_{hashlib.sha256(reference.encode()).hexdigest()[:24]}"


class SandboxGateway:
    name = "sandbox"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def check_payment(self, request: PaymentRequest) -> None:
        """A known sandbox payment method, and no Paystack channels."""
        refuse_channels(self.name, request)
        method = request.payment_method or "pm_sandbox_ok"
        if method not in PAYMENT_METHODS:
            raise InvalidInput(
                f"unknown sandbox payment method {method!r}",
                details={"payment_method": method, "known": list(PAYMENT_METHODS)},
            )

    def create_payment(self, request: PaymentRequest) -> PaymentSession:
        self.check_payment(request)
        method = request.payment_method or "pm_sandbox_ok"
        status, paid_amount, paid_currency = "succeeded", request.amount, request.currency
        if method == "pm_sandbox_fail":
            status = "failed"
        elif method == "pm_sandbox_pending":
            status = "pending"
        elif method == "pm_sandbox_underpay":
            paid_amount = request.amount - 1
        elif method == "pm_sandbox_wrong_currency":
            paid_currency = "EUR" if request.currency != "EUR" else "USD"
        payment_id = _sandbox_id("sbx_pay", request.reference)

        def record(session: Session) -> Row[Any]:
            session.execute(
                insert_ignore(session, BOOK, ["reference"]).values(
                    id=payment_id,
                    kind="payment",
                    reference=request.reference,
                    amount=request.amount,
                    currency=request.currency,
                    payment_method=method,
                    status=status,
                    paid_amount=paid_amount,
                    paid_currency=paid_currency,
                    created_at=utcnow(),
                )
            )
            return session.execute(select(BOOK).where(BOOK.c.reference == request.reference)).one()

        row = run_in_transaction(self._engine, record)
        return PaymentSession(
            provider=self.name,
            reference=request.reference,
            provider_payment_id=row.id,
            status=row.status,
            client_secret=f"{row.id}_secret_sandbox",
            payment_url=f"https://sandbox.legato-pay.invalid/pay/{row.id}",
        )

    def verify_payment(self, reference: str, provider_payment_id: str | None) -> PaymentStatus:
        row = run_in_transaction(
            self._engine,
            lambda s: s.execute(
                select(BOOK).where(BOOK.c.reference == reference, BOOK.c.kind == "payment")
            ).first(),
            write=False,
        )
        if row is None:
            raise NotFound(
                f"the sandbox has no payment {reference}", details={"reference": reference}
            )
        return PaymentStatus(
            provider=self.name,
            reference=reference,
            provider_payment_id=row.id,
            status=row.status,
            amount=row.paid_amount,
            currency=row.paid_currency,
            failure_reason="card_declined" if row.status == "failed" else None,
            raw_status=row.status,
        )

    def refund(
        self,
        *,
        provider_payment_id: str,
        reference: str,
        amount: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        refund_id = _sandbox_id("sbx_re", idempotency_key)

        def record(session: Session) -> None:
            payment = session.execute(select(BOOK).where(BOOK.c.id == provider_payment_id)).first()
            if payment is None:
                raise NotFound(
                    f"the sandbox has no payment {provider_payment_id}",
                    details={"provider_payment_id": provider_payment_id},
                )
            if payment.payment_method == "pm_sandbox_refund_fail":
                raise GatewayError(
                    "sandbox refund declined (pm_sandbox_refund_fail)",
                    details={"provider": self.name, "provider_payment_id": provider_payment_id},
                )
            session.execute(
                insert_ignore(session, BOOK, ["reference"]).values(
                    id=refund_id,
                    kind="refund",
                    reference=f"refund:{idempotency_key}",
                    amount=amount,
                    currency=currency,
                    payment_method=payment.payment_method,
                    status="succeeded",
                    paid_amount=amount,
                    paid_currency=currency,
                    created_at=utcnow(),
                )
            )

        run_in_transaction(self._engine, record)
        return RefundResult(self.name, refund_id, "succeeded", amount, currency)

    def find_refund(
        self, *, provider_payment_id: str, reference: str, idempotency_key: str
    ) -> RefundResult | None:
        """The refund ``refund`` booked under ``idempotency_key``, or None."""
        row = run_in_transaction(
            self._engine,
            lambda s: s.execute(
                select(BOOK).where(
                    BOOK.c.reference == f"refund:{idempotency_key}", BOOK.c.kind == "refund"
                )
            ).first(),
            write=False,
        )
        if row is None:
            return None
        return RefundResult(self.name, row.id, row.status, row.paid_amount, row.paid_currency)


def record_transfer(
    engine: Engine, transfer_id: str, reference: str, amount: int, currency: str
) -> None:
    """A payout's transfer in the sandbox's book (kind ``payout``), once per reference: what a
    real provider's transfer list would show ``reconcile``."""

    def record(session: Session) -> None:
        session.execute(
            insert_ignore(session, BOOK, ["reference"]).values(
                id=transfer_id,
                kind="payout",
                reference=reference,
                amount=amount,
                currency=currency,
                payment_method="sandbox_transfer",
                status="succeeded",
                paid_amount=amount,
                paid_currency=currency,
                created_at=utcnow(),
            )
        )

    run_in_transaction(engine, record)
