"""Subscriptions: Basic < Premium < VIP, paid through a gateway into the period's pool.

Starting one charges the tier's price (per currency, from ``subscriptions.tiers``) through the
gateway *outside* any database transaction (create the payment, then verify it), and only when
the gateway confirms the full amount records, in one transaction, the subscription and one entry
``gateway:<g>:<CUR>`` → ``subscriptions:pool:<YYYY-MM>:<CUR>`` (YYYY-MM of the start, UTC). The
revenue run splits the pool later.

Rules an operator can rely on:

- One active subscription per reader. Starting another while one is active is
  ``INVALID_STATE`` (no upgrades: cancel, then start the new tier). If a concurrent start wins
  the race after our payment went through, our payment is refunded through the gateway.
- A subscription grants access from its start until ``period_end`` (start + ``period_days``)
  or until it is cancelled, whichever comes first. Cancelling refunds nothing.
- Status shown: ``active``, ``expired`` (period over, never cancelled) or ``cancelled``.
- ``--key`` makes a start idempotent: the same key again returns the recorded subscription
  (no second charge); the same key for a different user, tier or currency is a conflict.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import GatewayError, InvalidCurrency, InvalidInput, InvalidState
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger import post_entries, transfer
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, normalize_currency
from legato_pay.readers.subscription_views import (
    STATUSES,
    SubscriptionView,
    active_query,
    active_subscription,
    list_subscriptions,
    subscription_by_key,
    subscription_view,
)
from legato_pay.readers.users import get_user
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import SUBSCRIPTIONS, USERS

if TYPE_CHECKING:
    from legato_pay.context import AppContext
    from legato_pay.gateways.base import Gateway, PaymentStatus

__all__ = [
    "STATUSES",
    "SUBSCRIPTIONS",
    "SubscriptionView",
    "active_subscription",
    "cancel_subscription",
    "list_subscriptions",
    "resolve_currency",
    "start_subscription",
    "tier_price",
]


def resolve_currency(settings: Settings, currency: str | None) -> str:
    """The charge currency: one of ``currencies``; only the base one without multi-currency."""
    if currency is None:
        return settings.base_currency
    code = normalize_currency(currency)
    allowed = (
        settings.currencies if settings.features.enable_multi_currency else [settings.base_currency]
    )
    if code not in allowed:
        raise InvalidCurrency(
            f"{code} is not accepted here"
            + ("" if settings.features.enable_multi_currency else " (multi-currency is off)"),
            details={"currency": code, "accepted": list(allowed)},
        )
    return code


def tier_price(settings: Settings, tier: str, currency: str) -> int:
    from legato_pay.readers.content import validate_tier

    name = validate_tier(settings, tier)
    price = settings.subscriptions.tiers[name].prices.get(currency)
    if price is None:
        raise InvalidInput(
            f"the {name} tier has no price in {currency}",
            details={"tier": name, "currency": currency},
            code="NO_PRICE",
        )
    return price


def _replay(found: SubscriptionView, user_id: str, tier: str, currency: str) -> SubscriptionView:
    """The recorded subscription again, if its key named this same request."""
    ensure_same_request(
        found.idempotency_key or "",
        stored={"user": found.user_id, "tier": found.tier, "currency": found.currency},
        wanted={"user": user_id, "tier": tier, "currency": currency},
        what="subscription",
        details={"subscription": found.id},
    )
    return replace(found, replayed=True)


@dataclass(frozen=True, slots=True)
class _Plan:
    user_id: str
    email: str | None
    tier: str
    currency: str
    amount: int
    replay: SubscriptionView | None


def _plan(
    session: Session,
    settings: Settings,
    user_id: str,
    tier: str,
    currency: str | None,
    key: str | None,
    now: datetime,
) -> _Plan:
    """Everything checked before money moves: a bad request never reaches the gateway."""
    user = get_user(session, user_id)
    code = resolve_currency(settings, currency)
    amount = tier_price(settings, tier, code)
    name = tier.strip().lower()
    if key is not None:
        found = subscription_by_key(session, key, now)
        if found is not None:
            return _Plan(
                user_id, user.email, name, code, amount, _replay(found, user_id, name, code)
            )
    _refuse_if_active(session, user_id, now)
    return _Plan(user_id, user.email, name, code, amount, None)


def _refuse_if_active(session: Session, user_id: str, now: datetime) -> None:
    active = session.execute(active_query(user_id, now)).first()
    if active is not None:
        raise InvalidState(
            f"{user_id} already has an active {active.tier} subscription until "
            f"{as_utc(active.period_end).isoformat()}; cancel it first",  # type: ignore[union-attr]
            details={
                "user": user_id,
                "subscription": active.id,
                "tier": active.tier,
                "why": "subscription_active",
            },
        )


@dataclass(frozen=True, slots=True)
class _Charge:
    """A payment the gateway confirmed in full: what recording (or refunding) it needs."""

    gateway: str
    provider: Gateway
    reference: str
    status: PaymentStatus
    started_payment_id: str  # the id the payment was created under (refunds fall back on it)

    @property
    def details(self) -> dict[str, Any]:
        return _payment_details(self.gateway, self.reference, self.status)


def start_subscription(
    app: AppContext,
    user_id: str,
    *,
    tier: str,
    currency: str | None = None,
    gateway: str | None = None,
    key: str | None = None,
    payment_method: str | None = None,
    now: datetime | None = None,
) -> SubscriptionView:
    """Charge the tier's price through the gateway, then record the subscription and its entry.

    A declined, pending or short payment is ``PAYMENT_FAILED`` (exit 7) and records nothing.
    """
    moment = as_utc(now) or utcnow()
    key = check_key(key)
    plan = app.run(
        lambda s: _plan(s, app.settings, user_id, tier, currency, key, moment), write=False
    )
    if plan.replay is not None:
        return plan.replay
    charge = _charge(app, plan, gateway=gateway, key=key, payment_method=payment_method)
    try:
        return app.run(
            lambda s: _record(
                s, app.settings, plan, charge, key=key, actor=app.actor, moment=moment
            )
        )
    except InvalidState as lost:
        _refund_lost_race(plan, charge, lost)


def _reference(key: str | None) -> str:
    """The gateway reference: derived from the key, so a retried start is the same payment."""
    if key is None:
        return "sub-" + uuid.uuid4().hex
    return "sub-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _charge(
    app: AppContext,
    plan: _Plan,
    *,
    gateway: str | None,
    key: str | None,
    payment_method: str | None,
) -> _Charge:
    """Create and verify the payment, outside any database transaction; only a payment the
    gateway confirms in full, in the plan's amount and currency, comes back."""
    from legato_pay.gateways import choose_gateway_name, get_gateway
    from legato_pay.gateways.base import PaymentRequest

    gateway_name = choose_gateway_name(app, plan.currency, gateway)
    provider = get_gateway(app, gateway_name)
    reference = _reference(key)
    started = provider.create_payment(
        PaymentRequest(
            reference=reference,
            amount=plan.amount,
            currency=plan.currency,
            idempotency_key=reference,
            customer_id=plan.user_id,
            customer_email=plan.email,
            description=f"{plan.tier} subscription",
            payment_method=payment_method,
            metadata={"kind": "subscription", "user": plan.user_id, "tier": plan.tier},
        )
    )
    status = provider.verify_payment(reference, started.provider_payment_id)
    _ensure_paid(plan, status, gateway_name, reference)
    return _Charge(gateway_name, provider, reference, status, started.provider_payment_id)


def _payment_details(gateway: str, reference: str, status: PaymentStatus) -> dict[str, Any]:
    return {
        "gateway": gateway,
        "reference": reference,
        "status": status.status,
        "failure_reason": status.failure_reason,
    }


def _ensure_paid(plan: _Plan, status: PaymentStatus, gateway: str, reference: str) -> None:
    """``PAYMENT_FAILED`` unless the payment succeeded for exactly the tier's price."""
    details = _payment_details(gateway, reference, status)
    if status.status != "succeeded":
        raise GatewayError(
            f"the {gateway} payment is {status.status}: no subscription recorded",
            details=details,
        )
    if (status.amount, status.currency) != (plan.amount, plan.currency):
        raise GatewayError(
            f"the gateway reports {format_amount(status.amount, status.currency)} paid, "
            f"{format_amount(plan.amount, plan.currency)} asked: no subscription recorded",
            details={
                **details,
                "why": "amount_mismatch",
                "paid": status.amount,
                "paid_currency": status.currency,
            },
        )


def _record(
    session: Session,
    settings: Settings,
    plan: _Plan,
    charge: _Charge,
    *,
    key: str | None,
    actor: str,
    moment: datetime,
) -> SubscriptionView:
    """The subscription and its entry, in one unit of work, unless a concurrent start won."""
    # One start per reader at a time (PostgreSQL; SQLite writers queue anyway).
    session.execute(for_update(select(USERS.c.id).where(USERS.c.id == plan.user_id), session))
    if key is not None:
        found = subscription_by_key(session, key, moment)
        if found is not None:
            return _replay(found, plan.user_id, plan.tier, plan.currency)
    _refuse_if_active(session, plan.user_id, moment)
    period = moment.strftime("%Y-%m")
    entry_id = _post_fee(session, plan, charge, period=period, actor=actor, moment=moment)
    new_id = session.execute(
        SUBSCRIPTIONS.insert()
        .values(
            user_id=plan.user_id,
            tier=plan.tier,
            currency=plan.currency,
            amount=plan.amount,
            gateway=charge.gateway,
            gateway_payment_id=charge.status.provider_payment_id,
            status="active",
            period=period,
            period_start=moment,
            period_end=moment + timedelta(days=settings.subscriptions.period_days),
            idempotency_key=key,
            entry_id=entry_id,
            created_at=moment,
        )
        .returning(SUBSCRIPTIONS.c.id)
    ).scalar_one()
    row = session.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == new_id)).one()
    return subscription_view(row, moment)


def _post_fee(
    session: Session, plan: _Plan, charge: _Charge, *, period: str, actor: str, moment: datetime
) -> int:
    """The fee from the gateway's cash into the period's pool; returns the entry id."""
    cash = chart.gateway_cash(charge.gateway, plan.currency)
    pool = chart.subscription_pool(period, plan.currency)
    chart.open_accounts(
        session,
        [
            chart.system_account(cash, plan.currency, debit_normal=True),
            chart.system_account(pool, plan.currency),
        ],
    )
    return post_entries(
        session,
        [
            transfer(
                cash,
                pool,
                plan.amount,
                plan.currency,
                idempotency_key=f"subscription:{charge.reference}",
                reason=f"{plan.tier} subscription of {plan.user_id} for {period}",
                metadata={"kind": "subscription", "user": plan.user_id, "tier": plan.tier},
            )
        ],
        actor=actor,
        now=moment,
    )[0].id


def _refund_lost_race(plan: _Plan, charge: _Charge, lost: InvalidState) -> NoReturn:
    """A concurrent start won after we were paid: give the money back before saying so."""
    try:
        charge.provider.refund(
            provider_payment_id=charge.status.provider_payment_id or charge.started_payment_id,
            reference=charge.reference,
            amount=plan.amount,
            currency=plan.currency,
            idempotency_key=f"{charge.reference}:refund",
        )
    except GatewayError as failed:
        raise GatewayError(
            f"{lost.message}; the payment was taken and its refund FAILED: refund by hand",
            details={**lost.details, **charge.details, "refund_error": failed.as_dict()},
            code="REFUND_FAILED",
        ) from failed
    raise InvalidState(
        f"{lost.message} (the payment was refunded)",
        details={**lost.details, "refunded": True, "reference": charge.reference},
    ) from None


def cancel_subscription(
    session: Session, user_id: str, *, now: datetime | None = None
) -> SubscriptionView:
    """Cancel the reader's active subscription; access ends now. Nothing is refunded."""
    moment = as_utc(now) or utcnow()
    get_user(session, user_id)
    active = session.execute(active_query(user_id, moment)).first()
    if active is None:
        raise InvalidState(
            f"{user_id} has no active subscription to cancel",
            details={"user": user_id, "why": "no_active_subscription"},
        )
    cancelled = session.execute(
        update(SUBSCRIPTIONS)
        .where(SUBSCRIPTIONS.c.id == active.id, SUBSCRIPTIONS.c.status == "active")
        .values(status="cancelled", cancelled_at=moment)
        .returning(SUBSCRIPTIONS.c.id)
    ).first()
    if cancelled is None:
        raise InvalidState(
            f"{user_id}'s subscription was cancelled concurrently",
            details={"user": user_id, "subscription": active.id, "why": "no_active_subscription"},
        )
    row = session.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == active.id)).one()
    return subscription_view(row, moment)
