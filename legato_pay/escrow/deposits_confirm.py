"""Confirming a deposit exactly once: ``escrow confirm`` (the gateway's verify) or the payment
webhook (Paystack ``charge.success`` with ``metadata.payment_type: investment``, Stripe
``payment_intent.succeeded``), whichever comes first.

The deposit's row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write transaction) and its
status checked inside the transaction, so however many webhooks race a confirm, one
transaction credits::

    gateway:<g>:<CUR>          debit   amount     cash now held at the gateway
    escrow:<deposit>:<CUR>     credit  amount     held for the app, no overdraft

and, when the deposit asked for units, issues them to the investor (a share ``issue``
movement) in the same transaction; the deposit becomes ``confirmed`` with its entry, movement
and time. A payment of another amount or currency makes it ``flagged`` (PAYMENT_MISMATCH,
exit 7) and credits nothing; a failed one makes it ``failed`` (a later success, e.g. a
checkout paid after it was given up, still credits it once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from legato_pay import chart, gateways
from legato_pay.errors import GatewayError, InvalidInput, LegatoError, NotFound
from legato_pay.escrow.deposits import (
    DepositView,
    deposit_row,
    deposit_view,
    get_deposit,
)
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.gateways.base import PaymentStatus
from legato_pay.ledger import post_entries, transfer
from legato_pay.ledger.types import utcnow
from legato_pay.money import format_amount
from legato_pay.readers.purchases.settle import OTHER_PAYMENT
from legato_pay.shares.register import issue_shares
from legato_pay.store.tables import ESCROW_DEPOSITS

if TYPE_CHECKING:
    from legato_pay.context import AppContext

#: The code of a payment that differs from the deposit (amount, currency or payment id): the
#: purchases' code, so scripts and the webhook inbox treat both alike.
PAYMENT_MISMATCH = OTHER_PAYMENT


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    """What one gateway answer did: ``credited`` only for the one transaction that credited."""

    deposit: DepositView
    credited: bool
    error: LegatoError | None = None

    def __str__(self) -> str:
        what = "credited" if self.credited else self.deposit.status
        return f"deposit {self.deposit.id} ({self.deposit.reference}) {what}"


def confirm_deposit(app: AppContext, deposit: str) -> ConfirmResult:
    """Ask the gateway about the deposit (no transaction held), then apply its answer.
    PAYMENT_FAILED / PAYMENT_MISMATCH (exit 7) for a failed or flagged deposit, after saving."""
    view = app.run(lambda s: get_deposit(s, deposit), write=False)
    if view.status == "confirmed":
        return ConfirmResult(view, False)
    if view.status in ("flagged", "failed") and view.provider_payment_id is None:
        raise _status_error(view)
    client = gateways.get_gateway(app, view.gateway)
    try:
        payment = client.verify_payment(view.reference, view.provider_payment_id)
    finally:
        gateways.close_gateway(client)
    result = app.run(lambda s: settle_deposit_payment(s, payment, actor=app.actor))
    if result.error is not None:
        raise result.error
    return result


def settle_deposit_payments(
    session: Session, payments: Sequence[PaymentStatus], *, actor: str
) -> list[ConfirmResult | LegatoError]:
    """Apply many answers in order (the webhook listener's batch), each as
    ``settle_deposit_payment``; an answer naming no deposit gets DEPOSIT_NOT_FOUND in its
    place, the others still apply."""
    results: list[ConfirmResult | LegatoError] = []
    for payment in payments:
        try:
            with session.begin_nested():
                results.append(settle_deposit_payment(session, payment, actor=actor))
        except LegatoError as error:
            results.append(error)
    return results


def settle_deposit_payment(
    session: Session, payment: PaymentStatus, *, actor: str
) -> ConfirmResult:
    """Apply one gateway answer to its deposit (locked), crediting at most once. Never raises
    for a failed or mismatched payment: the result carries the error, so the change commits."""
    row = deposit_row(session, payment.reference, lock=True)
    view = deposit_view(row)
    if payment.provider != view.gateway:
        raise InvalidInput(
            f"deposit {view.id} was made through {view.gateway}, not {payment.provider}",
            details={"deposit": view.id, "gateway": view.gateway},
            code="GATEWAY_MISMATCH",
        )
    recorded = view.provider_payment_id
    if (
        view.status in ("pending", "failed")
        and recorded is not None
        and payment.names()
        and recorded not in payment.names()
        and recorded != view.reference
    ):
        return ConfirmResult(view, False, _other_payment(view, payment))
    if view.status == "confirmed":
        return ConfirmResult(view, False)
    if view.status in ("flagged", "expired"):  # needs a person; a success does not unflag it
        return ConfirmResult(view, False, _status_error(view))
    if view.status == "failed" and payment.status != "succeeded":
        return ConfirmResult(view, False, _status_error(view))
    if payment.status == "pending":
        return ConfirmResult(view, False)
    known_id = payment.provider_payment_id or recorded
    if payment.status == "failed":
        reason = payment.failure_reason or payment.raw_status or "payment failed"
        failed = record_outcome(session, view, "failed", reason, known_id, actor, "deposit_failed")
        return ConfirmResult(failed, False, _status_error(failed))
    if payment.status != "succeeded":
        raise InvalidInput(
            f"unknown payment status {payment.status!r}", details={"status": payment.status}
        )
    if (payment.amount, payment.currency) != (view.amount, view.currency):
        reason = (
            f"paid {format_amount(payment.amount, payment.currency)}, "
            f"expected {format_amount(view.amount, view.currency)}"
        )
        flagged = record_outcome(
            session, view, "flagged", reason, known_id, actor, "deposit_flagged"
        )
        return ConfirmResult(flagged, False, _status_error(flagged))
    return ConfirmResult(_credit(session, view, known_id, actor), True)


def _credit(session: Session, view: DepositView, payment_id: str | None, actor: str) -> DepositView:
    """The one crediting transaction: gateway cash to escrow, units issued, status confirmed."""
    cash = chart.gateway_cash(view.gateway, view.currency)
    chart.open_accounts(
        session,
        [
            chart.system_account(cash, view.currency, debit_normal=True),
            chart.escrow_account(view.id, view.currency),
        ],
    )
    entry = post_entries(
        session,
        [
            transfer(
                cash,
                chart.escrow_account_code(view.id, view.currency),
                view.amount,
                view.currency,
                idempotency_key=f"escrow-deposit:{view.id}",
                reason=f"escrow deposit {view.id} by {view.investor} into {view.app}",
                metadata=_reconciled(view, payment_id),
            )
        ],
        actor=actor,
    )[0]
    now = utcnow()
    movement_id = None
    if view.units:
        movement_id = issue_shares(
            session,
            actor=actor,
            app_id=view.app,
            to_investor=view.investor,
            units=view.units,
            key=f"escrow-deposit:{view.id}",
            now=now,
        ).id
    session.execute(
        update(ESCROW_DEPOSITS)
        .where(ESCROW_DEPOSITS.c.id == view.id)
        .values(
            status="confirmed",
            entry_id=entry.id,
            movement_id=movement_id,
            provider_payment_id=payment_id,
            confirmed_at=now,
            updated_at=now,
        )
    )
    record_escrow_event(
        session,
        view.id,
        "deposit_confirmed",
        actor,
        amount=view.amount,
        subject=f"deposit:{view.id}",
        details={"entry_id": entry.id, "movement_id": movement_id, "units": view.units},
        now=now,
    )
    return get_deposit(session, view.id)


def _reconciled(view: DepositView, payment_id: str | None) -> dict[str, object]:
    """The entry's metadata, with the keys ``reconcile`` pairs it on: our reference (the
    gateway carries it too) and the gateway's payment id."""
    metadata: dict[str, object] = {
        "kind": "escrow_deposit",
        "deposit": view.id,
        "app": view.app,
        "investor": view.investor,
        "reference": view.reference,
    }
    if payment_id:
        metadata["gateway_ref"] = payment_id
    return metadata


def record_outcome(
    session: Session,
    view: DepositView,
    status: str,
    reason: str,
    payment_id: str | None,
    actor: str,
    action: str,
    *,
    now: datetime | None = None,
) -> DepositView:
    """Set a deposit's final status without crediting (``failed``, ``flagged``, ``expired``)
    with its reason, and put the step on its timeline, in the caller's transaction."""
    now = now or utcnow()
    session.execute(
        update(ESCROW_DEPOSITS)
        .where(ESCROW_DEPOSITS.c.id == view.id)
        .values(
            status=status,
            flag_reason=reason[:500],
            provider_payment_id=payment_id,
            updated_at=now,
        )
    )
    record_escrow_event(
        session,
        view.id,
        action,
        actor,
        subject=f"deposit:{view.id}",
        details={"reason": reason},
        now=now,
    )
    return get_deposit(session, view.id)


def _status_error(view: DepositView) -> GatewayError:
    details = {
        "deposit": view.id,
        "reference": view.reference,
        "status": view.status,
        "flag_reason": view.flag_reason,
    }
    if view.status == "flagged":
        return GatewayError(
            f"deposit {view.id} is flagged: {view.flag_reason}; nothing was credited",
            details=details,
            code=PAYMENT_MISMATCH,
        )
    return GatewayError(
        f"the payment for deposit {view.id} is {view.status}: {view.flag_reason}",
        details=details,
    )


def _other_payment(view: DepositView, payment: PaymentStatus) -> GatewayError:
    return GatewayError(
        f"{payment.provider} payment {payment.provider_payment_id} names deposit {view.id}, "
        f"whose payment is {view.provider_payment_id}: nothing applied",
        details={
            "deposit": view.id,
            "recorded_payment_id": view.provider_payment_id,
            "payment_id": payment.provider_payment_id,
        },
        code=PAYMENT_MISMATCH,
    )


def is_unknown_deposit(error: LegatoError) -> bool:
    """True for the error of an answer that names no deposit of ours."""
    return isinstance(error, NotFound)
