"""The freeze a dispute puts on its deposit: the one check every release, refund and approval
of a deposit makes, called with the deposit's row locked first (``balances.lock_deposit``), so
a dispute committed meanwhile is seen. Escrow's one lock order: the deposit row, then the
release/refund/dispute row, then the ledger's balances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import DepositInDispute
from legato_pay.store.tables import ESCROW_DISPUTES

#: Dispute statuses that freeze their deposit.
FREEZING = ("open", "resolving")


def open_dispute_of(session: Session, deposit_id: int, *, allow: int | None = None) -> Any:
    """The deposit's open (or resolving) dispute row other than ``allow``, or None."""
    query = select(ESCROW_DISPUTES).where(
        ESCROW_DISPUTES.c.deposit_id == deposit_id, ESCROW_DISPUTES.c.status.in_(FREEZING)
    )
    if allow is not None:
        query = query.where(ESCROW_DISPUTES.c.id != allow)
    return session.execute(query.order_by(ESCROW_DISPUTES.c.id)).first()


def assert_not_in_dispute(session: Session, deposit_id: int, *, allow: int | None = None) -> None:
    """DEPOSIT_IN_DISPUTE (exit 6) while the deposit has an open or resolving dispute; the
    dispute ``allow`` (the one whose resolution is moving the money) does not count."""
    dispute = open_dispute_of(session, deposit_id, allow=allow)
    if dispute is not None:
        raise DepositInDispute(
            f"escrow deposit {deposit_id} is in dispute (dispute {dispute.id}, "
            f"{dispute.status}): its releases and refunds wait until it is resolved",
            details={"deposit": deposit_id, "dispute": dispute.id, "status": dispute.status},
        )
