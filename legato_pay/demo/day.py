"""A realistic day of operations through the sandbox gateway, for ``legato-pay demo``.

Writers publish chapters, readers buy coin packages in USD, NGN and CAD, unlock chapters, tip,
gift and subscribe; one payment fails and one purchase is refunded; then the ledger is sealed
and verified. Every step goes through the same services as the CLI, one atomic unit each.
Each run is a new day (its idempotency keys carry the run's id), so running the demo again adds
a day and never corrupts or doubles anything.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from legato_pay.context import AppContext
from legato_pay.errors import GatewayError, InsufficientFunds
from legato_pay.ledger.types import utcnow

WRITERS = 5
CURRENCY_CYCLE = ("USD", "NGN", "CAD")
Progress = Callable[[str], None]


@dataclass
class DemoSummary:
    run_id: str
    readers: int
    writers: int
    counts: Counter[str] = field(default_factory=Counter)
    paid: Counter[str] = field(default_factory=Counter)  # currency -> minor units
    failed_purchase: str | None = None
    refunded_purchase: str | None = None
    verify: dict[str, Any] = field(default_factory=dict)
    seal: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "readers": self.readers,
            "writers": self.writers,
            "counts": dict(sorted(self.counts.items())),
            "paid": dict(sorted(self.paid.items())),
            "failed_purchase": self.failed_purchase,
            "refunded_purchase": self.refunded_purchase,
            "seal": self.seal,
            "verify": self.verify,
        }


def planned_steps(readers: int) -> int:
    """How many progress ticks ``run_demo_day`` makes, for a progress bar."""
    return 4 + readers * 6 + 3


def run_demo_day(
    app: AppContext, *, readers: int = 40, seed: int = 7, progress: Progress | None = None
) -> DemoSummary:
    from legato_pay import ledger
    from legato_pay.readers import (
        access,
        content,
        engagement,
        fx,
        purchases,
        subscriptions,
        tips,
        users,
    )

    tick = progress or (lambda _: None)
    rng = random.Random(seed)
    run_id = utcnow().strftime("%Y%m%d%H%M%S%f")
    summary = DemoSummary(run_id=run_id, readers=readers, writers=WRITERS)
    settings = app.settings

    def key(*parts: object) -> str:
        return ":".join(["demo", run_id, *map(str, parts)])

    tick("writers and their chapters")
    writers = [f"demo-writer-{i}" for i in range(1, WRITERS + 1)]
    catalogue: list[str] = []

    def publish(session: Any) -> list[str]:
        ids = []
        for writer in writers:
            users.add_user(session, writer, kind="writer", exist_ok=True)
            for number in range(1, 5):
                item, _ = content.add_content(
                    session,
                    settings,
                    f"{writer}-ch{number}",
                    writer_id=writer,
                    content_type="chapter",
                    title=f"Chapter {number}",
                )
                ids.append(item.id)
            story, _ = content.add_content(
                session, settings, f"{writer}-story", writer_id=writer, content_type="story"
            )
            exclusive, _ = content.add_content(
                session,
                settings,
                f"{writer}-exclusive",
                writer_id=writer,
                content_type="exclusive",
                tier="premium",
            )
            ids += [story.id, exclusive.id]
        return ids

    catalogue = app.run(publish)
    tick("exchange rates")
    app.run(lambda s: fx.set_rate(s, settings, "USD", "NGN", "1550.00", source="demo"))
    app.run(lambda s: fx.set_rate(s, settings, "USD", "CAD", "1.3600", source="demo"))

    tick("readers")
    reader_ids = [f"demo-reader-{n:03d}" for n in range(1, readers + 1)]
    app.run(lambda s: [users.add_user(s, r, kind="reader", exist_ok=True) for r in reader_ids])

    tick("coin purchases")
    package_ids = [p.id for p in settings.packages]
    bought: dict[str, str] = {}
    for index, reader in enumerate(reader_ids):
        currency = CURRENCY_CYCLE[index % len(CURRENCY_CYCLE)]
        package = rng.choice(package_ids[:3] if index % 4 else package_ids)
        method = "pm_sandbox_fail" if index == 2 else "pm_sandbox_ok"
        created = purchases.create_purchase(
            app,
            user_id=reader,
            package_id=package,
            currency=currency,
            key=key("buy", reader),
            payment_method=method,
        )
        reference = created.purchase.reference
        try:
            purchases.verify_purchase(app, reference)
        except GatewayError:
            summary.failed_purchase = reference
            summary.counts["purchases_failed"] += 1
        else:
            bought[reader] = reference
            summary.counts["purchases"] += 1
            summary.paid[currency] += created.purchase.amount
        tick(f"{reader} bought {package} in {currency}")

    for reader in reader_ids:
        wanted = rng.sample(catalogue, k=rng.randint(3, 8))
        for content_id in wanted:
            try:
                result = app.run(
                    lambda s, c=content_id, r=reader: access.unlock_content(
                        s, settings, r, c, actor=app.actor
                    )
                )
            except InsufficientFunds:
                summary.counts["unlocks_refused_not_enough_coins"] += 1
                continue
            summary.counts["unlocks" if result.unlocked else "unlocks_already_owned"] += 1
        tick(f"{reader} read")

    for index, reader in enumerate(reader_ids):
        if index % 4 == 1 and reader in bought:
            writer = rng.choice(writers)
            try:
                app.run(
                    lambda s, r=reader, w=writer: tips.send_tip(
                        s,
                        settings,
                        actor=app.actor,
                        from_user=r,
                        to_user=w,
                        coins=rng.choice((20, 50, 100)),
                        message="loved it",
                        key=key("tip", r),
                    )
                )
                summary.counts["tips"] += 1
            except InsufficientFunds:
                summary.counts["tips_refused_not_enough_coins"] += 1
        if index % 10 == 3 and reader in bought:
            friend = reader_ids[(index + 1) % len(reader_ids)]
            try:
                app.run(
                    lambda s, r=reader, f=friend: tips.send_gift(
                        s,
                        settings,
                        actor=app.actor,
                        from_user=r,
                        to_user=f,
                        coins=15,
                        key=key("gift", r),
                    )
                )
                summary.counts["gifts"] += 1
            except InsufficientFunds:
                summary.counts["gifts_refused_not_enough_coins"] += 1
        tick(f"{reader} tipped and gifted")

    tiers = list(settings.subscriptions.tiers)
    for index, reader in enumerate(reader_ids):
        if index % 5 == 0:
            tier = tiers[index % len(tiers)]
            currency = CURRENCY_CYCLE[index % len(CURRENCY_CYCLE)]
            active = app.run(
                lambda s, r=reader: subscriptions.active_subscription(s, r), write=False
            )
            if active is None:
                subscriptions.start_subscription(
                    app, reader, tier=tier, currency=currency, key=key("sub", reader)
                )
                summary.counts["subscriptions"] += 1
        tick(f"{reader} subscriptions")

    for index, reader in enumerate(reader_ids):
        for content_id in rng.sample(catalogue, k=2):
            app.run(
                lambda s, r=reader, c=content_id: engagement.record_engagement(
                    s, engagement.engagement_input(r, c, rng.randint(3, 45), key=key("read", r, c))
                )
            )
            summary.counts["engagement_records"] += 1
        if index == 4 and reader in bought:
            refund = purchases.refund_purchase(app, bought[reader], key=key("refund", reader))
            summary.refunded_purchase = bought[reader]
            summary.counts["refunds"] += 1
            summary.counts["refund_coins_lost"] += refund.refund.coins_lost
        tick(f"{reader} reading time")

    tick("sealing the ledger")
    summary.seal = app.run(
        lambda s: ledger.seal(s, actor=app.actor, batch_size=settings.ledger.seal_batch_size)
    ).as_json()
    tick("verifying the ledger")
    summary.verify = app.run(lambda s: ledger.verify_ledger(s), write=False).as_json()
    tick("done")
    return summary
