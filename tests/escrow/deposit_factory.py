"""Confirmed escrow deposits for tests, through the real path and the only one: ``create_deposit``
on the sandbox gateway (which pays at once), then ``confirm_deposit``. Apps and investors,
approver keys, and the row counts that prove "changed nothing" too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.approvals import add_approver, keygen, read_public_key
from legato_pay.errors import AccountNotFound
from legato_pay.escrow.deposits import DepositView, create_deposit, get_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.ledger import get_balance
from legato_pay.readers.users import add_user
from legato_pay.shares.apps import add_app
from legato_pay.store.tables import (
    ENTRIES,
    ESCROW_DISPUTES,
    ESCROW_EVENTS,
    ESCROW_MILESTONES,
    ESCROW_REFUNDS,
    ESCROW_RELEASES,
    HOLDINGS,
)

APP, OWNER, INVESTOR = "quill", "olga", "ann"


def app_with_investor(app: Any, app_id: str = APP, investor: str = INVESTOR) -> None:
    """An app owned by ``olga`` and an investor with an email (Paystack needs one)."""

    def work(session: Any) -> None:
        add_user(session, OWNER, kind="reader", exist_ok=True)
        add_user(session, investor, kind="investor", email=f"{investor}@example.com", exist_ok=True)
        add_app(session, app_id, name=app_id.title(), owner=OWNER)

    app.run(work)


def make_app(app: Any, app_id: str = "tales", owner: str = "olga", *investors: str) -> None:
    """The owner (a writer), the app, and investors (``ivan`` by default)."""

    def work(session: Any) -> None:
        add_user(session, owner, kind="writer")
        add_app(session, app_id, name=f"{app_id} app", owner=owner)
        for investor in investors or ("ivan",):
            add_user(session, investor, kind="investor")

    app.run(work)


def pending_deposit(
    app: Any,
    *,
    amount: str = "500.00",
    currency: str | None = None,
    units: int | None = None,
    key: str = "dep-pending",
    app_id: str = APP,
    investor: str = INVESTOR,
    payment_method: str | None = None,
) -> DepositView:
    """A deposit opened at the sandbox gateway (``escrow deposit``), not confirmed yet."""
    return create_deposit(
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


def confirmed_deposit(app: Any, *, key: str = "dep-1", **options: Any) -> DepositView:
    """A deposit paid and confirmed through the sandbox gateway (``escrow deposit`` then
    ``escrow confirm``): ``pending_deposit``'s options."""
    view = pending_deposit(app, key=key, **options)
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


class Keys:
    """Approver key files by name; ``approvers`` are on ``app:<app_id>``'s list."""

    def __init__(
        self,
        app: Any,
        root: Path,
        app_id: str = "tales",
        approvers: tuple[str, ...] = ("carol", "dave", "erin"),
    ) -> None:
        self.root = root
        for name in (*approvers, "mallory"):
            keygen(root / f"{name}.key")
        for name in approvers:
            public = read_public_key(root / f"{name}.key.pub")
            app.run(
                lambda s, n=name, k=public: add_approver(
                    s, scope=f"app:{app_id}", name=n, public_key=k, actor="admin"
                )
            )

    def __getitem__(self, name: str) -> str:
        return str(self.root / f"{name}.key")

    def key(self, name: str) -> Any:
        from legato_pay.approvals.keys import load_private_key

        return load_private_key(self[name])


def counts(app: Any) -> dict[str, int]:
    """Rows of everything an escrow command could write: to prove "changes nothing"."""

    def work(session: Any) -> dict[str, int]:
        tables = (
            ESCROW_MILESTONES,
            ESCROW_RELEASES,
            ESCROW_REFUNDS,
            ESCROW_DISPUTES,
            ESCROW_EVENTS,
            ENTRIES,
        )
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }

    return app.run(work, write=False)  # type: ignore[no-any-return]
