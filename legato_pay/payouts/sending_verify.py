"""``payouts verify`` and ``payouts finalize``: settle payouts by asking their gateway.

``verify_payouts`` asks the gateway about a payout's transfer by its reference (Paystack
``GET /transfer/verify/{reference}``; Stripe the ``tr_…`` id, else the transfer listed under
``transfer_group``) and applies the answer (``sending_outcomes.apply_notice``): a ``sending``
payout becomes paid or failed, a ``paid`` one reversed. A ``sending`` payout the gateway has
never seen (the run died between marking it and sending it) is sent once more under the same
reference — never a new one — and that answer applied. With no id it checks every payout
``sending`` for at least ``payouts.verify_after_minutes`` (cron).

``finalize_payout`` completes a Paystack transfer that waits for an OTP (``transfer_status``
``otp``) with the code Paystack sent to the account owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay.context import AppContext
from legato_pay.errors import InvalidInput, InvalidState, NotFound
from legato_pay.gateways.transfers import TransferNotice
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.payouts.methods import parse_id, recipient_of
from legato_pay.payouts.sending import SendLine, send_line
from legato_pay.payouts.sending_gateways import Outgoing, Sender, SenderPool
from legato_pay.payouts.sending_outcomes import apply_notice
from legato_pay.payouts.vault import Vault
from legato_pay.store.tables import PAYOUT_METHODS, PAYOUTS

ACTOR = "system:payouts-verify"
VERIFIABLE = ("sending", "paid", "failed", "reversed")
_OTP_SHAPE = "0123456789"


def _select() -> Any:
    return select(
        PAYOUTS.c.id,
        PAYOUTS.c.writer_id,
        PAYOUTS.c.currency,
        PAYOUTS.c.net,
        PAYOUTS.c.method_id,
        PAYOUTS.c.status,
        PAYOUTS.c.reference,
        PAYOUTS.c.transfer_id,
        PAYOUTS.c.transfer_status,
        PAYOUTS.c.gateway,
    ).join(PAYOUT_METHODS, PAYOUT_METHODS.c.id == PAYOUTS.c.method_id)


def _one(session: Session, payout_id: int, *, allowed: tuple[str, ...]) -> Any:
    row = session.execute(_select().where(PAYOUTS.c.id == payout_id)).first()
    if row is None:
        raise NotFound(
            f"no payout {payout_id}", details={"payout": payout_id}, code="PAYOUT_NOT_FOUND"
        )
    if row.status not in allowed or row.reference is None:
        raise InvalidState(
            f"payout {payout_id} is {row.status}: there is no transfer to ask about",
            details={"payout": payout_id, "status": row.status},
        )
    return row


def _stale(session: Session, older_than: datetime) -> list[Any]:
    query = (
        _select()
        .where(PAYOUTS.c.status == "sending", PAYOUTS.c.sent_at <= older_than)
        .order_by(PAYOUTS.c.id)
    )
    return list(session.execute(query).all())


def _resend(app: AppContext, sender: Sender, row: Any, vault: Vault | None) -> TransferNotice:
    recipient = ""
    if vault is not None:
        recipient = app.run(lambda s: recipient_of(s, row.method_id, vault), write=False)
    item = Outgoing(row.id, row.reference, row.net, row.currency, recipient, f"Payout {row.id}")
    return sender.resend(item)


def _verify_one(
    app: AppContext, pool: SenderPool, row: Any, vault: Vault | None, now: datetime | None
) -> SendLine:
    sender = pool.get(row.gateway)
    notice = sender.verify(row.reference, row.transfer_id)
    note = ""
    if notice.status == "missing" and row.status == "sending":
        keys = None if row.gateway == "sandbox" else (vault or Vault.from_env())
        notice = _resend(app, sender, row, keys)
        note = " (the gateway had never seen it: sent once, same reference)"
    applied = app.run(
        lambda s: apply_notice(
            s, row.id, notice, actor=f"{ACTOR}:{row.gateway}", now=as_utc(now) or utcnow()
        )
    )
    return send_line(row, applied.status, applied.outcome, applied.message + note)


def verify_payouts(
    app: AppContext,
    payout_id: int | str | None = None,
    *,
    older_than_minutes: int | None = None,
    senders: Mapping[str, Sender] | None = None,
    vault: Vault | None = None,
    now: datetime | None = None,
) -> list[SendLine]:
    """Ask the gateway about one payout, or every stale ``sending`` one (module docstring)."""
    moment = as_utc(now) or utcnow()
    if payout_id is not None:
        if older_than_minutes is not None:
            raise InvalidInput("give a payout id or --older-than, not both")
        number = parse_id(payout_id, field="payout")
        rows = [app.run(lambda s: _one(s, number, allowed=VERIFIABLE), write=False)]
    else:
        minutes = app.settings.payouts.verify_after_minutes
        if older_than_minutes is not None:
            if not 0 <= older_than_minutes <= 10080:
                raise InvalidInput(
                    "--older-than is 0 to 10080 minutes",
                    details={"older_than": older_than_minutes},
                )
            minutes = older_than_minutes
        cutoff = moment - timedelta(minutes=minutes)
        rows = app.run(lambda s: _stale(s, cutoff), write=False)
    with SenderPool(app.settings, senders, engine=app.engine) as pool:
        return [_verify_one(app, pool, row, vault, now) for row in rows]


def finalize_payout(
    app: AppContext,
    payout_id: int | str,
    otp: str,
    *,
    senders: Mapping[str, Sender] | None = None,
    now: datetime | None = None,
) -> SendLine:
    """Complete a Paystack transfer waiting for its OTP; the answer is applied at once."""
    number = parse_id(payout_id, field="payout")
    code = otp.strip() if isinstance(otp, str) else ""
    if not 4 <= len(code) <= 10 or any(ch not in _OTP_SHAPE for ch in code):
        raise InvalidInput(
            "--otp is the 4 to 10 digit code Paystack sent", details={"field": "otp"}
        )
    row = app.run(lambda s: _one(s, number, allowed=("sending",)), write=False)
    if row.transfer_status != "otp" or not row.transfer_id:
        raise InvalidState(
            f"payout {number}'s transfer is not waiting for an OTP",
            details={"payout": number, "transfer_status": row.transfer_status},
        )
    with SenderPool(app.settings, senders, engine=app.engine) as pool:
        notice = pool.get(row.gateway).finalize(row.reference, row.transfer_id, code)
    moment = as_utc(now) or utcnow()
    applied = app.run(lambda s: apply_notice(s, number, notice, actor=app.actor, now=moment))
    return send_line(row, applied.status, applied.outcome, applied.message)
