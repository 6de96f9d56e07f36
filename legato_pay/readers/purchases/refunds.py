"""Refunds: full, or partial with ``amount``, each clawing back the coins the refund pays for.

A refund reserves its amount on the purchase first (a conditional update, so concurrent refunds
can never return more than was paid), calls ``gateway.refund`` with a per-refund idempotency
key, then in one transaction claws the purchase's coins back:

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
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from legato_pay import chart, gateways
from legato_pay.errors import (
    GatewayError,
    GatewayUnavailable,
    InvalidAmount,
    InvalidState,
    LegatoError,
    RefundFailed,
    RetryableConflict,
)
from legato_pay.gateways.base import RefundResult
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger import EntrySpec, LegSpec, post_entries
from legato_pay.ledger.types import utcnow
from legato_pay.money import allocate, parse_amount
from legato_pay.readers.coins import lock_wallet
from legato_pay.readers.purchases.views import (
    MAX_KEY_LENGTH,
    REFUNDABLE,
    PurchaseView,
    RefundOutcome,
    RefundView,
    display_amount,
    get_purchase,
    purchase_row,
    refund_view,
)
from legato_pay.store.tables import PURCHASES, REFUNDS

if TYPE_CHECKING:
    from legato_pay.context import AppContext


@dataclass(frozen=True, slots=True)
class _Reservation:
    refund: RefundView
    purchase: PurchaseView
    done: bool  # already applied earlier (an idempotent replay)


@dataclass(frozen=True, slots=True)
class Clawback:
    """Where a refund's coins come from: each wallet bucket, and what was already spent."""

    from_paid: int
    from_bonus: int
    lost: int

    @property
    def clawed(self) -> int:
        return self.from_paid + self.from_bonus


def refund_purchase(
    app: AppContext, reference: str, *, amount: str | None = None, key: str | None = None
) -> RefundOutcome:
    """Refund all (default) or ``amount`` (a decimal string) of a succeeded purchase.

    Pass ``key`` to make a retry safe: the same key never refunds twice, and a refund whose
    bookkeeping was interrupted after the gateway accepted it is completed by the retry. A key
    whose refund was booked and later failed at the gateway (undone by its webhook) is spent.
    """
    refund_key = check_key(key, max_length=MAX_KEY_LENGTH) or f"auto-{secrets.token_hex(8)}"
    reservation = app.run(lambda s: _reserve_refund(s, reference, amount, refund_key))
    if reservation.done:
        return RefundOutcome(reservation.refund, reservation.purchase, True)
    refund = reservation.refund
    try:
        result = _refund_at_gateway(app, reservation.purchase, refund)
    except LegatoError:
        app.run(lambda s: release_refund(s, refund.id))
        raise
    return app.run(lambda s: apply_refund(s, refund.id, result, app.actor))


def _refund_at_gateway(app: AppContext, purchase: PurchaseView, refund: RefundView) -> RefundResult:
    """Ask the gateway for the reserved refund (no transaction held); a decline, as an error or
    as a ``failed`` answer, is REFUND_FAILED (exit 7)."""
    reference = purchase.reference
    if purchase.gateway_payment_id is None:  # cannot happen for a credited purchase
        raise InvalidState("the purchase has no gateway payment", details={"purchase": reference})
    try:
        result = gateways.get_gateway(app, purchase.gateway).refund(
            provider_payment_id=purchase.gateway_payment_id,
            reference=reference,
            amount=refund.amount,
            currency=purchase.currency,
            idempotency_key=f"purchase-refund:{reference}:{refund.key}",
        )
    except GatewayUnavailable:
        raise  # outcome unknown: not a decline
    except GatewayError as error:  # the gateway said no: REFUND_FAILED, not PAYMENT_FAILED
        raise RefundFailed(
            f"the gateway declined the refund of {reference}: {error.message}",
            details={"purchase": reference, **error.details},
        ) from error
    if result.status == "failed":
        raise RefundFailed(
            f"the gateway declined the refund of {reference}",
            details={"purchase": reference, "provider_refund_id": result.provider_refund_id},
        )
    return result


def _refund_row_key(reference: str, key: str) -> str:
    return f"{reference}:{key}"


def refund_row(session: Session, refund_id: int) -> Any:
    return session.execute(select(REFUNDS).where(REFUNDS.c.id == refund_id)).one()


# -- transaction 1: reserve ------------------------------------------------------------------


def _reserve_refund(session: Session, reference: str, amount: str | None, key: str) -> _Reservation:
    """Transaction 1: check the request and reserve its amount on the purchase."""
    row = purchase_row(session, reference, lock=True)
    requested = parse_amount(amount, row.currency) if amount is not None else None
    row_key = _refund_row_key(reference, key)
    existing = session.execute(select(REFUNDS).where(REFUNDS.c.idempotency_key == row_key)).first()
    if existing is not None:
        _check_retry(key, existing, requested)
        if existing.status != "failed":  # done, or in flight: finish it, never start another
            return _Reservation(
                refund_view(existing, row.currency),
                get_purchase(session, reference),
                existing.status == "succeeded",
            )
        requested = existing.amount  # a failed attempt with this key: try it again
    requested = _refundable(row, requested)
    _reserve_amount(session, reference, requested)
    if existing is not None:
        session.execute(
            update(REFUNDS).where(REFUNDS.c.id == existing.id).values(status="requested")
        )
        refund_id = existing.id
    else:
        refund_id = _insert_refund(session, reference, row_key, requested)
    return _Reservation(
        refund_view(refund_row(session, refund_id), row.currency),
        get_purchase(session, reference),
        False,
    )


def _check_retry(key: str, existing: Any, requested: int | None) -> None:
    """A key names one refund: the same amount, and not one that was booked and then undone."""
    if requested is not None:
        ensure_same_request(
            key,
            stored={"amount": existing.amount},
            wanted={"amount": requested},
            what="refund",
            details={"amount": existing.amount, "requested": requested},
        )
    if existing.status == "failed" and existing.entry_id is not None:
        raise InvalidState(  # booked, then failed at the gateway and undone
            f"refund key {key!r} was booked and then failed at the gateway; "
            "refund again with a new key",
            details={"key": key, "refund_id": existing.id, "status": existing.status},
        )


def _refundable(row: Any, requested: int | None) -> int:
    """The amount to refund (all that is left, by default), refused unless it fits."""
    if row.status not in REFUNDABLE:
        raise InvalidState(
            f"purchase {row.reference} is {row.status}; only a succeeded purchase can be refunded",
            details={"purchase": row.reference, "status": row.status},
        )
    refundable: int = row.amount - row.refunded_amount
    if requested is None:
        requested = refundable
    if requested <= 0 or requested > refundable:
        currency = row.currency
        raise InvalidAmount(
            f"cannot refund {display_amount(requested, currency)}: "
            f"{display_amount(refundable, currency)} of {display_amount(row.amount, currency)} "
            "is left to refund",
            details={
                "purchase": row.reference,
                "paid": row.amount,
                "refunded": row.refunded_amount,
                "refundable": refundable,
                "requested": requested,
                "currency": currency,
            },
        )
    return requested


def _reserve_amount(session: Session, reference: str, requested: int) -> None:
    """Count ``requested`` as refunded now, only while it still fits (a conditional update)."""
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
        raise RetryableConflict(f"purchase {reference} changed while reserving a refund")


def _insert_refund(session: Session, reference: str, row_key: str, amount: int) -> int:
    refund_id: int = session.execute(
        REFUNDS.insert()
        .values(
            reference=reference,
            idempotency_key=row_key,
            amount=amount,
            coins_clawed_back=0,
            coins_lost=0,
            status="requested",
            created_at=utcnow(),
        )
        .returning(REFUNDS.c.id)
    ).scalar_one()
    return refund_id


def release_refund(session: Session, refund_id: int) -> None:
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


# -- transaction 2: claw back and post -------------------------------------------------------


def clawback_due(total: int, paid: int, refunded_before: int, refunded_after: int) -> int:
    """Coins of one bucket a refund takes: the cumulative floor share, so the shares add up."""
    return (total * refunded_after) // paid - (total * refunded_before) // paid


def clawback(due_paid: int, due_bonus: int, wallet_paid: int, wallet_bonus: int) -> Clawback:
    """Take what is due from the matching bucket, then from the other one (coins are
    fungible); whatever the wallets no longer hold was spent: lost, never a negative wallet."""
    take_paid = min(due_paid, wallet_paid)
    take_bonus = min(due_bonus, wallet_bonus)
    short = (due_paid - take_paid) + (due_bonus - take_bonus)
    extra_paid = min(short, wallet_paid - take_paid)
    short -= extra_paid
    extra_bonus = min(short, wallet_bonus - take_bonus)
    return Clawback(take_paid + extra_paid, take_bonus + extra_bonus, short - extra_bonus)


def apply_refund(
    session: Session, refund_id: int, result: RefundResult, actor: str
) -> RefundOutcome:
    """Transaction 2: claw back coins and post the refund entry, exactly once per refund."""
    first = refund_row(session, refund_id)
    row = purchase_row(session, first.reference, lock=True)
    claimed = session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == refund_id, REFUNDS.c.status == "requested")
        .values(status="succeeded", gateway_refund_id=result.provider_refund_id or None)
        .returning(REFUNDS.c.id)
    ).first()
    if claimed is None:
        purchase = get_purchase(session, row.reference)
        refund = refund_view(refund_row(session, refund_id), row.currency)
        return RefundOutcome(refund, purchase, True)

    before = _refunded_before(session, row.reference, refund_id)
    after = before + first.amount
    wallet = lock_wallet(session, row.user_id)
    taken = clawback(
        clawback_due(row.coins, row.amount, before, after),
        clawback_due(row.bonus_coins, row.amount, before, after),
        wallet.paid,
        wallet.bonus,
    )
    entry_id = _post_refund(session, row, first, taken, result, actor)
    _record_clawback(session, row, refund_id, taken, entry_id, fully_refunded=after >= row.amount)
    purchase = get_purchase(session, row.reference)
    refund = refund_view(refund_row(session, refund_id), row.currency)
    return RefundOutcome(refund, purchase, False)


def _refunded_before(session: Session, reference: str, refund_id: int) -> int:
    """What the purchase's other succeeded refunds returned."""
    total = session.execute(
        select(func.coalesce(func.sum(REFUNDS.c.amount), 0)).where(
            REFUNDS.c.reference == reference,
            REFUNDS.c.status == "succeeded",
            REFUNDS.c.id != refund_id,
        )
    ).scalar_one()
    return int(total)


def _refund_legs(session: Session, row: Any, amount: int, taken: Clawback) -> list[LegSpec]:
    """The refund entry's legs (opening the system accounts they need): cash split between the
    returned and the lost coins by largest remainder, coins back to issuance."""
    currency, gateway, user = row.currency, row.gateway, row.user_id
    clawed, lost = taken.clawed, taken.lost
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
        if taken.from_paid:
            legs.append(LegSpec(chart.wallet_paid(user), "debit", taken.from_paid, chart.COIN))
        if taken.from_bonus:
            legs.append(LegSpec(chart.wallet_bonus(user), "debit", taken.from_bonus, chart.COIN))
        legs.append(LegSpec(chart.COIN_ISSUANCE, "credit", clawed, chart.COIN))
    return legs


def _post_refund(
    session: Session, row: Any, refund: Any, taken: Clawback, result: RefundResult, actor: str
) -> int:
    """Post the one refund entry, keyed by the refund; its id."""
    entry = post_entries(
        session,
        [
            EntrySpec(
                legs=tuple(_refund_legs(session, row, refund.amount, taken)),
                idempotency_key=f"purchase-refund:{refund.idempotency_key}",
                reason=f"refund of coin purchase {row.reference}",
                metadata={
                    "purchase": row.reference,
                    "refund_id": refund.id,
                    "user": row.user_id,
                    "coins_clawed_back": taken.clawed,
                    "coins_lost": taken.lost,
                    "gateway_refund_id": result.provider_refund_id,
                },
            )
        ],
        actor=actor,
    )[0]
    return entry.id


def _record_clawback(
    session: Session,
    row: Any,
    refund_id: int,
    taken: Clawback,
    entry_id: int,
    *,
    fully_refunded: bool,
) -> None:
    """The coin counts on the refund and on its purchase, and the purchase's new status."""
    session.execute(
        update(REFUNDS)
        .where(REFUNDS.c.id == refund_id)
        .values(coins_clawed_back=taken.clawed, coins_lost=taken.lost, entry_id=entry_id)
    )
    session.execute(
        update(PURCHASES)
        .where(PURCHASES.c.reference == row.reference)
        .values(
            status="refunded" if fully_refunded else "partially_refunded",
            coins_clawed_back=PURCHASES.c.coins_clawed_back + taken.clawed,
            coins_lost=PURCHASES.c.coins_lost + taken.lost,
            updated_at=utcnow(),
        )
    )
