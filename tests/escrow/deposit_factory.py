"""Confirmed escrow deposits for tests, through the real path: ``create_deposit`` on the
sandbox gateway (which pays at once), then ``confirm_deposit``. Apps and investors too."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.errors import AccountNotFound
from legato_pay.escrow.deposits import DepositView, create_deposit, get_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.ledger import get_balance
from legato_pay.readers.users import add_user
from legato_pay.shares.apps import add_app
from legato_pay.store.tables import ENTRIES, HOLDINGS

APP, OWNER, INVESTOR = "quill", "olga", "ann"


def app_with_investor(app: Any, app_id: str = APP, investor: str = INVESTOR) -> None:
    """An app owned by ``olga`` and an investor with an email (Paystack needs one)."""

    def work(session: Any) -> None:
        add_user(session, OWNER, kind="reader", exist_ok=True)
        add_user(session, investor, kind="investor", email=f"{investor}@example.com", exist_ok=True)
        add_app(session, app_id, name=app_id.title(), owner=OWNER)

    app.run(work)


def confirmed_deposit(
    app: Any,
    *,
    amount: str = "500.00",
    currency: str | None = None,
    units: int | None = None,
    key: str = "dep-1",
    app_id: str = APP,
    investor: str = INVESTOR,
    payment_method: str | None = None,
) -> DepositView:
    """A deposit paid and confirmed through the sandbox gateway."""
    view = create_deposit(
        app,
        app_id=app_id,
        investor=investor,
        amount=amount,
        currency=currency,
        gateway="sandbox",
        units=units,
        key=key,
        payment_method=payment_method,
    )
    return confirm_deposit(app, view.reference).deposit


def deposit(app: Any, deposit_id: int) -> DepositView:
    return app.run(lambda s: get_deposit(s, deposit_id), write=False)  # type: ignore[no-any-return]


def escrow_balance(app: Any, deposit_id: int, currency: str = "USD") -> tuple[int, int]:
    """(posted, available) of the deposit's escrow account; (0, 0) before it exists."""
    try:
        balance = app.run(
            lambda s: get_balance(s, chart.escrow_account_code(deposit_id, currency)),
            write=False,
        )
    except AccountNotFound:
        return 0, 0
    return balance.posted, balance.available


def entries_keyed(app: Any, key: str) -> int:
    return app.run(  # type: ignore[no-any-return]
        lambda s: s.execute(
            select(func.count()).select_from(ENTRIES).where(ENTRIES.c.idempotency_key == key)
        ).scalar_one(),
        write=False,
    )


def units_held(app: Any, investor: str = INVESTOR, app_id: str = APP) -> int:
    found = app.run(
        lambda s: s.execute(
            select(HOLDINGS.c.units).where(
                HOLDINGS.c.app_id == app_id, HOLDINGS.c.investor_id == investor
            )
        ).scalar_one_or_none(),
        write=False,
    )
    return int(found or 0)
