"""Creating a purchase: record it pending, then open a payment for it at the gateway.

Gateway calls never run inside a database transaction: the gateway is built (keys, mode) and
checks the request (``check_payment``: payer email, currency, channels) first, the pending
purchase is recorded in one transaction, ``gateway.create_payment`` is called, and what the
payer needs (provider id, client secret, payment URL) is stored in another. A refused request
therefore records nothing. With a key the same request returns the
same purchase; a different request under that key is ``IDEMPOTENCY_CONFLICT``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay import gateways
from legato_pay.config import Settings
from legato_pay.errors import AlreadyExists, GatewayUnavailable, InvalidInput, LegatoError
from legato_pay.gateways.base import Gateway, PaymentRequest, PaymentSession
from legato_pay.gateways.sandbox import PAYMENT_METHODS
from legato_pay.idempotency import check_key, ensure_same_request
from legato_pay.ledger.types import utcnow
from legato_pay.readers import packages
from legato_pay.readers.fx import accepted_currency
from legato_pay.readers.purchases.views import (
    CREDITABLE,
    MAX_KEY_LENGTH,
    CreateResult,
    PurchaseView,
    get_purchase,
    purchase_view,
    split_channels,
)
from legato_pay.readers.users import get_user
from legato_pay.store.tables import PURCHASES

if TYPE_CHECKING:
    from legato_pay.context import AppContext

#: What a gateway's payment method id looks like (``pm_card_visa``, ``pm_sandbox_fail``).
_PAYMENT_METHOD = re.compile(r"[A-Za-z0-9_.:-]{1,100}", re.ASCII)


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
    channels: tuple[str, ...]
    key: str | None

    def fields(self) -> dict[str, str | None]:
        """What makes two requests under one key the same request."""
        return {
            "user": self.user_id,
            "package": self.package_id,
            "currency": self.currency,
            "gateway": self.gateway,
            "payment_method": self.payment_method,
            "channels": ",".join(self.channels) or None,
        }


def create_purchase(
    app: AppContext,
    *,
    user_id: str,
    package_id: str,
    currency: str | None = None,
    gateway: str | None = None,
    key: str | None = None,
    payment_method: str | None = None,
    channels: str | Sequence[str] | None = None,
) -> CreateResult:
    """Record a pending purchase and open a payment for it at the gateway.

    Everything the gateway would refuse before a payment exists (its keys and mode, the payer's
    email, the currency, the channels) is checked before the purchase is recorded, so a refusal
    leaves nothing behind. With ``key`` the same request returns the same purchase
    (``replayed``); a retry after a gateway failure calls the gateway again with the same
    reference and per-purchase idempotency key, never under a new reference.
    """
    request = _check_request(
        app, user_id, package_id, currency, gateway, key, payment_method, channels
    )
    client = gateways.get_gateway(app, request.gateway)  # keys and mode: CONFIG_ERROR here
    try:
        settings = app.settings
        purchase, source, replayed = app.run(
            lambda s: _record_purchase(s, settings, request, client)
        )
        if purchase.gateway_payment_id is not None or purchase.status not in CREDITABLE:
            return CreateResult(purchase, source, replayed)
        opened = _open_payment(app, client, purchase)
        return CreateResult(
            app.run(lambda s: _store_session(s, purchase, opened)), source, replayed
        )
    finally:
        gateways.close_gateway(client)


def parse_channels(channels: str | Sequence[str] | None) -> tuple[str, ...]:
    """``card,bank_transfer`` (or a list) as Paystack's channel names, each once, in the order
    given; an unknown name is VALIDATION_ERROR. Empty means every channel."""
    from legato_pay.gateways.paystack.client import CHANNELS

    if channels is None:
        return ()
    items = channels.split(",") if isinstance(channels, str) else list(channels)
    names: list[str] = []
    for item in items:
        name = str(item).strip(" ").lower()
        if name not in CHANNELS:
            raise InvalidInput(
                f"unknown Paystack channel {str(item)[:40]!r}; use a comma-separated list of "
                + ", ".join(CHANNELS),
                details={"channel": str(item)[:40], "known": list(CHANNELS)},
            )
        if name not in names:
            names.append(name)
    if not names:
        raise InvalidInput(
            "--channels needs at least one channel", details={"known": list(CHANNELS)}
        )
    return tuple(names)


def _check_request(
    app: AppContext,
    user_id: str,
    package_id: str,
    currency: str | None,
    gateway: str | None,
    key: str | None,
    payment_method: str | None,
    channels: str | Sequence[str] | None,
) -> _Request:
    """The request with its currency and gateway decided, refused before anything is stored."""
    settings = app.settings
    code = accepted_currency(settings, currency or settings.base_currency)
    gateway_name = gateways.choose_gateway_name(app, code, gateway)
    sandbox = gateway_name == "sandbox"
    if payment_method is not None and not _PAYMENT_METHOD.fullmatch(payment_method):
        raise InvalidInput(
            "a payment method is 1 to 100 letters, digits and _ . : -, e.g. pm_card_visa",
            details={"payment_method": payment_method[:100]},
        )
    if sandbox and payment_method is not None and payment_method not in PAYMENT_METHODS:
        raise InvalidInput(
            f"unknown sandbox payment method {payment_method!r}",
            details={"payment_method": payment_method, "known": list(PAYMENT_METHODS)},
        )
    wanted = parse_channels(channels)
    if wanted and gateway_name != "paystack":
        raise InvalidInput(
            f"--channels is for Paystack purchases; the {gateway_name} gateway has no channels",
            details={"gateway": gateway_name, "channels": list(wanted)},
        )
    return _Request(
        user_id,
        package_id,
        code,
        gateway_name,
        payment_method,
        wanted,
        check_key(key, max_length=MAX_KEY_LENGTH),
    )


def _price_source(purchase: PurchaseView) -> str:
    """How a stored purchase was priced (see ``packages.price_in``)."""
    if purchase.rate_id is not None:
        return "converted"
    return "usd" if purchase.currency == packages.PRICE_CURRENCY else "fixed"


def _payment_request(
    *,
    reference: str,
    amount: int,
    currency: str,
    user_id: str,
    email: str | None,
    coins: int,
    package_id: str,
    payment_method: str | None,
    channels: tuple[str, ...],
) -> PaymentRequest:
    """What the gateway is asked for: the same for the check and for the call."""
    return PaymentRequest(
        reference=reference,
        amount=amount,
        currency=currency,
        idempotency_key=f"purchase:{reference}:create",
        customer_id=user_id,
        customer_email=email,
        description=f"{coins} coins ({package_id})",
        payment_method=payment_method,
        metadata={"reference": reference, "package": package_id},
        channels=channels,
    )


def _record_purchase(
    session: Session, settings: Settings, request: _Request, client: Gateway
) -> tuple[PurchaseView, str, bool]:
    """Transaction 1: the pending purchase (or, for a known key, the one already recorded),
    after the gateway has checked what it will be asked (a refusal rolls everything back)."""
    if request.key is not None:
        existing = session.execute(
            select(PURCHASES).where(PURCHASES.c.idempotency_key == request.key)
        ).first()
        if existing is not None:
            stored = _Request(
                existing.user_id,
                existing.package_id,
                existing.currency,
                existing.gateway,
                existing.payment_method,
                split_channels(existing.channels),
                request.key,
            )
            ensure_same_request(
                request.key,
                stored=stored.fields(),
                wanted=request.fields(),
                what="purchase",
                details={"reference": existing.reference},
            )
            view = purchase_view(session, existing)
            return view, _price_source(view), True
    user = get_user(session, request.user_id)
    package = packages.buyable_package(session, settings, request.package_id)
    quote = packages.price_in(session, settings, package, request.currency)
    reference = new_reference(request.key)
    client.check_payment(
        _payment_request(
            reference=reference,
            amount=quote.amount,
            currency=quote.currency,
            user_id=user.id,
            email=user.email,
            coins=package.total_coins,
            package_id=package.id,
            payment_method=request.payment_method,
            channels=request.channels,
        )
    )
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
            channels=",".join(request.channels) or None,
            status="pending",
            refunded_amount=0,
            coins_clawed_back=0,
            coins_lost=0,
            created_at=now,
            updated_at=now,
        )
    )
    return get_purchase(session, reference), quote.source, False


def _open_payment(app: AppContext, client: Gateway, purchase: PurchaseView) -> PaymentSession:
    """Ask the gateway for a payment (no transaction held).

    A definite refusal marks the purchase ``failed`` (never pending without a provider id). An
    unknown outcome (timeout, 5xx: GATEWAY_UNAVAILABLE) leaves it pending with the reason: the
    payment may exist, so ``purchases verify`` or a retry with the key asks the gateway under the
    same reference. A gateway that already has the reference (an earlier attempt landed) is
    asked what it holds instead of being sent the payment again.
    """
    email = app.run(lambda s: get_user(s, purchase.user_id).email, write=False)
    payment = _payment_request(
        reference=purchase.reference,
        amount=purchase.amount,
        currency=purchase.currency,
        user_id=purchase.user_id,
        email=email,
        coins=purchase.total_coins,
        package_id=purchase.package_id,
        payment_method=purchase.payment_method,
        channels=purchase.channels,
    )
    try:
        try:
            return client.create_payment(payment)
        except AlreadyExists:
            return _existing_payment(client, purchase)
    except GatewayUnavailable as error:
        unknown = error  # the name ``error`` is unbound once the handler ends
        app.run(lambda s: _note_unknown_outcome(s, purchase.reference, unknown))
        raise
    except LegatoError as error:
        failure = error
        app.run(lambda s: _mark_create_failed(s, purchase.reference, failure))
        raise


def _existing_payment(client: Gateway, purchase: PurchaseView) -> PaymentSession:
    """The payment an earlier attempt opened under this reference, as the gateway reports it
    (its checkout link cannot be recovered: the payer needs a new purchase if it was lost)."""
    found = client.verify_payment(purchase.reference, None)
    return PaymentSession(
        provider=found.provider,
        reference=purchase.reference,
        provider_payment_id=found.provider_payment_id or purchase.reference,
        status=found.status,
    )


def _store_session(
    session: Session, purchase: PurchaseView, opened: PaymentSession
) -> PurchaseView:
    """Transaction 2: what the payer needs, unless another create stored its own first."""
    session.execute(
        update(PURCHASES)
        .where(
            PURCHASES.c.reference == purchase.reference,
            PURCHASES.c.gateway_payment_id.is_(None),
            PURCHASES.c.status.in_(CREDITABLE),
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


def _mark_create_failed(session: Session, reference: str, error: LegatoError) -> None:
    """The gateway refused to open the payment: ``failed`` (a retry with the key reopens it)."""
    session.execute(
        update(PURCHASES)
        .where(
            PURCHASES.c.reference == reference,
            PURCHASES.c.gateway_payment_id.is_(None),
            PURCHASES.c.status.in_(CREDITABLE),
        )
        .values(
            status="failed",
            failure_reason=f"{error.code}: {error.message}"[:2000],
            updated_at=utcnow(),
        )
    )


def _note_unknown_outcome(session: Session, reference: str, error: LegatoError) -> None:
    """The gateway may or may not have opened the payment: still pending, with why."""
    session.execute(
        update(PURCHASES)
        .where(
            PURCHASES.c.reference == reference,
            PURCHASES.c.gateway_payment_id.is_(None),
            PURCHASES.c.status == "pending",
        )
        .values(
            failure_reason=(
                f"outcome unknown ({error.code}: {error.message}); "
                "purchases verify asks the gateway"
            )[:2000],
            updated_at=utcnow(),
        )
    )
