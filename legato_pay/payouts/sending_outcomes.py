"""What a transfer's outcome does to its payout, exactly once, whoever reports it.

``apply_notice`` is the one place a ``TransferNotice`` (from the run's own send, ``payouts
verify``, ``payouts finalize`` or a webhook) changes a payout. It locks the payout's row, so a
webhook delivered three times racing a verify applies once: the first moves the status and
the ledger, the others find it done.

=============  ==========================================================================
sending+paid   ``paid``: the pending entry that reserved the gross is posted (earnings →
               ``payouts:in_flight:<CUR>``), and the settlement entry takes the gross out of
               ``payouts:in_flight``: net + fee out of the gateway's cash
               ``gateway:<g>:<CUR>`` (the gateway charged its transfer fee to the balance),
               the tax withheld to ``tax:withholding:<CC>:<CUR>`` (owed until remitted)
sending+failed ``failed``: the pending entry is voided (the money is back in earnings); a
               ``reversed`` seen before any success is the same
paid+reversed  ``reversed``: reversal entries undo the settlement and the posted reservation
               (the money is back in earnings, the gateway's cash and the tax restored)
pending, otp   the transfer id and provider status are recorded; the payout stays ``sending``
unknown        nothing changes (verify asks again later)
=============  ==========================================================================

Out of order or contradictory news is *flagged*, never applied: ``failed`` after ``paid`` (the
money left: a person checks), ``paid`` after ``failed`` (the money is already back in
earnings), a notice for a payout never sent, an amount or currency other than the payout's
net. A repeat of what already happened is ``ignored``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.errors import InvalidState
from legato_pay.gateways.transfers import TransferNotice
from legato_pay.ledger import EntrySpec, post_entries, resolve_pending, reverse_entry
from legato_pay.ledger.types import LegSpec, as_utc, utcnow
from legato_pay.money import format_amount
from legato_pay.payouts.status import lock_payout, move
from legato_pay.store.tables import PAYOUTS

#: Statuses a notice about a payout's transfer can have an effect in.
SENT = ("sending", "paid", "failed", "reversed")


@dataclass(frozen=True, slots=True)
class Applied:
    """What a notice did: ``applied`` (status and ledger moved), ``pending`` (recorded, still
    sending), ``ignored`` (already so), ``flagged`` (needs a person; nothing moved)."""

    payout_id: int
    outcome: str
    status: str
    message: str


def _record_transfer(session: Session, row: Any, notice: TransferNotice) -> None:
    values: dict[str, Any] = {}
    if notice.transfer_id and row.transfer_id != notice.transfer_id:
        values["transfer_id"] = notice.transfer_id[:100]
    if notice.raw_status and row.status == "sending":
        values["transfer_status"] = notice.raw_status[:20]
    if values:
        session.execute(update(PAYOUTS).where(PAYOUTS.c.id == row.id).values(**values))


def _mismatch(row: Any, notice: TransferNotice) -> str | None:
    if notice.currency is not None and notice.currency != row.currency:
        return f"the transfer is in {notice.currency}, the payout in {row.currency}"
    if notice.amount is not None and notice.amount != row.net:
        return (
            f"the transfer is {format_amount(notice.amount, row.currency)}, the payout's net "
            f"{format_amount(row.net, row.currency)}"
        )
    return None


def apply_notice(
    session: Session,
    payout_id: int,
    notice: TransferNotice,
    *,
    actor: str,
    now: datetime | None = None,
) -> Applied:
    """Apply ``notice`` to payout ``payout_id`` (see the module docstring)."""
    moment = as_utc(now) or utcnow()
    row = lock_payout(session, payout_id)

    def result(outcome: str, message: str, status: str | None = None) -> Applied:
        return Applied(row.id, outcome, status or row.status, message)

    if row.status not in SENT or (row.reference and notice.reference != row.reference):
        return result(
            "flagged",
            f"{notice.provider} reports {notice.status} for payout "
            f"{row.id}, which is {row.status} and was not sent as {notice.reference}",
        )
    problem = _mismatch(row, notice) if notice.status in ("paid", "reversed") else None
    if problem is not None:
        return result("flagged", f"payout {row.id}: {problem}; nothing applied")
    if notice.status == "paid" and notice.amount_reversed:
        return result(
            "flagged",
            f"payout {row.id}: {notice.provider} reversed part of it "
            f"({format_amount(notice.amount_reversed, row.currency)}); nothing applied",
        )
    _record_transfer(session, row, notice)
    state, news = row.status, notice.status
    if news in ("pending", "otp", "unknown", "missing"):
        what = "waits for the OTP (payouts finalize)" if news == "otp" else f"is {news}"
        return result("pending", f"payout {row.id}: the transfer {what}")
    if state == "sending" and news == "paid":
        return _paid(session, row, notice, actor, moment)
    if state == "sending" and news in ("failed", "reversed"):
        return _failed(session, row, notice, actor, moment)
    if state == "paid" and news == "reversed":
        return _reversed(session, row, notice, actor, moment)
    if (
        state == news
        or (state == "failed" and news == "reversed")
        or (state == "reversed" and news == "paid")
    ):
        return result("ignored", f"payout {row.id} is already {state}")
    return result(
        "flagged",
        f"payout {row.id} is {state} but {notice.provider} now reports {news}: "
        "nothing applied, a person should look",
    )


def _settle(session: Session, row: Any, moment: datetime, **values: Any) -> None:
    session.execute(
        update(PAYOUTS).where(PAYOUTS.c.id == row.id).values(settled_at=moment, **values)
    )


def _paid(
    session: Session, row: Any, notice: TransferNotice, actor: str, moment: datetime
) -> Applied:
    move(session, row.id, "paid", actor=actor, action="paid", reason=_why(notice), now=moment)
    posted = resolve_pending(
        session,
        row.entry_id,
        post=True,
        actor=actor,
        idempotency_key=f"payout:{row.id}:paid",
        reason=f"payout {row.id} paid ({row.reference})",
        now=moment,
    )
    settled = _post_settlement(session, row, notice.transfer_id or row.transfer_id, actor, moment)
    _settle(
        session,
        row,
        moment,
        resolution_entry_id=posted.id,
        settlement_entry_id=settled,
        transfer_status=notice.raw_status,
    )
    return Applied(row.id, "applied", "paid", f"payout {row.id} paid")


def _post_settlement(
    session: Session, row: Any, transfer_id: str | None, actor: str, moment: datetime
) -> int:
    """The gross leaves ``payouts:in_flight``: net + fee from the gateway's cash, the tax to
    its country's withholding liability (see the module docstring). ``reconcile`` pairs it with
    the gateway's transfer by ``reference`` and the transfer id (``gateway_ref``)."""
    code = row.currency
    in_flight, cash = chart.payouts_in_flight(code), chart.gateway_cash(row.gateway, code)
    accounts = [
        chart.system_account(in_flight, code),
        chart.system_account(cash, code, debit_normal=True),
    ]
    legs = [
        LegSpec(in_flight, "debit", row.gross, code),
        LegSpec(cash, "credit", row.net + row.fee, code),
    ]
    if row.tax:
        country = row.tax_country
        if not country:  # pragma: no cover - the request records a country with any tax
            raise InvalidState(f"payout {row.id} withheld tax for no country")
        accounts.append(chart.tax_withholding_account(country, code))
        legs.append(LegSpec(chart.tax_withholding(country, code), "credit", row.tax, code))
    chart.open_accounts(session, accounts)
    [entry] = post_entries(
        session,
        [
            EntrySpec(
                legs=tuple(legs),
                idempotency_key=f"payout:{row.id}:settled",
                reason=f"payout {row.id} settled through {row.gateway} ({row.reference})",
                metadata={
                    "kind": "payout",
                    "payout": row.id,
                    "writer": row.writer_id,
                    "fee": row.fee,
                    "tax": row.tax,
                    "reference": row.reference,
                    **({"gateway_ref": transfer_id} if transfer_id else {}),
                },
            )
        ],
        actor=actor,
        now=moment,
    )
    return entry.id


def _failed(
    session: Session, row: Any, notice: TransferNotice, actor: str, moment: datetime
) -> Applied:
    reason = notice.reason or notice.raw_status or notice.status
    if notice.status == "reversed":
        reason = f"reversed before any success was seen: {reason}"
    move(session, row.id, "failed", actor=actor, action="failed", reason=reason, now=moment)
    voided = resolve_pending(
        session,
        row.entry_id,
        post=False,
        actor=actor,
        idempotency_key=f"payout:{row.id}:failed",
        reason=f"payout {row.id} failed: money back in earnings",
        now=moment,
    )
    _settle(
        session,
        row,
        moment,
        resolution_entry_id=voided.id,
        failure_reason=reason[:500],
        transfer_status=notice.raw_status,
    )
    return Applied(row.id, "applied", "failed", f"payout {row.id} failed: {reason}")


def _reversed(
    session: Session, row: Any, notice: TransferNotice, actor: str, moment: datetime
) -> Applied:
    move(
        session, row.id, "reversed", actor=actor, action="reversed", reason=_why(notice), now=moment
    )
    why = f"payout {row.id} reversed by {notice.provider}: money back in earnings"
    if row.settlement_entry_id is not None:
        reverse_entry(
            session,
            row.settlement_entry_id,
            actor=actor,
            reason=why,
            idempotency_key=f"payout:{row.id}:settled:reversed",
            now=moment,
        )
    reversal = reverse_entry(
        session,
        row.resolution_entry_id,
        actor=actor,
        reason=why,
        idempotency_key=f"payout:{row.id}:reversed",
        now=moment,
    )
    session.execute(
        update(PAYOUTS)
        .where(PAYOUTS.c.id == row.id)
        .values(reversal_entry_id=reversal.id, transfer_status=notice.raw_status)
    )
    return Applied(row.id, "applied", "reversed", f"payout {row.id} reversed")


def _why(notice: TransferNotice) -> str:
    said = f" ({notice.raw_status})" if notice.raw_status else ""
    return f"{notice.provider} transfer {notice.transfer_id or notice.reference}{said}"
