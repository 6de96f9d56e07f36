"""Payout requests: released earnings reserved for a writer's payout, and the payout's status.

A request takes only *available* earnings (posted, not on refund hold, not already reserved)
from ``writer:<w>:earnings:<CUR>`` and reserves its gross with a pending ledger entry into
``payouts:in_flight:<CUR>``. The writer's earnings row is locked first (PostgreSQL row lock;
SQLite's write transaction), and the ledger refuses a reservation beyond the available balance
on its own, so however many requests race, the same money is never reserved twice.

gross = net + fee + tax exactly: the fee from ``fees.payout_fee``, the withholding from the
tax profile (``payouts.tax.withholding_for``). Statuses::

    requested -> approved -> sending -> paid -> reversed
        |            |          `-> failed
        `------------+-> cancelled      (cancel before sending, or reject: the entry is voided)

Status changes after the request (cancel, the approve/reject hooks) live in ``status``; how a
payout reads, in ``views``. A request below ``payouts.approval_threshold`` to a method not recently changed is created
``approved``; otherwise it waits in ``requested`` for approval. Every change is a
``payout_events`` row with its actor: the payout's timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import (
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    NotFound,
    UsageError,
)
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger import lock_balances, post_entries, transfer
from legato_pay.ledger.types import EntrySpec, as_utc, utcnow
from legato_pay.money import format_amount, normalize_currency, parse_amount
from legato_pay.payouts import conversion
from legato_pay.payouts.fees import breakdown, payout_fee
from legato_pay.payouts.methods import get_method, parse_id
from legato_pay.payouts.status import STATUSES, move
from legato_pay.payouts.tax import withholding_for
from legato_pay.payouts.views import (
    PayoutView,
    get_payout,
    record_event,
    select_payouts,
    timeline_of,
    to_view,
)
from legato_pay.readers.users import get_user
from legato_pay.store.paging import check_choice, id_page
from legato_pay.store.tables import PAYOUT_METHODS, PAYOUTS

SYSTEM_ACTOR = "system:payouts"
#: Leaves room for the ``payout:`` prefix of the ledger key within its 200 characters.
MAX_KEY_LENGTH = 180


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
    return session.execute(select_payouts().where(PAYOUTS.c.idempotency_key == key)).first()


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
    return to_view(row, timeline_of(session, row.id), replayed=True)


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
    convert_to: str | None = None,
    now: datetime | None = None,
) -> PayoutView:
    """Reserve released earnings for a payout (see the module docstring); with ``convert_to``
    the payout is paid in that currency at the newest fresh rate (``payouts.conversion``)."""
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
    target = conversion.target_currency(settings, code, convert_to) if convert_to else code
    get_user(session, writer, kind="writer")
    method_row = _choose_method(session, writer, target, method)
    wanted: dict[str, Any] = {
        "writer": writer,
        "currency": code,
        "amount": requested if requested is not None else "all",
        "method": method_row.id,
    }
    if target != code:
        wanted["convert_to"] = target
    replay = _replay(session, key, wanted)
    if replay is not None:
        return replay
    moment = as_utc(now) or utcnow()
    earnings = chart.writer_earnings(writer, code)
    in_flight = chart.payouts_in_flight(target)
    chart.open_accounts(
        session,
        [chart.writer_earnings_account(writer, code), chart.system_account(in_flight, target)],
    )
    available = lock_balances(session, [earnings])[earnings].available
    replay = _replay(session, key, wanted)  # a racing duplicate committed while we waited
    if replay is not None:
        return replay
    gross = requested if requested is not None else available
    converted = None
    if target == code:
        _check_amount(settings, writer, code, gross, available, typed=requested is not None)
        spec = transfer(
            earnings,
            in_flight,
            gross,
            code,
            pending=True,
            idempotency_key=f"payout:{key}" if key else None,
            reason=f"payout requested for {writer}",
            metadata={"writer": writer, "method": method_row.id},
        )
    else:
        _check_funds(writer, code, gross, available)
        converted = conversion.quote(session, settings, gross, code, target, now=moment)
        gross = converted.gross
        _check_amount(settings, writer, target, gross, gross, typed=True)
        chart.open_accounts(session, conversion.accounts_to_open(writer, converted))
        spec = conversion.reservation(writer, converted, key=key, method_id=method_row.id)
    return _reserve_and_record(
        session,
        settings,
        actor=actor,
        writer=writer,
        method_row=method_row,
        currency=target,
        gross=gross,
        spec=spec,
        key=key,
        wanted=wanted,
        converted=converted,
        now=moment,
    )


def _check_funds(writer: str, code: str, gross: int, available: int) -> None:
    if gross > available or gross <= 0:
        raise InsufficientFunds(
            f"{writer} has {format_amount(max(available, 0), code)} of released earnings "
            f"available, not {format_amount(gross, code)}",
            details={"writer": writer, "available_minor": available, "requested_minor": gross},
        )


def _check_amount(
    settings: Settings, writer: str, code: str, gross: int, available: int, *, typed: bool
) -> None:
    """At least the currency's minimum (BELOW_MINIMUM) and no more than available."""
    minimum = settings.payouts.minimum.get(code, 1)
    if typed and gross < minimum:
        raise InvalidAmount(
            f"a payout must be at least {format_amount(minimum, code)}",
            details={"minimum_minor": minimum, "amount_minor": gross, "currency": code},
            code="BELOW_MINIMUM",
        )
    _check_funds(writer, code, gross, available)
    if gross < minimum:
        raise InvalidAmount(
            f"{writer}'s available earnings ({format_amount(gross, code)}) are below the "
            f"payout minimum of {format_amount(minimum, code)}",
            details={"minimum_minor": minimum, "available_minor": gross, "currency": code},
            code="BELOW_MINIMUM",
        )


def _reserve_and_record(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    writer: str,
    method_row: Any,
    currency: str,
    gross: int,
    spec: EntrySpec,
    key: str | None,
    wanted: dict[str, Any],
    converted: conversion.Conversion | None,
    now: datetime,
) -> PayoutView:
    """Fee and tax on ``gross`` (in the payout's ``currency``), the reservation ``spec``, the
    payout row and its first timeline steps."""
    code = currency
    fee = payout_fee(settings.payouts, method_row.type, code, gross)
    tax, rate_percent, country = withholding_for(session, settings, writer, gross, code)
    rate = str(rate_percent)  # stored as the exact decimal text the profile's rate had
    if fee + tax >= gross:
        raise InvalidAmount(
            f"the fee and tax ({format_amount(fee + tax, code)}) leave nothing to pay out",
            details={"fee_minor": fee, "tax_minor": tax, "gross_minor": gross},
            code="AMOUNT_TOO_SMALL",
        )
    split = breakdown(gross, fee, tax)
    threshold = settings.payouts.approval_threshold.get(code)
    recently_changed = get_method(session, settings, method_row.id, now=now).recently_changed
    needs_approval = threshold is None or gross >= threshold or recently_changed
    entry = post_entries(session, [spec], actor=actor, now=now)[0]
    fx_columns: dict[str, Any] = {}
    if converted is not None:
        fx_columns = {
            "source_currency": converted.source,
            "source_gross": converted.source_gross,
            "fx_rate": converted.rate,
            "fx_rate_id": converted.rate_id,
            "fx_rate_as_of": converted.rate_as_of,
        }
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
            created_at=now,
            updated_at=now,
            **fx_columns,
        )
        .returning(PAYOUTS.c.id)
    ).scalar_one()
    waiting = None
    if needs_approval:
        why = "method changed recently" if recently_changed else "at or above the threshold"
        waiting = f"awaiting approval: {why}"
    record_event(
        session,
        payout_id,
        action="requested",
        from_status=None,
        to_status="requested",
        actor=actor,
        reason=waiting,
        now=now,
    )
    if not needs_approval:
        move(
            session,
            payout_id,
            "approved",
            actor=SYSTEM_ACTOR,
            action="auto_approved",
            reason="below the approval threshold, to a method not recently changed",
            now=now,
        )
    return get_payout(session, payout_id)


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
    query = select_payouts().order_by(PAYOUTS.c.id)
    if writer is not None:
        get_user(session, writer, kind="writer")
        query = query.where(PAYOUTS.c.writer_id == writer)
    if status is not None:
        query = query.where(PAYOUTS.c.status == check_choice(status, STATUSES))
    return id_page(session, query, PAYOUTS.c.id, after=after, limit=limit, view=to_view)
