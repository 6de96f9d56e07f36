"""Payout methods on file: where a writer is paid.

``bank`` is a Nigerian bank account paid through Paystack: the account is resolved (``GET
/bank/resolve``, the bank's name for it) and a transfer recipient created (``POST
/transferrecipient``) before anything is stored. ``stripe`` is a Stripe connected account
(``acct_…``) for USD/CAD; ``sandbox`` pays nobody real (tests and the demo).

The account number and the provider's recipient code (or ``acct_…``) are stored only as Fernet
tokens (``vault``) beside their last four characters; output shows ``****1234``. A method's
``changed_at`` starts the ``payouts.method_change_lock_days`` window during which payouts to it
need approval (``method_recently_changed``): the account-takeover guard. Adding the same
account again returns the method on file, so a retry does not restart that window.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.errors import GatewayError, InvalidCurrency, InvalidInput, InvalidState, NotFound
from legato_pay.ledger.types import as_utc, utcnow
from legato_pay.money import normalize_currency
from legato_pay.payouts.vault import Vault, mask
from legato_pay.readers.users import get_user
from legato_pay.store.dialect import for_update
from legato_pay.store.tables import PAYOUT_METHODS, PAYOUTS

if TYPE_CHECKING:
    from legato_pay.context import AppContext
    from legato_pay.gateways.paystack.client import PaystackClient

TYPES = ("bank", "stripe", "sandbox")
PROVIDERS = {"bank": "paystack", "stripe": "stripe", "sandbox": "sandbox"}
#: Currencies each type can pay in (further limited to the configured currencies).
TYPE_CURRENCIES: dict[str, tuple[str, ...] | None] = {
    "bank": ("NGN",),
    "stripe": ("USD", "CAD"),
    "sandbox": None,
}
OPEN_STATUSES = ("requested", "approved", "sending")
_BANK_CODE = re.compile(r"[0-9]{3,10}", re.ASCII)
_NUBAN = re.compile(r"[0-9]{10}", re.ASCII)
_SANDBOX_ACCOUNT = re.compile(r"[0-9]{4,34}", re.ASCII)
_STRIPE_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]{4,64}", re.ASCII)
_ID = re.compile(r"[0-9]{1,19}", re.ASCII)


def parse_id(value: object, *, field: str = "id", code: str = "VALIDATION_ERROR") -> int:
    """A whole-string ASCII id below 2**63 (VALIDATION_ERROR otherwise, never a DB error)."""
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not _ID.fullmatch(text) or not 0 < int(text) < 2**63:
        raise InvalidInput(
            f"{field} must be a positive whole number below 2**63",
            details={field: str(value)[:40]},
            code=code,
        )
    return int(text)


@dataclass(frozen=True, slots=True)
class MethodView:
    """A method as output shows it: never more of the account than its last four."""

    id: int
    writer: str
    type: str
    provider: str
    currency: str
    bank_code: str | None
    account_name: str | None
    last4: str
    status: str
    actor: str
    created_at: datetime
    changed_at: datetime
    locked_until: datetime
    recently_changed: bool
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "writer": self.writer,
            "type": self.type,
            "provider": self.provider,
            "currency": self.currency,
            "bank_code": self.bank_code,
            "account_name": self.account_name,
            "account": mask(self.last4),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "changed_at": self.changed_at.isoformat(),
            "locked_until": self.locked_until.isoformat(),
            "recently_changed": self.recently_changed,
            "actor": self.actor,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class NewMethod:
    """A validated ``methods add`` request, before any provider call."""

    writer: str
    type: str
    currency: str
    bank_code: str | None
    account: str  # account number, acct_… id or sandbox number: secret, never printed


def lock_window(settings: Settings) -> timedelta:
    return timedelta(days=settings.payouts.method_change_lock_days)


def _view(row: Any, settings: Settings, now: datetime, *, replayed: bool = False) -> MethodView:
    changed = as_utc(row.changed_at)
    assert changed is not None
    until = changed + lock_window(settings)
    return MethodView(
        id=row.id,
        writer=row.writer_id,
        type=row.type,
        provider=row.provider,
        currency=row.currency,
        bank_code=row.bank_code,
        account_name=row.account_name,
        last4=row.last4,
        status=row.status,
        actor=row.actor,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        changed_at=changed,
        locked_until=until,
        recently_changed=now < until,
        replayed=replayed,
    )


def check_new_method(
    settings: Settings,
    *,
    writer: str,
    type: str,
    currency: str,
    bank_code: str | None = None,
    account_number: str | None = None,
    account: str | None = None,
) -> NewMethod:
    """Validate a ``methods add`` request whole (exit 3 on any bad field, nothing stored)."""
    if type not in TYPES:
        raise InvalidInput(
            f"--type must be one of {', '.join(TYPES)}", details={"type": str(type)[:40]}
        )
    code = normalize_currency(currency)
    allowed = TYPE_CURRENCIES[type]
    if code not in settings.currencies or (allowed is not None and code not in allowed):
        raise InvalidCurrency(
            f"{type} payout methods do not pay in {code}",
            details={
                "currency": code,
                "type": type,
                "supported": list(allowed or settings.currencies),
            },
        )
    if type == "bank":
        if bank_code is None or not _BANK_CODE.fullmatch(bank_code):
            raise InvalidInput("--bank-code must be 3 to 10 digits", details={"field": "bank_code"})
        if account_number is None or not _NUBAN.fullmatch(account_number):
            raise InvalidInput(
                "--account-number must be a 10-digit NUBAN account number",
                details={"field": "account_number"},
            )
        if account is not None:
            raise InvalidInput("--account is for stripe methods", details={"field": "account"})
        return NewMethod(writer, type, code, bank_code, account_number)
    if bank_code is not None:
        raise InvalidInput("--bank-code is for bank methods", details={"field": "bank_code"})
    if type == "stripe":
        if account is None or not _STRIPE_ACCOUNT.fullmatch(account):
            raise InvalidInput(
                "--account must be a Stripe connected account id (acct_…)",
                details={"field": "account"},
            )
        if account_number is not None:
            raise InvalidInput(
                "--account-number is for bank methods", details={"field": "account_number"}
            )
        return NewMethod(writer, type, code, None, account)
    number = account_number or f"{secrets.randbelow(10**10):010d}"
    if not _SANDBOX_ACCOUNT.fullmatch(number) or account is not None:
        raise InvalidInput(
            "a sandbox method takes an optional --account-number of 4 to 34 digits",
            details={"field": "account_number"},
        )
    return NewMethod(writer, type, code, None, number)


def add_payout_method(
    context: AppContext,
    request: NewMethod,
    *,
    paystack: PaystackClient | None = None,
    vault: Vault | None = None,
    now: datetime | None = None,
) -> MethodView:
    """Resolve and register the account with its provider, then keep it (encrypted).

    Provider calls happen outside any database transaction; the writer is checked before
    them, so an unknown writer costs no call."""
    vault = vault or Vault.from_env()
    settings = context.settings
    context.run(lambda s: get_user(s, request.writer, kind="writer"), write=False)
    account_name: str | None = None
    recipient = request.account
    if request.type == "bank":
        assert request.bank_code is not None
        client = paystack or _paystack_client(settings)
        account_name = client.resolve_account(
            account_number=request.account, bank_code=request.bank_code
        )["account_name"]
        created = client.create_transfer_recipient(
            type="nuban",
            name=account_name,
            account_number=request.account,
            bank_code=request.bank_code,
            currency=request.currency,
        )
        recipient = str(created.get("recipient_code") or "")
        if not recipient:
            raise GatewayError("Paystack created the recipient without a recipient_code")
    elif request.type == "sandbox":
        recipient = f"SBX_{secrets.token_hex(8)}"
    return context.run(
        lambda s: _store_method(
            s,
            settings,
            request,
            account_name=account_name,
            recipient=recipient,
            vault=vault,
            actor=context.actor,
            now=now,
        )
    )


def _paystack_client(settings: Settings) -> PaystackClient:
    from legato_pay.gateways.paystack.gateway import PaystackGateway

    return PaystackGateway.from_env(settings.gateways).client


def _store_method(
    session: Session,
    settings: Settings,
    request: NewMethod,
    *,
    account_name: str | None,
    recipient: str,
    vault: Vault,
    actor: str,
    now: datetime | None,
) -> MethodView:
    moment = as_utc(now) or utcnow()
    get_user(session, request.writer, kind="writer")
    last4 = request.account[-4:]
    same = session.execute(
        select(PAYOUT_METHODS).where(
            PAYOUT_METHODS.c.writer_id == request.writer,
            PAYOUT_METHODS.c.type == request.type,
            PAYOUT_METHODS.c.currency == request.currency,
            PAYOUT_METHODS.c.last4 == last4,
            PAYOUT_METHODS.c.status == "active",
        )
    ).all()
    for row in same:
        if row.bank_code == request.bank_code and vault.decrypt(row.account_token) == (
            request.account
        ):
            return _view(row, settings, moment, replayed=True)
    new_id = session.execute(
        insert(PAYOUT_METHODS)
        .values(
            writer_id=request.writer,
            type=request.type,
            provider=PROVIDERS[request.type],
            currency=request.currency,
            bank_code=request.bank_code,
            account_name=account_name,
            last4=last4,
            account_token=vault.encrypt(request.account),
            recipient_token=vault.encrypt(recipient),
            status="active",
            actor=actor,
            created_at=moment,
            changed_at=moment,
        )
        .returning(PAYOUT_METHODS.c.id)
    ).scalar_one()
    return get_method(session, settings, new_id, now=moment)


def _row(session: Session, method_id: int, *, lock: bool = False) -> Any:
    query = select(PAYOUT_METHODS).where(PAYOUT_METHODS.c.id == method_id)
    row = session.execute(for_update(query, session) if lock else query).first()
    if row is None:
        raise NotFound(
            f"no payout method {method_id}",
            details={"method": method_id},
            code="PAYOUT_METHOD_NOT_FOUND",
        )
    return row


def get_method(
    session: Session, settings: Settings, method_id: int, *, now: datetime | None = None
) -> MethodView:
    return _view(_row(session, method_id), settings, as_utc(now) or utcnow())


def list_methods(
    session: Session,
    settings: Settings,
    *,
    writer: str | None = None,
    include_removed: bool = False,
    now: datetime | None = None,
) -> list[MethodView]:
    """Methods on file (a writer's, or everyone's), oldest first; USER_NOT_FOUND for an
    unknown writer."""
    query = select(PAYOUT_METHODS).order_by(PAYOUT_METHODS.c.id)
    if writer is not None:
        get_user(session, writer, kind="writer")
        query = query.where(PAYOUT_METHODS.c.writer_id == writer)
    if not include_removed:
        query = query.where(PAYOUT_METHODS.c.status == "active")
    moment = as_utc(now) or utcnow()
    return [_view(row, settings, moment) for row in session.execute(query.limit(10_000))]


def remove_method(
    session: Session,
    settings: Settings,
    method_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> MethodView:
    """Retire a method (kept for the payouts that used it). Refused while a payout to it is
    still open: cancel that first."""
    moment = as_utc(now) or utcnow()
    row = _row(session, method_id, lock=True)
    if row.status != "active":
        raise InvalidState(
            f"payout method {method_id} is already {row.status}",
            details={"method": method_id, "status": row.status},
        )
    open_payout = session.execute(
        select(PAYOUTS.c.id).where(
            PAYOUTS.c.method_id == method_id, PAYOUTS.c.status.in_(OPEN_STATUSES)
        )
    ).first()
    if open_payout is not None:
        raise InvalidState(
            f"payout {open_payout.id} to method {method_id} is still open: cancel it first",
            details={"method": method_id, "payout": open_payout.id},
        )
    session.execute(
        update(PAYOUT_METHODS)
        .where(PAYOUT_METHODS.c.id == method_id)
        .values(status="removed", removed_at=moment, actor=actor)
    )
    return get_method(session, settings, method_id, now=moment)


def method_recently_changed(
    session: Session, settings: Settings, method_id: int, *, now: datetime | None = None
) -> bool:
    """True while the method was added or changed less than ``method_change_lock_days`` ago:
    a payout to it then needs approval whatever its amount."""
    return get_method(session, settings, method_id, now=now).recently_changed


def recipient_of(session: Session, method_id: int, vault: Vault) -> str:
    """The provider's recipient (``RCP_…``, ``acct_…``) for sending: decrypted, never shown."""
    return vault.decrypt(_row(session, method_id).recipient_token)


def rotate_keys(session: Session, vault: Vault) -> int:
    """Re-encrypt every stored token under the first key; returns how many methods."""
    rows = session.execute(
        for_update(
            select(
                PAYOUT_METHODS.c.id,
                PAYOUT_METHODS.c.account_token,
                PAYOUT_METHODS.c.recipient_token,
            ).order_by(PAYOUT_METHODS.c.id),
            session,
        )
    ).all()
    for row in rows:
        session.execute(
            update(PAYOUT_METHODS)
            .where(PAYOUT_METHODS.c.id == row.id)
            .values(
                account_token=vault.rotate(row.account_token) if row.account_token else None,
                recipient_token=vault.rotate(row.recipient_token) if row.recipient_token else None,
            )
        )
    return len(rows)
