"""The gateways' refund webhooks applied to escrow refunds (Paystack ``refund.*``, Stripe
``refund.*`` / ``charge.refunded``), inside the inbox's transaction, exactly once
(``refunds.settle_refund`` changes only a pending refund).

A notice is ours when it names a refund id we recorded, our refund reference
(``escrow-refund-<id>``, Stripe's ``metadata.reference``), or, for Paystack (whose refund
events carry no refund id), the transaction reference of one of our deposits: then the oldest
pending refund of that deposit for the notice's amount. Notices that are not ours are handed
back for the purchases' refunds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.escrow.refunds_settle import settle_refund
from legato_pay.gateways.base import RefundNotice
from legato_pay.gateways.paystack.references import (
    conformed_reference_pattern,
    transaction_reference,
)
from legato_pay.store.tables import ESCROW_DEPOSITS, ESCROW_REFUNDS

_OUR_REFERENCE = re.compile(r"escrow-refund-([0-9]{1,18})", re.ASCII)


@dataclass(frozen=True, slots=True)
class EscrowRefundEvent:
    """What one notice did (``outcome``: the inbox's applied | ignored | flagged)."""

    outcome: str
    message: str
    refund_id: int | None = None

    def __str__(self) -> str:
        return self.message


def apply_escrow_refund_notices(
    session: Session, provider: str, notices: list[RefundNotice]
) -> tuple[list[EscrowRefundEvent], list[RefundNotice]]:
    """Settle the notices about escrow refunds; return what they did and the other notices."""
    results: list[EscrowRefundEvent] = []
    others: list[RefundNotice] = []
    actor = f"webhook:{provider}"
    for notice in notices:
        found = _find(session, provider, notice)
        if found is None:
            others.append(notice)
        elif isinstance(found, EscrowRefundEvent):
            results.append(found)
        else:
            results.append(_apply(session, found, notice, actor))
    return results, others


def _apply(session: Session, row: Any, notice: RefundNotice, actor: str) -> EscrowRefundEvent:
    what = f"escrow refund {row.id}"
    if notice.status == "attention":
        return EscrowRefundEvent("flagged", f"{what} needs attention at the gateway", row.id)
    if notice.status not in ("succeeded", "failed"):
        return EscrowRefundEvent("applied", f"{what} still {notice.raw_status}", row.id)
    if row.status != "pending" and row.status != notice.status:
        return EscrowRefundEvent(
            "flagged",
            f"{what} is {row.status}, the gateway now says {notice.raw_status}: a person checks",
            row.id,
        )
    settled = settle_refund(session, row.id, notice.status, notice.refund_id, actor)
    return EscrowRefundEvent("applied", f"{what} {settled.status}", row.id)


def _find(session: Session, provider: str, notice: RefundNotice) -> Any:
    """Our refund row, an event saying why it cannot be told, or None (not an escrow refund)."""
    if notice.refund_id is not None:
        row = session.execute(
            select(ESCROW_REFUNDS)
            .join(ESCROW_DEPOSITS, ESCROW_DEPOSITS.c.id == ESCROW_REFUNDS.c.deposit_id)
            .where(
                ESCROW_REFUNDS.c.provider_refund_id == notice.refund_id,
                ESCROW_DEPOSITS.c.gateway == provider,
            )
        ).first()
        if row is not None:
            return row
    hint = notice.purchase_hint
    if hint is None:
        return None
    ours = _OUR_REFERENCE.fullmatch(hint)
    if ours is not None:  # our reference, on a deposit made through this provider
        return session.execute(
            select(ESCROW_REFUNDS)
            .join(ESCROW_DEPOSITS, ESCROW_DEPOSITS.c.id == ESCROW_REFUNDS.c.deposit_id)
            .where(
                ESCROW_REFUNDS.c.id == int(ours.group(1)),
                ESCROW_DEPOSITS.c.gateway == provider,
            )
        ).first()
    if provider != "paystack":
        return None
    return _by_deposit(session, hint, notice)


def _by_deposit(session: Session, hint: str, notice: RefundNotice) -> Any:
    """Paystack: the deposit whose transaction reference is ``hint``, then its oldest pending
    refund of the notice's amount (a repeat finds the settled one of that amount)."""
    pattern = conformed_reference_pattern(hint)
    matches = ESCROW_DEPOSITS.c.reference == hint
    if pattern is not None:
        matches = matches | ESCROW_DEPOSITS.c.reference.like(pattern)
    deposits = [
        row.id
        for row in session.execute(
            select(ESCROW_DEPOSITS.c.id, ESCROW_DEPOSITS.c.reference).where(
                matches, ESCROW_DEPOSITS.c.gateway == "paystack"
            )
        )
        if transaction_reference(row.reference) == hint
    ]
    if not deposits:
        return None
    rows = list(
        session.execute(
            select(ESCROW_REFUNDS)
            .where(
                ESCROW_REFUNDS.c.deposit_id == deposits[0],
                ESCROW_REFUNDS.c.amount == notice.amount,
            )
            .order_by(ESCROW_REFUNDS.c.id)
        )
    )
    pending = [row for row in rows if row.status == "pending"]
    if pending:
        return pending[0]
    settled = [row for row in rows if row.status == notice.status]
    if settled:
        return EscrowRefundEvent(
            "ignored", f"escrow refund {settled[0].id} is already {notice.status}", settled[0].id
        )
    return EscrowRefundEvent(
        "flagged",
        f"paystack refund of {notice.amount} for deposit {deposits[0]} matches no pending "
        "escrow refund",
    )
