"""What one deposit holds: deposited, released, refunded, held and available, and the deposit
row itself (read or locked) for the escrow services.

The ledger is the authority for what can still move: ``available`` is the escrow account's
posted balance less its outgoing reservations (held releases and refunds in flight), exactly
what the no-overdraft check enforces. ``released`` and ``refunded`` are the posted releases and
settled refunds recorded beside it, ``held`` the pending debits of the escrow account.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.errors import AccountNotFound, InvalidState, NotFound
from legato_pay.ledger import get_balance
from legato_pay.payouts.methods import parse_id
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import ESCROW_DEPOSITS, ESCROW_REFUNDS, ESCROW_RELEASES

#: Deposits whose money is in escrow (releases, refunds and disputes apply to them).
CONFIRMED = ("confirmed",)
#: Refund statuses whose money has left escrow for good.
REFUND_SETTLED = ("succeeded",)


def parse_deposit_id(value: object) -> int:
    return parse_id(value, field="deposit")


def _deposit_query(deposit_id: int) -> Any:
    return select(ESCROW_DEPOSITS).where(ESCROW_DEPOSITS.c.id == deposit_id)


def _missing(deposit_id: int) -> NotFound:
    return NotFound(
        f"no escrow deposit {deposit_id}",
        details={"deposit": deposit_id},
        code="DEPOSIT_NOT_FOUND",
    )


def get_deposit_row(session: Session, deposit_id: int | str) -> Any:
    """The deposit's row; DEPOSIT_NOT_FOUND (5) otherwise."""
    number = parse_deposit_id(deposit_id)
    row = session.execute(_deposit_query(number)).first()
    if row is None:
        raise _missing(number)
    return row


def lock_deposit(session: Session, deposit_id: int | str) -> Any:
    """The deposit's row, locked until the unit of work ends (PostgreSQL; SQLite's write
    transaction is one lock): releases, refunds and disputes of one deposit take turns, so a
    dispute opened while a release waits is seen by it."""
    number = parse_deposit_id(deposit_id)
    row = session.execute(for_update(_deposit_query(number), session)).first()
    if row is None:
        raise _missing(number)
    return row


def require_confirmed(row: Any, wanted: str) -> None:
    if row.status not in CONFIRMED:
        raise InvalidState(
            f"escrow deposit {row.id} is {row.status}: only a confirmed deposit can be {wanted}",
            details={"deposit": row.id, "status": row.status},
        )


def deposit_balances(session: Session, deposit_id: int) -> dict[str, Any]:
    """``{"currency", "deposited", "released", "refunded", "held", "available"}`` in minor
    units (``available`` = what a release or refund may still take, as the ledger enforces)."""
    row = get_deposit_row(session, deposit_id)
    code = chart.escrow_account_code(row.id, row.currency)
    try:
        balance = get_balance(session, code)
        deposited = balance.totals.credits_posted
        held = balance.totals.debits_pending
        available = balance.available
    except AccountNotFound:  # not confirmed yet: nothing ever reached escrow
        deposited = held = available = 0
    released = session.execute(
        select(func.coalesce(func.sum(ESCROW_RELEASES.c.amount), 0)).where(
            ESCROW_RELEASES.c.deposit_id == row.id, ESCROW_RELEASES.c.status == "posted"
        )
    ).scalar_one()
    refunded = session.execute(
        select(func.coalesce(func.sum(ESCROW_REFUNDS.c.amount), 0)).where(
            ESCROW_REFUNDS.c.deposit_id == row.id, ESCROW_REFUNDS.c.status.in_(REFUND_SETTLED)
        )
    ).scalar_one()
    return {
        "currency": row.currency,
        "deposited": int(deposited),
        "released": int(released),
        "refunded": int(refunded),
        "held": int(held),
        "available": int(available),
    }
