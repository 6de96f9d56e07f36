"""How escrow refunds read: ``RefundView``, lookups, and the keys a refund is known by at
the gateway (see ``refunds`` for what a refund does)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, NotFound
from legato_pay.escrow.deposits import deposit_row
from legato_pay.ledger.types import as_utc
from legato_pay.money import format_amount
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import ESCROW_REFUNDS

STATUSES = ("pending", "succeeded", "failed")


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
