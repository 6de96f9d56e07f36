"""How a payout reads: its amounts, method (masked) and timeline, and the timeline's writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from legato_pay.errors import NotFound
from legato_pay.ledger.types import as_utc
from legato_pay.money import format_amount
from legato_pay.payouts.conversion import Conversion
from legato_pay.payouts.methods import parse_id
from legato_pay.payouts.vault import mask
from legato_pay.store.tables import PAYOUT_EVENTS, PAYOUT_METHODS, PAYOUTS


def _money(minor: int, currency: str) -> dict[str, Any]:
    return {"amount": minor, "currency": currency, "display": format_amount(minor, currency)}


@dataclass(frozen=True, slots=True)
class TimelineStep:
    action: str
    from_status: str | None
    to_status: str
    actor: str
    reason: str | None
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "from": self.from_status,
            "to": self.to_status,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PayoutView:
    id: int
    writer: str
    method_id: int
    method_type: str
    method_last4: str
    currency: str
    gross: int
    fee: int
    tax: int
    net: int
    tax_rate: str
    tax_country: str | None
    status: str
    entry_id: int
    resolution_entry_id: int | None
    key: str | None
    requested_by: str
    created_at: datetime
    updated_at: datetime
    timeline: tuple[TimelineStep, ...] = field(default=())
    replayed: bool = False
    #: Once sent (``payouts run``): gateway, reference, transfer id and status, times, failure.
    sending: dict[str, Any] | None = None
    #: ``--convert-to``: what the payout was converted from (None: paid in its earnings' currency).
    conversion: Conversion | None = None

    @property
    def source_currency(self) -> str:
        """The currency of the earnings the payout came from."""
        return self.conversion.source if self.conversion is not None else self.currency

    def as_json(self) -> dict[str, Any]:
        cur = self.currency
        return {
            "id": self.id,
            "writer": self.writer,
            "method": {
                "id": self.method_id,
                "type": self.method_type,
                "account": mask(self.method_last4),
            },
            "currency": cur,
            "gross": _money(self.gross, cur),
            "fee": _money(self.fee, cur),
            "tax": _money(self.tax, cur),
            "net": _money(self.net, cur),
            "tax_rate": self.tax_rate,
            "tax_country": self.tax_country,
            "status": self.status,
            "entry_id": self.entry_id,
            "resolution_entry_id": self.resolution_entry_id,
            "key": self.key,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "timeline": [step.as_json() for step in self.timeline],
            "replayed": self.replayed,
            "sending": self.sending,
            "conversion": self.conversion.as_json() if self.conversion is not None else None,
        }

    def as_row(self) -> dict[str, Any]:
        """A flat row for tables and CSV: formatted amounts, and the ``_minor`` figures."""
        cur = self.currency
        return {
            "id": self.id,
            "writer": self.writer,
            "status": self.status,
            "method": f"{self.method_id} {self.method_type} {mask(self.method_last4)}",
            "currency": cur,
            "gross": format_amount(self.gross, cur),
            "fee": format_amount(self.fee, cur),
            "tax": format_amount(self.tax, cur),
            "net": format_amount(self.net, cur),
            "gross_minor": self.gross,
            "fee_minor": self.fee,
            "tax_minor": self.tax,
            "net_minor": self.net,
            "created_at": self.created_at.isoformat(),
        }


_COLUMNS = (PAYOUTS, PAYOUT_METHODS.c.type.label("method_type"), PAYOUT_METHODS.c.last4)


def select_payouts() -> Any:
    return select(*_COLUMNS).join(PAYOUT_METHODS, PAYOUT_METHODS.c.id == PAYOUTS.c.method_id)


def _sending(row: Any) -> dict[str, Any] | None:
    if getattr(row, "reference", None) is None:
        return None
    return {
        "gateway": row.gateway,
        "reference": row.reference,
        "transfer_id": row.transfer_id,
        "transfer_status": row.transfer_status,
        "sent_at": _iso(row.sent_at),
        "settled_at": _iso(row.settled_at),
        "failure_reason": row.failure_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    when = as_utc(moment)
    return when.isoformat() if when is not None else None


def to_view(
    row: Any, timeline: tuple[TimelineStep, ...] = (), replayed: bool = False
) -> PayoutView:
    return PayoutView(
        id=row.id,
        writer=row.writer_id,
        method_id=row.method_id,
        method_type=row.method_type,
        method_last4=row.last4,
        currency=row.currency,
        gross=row.gross,
        fee=row.fee,
        tax=row.tax,
        net=row.net,
        tax_rate=row.tax_rate,
        tax_country=row.tax_country,
        status=row.status,
        entry_id=row.entry_id,
        resolution_entry_id=row.resolution_entry_id,
        key=row.idempotency_key,
        requested_by=row.requested_by,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        updated_at=as_utc(row.updated_at),  # type: ignore[arg-type]
        timeline=timeline,
        replayed=replayed,
        sending=_sending(row),
        conversion=_conversion(row),
    )


def _conversion(row: Any) -> Conversion | None:
    if row.source_currency is None:
        return None
    return Conversion(
        source=row.source_currency,
        target=row.currency,
        source_gross=int(row.source_gross),
        gross=int(row.gross),
        rate=row.fx_rate,
        rate_id=row.fx_rate_id,
        rate_as_of=as_utc(row.fx_rate_as_of),  # type: ignore[arg-type]
    )


def timeline_of(session: Session, payout_id: int) -> tuple[TimelineStep, ...]:
    rows = session.execute(
        select(PAYOUT_EVENTS)
        .where(PAYOUT_EVENTS.c.payout_id == payout_id)
        .order_by(PAYOUT_EVENTS.c.id)
    )
    return tuple(
        TimelineStep(r.action, r.from_status, r.to_status, r.actor, r.reason, as_utc(r.created_at))  # type: ignore[arg-type]
        for r in rows
    )


def get_payout(session: Session, payout_id: int | str, *, replayed: bool = False) -> PayoutView:
    """One payout with its timeline; PAYOUT_NOT_FOUND (5) for an unknown id."""
    number = parse_id(payout_id, field="payout")
    row = session.execute(select_payouts().where(PAYOUTS.c.id == number)).first()
    if row is None:
        raise NotFound(f"no payout {number}", details={"payout": number}, code="PAYOUT_NOT_FOUND")
    return to_view(row, timeline_of(session, number), replayed)


def record_event(
    session: Session,
    payout_id: int,
    *,
    action: str,
    from_status: str | None,
    to_status: str,
    actor: str,
    reason: str | None,
    now: datetime,
) -> None:
    session.execute(
        insert(PAYOUT_EVENTS).values(
            payout_id=payout_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            reason=reason[:500] if reason else None,
            created_at=now,
        )
    )


def approval_content(view: PayoutView) -> dict[str, Any]:
    """What an approval of this payout signs (the approvals module signs its canonical JSON):
    id, amount, currency, source account and destination method (and, for a converted
    payout, the conversion). Any change to these makes an earlier signature void."""
    content = {
        "payout": view.id,
        "amount": view.gross,
        "currency": view.currency,
        "source": f"writer:{view.writer}:earnings:{view.source_currency}",
        "destination": {
            "method": view.method_id,
            "type": view.method_type,
            "account": mask(view.method_last4),
        },
    }
    if view.conversion is not None:
        content["conversion"] = view.conversion.as_json()
    return content
