"""A scripted January 2026 for the gateways, fx and html reports: purchases on two gateways
(paid, failed, refunded, flagged), two USD→NGN rates, webhook events applied and failed, one
purchase in February outside the month. Times are set exactly so every figure can be worked
out by hand (see the tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from legato_pay.store.tables import EVENTS, PACKAGES, PURCHASES, RATES
from tests.factories import add_users, insert_purchase


def at(day: int, hour: int = 10, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


RATE_SOURCE = "<script>alert(1)</script>"  # rendered escaped, never as markup

#: reference, gateway, currency, amount, status, created, seconds to credit, reason, rate id
PURCHASE_ROWS: list[
    tuple[str, str, str, int, str, datetime, float | None, str | None, int | None]
] = [
    ("p1", "stripe", "USD", 499, "succeeded", at(5), 2, None, None),
    ("p2", "stripe", "USD", 999, "succeeded", at(5, 11), 4, None, None),
    ("p3", "stripe", "USD", 499, "failed", at(6), None, "card_declined", None),
    ("p4", "stripe", "USD", 499, "refunded", at(7), 10, None, None),
    ("q1", "paystack", "NGN", 150000, "succeeded", at(10), 1, None, 1),
    ("q2", "paystack", "NGN", 150000, "failed", at(12), None, "GATEWAY_ERROR: refused", 1),
    ("q3", "paystack", "NGN", 150000, "flagged", at(20), None, "paid 1.00 NGN, expected", 2),
    ("p5", "stripe", "USD", 499, "succeeded", at(1, month=2), 3, None, None),
]

#: provider, status, received, seconds to apply, last error
EVENT_ROWS: list[tuple[str, str, datetime, float | None, str | None]] = [
    ("paystack", "applied", at(10, 12), 0.5, None),
    ("paystack", "applied", at(11, 12), 1.5, None),
    ("paystack", "failed", at(12, 12), None, "VALIDATION_ERROR: bad body"),
    ("stripe", "applied", at(5, 12), 0.2, None),
    ("stripe", "received", at(6, 12), None, None),
]


def build_month(app: Any) -> None:
    add_users(app, r1="reader")

    def work(session: Any) -> None:
        session.execute(
            PACKAGES.insert().values(
                id="basic",
                name="Basic",
                coins=500,
                bonus_percent="5",
                price_usd=499,
                prices_json="{}",
                status="active",
                created_at=at(1),
                updated_at=at(1),
            )
        )
        for rate_id, rate, as_of in ((1, "1500", at(10, 9)), (2, "1510", at(19, 0))):
            session.execute(
                RATES.insert().values(
                    id=rate_id,
                    base="USD",
                    quote="NGN",
                    rate=rate,
                    source=RATE_SOURCE,
                    as_of=as_of,
                    created_at=as_of,
                )
            )
        for ref, gateway, cur, amount, status, created, credit, reason, rate_id in PURCHASE_ROWS:
            insert_purchase(
                session,
                ref,
                "r1",
                package="basic",
                coins=500,
                bonus=25,
                currency=cur,
                amount=amount,
                gateway=gateway,
                status=status,
                at=created,
            )
            session.execute(
                PURCHASES.update()
                .where(PURCHASES.c.reference == ref)
                .values(
                    failure_reason=reason,
                    rate_id=rate_id,
                    credited_at=None if credit is None else created + timedelta(seconds=credit),
                )
            )
        for index, (provider, status, received, seconds, error) in enumerate(EVENT_ROWS):
            session.execute(
                EVENTS.insert().values(
                    provider=provider,
                    event_key=f"k{index}",
                    event_type="charge.success",
                    payload="{}",
                    status=status,
                    attempts=1,
                    last_error=error,
                    received_at=received,
                    applied_at=None if seconds is None else received + timedelta(seconds=seconds),
                )
            )

    app.run(work)
