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
A deposit with an open dispute refuses refunds (DEPOSIT_IN_DISPUTE, exit 6) unless the refund
is the dispute's own resolution (``dispute_id``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from legato_pay import chart, gateways
from legato_pay.errors import (
    Conflict,
    GatewayError,
    GatewayUnavailable,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    NotFound,
    RefundFailed,
)
from legato_pay.escrow.deposits import MAX_KEY_LENGTH, deposit_row
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.gateways.base import RefundLookupGateway, RefundResult
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger import lock_balances, post_entries, resolve_pending, transfer
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, parse_amount
from legato_pay.shares.register import cancel_units
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import ESCROW_DISPUTES, ESCROW_REFUNDS

if TYPE_CHECKING:
    from legato_pay.context import AppContext

STATUSES = ("pending", "succeeded", "failed")
#: Dispute statuses that freeze a deposit's refunds.
OPEN_DISPUTES = ("open", "resolving")


@dataclass(frozen=True, slots=True)
class RefundView:
    id: int
    deposit: int
    currency: str
    amount: int
    units_cancelled: int
    status: str
    provider_refund_id: str | None
    entry_id: int | None
    resolution_entry_id: int | None
    dispute_id: int | None
    key: str | None
    reason: str
    requested_by: str
    created_at: datetime
    settled_at: datetime | None
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "deposit": self.deposit,
            "amount": {
                "amount": self.amount,
                "currency": self.currency,
                "display": format_amount(self.amount, self.currency),
            },
            "units_cancelled": self.units_cancelled,
            "status": self.status,
            "provider_refund_id": self.provider_refund_id,
            "entry_id": self.entry_id,
            "resolution_entry_id": self.resolution_entry_id,
            "dispute_id": self.dispute_id,
            "key": self.key,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "settled_at": self.settled_at.isoformat() if self.settled_at else None,
            "replayed": self.replayed,
        }


def refund_view(row: Any, *, replayed: bool = False) -> RefundView:
    key = row.idempotency_key
    return RefundView(
        id=row.id,
        deposit=row.deposit_id,
        currency=row.currency,
        amount=row.amount,
        units_cancelled=row.units_cancelled,
        status=row.status,
        provider_refund_id=row.provider_refund_id,
        entry_id=row.entry_id,
        resolution_entry_id=row.resolution_entry_id,
        dispute_id=row.dispute_id,
        key=key.split(":", 1)[1] if key else None,
        reason=row.reason,
        requested_by=row.requested_by,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        settled_at=as_utc(row.settled_at),
        replayed=replayed,
    )


def gateway_key(refund_id: int) -> str:
    """The idempotency key the gateway is asked with (and finds the refund by on a rerun)."""
    return f"escrow-refund:{refund_id}"


def gateway_reference(refund_id: int) -> str:
    """The refund's reference at the gateway (Stripe ``metadata.reference``)."""
    return f"escrow-refund-{refund_id}"


def refund_row(session: Session, refund: object, *, lock: bool = False) -> Any:
    """A refund's row (REFUND_NOT_FOUND, exit 5, if unknown)."""
    text = str(refund).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InvalidInput(
            "a refund id is a whole number greater than zero", details={"refund": text[:40]}
        )
    query = select(ESCROW_REFUNDS).where(ESCROW_REFUNDS.c.id == int(text))
    row = session.execute(for_update(query, session) if lock else query).first()
    if row is None:
        raise NotFound(
            f"no escrow refund {text}", details={"refund": text}, code="REFUND_NOT_FOUND"
        )
    return row


def get_refund(session: Session, refund: object) -> RefundView:
    return refund_view(refund_row(session, refund))


def list_refunds(session: Session, deposit: object) -> list[RefundView]:
    """A deposit's refunds, oldest first (DEPOSIT_NOT_FOUND if unknown)."""
    row = deposit_row(session, deposit)
    rows = session.execute(
        select(ESCROW_REFUNDS)
        .where(ESCROW_REFUNDS.c.deposit_id == row.id)
        .order_by(ESCROW_REFUNDS.c.id)
    ).all()
    return [refund_view(r) for r in rows]


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
    reason = _check_reason(reason)
    own_key = check_key(key, max_length=MAX_KEY_LENGTH) or f"auto-{secrets.token_hex(8)}"
    view, fresh = app.run(
        lambda s: _reserve(s, deposit, amount, reason, own_key, dispute_id, app.actor)
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
        close = getattr(client, "close", None)
        if callable(close):
            close()
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


def _reserve(
    session: Session,
    deposit: object,
    amount: str | None,
    reason: str,
    key: str,
    dispute_id: int | None,
    actor: str,
) -> tuple[RefundView, bool]:
    """The refund row and its pending entry, or the refund the key already names."""
    row = deposit_row(session, deposit, lock=True)
    requested = parse_amount(amount, row.currency) if amount is not None else None
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
    _refuse_disputed(session, row.id, dispute_id)
    escrow = chart.escrow_account_code(row.id, row.currency)
    available = lock_balances(session, [escrow])[escrow].available
    refund_amount = available if requested is None else requested
    if refund_amount <= 0 or refund_amount > available:
        raise InsufficientFunds(
            f"deposit {row.id} has {format_amount(max(available, 0), row.currency)} in escrow "
            f"available to refund, not {format_amount(refund_amount, row.currency)}",
            details={
                "deposit": row.id,
                "available_minor": available,
                "requested_minor": refund_amount,
                "currency": row.currency,
            },
        )
    now = utcnow()
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
                metadata={"deposit": row.id, "refund": refund_id, "investor": row.investor_id},
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


def _refuse_disputed(session: Session, deposit_id: int, dispute_id: int | None) -> None:
    query = select(ESCROW_DISPUTES.c.id).where(
        ESCROW_DISPUTES.c.deposit_id == deposit_id,
        ESCROW_DISPUTES.c.status.in_(OPEN_DISPUTES),
    )
    if dispute_id is not None:
        query = query.where(ESCROW_DISPUTES.c.id != dispute_id)
    disputes = [row.id for row in session.execute(query)]
    if disputes:
        raise Conflict(
            f"deposit {deposit_id} is in dispute ({', '.join(map(str, disputes))}): "
            "no refund until it is resolved",
            details={"deposit": deposit_id, "disputes": disputes},
            code="DEPOSIT_IN_DISPUTE",
        )


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


# -- step 3: settle -------------------------------------------------------------------------


def settle_refund(
    session: Session,
    refund_id: int,
    outcome: str,
    provider_refund_id: str | None,
    actor: str,
    *,
    note: str | None = None,
) -> RefundView:
    """Apply the gateway's word on a refund, exactly once: only a ``pending`` refund changes
    (checked with its deposit locked). ``succeeded`` posts the reservation and cancels units;
    ``failed`` voids it; ``pending`` only records the gateway's refund id."""
    first = refund_row(session, refund_id)
    deposit = deposit_row(session, first.deposit_id, lock=True)
    row = refund_row(session, refund_id, lock=True)
    if row.status != "pending":
        return refund_view(row)
    if provider_refund_id and row.provider_refund_id is None:
        session.execute(
            update(ESCROW_REFUNDS)
            .where(ESCROW_REFUNDS.c.id == refund_id)
            .values(provider_refund_id=provider_refund_id)
        )
    if outcome == "succeeded":
        _succeed(session, deposit, row, actor)
    elif outcome == "failed":
        _fail(session, deposit, row, actor, note)
    return get_refund(session, refund_id)


def _succeed(session: Session, deposit: Any, row: Any, actor: str) -> None:
    now = utcnow()
    posted = resolve_pending(
        session,
        row.entry_id,
        post=True,
        actor=actor,
        idempotency_key=f"{gateway_key(row.id)}:post",
        reason=f"escrow refund {row.id} succeeded at the gateway",
        now=now,
    )
    units = _cancel_units(session, deposit, row, actor, now)
    session.execute(
        update(ESCROW_REFUNDS)
        .where(ESCROW_REFUNDS.c.id == row.id)
        .values(
            status="succeeded",
            resolution_entry_id=posted.id,
            units_cancelled=units,
            settled_at=now,
        )
    )
    record_escrow_event(
        session,
        deposit.id,
        "refund_succeeded",
        actor,
        amount=row.amount,
        subject=f"refund:{row.id}",
        details={"entry_id": posted.id, "units_cancelled": units},
        now=now,
    )


def _fail(session: Session, deposit: Any, row: Any, actor: str, note: str | None) -> None:
    now = utcnow()
    voided = resolve_pending(
        session,
        row.entry_id,
        post=False,
        actor=actor,
        idempotency_key=f"{gateway_key(row.id)}:void",
        reason=f"escrow refund {row.id} failed at the gateway",
        now=now,
    )
    session.execute(
        update(ESCROW_REFUNDS)
        .where(ESCROW_REFUNDS.c.id == row.id)
        .values(status="failed", resolution_entry_id=voided.id, settled_at=now)
    )
    record_escrow_event(
        session,
        deposit.id,
        "refund_failed",
        actor,
        amount=row.amount,
        subject=f"refund:{row.id}",
        details={"entry_id": voided.id, "note": note[:300] if note else None},
        now=now,
    )


def units_due(units: int, deposited: int, refunded_before: int, refunded_after: int) -> int:
    """Units a refund cancels: the cumulative floor share, so the shares add up to all units
    once the whole deposit is refunded."""
    return (units * refunded_after) // deposited - (units * refunded_before) // deposited


def _cancel_units(session: Session, deposit: Any, row: Any, actor: str, now: datetime) -> int:
    if not deposit.units or deposit.movement_id is None:
        return 0
    before = int(
        session.execute(
            select(func.coalesce(func.sum(ESCROW_REFUNDS.c.amount), 0)).where(
                ESCROW_REFUNDS.c.deposit_id == deposit.id,
                ESCROW_REFUNDS.c.status == "succeeded",
                ESCROW_REFUNDS.c.id != row.id,
            )
        ).scalar_one()
    )
    due = units_due(deposit.units, deposit.amount, before, before + row.amount)
    movement = cancel_units(
        session,
        actor=actor,
        app_id=deposit.app_id,
        investor=deposit.investor_id,
        units=due,
        key=f"escrow-refund:{row.id}",
        now=now,
    )
    return movement.units if movement is not None else 0
