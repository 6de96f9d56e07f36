"""Escrow deposits: an investor's money into an app's escrow, through a payment gateway.

``deposit`` checks the request, records a ``pending`` deposit with its reference and commits
it, then opens the payment at the gateway (the gateways purchases use: Paystack
``transaction/initialize``, a Stripe PaymentIntent, the sandbox) with metadata
``{payment_type: "investment", app, investor, deposit}`` and stores the checkout link. A crash
between the two leaves a pending deposit whose reference ``escrow confirm`` verifies.
Confirmation (``deposits_confirm``) credits the deposit exactly once. Statuses::

    pending -> confirmed            paid what was asked: escrow credited (and units issued)
        |  `-> flagged              paid a different amount or currency: nothing credited
        |----> failed               the gateway refused the payment
        `----> expired              nobody paid within escrow.deposit_ttl_hours (deposits_expiry)

With a key the same request returns the same deposit; another request under it is
IDEMPOTENCY_CONFLICT.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legato_pay import gateways
from legato_pay.errors import AlreadyExists, GatewayUnavailable, InvalidInput, LegatoError, NotFound
from legato_pay.escrow.timeline import record_escrow_event
from legato_pay.gateways.base import Gateway, PaymentRequest, PaymentSession
from legato_pay.idempotency import check_key, ensure_same_request, request_hash
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import format_amount, parse_amount
from legato_pay.readers.fx import accepted_currency
from legato_pay.readers.users import get_user
from legato_pay.shares.apps import require_app
from legato_pay.shares.register import parse_units, require_investor
from legato_pay.store.dialect import for_update
from legato_pay.store.paging import check_choice, id_page
from legato_pay.store.tables import ESCROW_DEPOSITS

if TYPE_CHECKING:
    from legato_pay.context import AppContext

STATUSES = ("pending", "confirmed", "flagged", "failed", "expired")
#: What ``metadata.payment_type`` says on every deposit's payment (webhooks route on it).
PAYMENT_TYPE = "investment"
#: Leaves room for the prefixes of the keys derived from it.
MAX_KEY_LENGTH = 150


@dataclass(frozen=True, slots=True)
class DepositView:
    """One deposit as recorded (``client_secret`` only on the create that opened it)."""

    id: int
    app: str
    investor: str
    currency: str
    amount: int
    units: int | None
    gateway: str
    reference: str
    provider_payment_id: str | None
    checkout_url: str | None
    status: str
    entry_id: int | None
    movement_id: int | None
    flag_reason: str | None
    key: str | None
    actor: str
    created_at: datetime
    confirmed_at: datetime | None
    replayed: bool = False
    client_secret: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "investor": self.investor,
            "amount": {
                "amount": self.amount,
                "currency": self.currency,
                "display": format_amount(self.amount, self.currency),
            },
            "units": self.units,
            "gateway": self.gateway,
            "reference": self.reference,
            "provider_payment_id": self.provider_payment_id,
            "checkout_url": self.checkout_url,
            "client_secret": self.client_secret,
            "status": self.status,
            "entry_id": self.entry_id,
            "movement_id": self.movement_id,
            "flag_reason": self.flag_reason,
            "key": self.key,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "confirmed_at": self.confirmed_at.isoformat() if self.confirmed_at else None,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class _Request:
    app: str
    investor: str
    amount: int
    currency: str
    gateway: str
    units: int | None
    payment_method: str | None
    key: str | None

    def fields(self) -> dict[str, Any]:
        """What makes two requests under one key the same request."""
        return {
            "app": self.app,
            "investor": self.investor,
            "amount": self.amount,
            "currency": self.currency,
            "gateway": self.gateway,
            "units": self.units,
            "payment_method": self.payment_method,
        }


def deposit_view(
    row: Any, *, replayed: bool = False, client_secret: str | None = None
) -> DepositView:
    return DepositView(
        id=row.id,
        app=row.app_id,
        investor=row.investor_id,
        currency=row.currency,
        amount=row.amount,
        units=row.units,
        gateway=row.gateway,
        reference=row.reference,
        provider_payment_id=row.provider_payment_id,
        checkout_url=row.checkout_url,
        status=row.status,
        entry_id=row.entry_id,
        movement_id=row.movement_id,
        flag_reason=row.flag_reason,
        key=row.idempotency_key,
        actor=row.actor,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        confirmed_at=as_utc(row.confirmed_at),
        replayed=replayed,
        client_secret=client_secret,
    )


def parse_deposit_id(value: object) -> int:
    """A deposit id from the edge (VALIDATION_ERROR unless a positive whole number)."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18 or int(text) <= 0:
        raise InvalidInput(
            "a deposit id is a whole number greater than zero",
            details={"deposit": str(value)[:40]},
        )
    return int(text)


def deposit_row(session: Session, deposit: object, *, lock: bool = False) -> Any:
    """A deposit's row by id, or by reference (``dep_…``); DEPOSIT_NOT_FOUND (5) if none.
    ``lock`` holds it (PostgreSQL row lock; SQLite's write transaction) until commit."""
    text = str(deposit).strip()
    if text.isascii() and text.isdigit():
        condition = ESCROW_DEPOSITS.c.id == parse_deposit_id(text)
    else:
        condition = ESCROW_DEPOSITS.c.reference == text[:100]
    query = select(ESCROW_DEPOSITS).where(condition)
    row = session.execute(for_update(query, session) if lock else query).first()
    if row is None:
        raise NotFound(
            f"no escrow deposit {text[:100]}",
            details={"deposit": text[:100]},
            code="DEPOSIT_NOT_FOUND",
        )
    return row


def get_deposit(session: Session, deposit: object) -> DepositView:
    """One deposit by id or reference (DEPOSIT_NOT_FOUND, exit 5, if unknown)."""
    return deposit_view(deposit_row(session, deposit))


def list_deposits(
    session: Session,
    *,
    app_id: str | None = None,
    investor: str | None = None,
    status: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[DepositView], int | None]:
    """A page of deposits, oldest first, and the id to continue after (None at the end).
    APP_NOT_FOUND / USER_NOT_FOUND for an unknown filter subject, VALIDATION_ERROR for an
    unknown status."""
    query = select(ESCROW_DEPOSITS).order_by(ESCROW_DEPOSITS.c.id)
    if app_id is not None:
        require_app(session, app_id)
        query = query.where(ESCROW_DEPOSITS.c.app_id == app_id)
    if investor is not None:
        get_user(session, investor)
        query = query.where(ESCROW_DEPOSITS.c.investor_id == investor)
    if status is not None:
        query = query.where(ESCROW_DEPOSITS.c.status == check_choice(status, STATUSES))
    return id_page(
        session, query, ESCROW_DEPOSITS.c.id, after=after, limit=limit, view=deposit_view
    )


def new_reference(key: str | None) -> str:
    """``dep_`` + 24 hex digits: random, or derived from the key, so two concurrent deposits
    under one key collide on the reference and the loser finds the winner."""
    if key is None:
        return f"dep_{secrets.token_hex(12)}"
    return f"dep_{hashlib.sha256(f'deposit-key:{key}'.encode()).hexdigest()[:24]}"


def create_deposit(
    app: AppContext,
    *,
    app_id: str,
    investor: str,
    amount: str,
    currency: str | None = None,
    gateway: str | None = None,
    units: object | None = None,
    key: str | None = None,
    payment_method: str | None = None,
) -> DepositView:
    """Record a pending deposit (committed), then open its payment at the gateway."""
    request = _check_request(app, app_id, investor, amount, currency, gateway, units, key)
    request = _with_method(request, payment_method)
    client = gateways.get_gateway(app, request.gateway)  # keys and mode: CONFIG_ERROR here
    try:
        view = app.run(lambda s: _record_deposit(s, request, client, app.actor))
        if view.checkout_url is not None or view.provider_payment_id is not None:
            return view
        if view.status != "pending":
            return view
        opened = _open_payment(app, client, view, request)
        return app.run(lambda s: _store_session(s, view, opened))
    finally:
        gateways.close_gateway(client)


def _with_method(request: _Request, payment_method: str | None) -> _Request:
    if payment_method is not None and (
        not payment_method.isascii() or not 0 < len(payment_method) <= 100
    ):
        raise InvalidInput(
            "a payment method is 1 to 100 ASCII characters, e.g. pm_card_visa",
            details={"payment_method": payment_method[:100]},
        )
    return _Request(
        request.app,
        request.investor,
        request.amount,
        request.currency,
        request.gateway,
        request.units,
        payment_method,
        request.key,
    )


def _check_request(
    app: AppContext,
    app_id: str,
    investor: str,
    amount: str,
    currency: str | None,
    gateway: str | None,
    units: object | None,
    key: str | None,
) -> _Request:
    """Everything that needs no database: amount, currency (the base one only while
    multi-currency is off), gateway, units, key."""
    settings = app.settings
    code = accepted_currency(settings, currency or settings.base_currency)
    minor = parse_amount(amount, code, positive=True)
    return _Request(
        app=app_id,
        investor=investor,
        amount=minor,
        currency=code,
        gateway=gateways.choose_gateway_name(app, code, gateway),
        units=parse_units(units) if units is not None else None,
        payment_method=None,
        key=check_key(key, max_length=MAX_KEY_LENGTH),
    )


def _payment_request(
    request: _Request, reference: str, deposit_id: int, email: str | None
) -> PaymentRequest:
    return PaymentRequest(
        reference=reference,
        amount=request.amount,
        currency=request.currency,
        idempotency_key=f"escrow-deposit:{reference}:create",
        customer_id=request.investor,
        customer_email=email,
        description=f"investment in {request.app}",
        payment_method=request.payment_method,
        metadata={
            "payment_type": PAYMENT_TYPE,
            "app": request.app,
            "investor": request.investor,
            "deposit": str(deposit_id),
        },
    )


def _replay(session: Session, request: _Request) -> DepositView | None:
    if request.key is None:
        return None
    row = session.execute(
        select(ESCROW_DEPOSITS).where(ESCROW_DEPOSITS.c.idempotency_key == request.key)
    ).first()
    if row is None:
        return None
    ensure_same_request(
        request.key,
        stored={"hash": row.request_hash},
        wanted={"hash": request_hash(request.fields())},
        what="escrow deposit",
        details={"deposit": row.id},
    )
    return deposit_view(row, replayed=True)


def _record_deposit(
    session: Session, request: _Request, client: Gateway, actor: str
) -> DepositView:
    """Transaction 1: the pending deposit (or the one the key already names), after the
    gateway checked what it will be asked (a refusal rolls everything back)."""
    replay = _replay(session, request)
    if replay is not None:
        return replay
    require_app(session, request.app)
    require_investor(session, request.investor)
    email = get_user(session, request.investor).email
    reference = new_reference(request.key)
    client.check_payment(_payment_request(request, reference, 0, email))
    now = utcnow()
    deposit_id = session.execute(
        ESCROW_DEPOSITS.insert()
        .values(
            app_id=request.app,
            investor_id=request.investor,
            currency=request.currency,
            amount=request.amount,
            units=request.units,
            gateway=request.gateway,
            reference=reference,
            status="pending",
            idempotency_key=request.key,
            request_hash=request_hash(request.fields()),
            actor=actor,
            created_at=now,
            updated_at=now,
        )
        .returning(ESCROW_DEPOSITS.c.id)
    ).scalar_one()
    record_escrow_event(
        session,
        deposit_id,
        "deposit_requested",
        actor,
        amount=request.amount,
        subject=f"deposit:{deposit_id}",
        details={"gateway": request.gateway, "reference": reference, "units": request.units},
        now=now,
    )
    return get_deposit(session, deposit_id)


def _open_payment(
    app: AppContext, client: Gateway, view: DepositView, request: _Request
) -> PaymentSession:
    """Ask the gateway for the payment (no transaction held). A refusal marks the deposit
    ``failed``; an unknown outcome (GATEWAY_UNAVAILABLE) leaves it pending for ``confirm``."""
    email = app.run(lambda s: get_user(s, view.investor).email, write=False)
    payment = _payment_request(request, view.reference, view.id, email)
    try:
        try:
            return client.create_payment(payment)
        except AlreadyExists:  # an earlier attempt opened it: ask what the gateway holds
            found = client.verify_payment(view.reference, None)
            return PaymentSession(
                provider=found.provider,
                reference=view.reference,
                provider_payment_id=found.provider_payment_id or view.reference,
                status=found.status,
            )
    except GatewayUnavailable:
        raise
    except LegatoError as error:
        failure = error
        app.run(lambda s: _mark_failed(s, view.id, failure, app.actor))
        raise


def _store_session(session: Session, view: DepositView, opened: PaymentSession) -> DepositView:
    """Transaction 2: the gateway's payment id and checkout link (the Stripe client secret is
    handed back once, never stored)."""
    session.execute(
        update(ESCROW_DEPOSITS)
        .where(ESCROW_DEPOSITS.c.id == view.id, ESCROW_DEPOSITS.c.provider_payment_id.is_(None))
        .values(
            provider_payment_id=opened.provider_payment_id,
            checkout_url=opened.payment_url,
            updated_at=utcnow(),
        )
    )
    return deposit_view(deposit_row(session, view.id), client_secret=opened.client_secret)


def _mark_failed(session: Session, deposit_id: int, error: LegatoError, actor: str) -> None:
    changed = session.execute(
        update(ESCROW_DEPOSITS)
        .where(ESCROW_DEPOSITS.c.id == deposit_id, ESCROW_DEPOSITS.c.status == "pending")
        .values(
            status="failed", flag_reason=f"{error.code}: {error.message}"[:500], updated_at=utcnow()
        )
        .returning(ESCROW_DEPOSITS.c.id)
    ).first()
    if changed is not None:
        record_escrow_event(
            session,
            deposit_id,
            "deposit_failed",
            actor,
            details={"error": error.code, "message": error.message[:300]},
            now=utcnow(),
        )
