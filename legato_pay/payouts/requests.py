"""Payout requests: released earnings reserved for a writer's payout, and the payout's status.

A request takes only *available* earnings (posted, not on refund hold, not already reserved)
from ``writer:<w>:earnings:<CUR>`` and reserves its gross with a pending ledger entry into
``payouts:in_flight:<CUR>``. The writer's earnings row is locked first (PostgreSQL row lock;
SQLite's write transaction), and the ledger refuses a reservation beyond the available balance
on its own, so however many requests race, the same money is never reserved twice.

gross = net + fee + tax exactly: the fee from ``fees.payout_fee``, the withholding from the
``withholding`` seam. Statuses::

    requested -> approved -> sending -> paid -> reversed
        |            |          `-> failed
        `------------+-> cancelled      (cancel before sending, or reject: the entry is voided)

A request below ``payouts.approval_threshold`` to a method not recently changed is created
``approved``; otherwise it waits in ``requested`` for approval. Every change is a
``payout_events`` row with its actor: the payout's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import (
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    NotFound,
    UsageError,
)
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger import lock_balances, post_entries, resolve_pending, transfer
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, normalize_currency, parse_amount
from legato_pay.payouts.fees import breakdown, payout_fee
from legato_pay.payouts.methods import get_method, parse_id
from legato_pay.payouts.vault import mask
from legato_pay.payouts.withholding import withholding_for
from legato_pay.readers.users import get_user
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import PAYOUT_EVENTS, PAYOUT_METHODS, PAYOUTS

STATUSES = ("requested", "approved", "sending", "paid", "failed", "reversed", "cancelled")
#: Which status may follow which.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "requested": ("approved", "cancelled"),
    "approved": ("sending", "cancelled"),
    "sending": ("paid", "failed"),
    "paid": ("reversed",),
}
SYSTEM_ACTOR = "system:payouts"
#: Leaves room for the ``payout:`` prefix of the ledger key within its 200 characters.
MAX_KEY_LENGTH = 180


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


def _select() -> Any:
    return select(*_COLUMNS).join(PAYOUT_METHODS, PAYOUT_METHODS.c.id == PAYOUTS.c.method_id)


def _to_view(
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
    )


def _timeline(session: Session, payout_id: int) -> tuple[TimelineStep, ...]:
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
    row = session.execute(_select().where(PAYOUTS.c.id == number)).first()
    if row is None:
        raise NotFound(f"no payout {number}", details={"payout": number}, code="PAYOUT_NOT_FOUND")
    return _to_view(row, _timeline(session, number), replayed)


def _event(
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


def _choose_method(session: Session, writer: str, currency: str, method: str | None) -> Any:
    if method is not None:
        method_id = parse_id(method, field="method")
        row = session.execute(
            select(PAYOUT_METHODS).where(PAYOUT_METHODS.c.id == method_id)
        ).first()
        if row is None or row.writer_id != writer or row.status != "active":
            raise NotFound(
                f"{writer} has no active payout method {method_id}",
                details={"writer": writer, "method": method_id},
                code="PAYOUT_METHOD_NOT_FOUND",
            )
        if row.currency != currency:
            raise CurrencyMismatch(
                f"payout method {method_id} pays in {row.currency}, not {currency}",
                details={
                    "method": method_id,
                    "method_currency": row.currency,
                    "currency": currency,
                },
            )
        return row
    rows = session.execute(
        select(PAYOUT_METHODS)
        .where(
            PAYOUT_METHODS.c.writer_id == writer,
            PAYOUT_METHODS.c.currency == currency,
            PAYOUT_METHODS.c.status == "active",
        )
        .order_by(PAYOUT_METHODS.c.id)
    ).all()
    if not rows:
        raise NotFound(
            f"{writer} has no active payout method in {currency}: add one with "
            "`payouts methods add`",
            details={"writer": writer, "currency": currency},
            code="PAYOUT_METHOD_NOT_FOUND",
        )
    if len(rows) > 1:
        raise InvalidInput(
            f"{writer} has {len(rows)} payout methods in {currency}: choose one with --method",
            details={"writer": writer, "methods": [r.id for r in rows]},
        )
    return rows[0]


def _find_by_key(session: Session, key: str) -> Any:
    return session.execute(_select().where(PAYOUTS.c.idempotency_key == key)).first()


def _replay(session: Session, key: str | None, wanted: dict[str, Any]) -> PayoutView | None:
    if key is None:
        return None
    row = _find_by_key(session, key)
    if row is None:
        return None
    ensure_same_request(
        key,
        stored={"hash": row.request_hash},
        wanted={"hash": request_hash(wanted)},
        what="payout request",
        details={"payout": row.id},
    )
    return _to_view(row, _timeline(session, row.id), replayed=True)


def request_payout(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    writer: str,
    currency: str,
    amount: str | None = None,
    all_available: bool = False,
    method: str | None = None,
    key: str | None = None,
    now: datetime | None = None,
) -> PayoutView:
    """Reserve released earnings for a payout (see the module docstring)."""
    if (amount is None) == (not all_available):
        raise UsageError("pass exactly one of --amount X or --all", details={"field": "amount"})
    code = normalize_currency(currency)
    if code not in settings.currencies:
        raise InvalidCurrency(
            f"{code} is not a currency this platform pays out",
            details={"currency": code, "supported": list(settings.currencies)},
        )
    requested = parse_amount(amount, code) if amount is not None else None
    key = check_key(key, max_length=MAX_KEY_LENGTH)
    get_user(session, writer, kind="writer")
    method_row = _choose_method(session, writer, code, method)
    wanted = {
        "writer": writer,
        "currency": code,
        "amount": requested if requested is not None else "all",
        "method": method_row.id,
    }
    replay = _replay(session, key, wanted)
    if replay is not None:
        return replay
    moment = as_utc(now) or utcnow()
    earnings = chart.writer_earnings(writer, code)
    in_flight = chart.payouts_in_flight(code)
    chart.open_accounts(
        session,
        [chart.writer_earnings_account(writer, code), chart.system_account(in_flight, code)],
    )
    available = lock_balances(session, [earnings])[earnings].available
    replay = _replay(session, key, wanted)  # a racing duplicate committed while we waited
    if replay is not None:
        return replay
    gross = requested if requested is not None else available
    minimum = settings.payouts.minimum.get(code, 1)
    if requested is not None and gross < minimum:
        raise InvalidAmount(
            f"a payout must be at least {format_amount(minimum, code)}",
            details={"minimum_minor": minimum, "amount_minor": gross, "currency": code},
            code="BELOW_MINIMUM",
        )
    if gross > available or gross <= 0:
        raise InsufficientFunds(
            f"{writer} has {format_amount(max(available, 0), code)} of released earnings "
            f"available, not {format_amount(gross, code)}",
            details={"writer": writer, "available_minor": available, "requested_minor": gross},
        )
    if gross < minimum:
        raise InvalidAmount(
            f"{writer}'s available earnings ({format_amount(gross, code)}) are below the "
            f"payout minimum of {format_amount(minimum, code)}",
            details={"minimum_minor": minimum, "available_minor": gross, "currency": code},
            code="BELOW_MINIMUM",
        )
    fee = payout_fee(settings.payouts, method_row.type, code, gross)
    tax, rate, country = withholding_for(session, settings, writer, gross, code)
    if fee + tax >= gross:
        raise InvalidAmount(
            f"the fee and tax ({format_amount(fee + tax, code)}) leave nothing to pay out",
            details={"fee_minor": fee, "tax_minor": tax, "gross_minor": gross},
            code="AMOUNT_TOO_SMALL",
        )
    split = breakdown(gross, fee, tax)
    threshold = settings.payouts.approval_threshold.get(code)
    recently_changed = get_method(session, settings, method_row.id, now=moment).recently_changed
    needs_approval = threshold is None or gross >= threshold or recently_changed
    entry = post_entries(
        session,
        [
            transfer(
                earnings,
                in_flight,
                gross,
                code,
                pending=True,
                idempotency_key=f"payout:{key}" if key else None,
                reason=f"payout requested for {writer}",
                metadata={"writer": writer, "method": method_row.id},
            )
        ],
        actor=actor,
        now=moment,
    )[0]
    payout_id = session.execute(
        insert(PAYOUTS)
        .values(
            writer_id=writer,
            method_id=method_row.id,
            currency=code,
            gross=split.gross,
            fee=split.fee,
            tax=split.tax,
            net=split.net,
            tax_rate=rate,
            tax_country=country,
            status="requested",
            entry_id=entry.id,
            idempotency_key=key,
            request_hash=request_hash(wanted),
            requested_by=actor,
            created_at=moment,
            updated_at=moment,
        )
        .returning(PAYOUTS.c.id)
    ).scalar_one()
    waiting = None
    if needs_approval:
        why = "method changed recently" if recently_changed else "at or above the threshold"
        waiting = f"awaiting approval: {why}"
    _event(
        session,
        payout_id,
        action="requested",
        from_status=None,
        to_status="requested",
        actor=actor,
        reason=waiting,
        now=moment,
    )
    if not needs_approval:
        _move(
            session,
            payout_id,
            "approved",
            actor=SYSTEM_ACTOR,
            action="auto_approved",
            reason="below the approval threshold, to a method not recently changed",
            now=moment,
        )
    return get_payout(session, payout_id)


def _lock(session: Session, payout_id: int) -> Any:
    row = session.execute(
        for_update(select(PAYOUTS).where(PAYOUTS.c.id == payout_id), session)
    ).first()
    if row is None:
        raise NotFound(
            f"no payout {payout_id}", details={"payout": payout_id}, code="PAYOUT_NOT_FOUND"
        )
    return row


def _move(
    session: Session,
    payout_id: int,
    to: str,
    *,
    actor: str,
    action: str,
    reason: str | None,
    now: datetime,
    allowed_from: tuple[str, ...] | None = None,
) -> Any:
    """Change a payout's status if ``to`` may follow its current one (INVALID_STATE, exit 6,
    otherwise); record the step. Returns the row as it was."""
    row = _lock(session, payout_id)
    sources = allowed_from or tuple(s for s, nexts in TRANSITIONS.items() if to in nexts)
    if row.status not in sources or to not in TRANSITIONS.get(row.status, ()):
        raise InvalidState(
            f"payout {payout_id} is {row.status}: it cannot become {to}",
            details={"payout": payout_id, "status": row.status, "wanted": to},
        )
    changed = session.execute(
        update(PAYOUTS)
        .where(PAYOUTS.c.id == payout_id, PAYOUTS.c.status == row.status)
        .values(status=to, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:  # pragma: no cover - the row lock (or SQLite's write lock) prevents it
        raise InvalidState(f"payout {payout_id} changed meanwhile", details={"payout": payout_id})
    _event(
        session,
        payout_id,
        action=action,
        from_status=row.status,
        to_status=to,
        actor=actor,
        reason=reason,
        now=now,
    )
    return row


def _void(session: Session, row: Any, *, actor: str, reason: str, now: datetime) -> None:
    voided = resolve_pending(session, row.entry_id, post=False, actor=actor, reason=reason, now=now)
    session.execute(
        update(PAYOUTS).where(PAYOUTS.c.id == row.id).values(resolution_entry_id=voided.id)
    )


def cancel_payout(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> PayoutView:
    """Cancel before sending: the pending entry is voided, the money is back in earnings,
    exactly once (a second cancel is INVALID_STATE)."""
    number = parse_id(payout_id, field="payout")
    moment = as_utc(now) or utcnow()
    row = _move(
        session,
        number,
        "cancelled",
        actor=actor,
        action="cancelled",
        reason=reason,
        now=moment,
        allowed_from=("requested", "approved"),
    )
    _void(session, row, actor=actor, reason=f"payout {number} cancelled", now=moment)
    return get_payout(session, number)


def mark_approved(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> PayoutView:
    """The state change an accepted approval makes (``requested`` -> ``approved``). Who may
    approve, and the signature, are checked by the approvals module before it calls this."""
    number = parse_id(payout_id, field="payout")
    _move(
        session,
        number,
        "approved",
        actor=actor,
        action="approved",
        reason=reason,
        now=as_utc(now) or utcnow(),
        allowed_from=("requested",),
    )
    return get_payout(session, number)


def mark_rejected(
    session: Session,
    payout_id: int | str,
    *,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> PayoutView:
    """A rejection: the payout is cancelled and its reservation voided (money back)."""
    number = parse_id(payout_id, field="payout")
    if not reason or not reason.strip():
        raise InvalidInput("a rejection needs a --reason", details={"field": "reason"})
    moment = as_utc(now) or utcnow()
    row = _move(
        session,
        number,
        "cancelled",
        actor=actor,
        action="rejected",
        reason=reason,
        now=moment,
        allowed_from=("requested", "approved"),
    )
    _void(session, row, actor=actor, reason=f"payout {number} rejected", now=moment)
    return get_payout(session, number)


def list_payouts(
    session: Session,
    *,
    writer: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[PayoutView], int | None]:
    """A page of payouts, oldest first, and the cursor of the next page (None at the end).
    USER_NOT_FOUND for an unknown writer, VALIDATION_ERROR for an unknown status."""
    query = _select().order_by(PAYOUTS.c.id)
    if writer is not None:
        get_user(session, writer, kind="writer")
        query = query.where(PAYOUTS.c.writer_id == writer)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput(
                f"--status must be one of {', '.join(STATUSES)}",
                details={"status": str(status)[:40]},
            )
        query = query.where(PAYOUTS.c.status == status)
    if after is not None:
        query = query.where(PAYOUTS.c.id > after)
    rows = session.execute(query.limit(limit + 1)).all()
    page = [_to_view(row) for row in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)
