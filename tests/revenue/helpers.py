"""Building revenue periods for the tests: subscribers paying into a period's pool (the row and
the entry a verified start records) and reading time, without a gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from legato_pay import chart
from legato_pay.ledger import post_entries, transfer
from legato_pay.readers.engagement import engagement_input, import_engagement
from legato_pay.store.tables import SUBSCRIPTIONS
from tests.factories import add_content, make_users

PERIOD = "2026-01"
#: Within the period: when the tests' subscriptions start and their reading is recorded.
IN_PERIOD = datetime(2026, 1, 10, 12, tzinfo=UTC)
#: After the period: when the tests run it.
AFTER = datetime(2026, 2, 3, tzinfo=UTC)


def subscribe(
    app: Any, user: str, amount: int, *, currency: str = "USD", period: str = PERIOD
) -> None:
    """A subscription row and its fee into the period's pool, as a verified start records."""
    moment = datetime(int(period[:4]), int(period[5:]), 10, 12, tzinfo=UTC)

    def work(session: Any) -> None:
        cash = chart.gateway_cash("sandbox", currency)
        pool = chart.subscription_pool(period, currency)
        chart.open_accounts(
            session,
            [
                chart.system_account(cash, currency, debit_normal=True),
                chart.system_account(pool, currency),
            ],
        )
        entry = post_entries(
            session,
            [transfer(cash, pool, amount, currency, reason=f"{user} subscription")],
            actor="test",
            now=moment,
        )[0]
        session.execute(
            SUBSCRIPTIONS.insert().values(
                user_id=user,
                tier="basic",
                currency=currency,
                amount=amount,
                gateway="sandbox",
                status="active",
                period=period,
                period_start=moment,
                period_end=moment + timedelta(days=30),
                entry_id=entry.id,
                created_at=moment,
            )
        )

    app.run(work)


def writers_with_content(app: Any, *writers: str) -> None:
    """Writers, each with one chapter named ``<writer>-ch``."""
    make_users(app, *writers, kind="writer")
    for writer in writers:
        add_content(app, f"{writer}-ch", writer)


def read(app: Any, *rows: tuple[str, str, int], when: datetime = IN_PERIOD) -> None:
    """Reading time: (reader, writer, minutes) on the writer's chapter, recorded at ``when``."""
    records = [
        engagement_input(user, f"{writer}-ch", minutes, recorded_at=when, now=when)
        for user, writer, minutes in rows
    ]
    app.run(lambda s: import_engagement(s, records, now=when))


def amounts(view: Any, app: Any) -> dict[str, int]:
    """Writer -> amount of a run's lines."""
    from legato_pay.revenue.views import run_lines

    _, lines = app.run(lambda s: run_lines(s, view.id), write=False)
    return {line.writer_id: line.amount for line in lines}
