"""The demo day's last step: the subscription pool run of the month before the day.

The day's own month is not over, so a pool run of it would be ``PERIOD_OPEN``. The demo runs
the previous month instead, which it fills itself the first time through the same services as
the CLI: four subscribers of that month (ids naming the month, so last month's never overlap)
pay their tier's USD fee into its pool at times inside it, and read the demo writers' chapters
then. The run is pro-rata. A run is once per (period, stream): a second demo in the same month
finds the run done, adds nothing to the period and reports the first run's result as
``replayed``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from legato_pay.context import AppContext
from legato_pay.money import format_amount
from legato_pay.revenue.common import POOL_STREAM, period_bounds

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SUBSCRIBERS = 4
CURRENCY = "USD"
MODEL = "pro-rata"
#: Top writers listed in the summary.
TOP_WRITERS = 5


def previous_period(moment: datetime) -> str:
    """``YYYY-MM`` of the month before ``moment``'s (UTC)."""
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def run_previous_month_pool(
    app: AppContext, *, writers: list[str], now: datetime
) -> dict[str, Any]:
    """Fill the previous month unless its pool run exists, run it, and describe the run."""
    from legato_pay.revenue.runs import run_revenue
    from legato_pay.revenue.views import run_by_period

    period = previous_period(now)
    done = app.run(lambda s: run_by_period(s, period, POOL_STREAM), write=False)
    if done is None:
        _fill(app, period, writers)
    view = run_revenue(app, period=period, stream=POOL_STREAM, model=MODEL, now=now)[0]
    return app.run(lambda s: _describe(s, view), write=False)


def _money(minor: int, currency: str) -> dict[str, Any]:
    return {"amount": minor, "currency": currency, "display": format_amount(minor, currency)}


def _fill(app: AppContext, period: str, writers: list[str]) -> None:
    """Subscribers' fees and reading time inside ``period``; keys and row keys name the period,
    so filling it again (a demo stopped before its run) records nothing twice."""
    from legato_pay.readers import engagement, subscriptions, users

    start = period_bounds(period)[0]
    rng = random.Random(period)
    tiers = list(app.settings.subscriptions.tiers)
    subscribers = [f"demo-sub-{period}-{n}" for n in range(1, SUBSCRIBERS + 1)]
    app.run(lambda s: [users.add_user(s, u, kind="reader", exist_ok=True) for u in subscribers])
    records = []
    for index, subscriber in enumerate(subscribers):
        subscriptions.start_subscription(
            app,
            subscriber,
            tier=tiers[index % len(tiers)],
            currency=CURRENCY,
            key=f"demo:pool:{period}:sub:{subscriber}",
            now=start + timedelta(days=1 + index, hours=9),
        )
        for writer in rng.sample(writers, k=min(3, len(writers))):
            when = start + timedelta(days=rng.randint(5, 25), minutes=rng.randint(0, 1439))
            chapter = f"{writer}-ch{rng.randint(1, 4)}"
            minutes = rng.randint(7, 95)
            records.append(
                engagement.engagement_input(subscriber, chapter, minutes, recorded_at=when)
            )
    app.run(lambda s: engagement.import_engagement(s, records))


def _describe(session: Session, view: Any) -> dict[str, Any]:
    """The run's figures per currency and its best-paid writers (all minor units exact)."""
    from legato_pay.revenue.views import run_lines

    _, lines = run_lines(session, view.id)
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        counts[line.currency] += 1
    pools = [
        {
            "currency": currency,
            "pool": _money(per["pool"], currency),
            "writers_share": _money(per["writers"], currency),
            "platform_share": _money(per["platform"], currency),
            "carried": _money(per["carried"], currency),
            "remainder_units": per.get("remainder_units", 0),
            "lines": counts[currency],
        }
        for currency, per in sorted(view.totals.items())
    ]
    top = sorted(lines, key=lambda line: (-line.amount, line.writer_id, line.currency))
    return {
        "run_id": view.id,
        "period": view.period,
        "stream": view.stream,
        "model": view.model,
        "percentages": {"writer": view.writer_percent, "platform": view.platform_percent},
        "replayed": view.replayed,
        "line_count": view.line_count,
        "pools": pools,
        "top_writers": [
            {
                "writer": line.writer_id,
                "minutes": line.basis_minutes,
                "amount": _money(line.amount, line.currency),
            }
            for line in top[:TOP_WRITERS]
        ],
    }
