"""Transfer webhooks applied to payouts, inside the webhook inbox's transaction.

Paystack ``transfer.success``, ``transfer.failed`` and ``transfer.reversed`` carry the
transfer (``data.reference`` is the payout's ``payout-<id>``); Stripe ``transfer.created``,
``transfer.updated`` and ``transfer.reversed`` carry the Transfer object (its
``transfer_group`` and ``metadata.reference`` are the payout's reference). Each becomes a
``TransferNotice`` for ``sending_outcomes.apply_notice``, which applies it once whatever the
number of deliveries or racing verifies. Stripe ``payout.*`` events concern a connected
account's own bank payout and name no payout of ours: they stay stored, as before.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput, LegatoError
from legato_pay.gateways.base import mapping
from legato_pay.gateways.paystack import transfers as paystack_transfers
from legato_pay.gateways.stripe import transfers as stripe_transfers
from legato_pay.gateways.transfers import TransferNotice
from legato_pay.payouts.sending_outcomes import apply_notice
from legato_pay.store.tables import PAYOUTS
from legato_pay.webhooks.events import Outcome, ParsedEvent

_OUTCOME = {"applied": "applied", "pending": "applied", "ignored": "ignored", "flagged": "flagged"}


def is_transfer_event(event: ParsedEvent) -> bool:
    if event.provider == "paystack":
        return event.type in paystack_transfers.TRANSFER_EVENT_TYPES
    if event.provider == "stripe":
        return event.type in stripe_transfers.TRANSFER_EVENT_TYPES
    return False


def _notice(event: ParsedEvent) -> TransferNotice:
    if event.provider == "paystack":
        return paystack_transfers.notice_from(mapping(event.data.get("data"), "data"))
    data = mapping(event.data.get("data"), "data")
    obj = mapping(data.get("object"), "data.object")
    try:
        return stripe_transfers.notice_from(obj)
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("the transfer object lacks its id, amount or currency") from None


def apply_transfer_event(session: Session, event: ParsedEvent) -> Outcome:
    """The payout named by the event's transfer reference, updated once (module docstring)."""
    try:
        notice = _notice(event)
    except LegatoError as error:
        return Outcome("flagged", f"{event.type} cannot be read: {error.code}: {error.message}")
    payout_id = session.execute(
        select(PAYOUTS.c.id).where(PAYOUTS.c.reference == notice.reference)
    ).scalar()
    if payout_id is None:
        return Outcome("ignored", f"{event.type}: no payout sent as {notice.reference[:100]}")
    applied = apply_notice(session, payout_id, notice, actor=f"webhook:{event.provider}")
    return Outcome(_OUTCOME[applied.outcome], applied.message)
