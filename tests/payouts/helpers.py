"""Shared set-up for the payouts tests: writers, their earnings and methods, through the
services (earnings posted straight from ``platform:coin_value``, as a split would)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.errors import AccountNotFound
from legato_pay.ledger import get_balance, post_entries, transfer
from legato_pay.ledger.types import utcnow
from legato_pay.payouts.methods import MethodView, add_payout_method, check_new_method
from legato_pay.payouts.vault import Vault
from legato_pay.store.tables import ENTRIES, PAYOUT_EVENTS, PAYOUT_METHODS, PAYOUTS
from tests.factories import add_users

KEY = Fernet.generate_key().decode()
VAULT = Vault([KEY])
#: Long enough ago that the method-change lock (5 days by default) is over.
SETTLED = timedelta(days=10)


def earn(app: Any, writer: str, currency: str, posted: int = 0, held: int = 0) -> None:
    """Give ``writer`` released (posted) and held (pending, refund hold) earnings."""

    def work(session: Any) -> None:
        chart.open_writer_earnings(session, writer, currency)
        chart.open_system(session, chart.coin_value(currency), currency)
        specs = [
            transfer(
                chart.coin_value(currency),
                chart.writer_earnings(writer, currency),
                amount,
                currency,
                pending=pending,
            )
            for amount, pending in ((posted, False), (held, True))
            if amount
        ]
        post_entries(session, specs, actor="test")

    app.run(work)


def sandbox_method(
    app: Any, writer: str, currency: str = "NGN", *, recent: bool = False, number: str | None = None
) -> MethodView:
    request = check_new_method(
        app.settings, writer=writer, type="sandbox", currency=currency, account_number=number
    )
    when = utcnow() - (timedelta(0) if recent else SETTLED)
    return add_payout_method(app, request, vault=VAULT, now=when)


def writer_with_money(
    app: Any,
    writer: str = "wendy",
    currency: str = "NGN",
    posted: int = 0,
    held: int = 0,
    *,
    recent: bool = False,
) -> MethodView:
    add_users(app, **{writer: "writer"})
    if posted or held:
        earn(app, writer, currency, posted, held)
    return sandbox_method(app, writer, currency, recent=recent)


def available(app: Any, writer: str, currency: str = "NGN") -> int:
    try:
        return app.run(  # type: ignore[no-any-return]
            lambda s: get_balance(s, chart.writer_earnings(writer, currency)).available,
            write=False,
        )
    except AccountNotFound:
        return 0


def in_flight_pending(app: Any, currency: str = "NGN") -> int:
    try:
        return app.run(  # type: ignore[no-any-return]
            lambda s: get_balance(s, chart.payouts_in_flight(currency)).pending, write=False
        )
    except AccountNotFound:
        return 0


def counts(app: Any) -> dict[str, int]:
    """Rows of everything a payouts command could write: to prove "changes nothing"."""

    def work(session: Any) -> dict[str, int]:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (PAYOUT_METHODS, PAYOUTS, PAYOUT_EVENTS, ENTRIES)
        }

    return app.run(work, write=False)  # type: ignore[no-any-return]
