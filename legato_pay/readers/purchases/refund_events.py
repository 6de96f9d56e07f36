"""The gateway's later word on a refund (webhooks: Paystack ``refund.*``, Stripe ``refund.*``
and ``charge.refunded``): complete or confirm it, release its reservation, or undo a booked
refund that failed after all (its entry reversed once). See ``update_refunds_from_event``.

The gateways read the provider's payload into ``RefundNotice``s; this module decides what each
means for our refund rows, inside the caller's transaction (the webhook inbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from legato_pay.gateways.base import RefundNotice, RefundResult
from legato_pay.gateways.events import refund_notices
from legato_pay.gateways.paystack.references import (
    conformed_reference_pattern,
    transaction_reference,
)
from legato_pay.ledger import reverse_entry
from legato_pay.ledger.types import utcnow
from legato_pay.readers.purchases.refunds import apply_refund, refund_row, release_refund
from legato_pay.readers.purchases.views import purchase_row
from legato_pay.store.tables import ENTRIES, PURCHASES, REFUNDS


@dataclass(frozen=True, slots=True)
class RefundEventResult:
    """What one refund notice did; ``outcome`` is the inbox's word for it."""

    outcome: str  # applied | ignored | flagged
    message: str
    refund_id: int | None = None

    def __str__(self) -> str:
        return self.message


def apply_refund_event(session: Session, provider: str, data: dict[str, Any]) -> str:
    """Apply a provider's refund event (see ``update_refunds_from_event``); says what it did."""
    return "; ".join(str(result) for result in update_refunds_from_event(session, provider, data))


def update_refunds_from_event(
    session: Session, provider: str, data: dict[str, Any]
) -> list[RefundEventResult]:
    """Bring our refunds in line with what the provider says about them, inside the caller's
    transaction (the webhook inbox). Idempotent: a repeat or replay changes nothing more.

    - success on a ``requested`` refund (our bookkeeping was interrupted after the gateway
      accepted it) completes it through ``apply_refund``; on a ``succeeded`` one, confirms it.
    - failure on a ``requested`` refund releases its reservation; on a ``succeeded`` one (booked
      when the gateway accepted it) undoes it: the refund entry is reversed (coins back in the
      wallets), the purchase's refunded amount and coin counts are given back.
    - pending changes nothing; needs-attention, an ambiguous match or a contradiction is flagged.
    """
    return apply_refund_notices(session, provider, refund_notices(provider, data))


def apply_refund_notices(
    session: Session, provider: str, notices: list[RefundNotice]
) -> list[RefundEventResult]:
    """``update_refunds_from_event`` for notices already read from the body (reading can fail
    with VALIDATION_ERROR before anything is written; this part only decides and writes)."""
    actor = f"webhook:{provider}"
    return [_apply_refund_notice(session, notice, actor) for notice in notices]


def _refund_rows_by_provider_id(session: Session, provider: str, refund_id: str) -> list[Any]:
    query = (
        select(REFUNDS)
        .join(PURCHASES, PURCHASES.c.reference == REFUNDS.c.reference)
        .where(REFUNDS.c.gateway_refund_id == refund_id, PURCHASES.c.gateway == provider)
        .order_by(REFUNDS.c.id)
    )
    return list(session.execute(query))


def _refund_rows_by_purchase(session: Session, provider: str, hint: str) -> list[Any]:
    """The refunds of the purchase a hint names: our reference, or for Paystack the
    conformant reference ``transaction_reference`` made of it (found by the LIKE pattern the
    gateway gives for it, then checked exactly)."""
    matches = REFUNDS.c.reference == hint
    pattern = conformed_reference_pattern(hint) if provider == "paystack" else None
    if pattern is not None:
        matches = matches | REFUNDS.c.reference.like(pattern)
    query = (
        select(REFUNDS)
        .join(PURCHASES, PURCHASES.c.reference == REFUNDS.c.reference)
        .where(matches, PURCHASES.c.gateway == provider)
        .order_by(REFUNDS.c.id)
    )
    rows = list(session.execute(query))
    if provider != "paystack":
        return [row for row in rows if row.reference == hint]
    return [row for row in rows if transaction_reference(row.reference) == hint]


def _find_refund(session: Session, notice: RefundNotice) -> tuple[Any, RefundEventResult | None]:
    """Our refund row for a notice, or why there is none (ignored: unknown; flagged: cannot
    tell which, or a failure we cannot pin on one booked refund)."""
    what = f"{notice.provider} refund {notice.refund_id or '(no id)'}"
    if notice.refund_id is not None:
        found = _refund_rows_by_provider_id(session, notice.provider, notice.refund_id)
        if len(found) == 1:
            return found[0], None
        if found:
            ids = [row.id for row in found]
            return None, RefundEventResult("flagged", f"{what} matches refunds {ids}")
    if notice.purchase_hint is None or notice.amount is None:
        return None, RefundEventResult("ignored", f"{what} is not one of our refunds")
    # Same purchase and amount, not failed; a row that knows its provider id is another refund.
    same = [
        row
        for row in _refund_rows_by_purchase(session, notice.provider, notice.purchase_hint)
        if row.amount == notice.amount
        and row.status != "failed"
        and (notice.refund_id is None or row.gateway_refund_id is None)
    ]
    if not same and notice.refund_id is None and notice.status == "failed":
        # A repeat of an id-less failure already applied: the one failed refund of that amount.
        failed = [
            row
            for row in _refund_rows_by_purchase(session, notice.provider, notice.purchase_hint)
            if row.amount == notice.amount and row.status == "failed"
        ]
        if len(failed) == 1:
            return failed[0], None
    open_rows = [row for row in same if row.status == "requested"]
    if len(open_rows) == 1:
        return open_rows[0], None
    if len(open_rows) > 1:
        ids = [row.id for row in open_rows]
        return None, RefundEventResult(
            "flagged", f"{what} of {notice.amount} could be any of refunds {ids}; none changed"
        )
    if len(same) == 1 and notice.refund_id is None:
        # Paystack's refund events carry no refund id: the purchase and the amount pin it
        # when only one refund of that amount is booked.
        return same[0], None
    if same and notice.status in ("failed", "attention", "unknown"):
        ids = [row.id for row in same]
        return None, RefundEventResult(
            "flagged",
            f"{what} is {notice.raw_status} without an id we know; booked refunds {ids} of that "
            "amount need a person to check",
        )
    if same:
        ids = [row.id for row in same]
        return None, RefundEventResult(
            "applied", f"{what} {notice.raw_status}: confirmed (booked refunds {ids} match it)"
        )
    return None, RefundEventResult(
        "ignored", f"{what}: no refund of {notice.purchase_hint} for {notice.amount}"
    )


def _apply_refund_notice(session: Session, notice: RefundNotice, actor: str) -> RefundEventResult:
    found, why = _find_refund(session, notice)
    if why is not None:
        return why
    purchase = purchase_row(session, found.reference, lock=True)  # then the refund as it is now
    row = refund_row(session, found.id)
    outcome, message = _notice_outcome(session, notice, row, purchase.currency, actor)
    return RefundEventResult(outcome, f"refund {row.id} of {row.reference} {message}", row.id)


def _notice_outcome(
    session: Session, notice: RefundNotice, row: Any, currency: str, actor: str
) -> tuple[str, str]:
    """What a notice does to the refund it names (the purchase row is locked): outcome, message."""
    by_id = notice.refund_id is not None and notice.refund_id == row.gateway_refund_id
    if row.status == "requested" and by_id:
        # Only an earlier attempt (failed, now retried under the same key) leaves its provider
        # id on a requested row: this notice is about that attempt, not the one in flight.
        outcome = "flagged" if notice.status == "succeeded" else "ignored"
        return outcome, f"is being retried; {notice.raw_status} was an earlier attempt"
    if notice.amount is not None and notice.amount != row.amount:
        return (
            "flagged",
            f"is for {row.amount} here but {notice.amount} at {notice.provider}: check it",
        )
    if notice.status == "pending":
        return "applied", f"{notice.raw_status} at {notice.provider}: no change"
    if notice.status in ("attention", "unknown"):
        return "flagged", f"is {notice.raw_status!r} at {notice.provider}: check it"
    if notice.status == "succeeded":
        return _succeeded(session, notice, row, currency, actor)
    return _failed(session, notice, row, actor)


def _succeeded(
    session: Session, notice: RefundNotice, row: Any, currency: str, actor: str
) -> tuple[str, str]:
    """The provider paid the refund: confirm ours, or finish its interrupted bookkeeping."""
    if row.status == "succeeded":
        return "applied", "confirmed"
    if row.status == "failed":
        return (
            "flagged",
            f"is {notice.raw_status} at {notice.provider} but failed here: reconcile it",
        )
    refund_result = RefundResult(
        provider=notice.provider,
        provider_refund_id=notice.refund_id or "",
        status="succeeded",
        amount=row.amount,
        currency=currency,
    )
    done = apply_refund(session, row.id, refund_result, actor)
    return (
        "applied",
        f"completed: {done.refund.coins_clawed_back} coins clawed back, "
        f"{done.refund.coins_lost} lost",
    )


def _failed(session: Session, notice: RefundNotice, row: Any, actor: str) -> tuple[str, str]:
    """The refund failed at the provider: release its reservation, or undo the booked one."""
    if row.status == "failed":
        return "applied", "already failed"
    if row.status == "requested":
        release_refund(session, row.id)
        _remember_provider_id(session, row.id, notice.refund_id)
        return "applied", f"{notice.raw_status}: reservation released"
    return _undo_refund(session, row, notice, actor)


def _remember_provider_id(session: Session, refund_id: int, provider_id: str | None) -> None:
    if provider_id is not None:
        session.execute(
            update(REFUNDS)
            .where(REFUNDS.c.id == refund_id, REFUNDS.c.gateway_refund_id.is_(None))
            .values(gateway_refund_id=provider_id)
        )


def _undo_refund(
    session: Session,
    row: Any,
    notice: RefundNotice,
    actor: str,
) -> tuple[str, str]:
    """A refund we booked when the gateway accepted it failed there after all: reverse its
    entry (coins back in the wallets, cash back at the gateway) and give back what it took
    from the purchase, at most once (the refund's status flips once; the reversal is keyed).
    The caller holds the purchase row lock."""
    key = f"purchase-refund-failed:{row.idempotency_key}"
    if row.entry_id is None:
        return "flagged", "is succeeded without a ledger entry: check it"
    other = session.execute(
        select(ENTRIES.c.id, ENTRIES.c.idempotency_key).where(
            ENTRIES.c.reverses_entry_id == row.entry_id
        )
    ).first()
    if other is not None and other.idempotency_key != key:
        return (
            "flagged",
            f"failed at {notice.provider}, but its entry {row.entry_id} was already reversed "
            f"by entry {other.id}: reconcile it",
        )
    claimed = session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == row.id, REFUNDS.c.status == "succeeded")
        .values(status="failed")
        .returning(REFUNDS.c.id)
    ).first()
    if claimed is None:
        return "applied", "already failed"
    _remember_provider_id(session, row.id, notice.refund_id)
    reversal = reverse_entry(
        session,
        row.entry_id,
        actor=actor,
        reason=f"refund {row.id} of coin purchase {row.reference} failed at {notice.provider}",
        idempotency_key=key,
    )
    remaining = session.execute(
        select(func.coalesce(func.sum(REFUNDS.c.amount), 0)).where(
            REFUNDS.c.reference == row.reference, REFUNDS.c.status == "succeeded"
        )
    ).scalar_one()
    session.execute(
        update(PURCHASES)
        .where(PURCHASES.c.reference == row.reference)
        .values(
            status="partially_refunded" if int(remaining) else "succeeded",
            refunded_amount=PURCHASES.c.refunded_amount - row.amount,
            coins_clawed_back=PURCHASES.c.coins_clawed_back - row.coins_clawed_back,
            coins_lost=PURCHASES.c.coins_lost - row.coins_lost,
            updated_at=utcnow(),
        )
    )
    return (
        "applied",
        f"{notice.raw_status} after it was booked: undone by entry {reversal.id}, "
        f"{row.coins_clawed_back} coins back in the wallet",
    )
