"""Verifying and crediting: a gateway's answer applied to its purchase, crediting at most once.

Crediting happens exactly once however often or concurrently a purchase is verified (CLI or
webhook): one transaction makes a *conditional* status change (``pending``/``failed`` →
``succeeded``, which only one transaction can win; PostgreSQL makes the others wait on the row
and then match nothing) and posts ONE ledger entry keyed ``purchase:<reference>``::

    gateway:<g>:<CUR>            debit   amount       cash now held at the gateway
    platform:coin_sales:<CUR>    credit  amount
    platform:coins:issuance      debit   coins+bonus  (COIN)
    user:<u>:coins:paid          credit  coins
    user:<u>:coins:bonus         credit  bonus

A payment whose amount or currency differs from what was asked is ``flagged`` and credits
nothing; a failed one is ``failed``; both are PAYMENT_FAILED (exit 7) after the status is saved.
A payment is matched on the provider's payment id as well as the reference: one naming the
purchase but not the payment recorded for it changes nothing (``PAYMENT_MISMATCH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from legato_pay import chart, gateways
from legato_pay.chart import open_accounts
from legato_pay.errors import GatewayError, InvalidInput, LegatoError, NotFound
from legato_pay.gateways.base import PaymentStatus
from legato_pay.ledger import AccountRequest, EntrySpec, LegSpec, post_entries
from legato_pay.ledger.types import utcnow
from legato_pay.readers.packages import money_json
from legato_pay.readers.purchases.views import (
    CREDITED,
    PurchaseView,
    SettleResult,
    display_amount,
    get_purchase,
    purchase_views,
)
from legato_pay.store import arrays
from legato_pay.store.dialect import is_postgres
from legato_pay.store.engine import column_in, update_rows
from legato_pay.store.raw import pg_execute
from legato_pay.store.tables import PURCHASES

if TYPE_CHECKING:
    from legato_pay.context import AppContext

# PostgreSQL: a round's reads and writes as plain SQL on the unit of work's connection
# (``store.raw``), one text whatever the round's size (prepared once per connection).
_PG_LOCK_PURCHASES = (
    f"SELECT {', '.join(PURCHASES.c.keys())} FROM purchases"
    " WHERE reference = ANY($1::text[]) ORDER BY reference FOR UPDATE"
)
_PG_SAVE_PURCHASES = """UPDATE purchases AS p
SET status = v.status, failure_reason = v.failure_reason,
    gateway_payment_id = v.gateway_payment_id, credited_at = v.credited_at,
    entry_id = v.entry_id, updated_at = v.updated_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[],
    $7::timestamptz[])
    AS v(reference, status, failure_reason, gateway_payment_id, credited_at, entry_id, updated_at)
WHERE p.reference = v.reference"""


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
                "display": display_amount(payment.amount, payment.currency),
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


#: The code of ``other_payment_error``: the webhook inbox flags such an event whatever it says.
OTHER_PAYMENT = "PAYMENT_MISMATCH"


def other_payment_error(purchase: PurchaseView, payment: PaymentStatus) -> GatewayError:
    """A payment that names this purchase but is not the one recorded for it (another
    PaymentIntent, a second checkout): it changes nothing here (neither the status nor the
    recorded id); a person checks it, and refunds it if the reader paid twice."""
    return GatewayError(
        f"{payment.provider} payment {payment.provider_payment_id} names purchase "
        f"{purchase.reference}, whose payment is {purchase.gateway_payment_id}: nothing applied",
        details={
            "reference": purchase.reference,
            "recorded_payment_id": purchase.gateway_payment_id,
            "payment_id": payment.provider_payment_id,
            "payment_status": payment.status,
        },
        code=OTHER_PAYMENT,
    )


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
    return [*_sales_accounts(gateway, currency), *chart.wallet_accounts(user_id)]


def _sales_accounts(gateway: str, currency: str) -> list[AccountRequest]:
    """The platform's side of a purchase: cash at the gateway, coin sales, coin issuance."""
    return [
        chart.system_account(chart.gateway_cash(gateway, currency), currency, debit_normal=True),
        chart.system_account(chart.coin_sales(currency), currency),
        chart.system_account(chart.COIN_ISSUANCE, chart.COIN),
    ]


def _batch_accounts(purchases: Sequence[PurchaseView]) -> list[AccountRequest]:
    """What ``purchase_accounts`` asks for over many purchases, each account once: a webhook
    batch has a gateway or two and a currency or two, so building the platform's accounts per
    purchase only to drop the repeats cost more than opening them."""
    sales = sorted({(purchase.gateway, purchase.currency) for purchase in purchases})
    users = sorted({purchase.user_id for purchase in purchases})
    return [
        *(request for gateway, currency in sales for request in _sales_accounts(gateway, currency)),
        *(request for user_id in users for request in chart.wallet_accounts(user_id)),
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
    results: dict[int, SettleResult | LegatoError] = {}
    waiting = list(range(len(payments)))
    while waiting:  # rounds of distinct references, so each row changes once per round
        this_round: list[int] = []
        later: list[int] = []
        seen: set[str] = set()
        for index in waiting:
            reference = payments[index].reference
            (later if reference in seen else this_round).append(index)
            seen.add(reference)
        results.update(_settle_round(session, {i: payments[i] for i in this_round}, actor))
        waiting = later
    return [results[index] for index in range(len(payments))]


def _settle_round(
    session: Session, payments: dict[int, PaymentStatus], actor: str
) -> dict[int, SettleResult | LegatoError]:
    """One round (each reference once): lock the rows, decide, post the credits, save."""
    views = _locked_views(session, sorted({payment.reference for payment in payments.values()}))
    now = utcnow()
    results: dict[int, SettleResult | LegatoError] = {}
    for index, payment in payments.items():
        view = views.get(payment.reference)
        if view is None:
            results[index] = NotFound(
                f"no purchase {payment.reference}", details={"purchase": payment.reference}
            )
        else:
            results[index] = _settlement(view, payment, now)
    changed = {
        result.purchase.reference: result
        for result in results.values()
        if isinstance(result, SettleResult)
        and result.purchase is not views[result.purchase.reference]
    }
    if not changed:
        return results
    credited = _post_credits(
        session, [result for result in changed.values() if result.credited], actor
    )
    for index, result in results.items():
        if isinstance(result, SettleResult) and result.purchase.reference in credited:
            results[index] = credited[result.purchase.reference]
    changed.update(credited)
    _save(session, [result.purchase for result in changed.values()])
    return results


def _locked_views(session: Session, references: list[str]) -> dict[str, PurchaseView]:
    """The purchases of a round by reference, their rows locked in reference order (PostgreSQL)
    so that concurrent batches never deadlock."""
    if is_postgres(session):
        rows = list(pg_execute(session, _PG_LOCK_PURCHASES, [arrays.texts(references)]))
    else:
        query = (
            select(PURCHASES)
            .where(column_in(session, PURCHASES.c.reference, references))
            .order_by(PURCHASES.c.reference)
        )
        rows = list(session.execute(query))
    return {view.reference: view for view in purchase_views(session, rows)}


def _post_credits(
    session: Session, credits: list[SettleResult], actor: str
) -> dict[str, SettleResult]:
    """Post the entries of the purchases this round credits (one batch); their results with
    the entry ids, by reference."""
    if not credits:
        return {}
    purchases = [result.purchase for result in credits]
    open_accounts(session, _batch_accounts(purchases))
    entries = post_entries(
        session, [purchase_entry(purchase) for purchase in purchases], actor=actor
    )
    return {
        result.purchase.reference: replace(
            result, purchase=replace(result.purchase, entry_id=entry.id)
        )
        for result, entry in zip(credits, entries, strict=True)
    }


def _save(session: Session, changed: list[PurchaseView]) -> None:
    """Write the changed purchases back (one statement)."""
    if is_postgres(session):
        pg_execute(
            session,
            _PG_SAVE_PURCHASES,
            [
                arrays.texts([purchase.reference for purchase in changed]),
                arrays.texts([purchase.status for purchase in changed]),
                arrays.texts([purchase.failure_reason for purchase in changed]),
                arrays.texts([purchase.gateway_payment_id for purchase in changed]),
                arrays.literal([purchase.credited_at for purchase in changed]),
                arrays.ints([purchase.entry_id for purchase in changed]),
                arrays.literal([purchase.updated_at for purchase in changed]),
            ],
        )
        return
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
            for purchase in changed
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
    recorded = view.gateway_payment_id
    if recorded is not None and payment.names() and recorded not in payment.names():
        return SettleResult(view, False, payment, other_payment_error(view, payment))
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
            f"paid {display_amount(payment.amount, payment.currency)}, "
            f"expected {display_amount(view.amount, view.currency)}"
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
    purchase = app.run(lambda s: get_purchase(s, reference), write=False)
    if purchase.status in CREDITED:
        return SettleResult(purchase, False)
    if purchase.gateway_payment_id is None and purchase.status == "failed":
        raise _payment_error(purchase, None)  # the gateway never opened a payment
    payment = gateways.get_gateway(app, purchase.gateway).verify_payment(
        purchase.reference, purchase.gateway_payment_id
    )
    result = app.run(lambda s: settle_payment(s, payment, actor=app.actor))
    if result.error is not None:
        raise result.error
    return result
