"""Escrow refunds: unreleased money back to the investor through the deposit's gateway.

1. Reserve (one committed transaction, the deposit's row locked): the refund row
   (``pending``) and a PENDING ledger entry ``escrow:<d>:<CUR>`` → ``gateway:<g>:<CUR>``. The
   escrow account's no-overdraft check makes the reservation: concurrent refunds and releases
   can never take more than is there (INSUFFICIENT_FUNDS, exit 4, and nothing at the gateway).
2. The gateway call, outside any transaction, with the refund's own idempotency key
   ``escrow-refund:<id>`` (Stripe's idempotency key; Paystack's merchant note; the sandbox's
   book) and reference ``escrow-refund-<id>``.
3. Settle, exactly once (the refund's status is checked with the deposit locked):
   ``succeeded`` posts the pending entry and cancels the deposit's units pro rata;
   ``failed`` voids it (the money is back in escrow once); ``pending`` (or a timeout) leaves it
   pending: ``escrow refund-status`` or the gateway's refund webhook settles it later.

A rerun under the same key never refunds twice: it finds the refund the gateway already made
(``find_refund``) before asking for one. Units cancelled:
``floor(U × refunded_after / A) − floor(U × refunded_before / A)`` for a deposit of amount
``A`` with ``U`` units, counting succeeded refunds, so a refund of the whole deposit cancels all
of them; never more than the investor still holds (``shares.register.cancel_units``).
A deposit with an open dispute refuses refunds (``disputes_guard``: DEPOSIT_IN_DISPUTE, exit 6)
unless the refund is the dispute's own resolution (``dispute_id``). Lock order, as everywhere in
escrow: the deposit's row, then the refund's, then the ledger's balances.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay import chart, gateways
from legato_pay.errors import (
    GatewayError,
    GatewayUnavailable,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    RefundFailed,
)
from legato_pay.escrow.balances import lock_deposit
from legato_pay.escrow.deposits import MAX_KEY_LENGTH, deposit_row
from legato_pay.escrow.disputes_guard import assert_not_in_dispute
from legato_pay.escrow.refunds_settle import settle_refund, units_due
from legato_pay.escrow.refunds_views import (
    STATUSES,
    RefundView,
    gateway_key,
    gateway_reference,
    get_refund,
    list_refunds,
    refund_row,
    refund_view,
)
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.gateways.base import RefundLookupGateway, RefundResult
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger import lock_balances, post_entries, transfer
from legato_pay.ledger.types import utcnow
from legato_pay.money import format_amount, parse_amount
from legato_pay.store.tables import ESCROW_REFUNDS

if TYPE_CHECKING:
    from legato_pay.context import AppContext

__all__ = [
    "STATUSES",
    "RefundView",
    "get_refund",
    "list_refunds",
    "refund_deposit",
    "refund_row",
    "refund_status",
    "reserve_refund",
    "send_refund",
    "settle_refund",
    "units_due",
]

# -- the command's path ---------------------------------------------------------------------


def refund_deposit(
    app: AppContext,
    deposit: object,
    *,
    reason: str,
    amount: str | None = None,
    key: str | None = None,
    dispute_id: int | None = None,
) -> RefundView:
    """Refund ``amount`` (major units; everything still available by default) of a confirmed
    deposit through its gateway (see the module docstring). RefundFailed (exit 7) when the
    gateway declines (the money is back in escrow); GATEWAY_UNAVAILABLE (7) when its answer is
    unknown (the refund stays pending)."""
    own_key = check_key(key, max_length=MAX_KEY_LENGTH) or f"auto-{secrets.token_hex(8)}"
    view, fresh = app.run(
        lambda s: reserve_refund(
            s,
            deposit,
            reason=reason,
            amount=amount,
            key=own_key,
            dispute_id=dispute_id,
            actor=app.actor,
        )
    )
    if view.status != "pending":
        return view
    return send_refund(app, view.id, look_first=not fresh)


def refund_status(app: AppContext, refund: object) -> RefundView:
    """Ask the gateway about a pending refund and settle it; a refund the gateway never got
    (a crash or timeout before it arrived) is sent now, under the same key."""
    view = app.run(lambda s: get_refund(s, refund), write=False)
    if view.status != "pending" or view.entry_id is None:
        return view
    return send_refund(app, view.id, look_first=True)


def send_refund(app: AppContext, refund_id: int, *, look_first: bool) -> RefundView:
    """Steps 2 and 3 for a pending refund: find (``look_first``) or make it at the gateway,
    then settle with what the gateway says."""
    refund, payment_id, gateway_name = app.run(
        lambda s: _refund_and_payment(s, refund_id), write=False
    )
    client = cast(RefundLookupGateway, gateways.get_gateway(app, gateway_name))
    try:
        result = _ask_gateway(client, refund, payment_id, look_first=look_first)
    except GatewayUnavailable:
        raise  # outcome unknown: stays pending for refund-status or the webhook
    except GatewayError as error:
        declined = error
        app.run(
            lambda s: settle_refund(s, refund_id, "failed", None, app.actor, note=declined.message)
        )
        raise RefundFailed(
            f"the gateway declined refund {refund_id}: {declined.message}; "
            "the money is back in escrow",
            details={"refund": refund_id, "deposit": refund.deposit, **declined.details},
        ) from error
    finally:
        gateways.close_gateway(client)
    settled = app.run(
        lambda s: settle_refund(s, refund_id, result.status, result.provider_refund_id, app.actor)
    )
    if settled.status == "failed":
        raise RefundFailed(
            f"the gateway declined refund {refund_id}; the money is back in escrow",
            details={"refund": refund_id, "provider_refund_id": result.provider_refund_id},
        )
    return settled


def _ask_gateway(
    client: RefundLookupGateway, refund: RefundView, payment_id: str, *, look_first: bool
) -> RefundResult:
    if look_first:
        found = client.find_refund(
            provider_payment_id=payment_id,
            reference=gateway_reference(refund.id),
            idempotency_key=gateway_key(refund.id),
        )
        if found is not None:
            return found
    return client.refund(
        provider_payment_id=payment_id,
        reference=gateway_reference(refund.id),
        amount=refund.amount,
        currency=refund.currency,
        idempotency_key=gateway_key(refund.id),
    )


def _refund_and_payment(session: Session, refund_id: int) -> tuple[RefundView, str, str]:
    refund = get_refund(session, refund_id)
    deposit = deposit_row(session, refund.deposit)
    if deposit.provider_payment_id is None:  # cannot happen for a confirmed deposit
        raise InvalidState("the deposit has no gateway payment", details={"deposit": deposit.id})
    return refund, str(deposit.provider_payment_id), str(deposit.gateway)


def _check_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text or len(text) > 500 or not text.isprintable():
        raise InvalidInput(
            "a refund needs a --reason of 1 to 500 printable characters",
            details={"field": "reason"},
        )
    return text


# -- step 1: reserve ------------------------------------------------------------------------


def reserve_refund(
    session: Session,
    deposit: object,
    *,
    reason: str,
    key: str,
    actor: str,
    amount: str | None = None,
    amount_minor: int | None = None,
    dispute_id: int | None = None,
    now: datetime | None = None,
) -> tuple[RefundView, bool]:
    """Step 1 in the caller's unit of work: the refund row and its pending entry (``amount``
    in major units or ``amount_minor``; all that is available by default), or the refund the
    key already names (``fresh`` False). A dispute's resolution reserves its refund part here,
    in the resolving transaction, with ``dispute_id`` (that dispute's freeze does not apply to
    its own refund); ``send_refund`` then asks the gateway once it is committed."""
    reason = _check_reason(reason)
    row = lock_deposit(session, deposit_row(session, deposit).id)
    requested = parse_amount(amount, row.currency) if amount is not None else amount_minor
    scoped = f"{row.id}:{key}"
    wanted = {"amount": requested if requested is not None else "all", "reason": reason}
    existing = session.execute(
        select(ESCROW_REFUNDS).where(ESCROW_REFUNDS.c.idempotency_key == scoped)
    ).first()
    if existing is not None:
        ensure_same_request(
            key,
            stored={"hash": existing.request_hash},
            wanted={"hash": request_hash(wanted)},
            what="escrow refund",
            details={"refund": existing.id},
        )
        return refund_view(existing, replayed=True), False
    if row.status != "confirmed":
        raise InvalidState(
            f"deposit {row.id} is {row.status}; only a confirmed deposit can be refunded",
            details={"deposit": row.id, "status": row.status},
        )
    assert_not_in_dispute(session, row.id, allow=dispute_id)
    escrow = chart.escrow_account_code(row.id, row.currency)
    available = lock_balances(session, [escrow])[escrow].available
    refund_amount = available if requested is None else requested
    if refund_amount <= 0 or refund_amount > available:
        wanted_text = "anything" if requested is None else format_amount(requested, row.currency)
        raise InsufficientFunds(
            f"deposit {row.id} has {format_amount(max(available, 0), row.currency)} in escrow "
            f"available to refund, not {wanted_text}",
            details={
                "deposit": row.id,
                "available_minor": available,
                "requested_minor": refund_amount,
                "currency": row.currency,
            },
        )
    now = now or utcnow()
    refund_id = _insert(session, row, refund_amount, scoped, wanted, reason, dispute_id, actor, now)
    entry = post_entries(
        session,
        [
            transfer(
                escrow,
                chart.gateway_cash(row.gateway, row.currency),
                refund_amount,
                row.currency,
                pending=True,
                idempotency_key=gateway_key(refund_id),
                reason=f"escrow refund {refund_id} of deposit {row.id}: {reason}"[:500],
                metadata={
                    "kind": "escrow_refund",
                    "deposit": row.id,
                    "refund": refund_id,
                    "investor": row.investor_id,
                    # reconcile: our reference before the gateway's refund id is known (the
                    # posting entry carries that), and what it gives back
                    "reference": gateway_reference(refund_id),
                    "refund_of": row.reference,
                },
            )
        ],
        actor=actor,
        now=now,
    )[0]
    session.execute(
        update(ESCROW_REFUNDS).where(ESCROW_REFUNDS.c.id == refund_id).values(entry_id=entry.id)
    )
    record_escrow_event(
        session,
        row.id,
        "refund_requested",
        actor,
        amount=refund_amount,
        subject=f"refund:{refund_id}",
        details={"reason": reason, "entry_id": entry.id, "dispute_id": dispute_id},
        now=now,
    )
    return get_refund(session, refund_id), True


def _insert(
    session: Session,
    row: Any,
    amount: int,
    scoped_key: str,
    wanted: dict[str, Any],
    reason: str,
    dispute_id: int | None,
    actor: str,
    now: datetime,
) -> int:
    refund_id: int = session.execute(
        ESCROW_REFUNDS.insert()
        .values(
            deposit_id=row.id,
            dispute_id=dispute_id,
            currency=row.currency,
            amount=amount,
            units_cancelled=0,
            status="pending",
            idempotency_key=scoped_key,
            request_hash=request_hash(wanted),
            reason=reason,
            requested_by=actor,
            created_at=now,
        )
        .returning(ESCROW_REFUNDS.c.id)
    ).scalar_one()
    return refund_id
