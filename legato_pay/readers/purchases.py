"""Coin purchases: create at a gateway, verify and credit exactly once, refund with clawback.

Gateway calls never run inside a database transaction. ``create_purchase`` records the pending
purchase in one transaction, calls ``gateway.create_payment``, then stores what the payer needs
(provider id, client secret, payment URL) in another. ``verify_purchase`` asks the gateway and
then settles in one transaction.

Crediting happens exactly once however often or concurrently a purchase is verified (CLI or
webhook): one transaction makes a *conditional* status update (``pending``/``failed`` →
``succeeded``, which only one transaction can win; PostgreSQL makes the others wait on the row
and then match nothing) and posts ONE ledger entry keyed ``purchase:<reference>``::

    gateway:<g>:<CUR>            debit   amount       cash now held at the gateway
    platform:coin_sales:<CUR>    credit  amount
    platform:coins:issuance      debit   coins+bonus  (COIN)
    user:<u>:coins:paid          credit  coins
    user:<u>:coins:bonus         credit  bonus

A payment whose amount or currency differs from what was asked is ``flagged`` and credits
nothing; a failed one is ``failed``; both are PAYMENT_FAILED (exit 7) after the status is saved.

Refunds (full, or partial with ``amount``) reserve the amount on the purchase first (a conditional
update, so concurrent refunds can never return more than was paid), call ``gateway.refund``
with a per-refund idempotency key, then in one transaction claw the purchase's coins back:

- coins due for a refund = ``floor(C × R_after / A) − floor(C × R_before / A)`` per bucket
  (paid coins and bonus coins separately), where ``A`` is the amount paid and ``R`` the amount
  refunded so far. A full refund therefore takes every coin; partial refunds that add up to the
  whole take exactly every coin between them.
- due coins come out of the reader's wallets (locked first): the matching bucket, then the
  other one; whatever the wallets no longer hold was spent and is recorded as ``coins_lost``,
  never as a negative wallet.
- the refunded cash is split between the returned and the lost coins by largest remainder:
  ``platform:coin_sales:<CUR>`` debit (returned share), ``platform:refund_losses:<CUR>`` debit
  (spent share), ``gateway:<g>:<CUR>`` credit (the refund); coins go from the wallets back to
  ``platform:coins:issuance``. One entry, keyed by the refund.

The gateway's later word on a refund (webhooks: Paystack ``refund.*``, Stripe ``refund.*`` and
``charge.refunded``) completes or confirms it, releases its reservation, or undoes a booked refund
that failed after all (its entry reversed once): see ``update_refunds_from_event``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from legato_pay import chart
from legato_pay.config import Settings
from legato_pay.errors import (
    GatewayError,
    IdempotencyConflict,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LegatoError,
    NotFound,
)
from legato_pay.gateways.base import PaymentRequest, PaymentStatus, RefundResult
from legato_pay.idempotency import check_key
from legato_pay.ledger import AccountRequest, EntrySpec, LegSpec, open_accounts, post_entries
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import allocate, format_amount, parse_amount
from legato_pay.readers.packages import money_json
from legato_pay.store.dialect import is_postgres
from legato_pay.store.engine import column_in, update_rows
from legato_pay.store.tables import PURCHASES, REFUNDS

if TYPE_CHECKING:
    from legato_pay.context import AppContext


PURCHASE_STATUSES = ("pending", "succeeded", "failed", "flagged", "refunded", "partially_refunded")
#: Statuses whose coins have been credited.
CREDITED = ("succeeded", "partially_refunded", "refunded")
#: Statuses a refund may start from.
REFUNDABLE = ("succeeded", "partially_refunded")
#: Statuses a gateway success may still credit from (a failed attempt can be retried and pay).
CREDITABLE = ("pending", "failed")
MAX_KEY_LENGTH = 100


@dataclass(frozen=True, slots=True)
class RefundView:
    id: int
    reference: str
    key: str
    amount: int
    currency: str
    coins_clawed_back: int
    coins_lost: int
    gateway_refund_id: str | None
    status: str  # requested | succeeded | failed
    entry_id: int | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "key": self.key,
            **money_json(self.amount, self.currency),
            "coins_clawed_back": self.coins_clawed_back,
            "coins_lost": self.coins_lost,
            "gateway_refund_id": self.gateway_refund_id,
            "status": self.status,
            "entry_id": self.entry_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PurchaseView:
    reference: str
    idempotency_key: str | None
    user_id: str
    package_id: str
    coins: int
    bonus_coins: int
    currency: str
    amount: int
    rate_id: int | None
    rate: str | None
    gateway: str
    gateway_payment_id: str | None
    client_secret: str | None
    payment_url: str | None
    payment_method: str | None
    status: str
    failure_reason: str | None
    entry_id: int | None
    refunded_amount: int
    coins_clawed_back: int
    coins_lost: int
    created_at: datetime
    updated_at: datetime
    credited_at: datetime | None
    refunds: tuple[RefundView, ...] = ()

    @property
    def total_coins(self) -> int:
        return self.coins + self.bonus_coins

    def as_json(self, *, refunds: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reference": self.reference,
            "idempotency_key": self.idempotency_key,
            "user": self.user_id,
            "package": self.package_id,
            "status": self.status,
            **money_json(self.amount, self.currency),
            "coins": self.coins,
            "bonus_coins": self.bonus_coins,
            "total_coins": self.total_coins,
            "rate_id": self.rate_id,
            "rate": self.rate,
            "gateway": self.gateway,
            "provider_payment_id": self.gateway_payment_id,
            "client_secret": self.client_secret,
            "payment_url": self.payment_url,
            "payment_method": self.payment_method,
            "failure_reason": self.failure_reason,
            "entry_id": self.entry_id,
            "refunded": money_json(self.refunded_amount, self.currency),
            "coins_clawed_back": self.coins_clawed_back,
            "coins_lost": self.coins_lost,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "credited_at": self.credited_at.isoformat() if self.credited_at else None,
        }
        if refunds:
            data["refunds"] = [refund.as_json() for refund in self.refunds]
        return data


@dataclass(frozen=True, slots=True)
class SettleResult:
    """What one verification did: ``credited`` is true only for the call that credited."""

    purchase: PurchaseView
    credited: bool
    payment: PaymentStatus | None = None
    error: LegatoError | None = field(default=None, compare=False)

    def __str__(self) -> str:
        verb = "credited" if self.credited else "no change"
        return f"purchase {self.purchase.reference} {self.purchase.status} ({verb})"

    def as_json(self) -> dict[str, Any]:
        purchase = self.purchase
        return {
            "reference": purchase.reference,
            "status": purchase.status,
            "credited": self.credited,
            "entry_id": purchase.entry_id,
            "user": purchase.user_id,
            **money_json(purchase.amount, purchase.currency),
            "coins": purchase.coins,
            "bonus_coins": purchase.bonus_coins,
            "provider_payment_id": purchase.gateway_payment_id,
            "paid": (
                money_json(self.payment.amount, self.payment.currency)
                if self.payment is not None and self.payment.status == "succeeded"
                else None
            ),
            "failure_reason": purchase.failure_reason,
        }


@dataclass(frozen=True, slots=True)
class CreateResult:
    purchase: PurchaseView
    price_source: str
    replayed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            **self.purchase.as_json(refunds=False),
            "price_source": self.price_source,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    refund: RefundView
    purchase: PurchaseView
    replayed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            **self.refund.as_json(),
            "purchase_status": self.purchase.status,
            "refunded_total": money_json(self.purchase.refunded_amount, self.purchase.currency),
            "replayed": self.replayed,
        }


# -- reading ---------------------------------------------------------------------------------


def _refund_view(row: Any, currency: str) -> RefundView:
    reference = row.reference
    key = row.idempotency_key[len(reference) + 1 :]
    return RefundView(
        id=row.id,
        reference=reference,
        key=key,
        amount=row.amount,
        currency=currency,
        coins_clawed_back=row.coins_clawed_back,
        coins_lost=row.coins_lost,
        gateway_refund_id=row.gateway_refund_id,
        status=row.status,
        entry_id=row.entry_id,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
    )


def _purchase_view(session: Session, row: Any, *, with_refunds: bool = True) -> PurchaseView:
    return _purchase_views(session, [row], with_refunds=with_refunds)[0]


def _purchase_views(
    session: Session, rows: Sequence[Any], *, with_refunds: bool = True
) -> list[PurchaseView]:
    """Views of many rows with one query for their rates and one for their refunds."""
    from legato_pay.readers.fx import get_rates

    rates = get_rates(session, (row.rate_id for row in rows if row.rate_id is not None))
    refunds: dict[str, list[RefundView]] = {}
    credited = [row for row in rows if with_refunds and row.status in CREDITED]
    if credited:  # only a credited purchase can have refunds
        currency = {row.reference: row.currency for row in credited}
        for refund in session.execute(
            select(REFUNDS).where(REFUNDS.c.reference.in_(list(currency))).order_by(REFUNDS.c.id)
        ):
            refunds.setdefault(refund.reference, []).append(
                _refund_view(refund, currency[refund.reference])
            )
    views = []
    for row in rows:
        rate = rates.get(row.rate_id) if row.rate_id is not None else None
        views.append(
            PurchaseView(
                reference=row.reference,
                idempotency_key=row.idempotency_key,
                user_id=row.user_id,
                package_id=row.package_id,
                coins=row.coins,
                bonus_coins=row.bonus_coins,
                currency=row.currency,
                amount=row.amount,
                rate_id=row.rate_id,
                rate=rate.rate if rate else None,
                gateway=row.gateway,
                gateway_payment_id=row.gateway_payment_id,
                client_secret=row.client_secret,
                payment_url=row.payment_url,
                payment_method=row.payment_method,
                status=row.status,
                failure_reason=row.failure_reason,
                entry_id=row.entry_id,
                refunded_amount=row.refunded_amount,
                coins_clawed_back=row.coins_clawed_back,
                coins_lost=row.coins_lost,
                created_at=as_utc(row.created_at),  # type: ignore[arg-type]
                updated_at=as_utc(row.updated_at),  # type: ignore[arg-type]
                credited_at=as_utc(row.credited_at),
                refunds=tuple(refunds.get(row.reference, ())),
            )
        )
    return views


def _purchase_row(session: Session, reference: str, *, lock: bool = False) -> Any:
    query = select(PURCHASES).where(PURCHASES.c.reference == reference)
    if lock and is_postgres(session):
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"no purchase {reference}", details={"purchase": reference})
    return row


def get_purchase(session: Session, reference: str) -> PurchaseView:
    return _purchase_view(session, _purchase_row(session, reference))


def list_purchases(
    session: Session, *, user_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[PurchaseView]:
    """Newest first, without their refunds (``show`` has those)."""
    if status is not None and status not in PURCHASE_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(PURCHASE_STATUSES)}", details={"status": status}
        )
    if limit < 1 or limit > 10000:
        raise InvalidInput("limit must be between 1 and 10000", details={"limit": limit})
    query = (
        select(PURCHASES)
        .order_by(PURCHASES.c.created_at.desc(), PURCHASES.c.reference)
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(PURCHASES.c.user_id == user_id)
    if status is not None:
        query = query.where(PURCHASES.c.status == status)
    return _purchase_views(session, session.execute(query).all(), with_refunds=False)


# -- creating --------------------------------------------------------------------------------


def new_reference(key: str | None = None) -> str:
    """``pur_`` + 24 hex digits: random, or derived from the idempotency key so that two
    concurrent creates with one key collide on the primary key and the loser finds the winner."""
    if key is None:
        return f"pur_{secrets.token_hex(12)}"
    return f"pur_{hashlib.sha256(f'purchase-key:{key}'.encode()).hexdigest()[:24]}"


@dataclass(frozen=True, slots=True)
class _Request:
    user_id: str
    package_id: str
    currency: str
    gateway: str
    payment_method: str | None
    key: str | None


def _price_source(purchase: PurchaseView) -> str:
    """How a stored purchase was priced (see ``packages.price_in``)."""
    from legato_pay.readers.packages import PRICE_CURRENCY

    if purchase.rate_id is not None:
        return "converted"
    return "usd" if purchase.currency == PRICE_CURRENCY else "fixed"


def _record_purchase(
    session: Session, settings: Settings, request: _Request
) -> tuple[PurchaseView, str, bool]:
    """Transaction 1: the pending purchase (or, for a known key, the one already recorded)."""
    from legato_pay.readers import packages
    from legato_pay.readers.users import get_user

    if request.key is not None:
        existing = session.execute(
            select(PURCHASES).where(PURCHASES.c.idempotency_key == request.key)
        ).first()
        if existing is not None:
            wanted = {
                "user": request.user_id,
                "package": request.package_id,
                "currency": request.currency,
                "gateway": request.gateway,
                "payment_method": request.payment_method,
            }
            stored = {
                "user": existing.user_id,
                "package": existing.package_id,
                "currency": existing.currency,
                "gateway": existing.gateway,
                "payment_method": existing.payment_method,
            }
            differs = sorted(name for name in wanted if wanted[name] != stored[name])
            if differs:
                raise IdempotencyConflict(
                    f"idempotency key {request.key!r} was already used for a different purchase",
                    details={
                        "key": request.key,
                        "reference": existing.reference,
                        "differs": differs,
                    },
                )
            view = _purchase_view(session, existing)
            return view, _price_source(view), True
    get_user(session, request.user_id)
    package = packages.buyable_package(session, settings, request.package_id)
    quote = packages.price_in(session, settings, package, request.currency)
    reference = new_reference(request.key)
    now = utcnow()
    session.execute(
        PURCHASES.insert().values(
            reference=reference,
            idempotency_key=request.key,
            user_id=request.user_id,
            package_id=package.id,
            coins=package.coins,
            bonus_coins=package.bonus_coins,
            currency=quote.currency,
            amount=quote.amount,
            rate_id=quote.rate_id,
            gateway=request.gateway,
            payment_method=request.payment_method,
            status="pending",
            refunded_amount=0,
            coins_clawed_back=0,
            coins_lost=0,
            created_at=now,
            updated_at=now,
        )
    )
    return get_purchase(session, reference), quote.source, False


def create_purchase(
    app: AppContext,
    *,
    user_id: str,
    package_id: str,
    currency: str | None = None,
    gateway: str | None = None,
    key: str | None = None,
    payment_method: str | None = None,
) -> CreateResult:
    """Record a pending purchase and open a payment for it at the gateway.

    With ``key`` the same request returns the same purchase (``replayed``); a retry after a
    gateway failure calls the gateway again with the same per-purchase idempotency key.
    """
    from legato_pay.gateways import choose_gateway_name, get_gateway
    from legato_pay.readers.fx import accepted_currency

    settings = app.settings
    code = accepted_currency(settings, currency or settings.base_currency)
    gateway_name = choose_gateway_name(app, code, gateway)
    if gateway_name == "sandbox" and payment_method is not None:
        from legato_pay.gateways.sandbox import PAYMENT_METHODS

        if payment_method not in PAYMENT_METHODS:
            raise InvalidInput(
                f"unknown sandbox payment method {payment_method!r}",
                details={"payment_method": payment_method, "known": list(PAYMENT_METHODS)},
            )
    request = _Request(
        user_id,
        package_id,
        code,
        gateway_name,
        payment_method,
        check_key(key, max_length=MAX_KEY_LENGTH),
    )
    purchase, source, replayed = app.run(lambda s: _record_purchase(s, settings, request))
    if purchase.gateway_payment_id is not None or purchase.status not in CREDITABLE:
        return CreateResult(purchase, source, replayed)

    client = get_gateway(app, gateway_name)
    from legato_pay.readers.users import get_user

    email = app.run(lambda s: get_user(s, purchase.user_id).email, write=False)
    payment = PaymentRequest(
        reference=purchase.reference,
        amount=purchase.amount,
        currency=purchase.currency,
        idempotency_key=f"purchase:{purchase.reference}:create",
        customer_id=purchase.user_id,
        customer_email=email,
        description=f"{purchase.total_coins} coins ({purchase.package_id})",
        payment_method=payment_method,
        metadata={"reference": purchase.reference, "package": purchase.package_id},
    )
    try:
        opened = client.create_payment(payment)
    except LegatoError as error:
        app.run(lambda s, e=error: _mark_create_failed(s, purchase.reference, e))
        raise

    def store(session: Session) -> PurchaseView:
        session.execute(
            update(PURCHASES)
            .where(
                PURCHASES.c.reference == purchase.reference,
                PURCHASES.c.gateway_payment_id.is_(None),
            )
            .values(
                gateway_payment_id=opened.provider_payment_id,
                client_secret=opened.client_secret,
                payment_url=opened.payment_url,
                status="pending",
                failure_reason=None,
                updated_at=utcnow(),
            )
        )
        return get_purchase(session, purchase.reference)

    return CreateResult(app.run(store), source, replayed)


def _mark_create_failed(session: Session, reference: str, error: LegatoError) -> None:
    """The gateway refused to open the payment: ``failed`` (a retry with the key reopens it)."""
    session.execute(
        update(PURCHASES)
        .where(PURCHASES.c.reference == reference, PURCHASES.c.gateway_payment_id.is_(None))
        .values(
            status="failed",
            failure_reason=f"{error.code}: {error.message}"[:2000],
            updated_at=utcnow(),
        )
    )


# -- verifying and crediting -----------------------------------------------------------------


def _payment_error(purchase: PurchaseView, payment: PaymentStatus | None) -> GatewayError:
    details: dict[str, Any] = {
        "reference": purchase.reference,
        "status": purchase.status,
        "failure_reason": purchase.failure_reason,
        "expected": money_json(purchase.amount, purchase.currency),
    }
    if purchase.status == "flagged":
        if payment is not None and payment.status == "succeeded":
            details["paid"] = {
                "amount": payment.amount,
                "currency": payment.currency,
                "display": _display(payment.amount, payment.currency),
            }
        return GatewayError(
            f"purchase {purchase.reference} is flagged: {purchase.failure_reason}; "
            "nothing was credited",
            details=details,
        )
    return GatewayError(
        f"payment for purchase {purchase.reference} failed: {purchase.failure_reason}",
        details=details,
    )


def _display(amount: int, currency: str) -> str:
    try:
        return format_amount(amount, currency)
    except LegatoError:  # a currency we do not know, reported by a gateway
        return f"{amount} {currency} (minor units)"


def purchase_entry(purchase: PurchaseView) -> EntrySpec:
    """The one entry that credits a purchase: cash in at the gateway, coins out to the wallets."""
    currency = purchase.currency
    legs = [
        LegSpec(chart.gateway_cash(purchase.gateway, currency), "debit", purchase.amount, currency),
        LegSpec(chart.coin_sales(currency), "credit", purchase.amount, currency),
        LegSpec(chart.COIN_ISSUANCE, "debit", purchase.total_coins, chart.COIN),
        LegSpec(chart.wallet_paid(purchase.user_id), "credit", purchase.coins, chart.COIN),
    ]
    if purchase.bonus_coins:
        legs.append(
            LegSpec(
                chart.wallet_bonus(purchase.user_id), "credit", purchase.bonus_coins, chart.COIN
            )
        )
    return EntrySpec(
        legs=tuple(legs),
        idempotency_key=f"purchase:{purchase.reference}",
        reason=f"coin purchase {purchase.reference}",
        metadata={
            "purchase": purchase.reference,
            "user": purchase.user_id,
            "package": purchase.package_id,
            "rate_id": purchase.rate_id,
        },
    )


def purchase_accounts(gateway: str, currency: str, user_id: str) -> list[AccountRequest]:
    """The accounts ``purchase_entry`` posts to."""
    return [
        chart.system_account(chart.gateway_cash(gateway, currency), currency, debit_normal=True),
        chart.system_account(chart.coin_sales(currency), currency),
        chart.system_account(chart.COIN_ISSUANCE, chart.COIN),
        *chart.wallet_accounts(user_id),
    ]


def settle_payment(session: Session, payment: PaymentStatus, *, actor: str) -> SettleResult:
    """Apply a gateway's answer to its purchase, crediting at most once. Never raises for a
    failed or mismatched payment: the result carries the error, so the status change commits."""
    result = settle_payments(session, [payment], actor=actor)[0]
    if isinstance(result, LegatoError):
        raise result
    return result


def settle_payments(
    session: Session, payments: Sequence[PaymentStatus], *, actor: str
) -> list[SettleResult | LegatoError]:
    """Apply many gateway answers in one go: what ``settle_payment`` gives each alone, in order
    (a reference given twice sees the first answer's effect), with a fixed number of statements
    per batch instead of several per payment (the webhook listener settles its batches here).

    A payment that cannot apply at all (no such purchase, another gateway's, an unknown status)
    gets its error in its place in the list; the others still apply.
    """
    results: list[SettleResult | LegatoError | None] = [None] * len(payments)
    waiting = list(range(len(payments)))
    while waiting:  # rounds of distinct references, so each row changes once per round
        this_round: list[int] = []
        later: list[int] = []
        seen: set[str] = set()
        for index in waiting:
            reference = payments[index].reference
            (later if reference in seen else this_round).append(index)
            seen.add(reference)
        _settle_round(session, payments, this_round, results, actor)
        waiting = later
    return results  # type: ignore[return-value]


def _settle_round(
    session: Session,
    payments: Sequence[PaymentStatus],
    indexes: list[int],
    results: list[SettleResult | LegatoError | None],
    actor: str,
) -> None:
    references = sorted({payments[index].reference for index in indexes})
    query = (
        select(PURCHASES)
        .where(column_in(session, PURCHASES.c.reference, references))
        .order_by(PURCHASES.c.reference)  # rows lock in one order: batches never deadlock
    )
    if is_postgres(session):
        query = query.with_for_update()
    rows = {row.reference: row for row in session.execute(query)}
    views = dict(zip(rows, _purchase_views(session, list(rows.values())), strict=True))
    now = utcnow()
    changed: dict[str, PurchaseView] = {}
    credits: list[int] = []
    for index in indexes:
        payment = payments[index]
        view = views.get(payment.reference)
        if view is None:
            results[index] = NotFound(
                f"no purchase {payment.reference}", details={"purchase": payment.reference}
            )
            continue
        outcome = _settlement(view, payment, now)
        if isinstance(outcome, LegatoError):
            results[index] = outcome
            continue
        results[index] = outcome
        if outcome.purchase is not view:
            changed[view.reference] = outcome.purchase
            if outcome.credited:
                credits.append(index)
    if not changed:
        return
    if credits:
        credited = [results[index].purchase for index in credits]  # type: ignore[union-attr]
        open_accounts(
            session,
            [
                request
                for purchase in credited
                for request in purchase_accounts(
                    purchase.gateway, purchase.currency, purchase.user_id
                )
            ],
        )
        entries = post_entries(
            session, [purchase_entry(purchase) for purchase in credited], actor=actor
        )
        for index, entry in zip(credits, entries, strict=True):
            result = results[index]
            purchase = replace(result.purchase, entry_id=entry.id)  # type: ignore[union-attr]
            results[index] = SettleResult(purchase, True, result.payment, result.error)  # type: ignore[union-attr]
            changed[purchase.reference] = purchase
    update_rows(
        session,
        PURCHASES,
        "reference",
        [
            {
                "reference": purchase.reference,
                "status": purchase.status,
                "failure_reason": purchase.failure_reason,
                "gateway_payment_id": purchase.gateway_payment_id,
                "credited_at": purchase.credited_at,
                "entry_id": purchase.entry_id,
                "updated_at": purchase.updated_at,
            }
            for purchase in changed.values()
        ],
    )


def _settlement(
    view: PurchaseView, payment: PaymentStatus, now: datetime
) -> SettleResult | LegatoError:
    """What one answer does to one purchase (the rules of crediting, in one place). Returns
    the purchase unchanged (the same object) when nothing is to be written."""
    if payment.provider != view.gateway:
        return InvalidInput(
            f"purchase {view.reference} was made through {view.gateway}, not {payment.provider}",
            details={"purchase": view.reference, "gateway": view.gateway},
            code="GATEWAY_MISMATCH",
        )
    if view.status in CREDITED:
        return SettleResult(view, False, payment)
    if view.status == "flagged":  # needs a person; a later success does not unflag it
        return SettleResult(view, False, payment, _payment_error(view, payment))
    if payment.status == "pending":
        error = _payment_error(view, payment) if view.status == "failed" else None
        return SettleResult(view, False, payment, error)
    known_id = payment.provider_payment_id or view.gateway_payment_id
    if payment.status == "failed":
        failed = replace(
            view,
            status="failed",
            failure_reason=payment.failure_reason or payment.raw_status or "payment failed",
            gateway_payment_id=known_id,
            updated_at=now,
        )
        return SettleResult(failed, False, payment, _payment_error(failed, payment))
    if payment.status != "succeeded":
        return InvalidInput(
            f"unknown payment status {payment.status!r}", details={"status": payment.status}
        )
    if (payment.amount, payment.currency) != (view.amount, view.currency):
        reason = (
            f"paid {_display(payment.amount, payment.currency)}, "
            f"expected {_display(view.amount, view.currency)}"
        )
        flagged = replace(
            view,
            status="flagged",
            failure_reason=reason,
            gateway_payment_id=known_id,
            updated_at=now,
        )
        return SettleResult(flagged, False, payment, _payment_error(flagged, payment))
    succeeded = replace(
        view,
        status="succeeded",
        failure_reason=None,
        credited_at=now,
        gateway_payment_id=known_id,
        updated_at=now,
    )
    return SettleResult(succeeded, True, payment)


def apply_payment_status(
    session: Session, payment: PaymentStatus, *, actor: str | None = None
) -> SettleResult:
    """Settle inside someone else's transaction (the webhook inbox).

    Work runs in a savepoint, so an unexpected error leaves nothing half-done in the caller's
    transaction; a failed or mismatched payment is saved and then raised as PAYMENT_FAILED.
    """
    with session.begin_nested():
        result = settle_payment(session, payment, actor=actor or f"webhook:{payment.provider}")
    if result.error is not None:
        raise result.error
    return result


def verify_purchase(app: AppContext, reference: str) -> SettleResult:
    """Ask the gateway (no transaction held), then settle in one transaction.

    Raises PAYMENT_FAILED (exit 7) for a failed or flagged purchase, after saving its status.
    """
    from legato_pay.gateways import get_gateway

    purchase = app.run(lambda s: get_purchase(s, reference), write=False)
    if purchase.status in CREDITED:
        return SettleResult(purchase, False)
    if purchase.gateway_payment_id is None and purchase.status == "failed":
        raise _payment_error(purchase, None)  # the gateway never opened a payment
    payment = get_gateway(app, purchase.gateway).verify_payment(
        purchase.reference, purchase.gateway_payment_id
    )
    result = app.run(lambda s: settle_payment(s, payment, actor=app.actor))
    if result.error is not None:
        raise result.error
    return result


# -- refunds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reservation:
    refund: RefundView
    purchase: PurchaseView
    done: bool  # already applied earlier (an idempotent replay)


def _refund_row_key(reference: str, key: str) -> str:
    return f"{reference}:{key}"


def _refund_row(session: Session, refund_id: int) -> Any:
    return session.execute(select(REFUNDS).where(REFUNDS.c.id == refund_id)).one()


def _reserve_refund(session: Session, reference: str, amount: str | None, key: str) -> _Reservation:
    """Transaction 1: check the request and reserve its amount on the purchase."""
    row = _purchase_row(session, reference, lock=True)
    requested = parse_amount(amount, row.currency) if amount is not None else None
    row_key = _refund_row_key(reference, key)
    existing = session.execute(select(REFUNDS).where(REFUNDS.c.idempotency_key == row_key)).first()
    if existing is not None:
        if requested is not None and requested != existing.amount:
            raise IdempotencyConflict(
                f"refund key {key!r} was already used for a different amount",
                details={"key": key, "amount": existing.amount, "requested": requested},
            )
        if existing.status != "failed":  # done, or in flight: finish it, never start another
            return _Reservation(
                _refund_view(existing, row.currency),
                get_purchase(session, reference),
                existing.status == "succeeded",
            )
        if existing.entry_id is not None:  # booked, then failed at the gateway and undone
            raise InvalidState(
                f"refund key {key!r} was booked and then failed at the gateway; "
                "refund again with a new key",
                details={"key": key, "refund_id": existing.id, "status": existing.status},
            )
        requested = existing.amount  # a failed attempt with this key: try it again
    if row.status not in REFUNDABLE:
        raise InvalidState(
            f"purchase {reference} is {row.status}; only a succeeded purchase can be refunded",
            details={"purchase": reference, "status": row.status},
        )
    refundable = row.amount - row.refunded_amount
    if requested is None:
        requested = refundable
    if requested <= 0 or requested > refundable:
        raise InvalidAmount(
            f"cannot refund {_display(requested, row.currency)}: "
            f"{_display(refundable, row.currency)} of {_display(row.amount, row.currency)} "
            "is left to refund",
            details={
                "purchase": reference,
                "paid": row.amount,
                "refunded": row.refunded_amount,
                "refundable": refundable,
                "requested": requested,
                "currency": row.currency,
            },
        )
    reserved = session.execute(
        update(PURCHASES)
        .where(
            PURCHASES.c.reference == reference,
            PURCHASES.c.status.in_(REFUNDABLE),
            PURCHASES.c.refunded_amount + requested <= PURCHASES.c.amount,
        )
        .values(refunded_amount=PURCHASES.c.refunded_amount + requested, updated_at=utcnow())
        .returning(PURCHASES.c.reference)
    ).first()
    if reserved is None:  # lost a race on SQLite-free paths; rerun sees the new totals
        from legato_pay.errors import RetryableConflict

        raise RetryableConflict(f"purchase {reference} changed while reserving a refund")
    if existing is not None:
        session.execute(
            update(REFUNDS).where(REFUNDS.c.id == existing.id).values(status="requested")
        )
        refund_id = existing.id
    else:
        refund_id = session.execute(
            REFUNDS.insert()
            .values(
                reference=reference,
                idempotency_key=row_key,
                amount=requested,
                coins_clawed_back=0,
                coins_lost=0,
                status="requested",
                created_at=utcnow(),
            )
            .returning(REFUNDS.c.id)
        ).scalar_one()
    return _Reservation(
        _refund_view(_refund_row(session, refund_id), row.currency),
        get_purchase(session, reference),
        False,
    )


def _release_refund(session: Session, refund_id: int) -> None:
    """The gateway refused: give the reserved amount back and keep the attempt as failed."""
    row = session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == refund_id, REFUNDS.c.status == "requested")
        .values(status="failed")
        .returning(REFUNDS.c.reference, REFUNDS.c.amount)
    ).first()
    if row is not None:
        session.execute(
            update(PURCHASES)
            .where(PURCHASES.c.reference == row.reference)
            .values(refunded_amount=PURCHASES.c.refunded_amount - row.amount, updated_at=utcnow())
        )


def clawback_due(total: int, paid: int, refunded_before: int, refunded_after: int) -> int:
    """Coins of one bucket a refund takes: the cumulative floor share, so the shares add up."""
    return (total * refunded_after) // paid - (total * refunded_before) // paid


def _apply_refund(
    session: Session, refund_id: int, result: RefundResult, actor: str
) -> RefundOutcome:
    """Transaction 2: claw back coins and post the refund entry, exactly once per refund."""
    from legato_pay.readers.coins import lock_wallet

    first = _refund_row(session, refund_id)
    row = _purchase_row(session, first.reference, lock=True)
    claimed = session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == refund_id, REFUNDS.c.status == "requested")
        .values(status="succeeded", gateway_refund_id=result.provider_refund_id or None)
        .returning(REFUNDS.c.id)
    ).first()
    if claimed is None:
        purchase = get_purchase(session, row.reference)
        refund = _refund_view(_refund_row(session, refund_id), row.currency)
        return RefundOutcome(refund, purchase, True)

    amount = first.amount
    before = session.execute(
        select(func.coalesce(func.sum(REFUNDS.c.amount), 0)).where(
            REFUNDS.c.reference == row.reference,
            REFUNDS.c.status == "succeeded",
            REFUNDS.c.id != refund_id,
        )
    ).scalar_one()
    after = int(before) + amount
    due_paid = clawback_due(row.coins, row.amount, int(before), after)
    due_bonus = clawback_due(row.bonus_coins, row.amount, int(before), after)

    wallet = lock_wallet(session, row.user_id)
    take_paid = min(due_paid, wallet.paid)
    take_bonus = min(due_bonus, wallet.bonus)
    short = (due_paid - take_paid) + (due_bonus - take_bonus)
    extra_paid = min(short, wallet.paid - take_paid)  # fungible coins: the other bucket next
    short -= extra_paid
    extra_bonus = min(short, wallet.bonus - take_bonus)
    lost = short - extra_bonus
    from_paid, from_bonus = take_paid + extra_paid, take_bonus + extra_bonus
    clawed = from_paid + from_bonus

    currency, gateway = row.currency, row.gateway
    returned_share, lost_share = allocate(amount, [clawed, lost]) if clawed + lost else (amount, 0)
    chart.open_system(session, chart.gateway_cash(gateway, currency), currency, debit_normal=True)
    chart.open_system(session, chart.coin_sales(currency), currency)
    legs: list[LegSpec] = []
    if returned_share:
        legs.append(LegSpec(chart.coin_sales(currency), "debit", returned_share, currency))
    if lost_share:
        chart.open_system(session, chart.refund_losses(currency), currency, debit_normal=True)
        legs.append(LegSpec(chart.refund_losses(currency), "debit", lost_share, currency))
    legs.append(LegSpec(chart.gateway_cash(gateway, currency), "credit", amount, currency))
    if clawed:
        chart.open_system(session, chart.COIN_ISSUANCE, chart.COIN)
        if from_paid:
            legs.append(LegSpec(chart.wallet_paid(row.user_id), "debit", from_paid, chart.COIN))
        if from_bonus:
            legs.append(LegSpec(chart.wallet_bonus(row.user_id), "debit", from_bonus, chart.COIN))
        legs.append(LegSpec(chart.COIN_ISSUANCE, "credit", clawed, chart.COIN))
    entry = post_entries(
        session,
        [
            EntrySpec(
                legs=tuple(legs),
                idempotency_key=f"purchase-refund:{first.idempotency_key}",
                reason=f"refund of coin purchase {row.reference}",
                metadata={
                    "purchase": row.reference,
                    "refund_id": refund_id,
                    "user": row.user_id,
                    "coins_clawed_back": clawed,
                    "coins_lost": lost,
                    "gateway_refund_id": result.provider_refund_id,
                },
            )
        ],
        actor=actor,
    )[0]
    session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == refund_id)
        .values(coins_clawed_back=clawed, coins_lost=lost, entry_id=entry.id)
    )
    session.execute(
        update(PURCHASES)
        .where(PURCHASES.c.reference == row.reference)
        .values(
            status="refunded" if after >= row.amount else "partially_refunded",
            coins_clawed_back=PURCHASES.c.coins_clawed_back + clawed,
            coins_lost=PURCHASES.c.coins_lost + lost,
            updated_at=utcnow(),
        )
    )
    purchase = get_purchase(session, row.reference)
    refund = _refund_view(_refund_row(session, refund_id), currency)
    return RefundOutcome(refund, purchase, False)


def refund_purchase(
    app: AppContext, reference: str, *, amount: str | None = None, key: str | None = None
) -> RefundOutcome:
    """Refund all (default) or ``amount`` (a decimal string) of a succeeded purchase.

    Pass ``key`` to make a retry safe: the same key never refunds twice, and a refund whose
    bookkeeping was interrupted after the gateway accepted it is completed by the retry. A key
    whose refund was booked and later failed at the gateway (undone by its webhook) is spent.
    """
    from legato_pay.gateways import get_gateway

    refund_key = check_key(key, max_length=MAX_KEY_LENGTH) or f"auto-{secrets.token_hex(8)}"
    reservation = app.run(lambda s: _reserve_refund(s, reference, amount, refund_key))
    if reservation.done:
        return RefundOutcome(reservation.refund, reservation.purchase, True)
    purchase, refund = reservation.purchase, reservation.refund
    if purchase.gateway_payment_id is None:  # cannot happen for a credited purchase
        raise InvalidState("the purchase has no gateway payment", details={"purchase": reference})
    try:
        result = get_gateway(app, purchase.gateway).refund(
            provider_payment_id=purchase.gateway_payment_id,
            reference=purchase.reference,
            amount=refund.amount,
            currency=purchase.currency,
            idempotency_key=f"purchase-refund:{reference}:{refund.key}",
        )
        if result.status == "failed":
            raise GatewayError(
                f"the gateway declined the refund of {reference}",
                details={"purchase": reference, "provider_refund_id": result.provider_refund_id},
            )
    except LegatoError:
        app.run(lambda s: _release_refund(s, refund.id))
        raise
    return app.run(lambda s: _apply_refund(s, refund.id, result, app.actor))


# -- refund outcomes reported by the gateways (webhooks) --------------------------------------

#: What a provider's refund status means for our refund row.
_REFUND_EVENT_STATUS = {
    ("paystack", "processed"): "succeeded",
    ("paystack", "failed"): "failed",
    ("paystack", "pending"): "pending",
    ("paystack", "processing"): "pending",
    ("paystack", "needs-attention"): "attention",
    ("stripe", "succeeded"): "succeeded",
    ("stripe", "failed"): "failed",
    ("stripe", "canceled"): "failed",
    ("stripe", "pending"): "pending",
    ("stripe", "requires_action"): "pending",
}


@dataclass(frozen=True, slots=True)
class RefundNotice:
    """One refund as a provider's event describes it. ``purchase_hint`` leads to the purchase
    when the provider's refund id is not on our row yet: Stripe's ``metadata.reference`` (ours),
    Paystack's ``transaction_reference`` (our reference made Paystack-conformant)."""

    provider: str
    refund_id: str | None
    status: str  # succeeded | failed | pending | attention | unknown
    raw_status: str
    amount: int | None
    purchase_hint: str | None


@dataclass(frozen=True, slots=True)
class RefundEventResult:
    """What one refund notice did; ``outcome`` is the inbox's word for it."""

    outcome: str  # applied | ignored | flagged
    message: str
    refund_id: int | None = None

    def __str__(self) -> str:
        return self.message


def refund_notices(provider: str, event: dict[str, Any]) -> list[RefundNotice]:
    """The refunds a webhook body speaks of: Paystack ``refund.*`` (one), Stripe ``refund.*``
    (one) or ``charge.refunded`` (each refund in the charge's ``refunds.data``)."""
    from legato_pay.money import parse_minor_units

    def amount(value: Any) -> int | None:
        try:
            return parse_minor_units(value, positive=False) if value is not None else None
        except InvalidAmount:
            return None

    def notice(refund_id: Any, raw: str, value: Any, hint: Any) -> RefundNotice:
        return RefundNotice(
            provider=provider,
            refund_id=str(refund_id) if refund_id not in (None, "") else None,
            status=_REFUND_EVENT_STATUS.get((provider, raw), "unknown"),
            raw_status=raw,
            amount=amount(value),
            purchase_hint=str(hint) if hint else None,
        )

    if provider == "paystack":
        data = event.get("data") or {}
        raw = str(data.get("status") or str(event.get("event", "")).removeprefix("refund."))
        return [notice(data.get("id"), raw, data.get("amount"), data.get("transaction_reference"))]
    obj = (event.get("data") or {}).get("object") or {}
    if event.get("type") == "charge.refunded" or obj.get("object") == "charge":
        refunds = (obj.get("refunds") or {}).get("data") or []
    else:
        refunds = [obj]
    default = "failed" if event.get("type") == "refund.failed" else ""
    return [
        notice(
            refund.get("id"),
            str(refund.get("status") or default),
            refund.get("amount"),
            (refund.get("metadata") or {}).get("reference"),
        )
        for refund in refunds
    ]


def apply_refund_event(session: Session, provider: str, data: dict[str, Any]) -> str:
    """Apply a provider's refund event (see ``update_refunds_from_event``); says what it did."""
    return "; ".join(str(result) for result in update_refunds_from_event(session, provider, data))


def update_refunds_from_event(
    session: Session, provider: str, data: dict[str, Any]
) -> list[RefundEventResult]:
    """Bring our refunds in line with what the provider says about them, inside the caller's
    transaction (the webhook inbox). Idempotent: a repeat or replay changes nothing more.

    - success on a ``requested`` refund (our bookkeeping was interrupted after the gateway
      accepted it) completes it through ``_apply_refund``; on a ``succeeded`` one, confirms it.
    - failure on a ``requested`` refund releases its reservation; on a ``succeeded`` one (booked
      when the gateway accepted it) undoes it: the refund entry is reversed (coins back in the
      wallets), the purchase's refunded amount and coin counts are given back.
    - pending changes nothing; needs-attention, an ambiguous match or a contradiction is flagged.
    """
    actor = f"webhook:{provider}"
    return [
        _apply_refund_notice(session, notice, actor) for notice in refund_notices(provider, data)
    ]


def _refund_rows_by_provider_id(session: Session, provider: str, refund_id: str) -> list[Any]:
    query = (
        select(REFUNDS)
        .join(PURCHASES, PURCHASES.c.reference == REFUNDS.c.reference)
        .where(REFUNDS.c.gateway_refund_id == refund_id, PURCHASES.c.gateway == provider)
        .order_by(REFUNDS.c.id)
    )
    return list(session.execute(query))


def _refund_rows_by_purchase(session: Session, provider: str, hint: str) -> list[Any]:
    """The refunds of the purchase a hint names: our reference, or for Paystack the
    conformant reference ``transaction_reference`` made of it (``pur_x`` → ``pur-x-<digest>``:
    the LIKE pattern puts a one-character wildcard where a refused character was)."""
    from legato_pay.gateways.paystack.gateway import transaction_reference

    matches = REFUNDS.c.reference == hint
    conformed = re.fullmatch(r"([A-Za-z0-9.=-]+)-[0-9a-f]{12}", hint)
    if provider == "paystack" and conformed:
        matches = matches | REFUNDS.c.reference.like(conformed.group(1).replace("-", "_"))
    query = (
        select(REFUNDS)
        .join(PURCHASES, PURCHASES.c.reference == REFUNDS.c.reference)
        .where(matches, PURCHASES.c.gateway == provider)
        .order_by(REFUNDS.c.id)
    )
    rows = list(session.execute(query))
    if provider != "paystack":
        return [row for row in rows if row.reference == hint]
    return [row for row in rows if transaction_reference(row.reference) == hint]


def _find_refund(session: Session, notice: RefundNotice) -> tuple[Any, RefundEventResult | None]:
    """Our refund row for a notice, or why there is none (ignored: unknown; flagged: cannot
    tell which, or a failure we cannot pin on one booked refund)."""
    what = f"{notice.provider} refund {notice.refund_id or '(no id)'}"
    if notice.refund_id is not None:
        found = _refund_rows_by_provider_id(session, notice.provider, notice.refund_id)
        if len(found) == 1:
            return found[0], None
        if found:
            ids = [row.id for row in found]
            return None, RefundEventResult("flagged", f"{what} matches refunds {ids}")
    if notice.purchase_hint is None or notice.amount is None:
        return None, RefundEventResult("ignored", f"{what} is not one of our refunds")
    # Same purchase and amount, not failed; a row that knows its provider id is another refund.
    same = [
        row
        for row in _refund_rows_by_purchase(session, notice.provider, notice.purchase_hint)
        if row.amount == notice.amount
        and row.status != "failed"
        and (notice.refund_id is None or row.gateway_refund_id is None)
    ]
    open_rows = [row for row in same if row.status == "requested"]
    if len(open_rows) == 1:
        return open_rows[0], None
    if len(open_rows) > 1:
        ids = [row.id for row in open_rows]
        return None, RefundEventResult(
            "flagged", f"{what} of {notice.amount} could be any of refunds {ids}; none changed"
        )
    if same and notice.status in ("failed", "attention", "unknown"):
        ids = [row.id for row in same]
        return None, RefundEventResult(
            "flagged",
            f"{what} is {notice.raw_status} without an id we know; booked refunds {ids} of that "
            "amount need a person to check",
        )
    if same:
        ids = [row.id for row in same]
        return None, RefundEventResult(
            "applied", f"{what} {notice.raw_status}: confirmed (booked refunds {ids} match it)"
        )
    return None, RefundEventResult(
        "ignored", f"{what}: no refund of {notice.purchase_hint} for {notice.amount}"
    )


def _apply_refund_notice(session: Session, notice: RefundNotice, actor: str) -> RefundEventResult:
    found, why = _find_refund(session, notice)
    if why is not None:
        return why
    purchase = _purchase_row(session, found.reference, lock=True)  # then the refund as it is now
    row = _refund_row(session, found.id)
    label = f"refund {row.id} of {row.reference}"
    by_id = notice.refund_id is not None and notice.refund_id == row.gateway_refund_id

    def result(outcome: str, message: str) -> RefundEventResult:
        return RefundEventResult(outcome, f"{label} {message}", row.id)

    if row.status == "requested" and by_id:
        # Only an earlier attempt (failed, now retried under the same key) leaves its provider
        # id on a requested row: this notice is about that attempt, not the one in flight.
        outcome = "flagged" if notice.status == "succeeded" else "ignored"
        return result(outcome, f"is being retried; {notice.raw_status} was an earlier attempt")
    if notice.amount is not None and notice.amount != row.amount:
        return result(
            "flagged",
            f"is for {row.amount} here but {notice.amount} at {notice.provider}: check it",
        )
    if notice.status == "pending":
        return result("applied", f"{notice.raw_status} at {notice.provider}: no change")
    if notice.status in ("attention", "unknown"):
        return result("flagged", f"is {notice.raw_status!r} at {notice.provider}: check it")
    if notice.status == "succeeded":
        if row.status == "succeeded":
            return result("applied", "confirmed")
        if row.status == "failed":
            return result(
                "flagged",
                f"is {notice.raw_status} at {notice.provider} but failed here: reconcile it",
            )
        refund_result = RefundResult(
            provider=notice.provider,
            provider_refund_id=notice.refund_id or "",
            status="succeeded",
            amount=row.amount,
            currency=purchase.currency,
        )
        done = _apply_refund(session, row.id, refund_result, actor)
        return result(
            "applied",
            f"completed: {done.refund.coins_clawed_back} coins clawed back, "
            f"{done.refund.coins_lost} lost",
        )
    # failed
    if row.status == "failed":
        return result("applied", "already failed")
    if row.status == "requested":
        _release_refund(session, row.id)
        _remember_provider_id(session, row.id, notice.refund_id)
        return result("applied", f"{notice.raw_status}: reservation released")
    return result(*_undo_refund(session, row, notice, actor))


def _remember_provider_id(session: Session, refund_id: int, provider_id: str | None) -> None:
    if provider_id is not None:
        session.execute(
            update(REFUNDS)
            .where(REFUNDS.c.id == refund_id, REFUNDS.c.gateway_refund_id.is_(None))
            .values(gateway_refund_id=provider_id)
        )


def _undo_refund(
    session: Session,
    row: Any,
    notice: RefundNotice,
    actor: str,
) -> tuple[str, str]:
    """A refund we booked when the gateway accepted it failed there after all: reverse its
    entry (coins back in the wallets, cash back at the gateway) and give back what it took
    from the purchase, at most once (the refund's status flips once; the reversal is keyed).
    The caller holds the purchase row lock."""
    from legato_pay.ledger import reverse_entry
    from legato_pay.ledger.queries import ENTRIES

    key = f"purchase-refund-failed:{row.idempotency_key}"
    if row.entry_id is None:
        return "flagged", "is succeeded without a ledger entry: check it"
    other = session.execute(
        select(ENTRIES.c.id, ENTRIES.c.idempotency_key).where(
            ENTRIES.c.reverses_entry_id == row.entry_id
        )
    ).first()
    if other is not None and other.idempotency_key != key:
        return (
            "flagged",
            f"failed at {notice.provider}, but its entry {row.entry_id} was already reversed "
            f"by entry {other.id}: reconcile it",
        )
    claimed = session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == row.id, REFUNDS.c.status == "succeeded")
        .values(status="failed")
        .returning(REFUNDS.c.id)
    ).first()
    if claimed is None:
        return "applied", "already failed"
    _remember_provider_id(session, row.id, notice.refund_id)
    reversal = reverse_entry(
        session,
        row.entry_id,
        actor=actor,
        reason=f"refund {row.id} of coin purchase {row.reference} failed at {notice.provider}",
        idempotency_key=key,
    )
    remaining = session.execute(
        select(func.coalesce(func.sum(REFUNDS.c.amount), 0)).where(
            REFUNDS.c.reference == row.reference, REFUNDS.c.status == "succeeded"
        )
    ).scalar_one()
    session.execute(
        update(PURCHASES)
        .where(PURCHASES.c.reference == row.reference)
        .values(
            status="partially_refunded" if int(remaining) else "succeeded",
            refunded_amount=PURCHASES.c.refunded_amount - row.amount,
            coins_clawed_back=PURCHASES.c.coins_clawed_back - row.coins_clawed_back,
            coins_lost=PURCHASES.c.coins_lost - row.coins_lost,
            updated_at=utcnow(),
        )
    )
    return (
        "applied",
        f"{notice.raw_status} after it was booked: undone by entry {reversal.id}, "
        f"{row.coins_clawed_back} coins back in the wallet",
    )
