"""A scripted set of payouts for the report tests, with figures worked out by hand.

March 2026, NGN and USD:

- wendy, NG individual with a TIN (5 %), a Paystack bank method (fee tiers NGN 10/25/50):
  P1 requested 5 March, 10,000.00 NGN: fee 25.00, tax 500.00, net 9,475.00; paid 6 March.
  P2 requested 20 March, 60,000.00 NGN: fee 50.00, tax 3,000.00, net 56,950.00; paid 1 April.
- tunde, NG individual without a TIN (10 %), sandbox NGN (no fee):
  P3 requested 10 March, 5,000.00 NGN: tax 500.00, net 4,500.00; paid 11 March.
  P4 requested 12 March, 7,000.00 NGN: tax 700.00; cancelled.
- ann, no tax profile (0 %), sandbox USD: P5 requested 15 March, 50.00 USD, approved, not sent.

NG's March withholding (P1 + P3 = 1,000.00 NGN) is remitted on 1 May; April's is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from legato_pay.payouts.methods import add_payout_method, check_new_method
from legato_pay.payouts.requests import request_payout
from legato_pay.payouts.status import cancel_payout, move
from legato_pay.payouts.tax import remit_tax
from legato_pay.store.tables import PAYOUT_METHODS
from tests.factories import add_users
from tests.payouts.helpers import VAULT, earn
from tests.tax.helpers import post_withholding, set_profile

NGN = 100  # kobo per naira


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=UTC)


def bank_method(app: Any, writer: str) -> int:
    """A Paystack bank method on file, as `payouts methods add` leaves it after Paystack
    resolved the account (the report tests need no Paystack)."""
    long_ago = at(1, 1) - timedelta(days=30)

    def work(session: Any) -> int:
        return int(
            session.execute(
                insert(PAYOUT_METHODS)
                .values(
                    writer_id=writer,
                    type="bank",
                    provider="paystack",
                    currency="NGN",
                    bank_code="058",
                    account_name="WENDY",
                    last4="6789",
                    status="active",
                    actor="test",
                    created_at=long_ago,
                    changed_at=long_ago,
                )
                .returning(PAYOUT_METHODS.c.id)
            ).scalar_one()
        )

    return app.run(work)  # type: ignore[no-any-return]


def sandbox_method(app: Any, writer: str, currency: str) -> int:
    """A sandbox method added long before the story (past its change lock)."""
    request = check_new_method(app.settings, writer=writer, type="sandbox", currency=currency)
    return add_payout_method(app, request, vault=VAULT, now=at(1, 1) - timedelta(days=30)).id


def request(app: Any, writer: str, amount: str, currency: str, when: datetime, **kw: Any) -> int:
    view = app.run(
        lambda s: request_payout(
            s,
            app.settings,
            actor="ops",
            writer=writer,
            currency=currency,
            amount=amount,
            now=when,
            **kw,
        )
    )
    return int(view.id)


def mark_paid(app: Any, payout_id: int, when: datetime) -> None:
    """What the payouts run does to the payout's status (its ledger side is not needed here)."""

    def work(session: Any) -> None:
        for status in ("sending", "paid"):
            move(session, payout_id, status, actor="run", action=status, reason=None, now=when)

    app.run(work)


def build_story(app: Any) -> dict[str, int]:
    add_users(app, wendy="writer", tunde="writer", ann="writer")
    settings = app.settings
    set_profile(app, "wendy", tin="12345678-0001")
    set_profile(app, "tunde")
    earn(app, "wendy", "NGN", posted=100_000 * NGN)
    earn(app, "tunde", "NGN", posted=20_000 * NGN)
    earn(app, "ann", "USD", posted=10_000)
    bank_method(app, "wendy")
    sandbox_method(app, "tunde", "NGN")
    sandbox_method(app, "ann", "USD")
    ids = {
        "P1": request(app, "wendy", "10000.00", "NGN", at(3, 5)),
        "P2": request(app, "wendy", "60000.00", "NGN", at(3, 20)),
        "P3": request(app, "tunde", "5000.00", "NGN", at(3, 10)),
        "P4": request(app, "tunde", "7000.00", "NGN", at(3, 12)),
        "P5": request(app, "ann", "50.00", "USD", at(3, 15)),
    }
    mark_paid(app, ids["P1"], at(3, 6))
    mark_paid(app, ids["P2"], at(4, 1))
    mark_paid(app, ids["P3"], at(3, 11))
    app.run(lambda s: cancel_payout(s, ids["P4"], actor="ops", now=at(3, 13)))
    # The payouts run credits the withholding when it pays: March's 500 + 500, April's 3,000.
    post_withholding(app, 1_000 * NGN, at(3, 11))
    post_withholding(app, 3_000 * NGN, at(4, 1))
    app.run(
        lambda s: remit_tax(
            s,
            settings,
            country="NG",
            period="2026-03",
            reference="FIRS-2026-03",
            actor="ops",
            now=at(5, 1),
        )
    )
    return ids
