"""The freeze a dispute puts on its deposit: one check every release, refund and approval of
a deposit makes (with the deposit's row locked, so a dispute opened meanwhile is seen)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import DepositInDispute
from legato_pay.store.tables import ESCROW_DISPUTES

#: Dispute statuses that freeze their deposit.
FREEZING = ("open", "resolving")


def open_dispute_of(session: Session, deposit_id: int) -> Any:
    """The deposit's open (or resolving) dispute row, or None."""
    return session.execute(
        select(ESCROW_DISPUTES)
        .where(ESCROW_DISPUTES.c.deposit_id == deposit_id, ESCROW_DISPUTES.c.status.in_(FREEZING))
        .order_by(ESCROW_DISPUTES.c.id)
    ).first()


def assert_not_in_dispute(session: Session, deposit_id: int) -> None:
    """DEPOSIT_IN_DISPUTE (exit 6) while the deposit has an open or resolving dispute."""
    dispute = open_dispute_of(session, deposit_id)
    if dispute is not None:
        raise DepositInDispute(
            f"escrow deposit {deposit_id} is in dispute (dispute {dispute.id}, "
            f"{dispute.status}): its releases and refunds wait until it is resolved",
            details={"deposit": deposit_id, "dispute": dispute.id, "status": dispute.status},
        )
