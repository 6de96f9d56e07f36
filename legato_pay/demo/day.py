"""A realistic day of operations through the sandbox gateway, for ``legato-pay demo``.

Writers publish chapters, readers buy coin packages in USD, NGN and CAD, unlock chapters, tip,
gift and subscribe; one payment fails and one purchase is refunded; the day ends with the
subscription pool run of the previous month (``legato_pay.demo.pool``); then the ledger is sealed
and verified. Every step goes through the same services as the CLI, one atomic unit each.
Each run is a new day (its idempotency keys carry the run's id), so running the demo again adds
a day and never corrupts or doubles anything. The summary is what this run did (its counts, its
sales, its time window for the reports); balances and the ledger check are the whole database's.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from legato_pay.context import AppContext
from legato_pay.errors import GatewayError, InsufficientFunds
from legato_pay.ledger.types import utcnow
from legato_pay.money import format_amount

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

WRITERS = 5
CURRENCY_CYCLE = ("USD", "NGN", "CAD")
Progress = Callable[[str], None]


@dataclass
class DemoSummary:
    """What one run did; ``started_at``/``finished_at`` bound its records (for its reports)."""

    run_id: str
    readers: int
    writers: int
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    counts: Counter[str] = field(default_factory=Counter)
    paid: Counter[str] = field(default_factory=Counter)  # currency -> minor units
    failed_purchase: str | None = None
    refunded_purchase: str | None = None
    verify: dict[str, Any] = field(default_factory=dict)
    seal: dict[str, Any] = field(default_factory=dict)
    pool_run: dict[str, Any] = field(default_factory=dict)
    payouts: dict[str, Any] = field(default_factory=dict)
    escrow: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "readers": self.readers,
            "writers": self.writers,
            "counts": dict(sorted(self.counts.items())),
            "paid": {
                currency: {
                    "amount": minor,
                    "currency": currency,
                    "display": format_amount(minor, currency),
                }
                for currency, minor in sorted(self.paid.items())
            },
            "failed_purchase": self.failed_purchase,
            "refunded_purchase": self.refunded_purchase,
            "pool_run": self.pool_run,
            "payouts": self.payouts,
            "escrow": self.escrow,
            "seal": self.seal,
            "verify": self.verify,
        }


def planned_steps(readers: int) -> int:
    """How many progress ticks ``run_demo_day`` makes, for a progress bar."""
    return 4 + readers * 6 + 6


def run_demo_day(
    app: AppContext, *, readers: int = 40, seed: int = 7, progress: Progress | None = None
) -> DemoSummary:
    """One demo day, step by step; each step is the services' own units of work."""
    day = _DemoDay(app, readers=readers, seed=seed, tick=progress or (lambda _: None))
    day.publish_catalogue()
    day.set_rates()
    day.add_readers()
    day.buy_coins()
    day.unlock_chapters()
    day.tip_and_gift()
    day.subscribe()
    day.read_and_refund()
    day.run_pool()
    day.pay_writers()
    day.fund_escrow()
    day.seal_and_verify()
    day.summary.finished_at = utcnow()
    return day.summary


class _DemoDay:
    """The day's state shared by its steps: the catalogue, the readers, who bought coins."""

    def __init__(self, app: AppContext, *, readers: int, seed: int, tick: Progress) -> None:
        self.app = app
        self.settings = app.settings
        self.tick = tick
        self.rng = random.Random(seed)
        started = utcnow()
        self.run_id = started.strftime("%Y%m%d%H%M%S%f")
        self.summary = DemoSummary(
            run_id=self.run_id, readers=readers, writers=WRITERS, started_at=started
        )
        self.writers = [f"demo-writer-{i}" for i in range(1, WRITERS + 1)]
        self.reader_ids = [f"demo-reader-{n:03d}" for n in range(1, readers + 1)]
        self.catalogue: list[str] = []
        self.bought: dict[str, str] = {}  # reader -> purchase reference

    def key(self, *parts: object) -> str:
        """An idempotency key of this run: a rerun of the demo is a new day."""
        return ":".join(["demo", self.run_id, *map(str, parts)])

    def publish_catalogue(self) -> None:
        self.tick("writers and their chapters")
        self.catalogue = self.app.run(self._publish)

    def _publish(self, session: Session) -> list[str]:
        """Each writer: four chapters, a story and a premium-tier exclusive."""
        from legato_pay.readers import content, users

        ids = []
        for writer in self.writers:
            users.add_user(session, writer, kind="writer", exist_ok=True)
            for number in range(1, 5):
                item, _ = content.add_content(
                    session,
                    self.settings,
                    f"{writer}-ch{number}",
                    writer_id=writer,
                    content_type="chapter",
                    title=f"Chapter {number}",
                )
                ids.append(item.id)
            story, _ = content.add_content(
                session, self.settings, f"{writer}-story", writer_id=writer, content_type="story"
            )
            exclusive, _ = content.add_content(
                session,
                self.settings,
                f"{writer}-exclusive",
                writer_id=writer,
                content_type="exclusive",
                tier="premium",
            )
            ids += [story.id, exclusive.id]
        return ids

    def set_rates(self) -> None:
        from legato_pay.readers import fx

        self.tick("exchange rates")
        settings = self.settings
        self.app.run(lambda s: fx.set_rate(s, settings, "USD", "NGN", "1550.00", source="demo"))
        self.app.run(lambda s: fx.set_rate(s, settings, "USD", "CAD", "1.3600", source="demo"))

    def add_readers(self) -> None:
        from legato_pay.readers import users

        self.tick("readers")
        self.app.run(
            lambda s: [users.add_user(s, r, kind="reader", exist_ok=True) for r in self.reader_ids]
        )

    def buy_coins(self) -> None:
        """Every reader buys a package, currencies in turn; the third reader's card fails."""
        self.tick("coin purchases")
        package_ids = [p.id for p in self.settings.packages]
        for index, reader in enumerate(self.reader_ids):
            currency = CURRENCY_CYCLE[index % len(CURRENCY_CYCLE)]
            package = self.rng.choice(package_ids[:3] if index % 4 else package_ids)
            method = "pm_sandbox_fail" if index == 2 else "pm_sandbox_ok"
            self._buy(reader, package, currency, method)
            self.tick(f"{reader} bought {package} in {currency}")

    def _buy(self, reader: str, package: str, currency: str, method: str) -> None:
        from legato_pay.readers import purchases

        created = purchases.create_purchase(
            self.app,
            user_id=reader,
            package_id=package,
            currency=currency,
            key=self.key("buy", reader),
            payment_method=method,
        )
        reference = created.purchase.reference
        try:
            purchases.verify_purchase(self.app, reference)
        except GatewayError:
            self.summary.failed_purchase = reference
            self.summary.counts["purchases_failed"] += 1
        else:
            self.bought[reader] = reference
            self.summary.counts["purchases"] += 1
            self.summary.paid[currency] += created.purchase.amount

    def unlock_chapters(self) -> None:
        """Each reader tries three to eight items; some run out of coins."""
        for reader in self.reader_ids:
            wanted = self.rng.sample(self.catalogue, k=self.rng.randint(3, 8))
            for content_id in wanted:
                self._unlock(reader, content_id)
            self.tick(f"{reader} read")

    def _unlock(self, reader: str, content_id: str) -> None:
        from legato_pay.readers import access

        settings, actor = self.settings, self.app.actor
        try:
            result = self.app.run(
                lambda s: access.unlock_content(s, settings, reader, content_id, actor=actor)
            )
        except InsufficientFunds:
            self.summary.counts["unlocks_refused_not_enough_coins"] += 1
            return
        self.summary.counts["unlocks" if result.unlocked else "unlocks_already_owned"] += 1

    def tip_and_gift(self) -> None:
        """Every fourth reader who bought tips a writer; every tenth gifts the next reader."""
        for index, reader in enumerate(self.reader_ids):
            if index % 4 == 1 and reader in self.bought:
                self._tip(reader, self.rng.choice(self.writers))
            if index % 10 == 3 and reader in self.bought:
                self._gift(reader, self.reader_ids[(index + 1) % len(self.reader_ids)])
            self.tick(f"{reader} tipped and gifted")

    def _tip(self, reader: str, writer: str) -> None:
        from legato_pay.readers import tips

        def send(session: Session) -> tips.TransferView:
            coins = self.rng.choice((20, 50, 100))
            return tips.send_tip(
                session,
                self.settings,
                actor=self.app.actor,
                from_user=reader,
                to_user=writer,
                coins=coins,
                message="loved it",
                key=self.key("tip", reader),
            )

        self._transfer("tips", send)

    def _gift(self, reader: str, friend: str) -> None:
        from legato_pay.readers import tips

        def send(session: Session) -> tips.TransferView:
            return tips.send_gift(
                session,
                self.settings,
                actor=self.app.actor,
                from_user=reader,
                to_user=friend,
                coins=15,
                key=self.key("gift", reader),
            )

        self._transfer("gifts", send)

    def _transfer(self, counter: str, send: Callable[[Session], Any]) -> None:
        """Run a tip or gift; a sender short of coins is counted, not an error."""
        try:
            self.app.run(send)
            self.summary.counts[counter] += 1
        except InsufficientFunds:
            self.summary.counts[f"{counter}_refused_not_enough_coins"] += 1

    def subscribe(self) -> None:
        """Every fifth reader without an active subscription starts one, tiers in turn."""
        from legato_pay.readers import subscriptions

        tiers = list(self.settings.subscriptions.tiers)
        for index, reader in enumerate(self.reader_ids):
            if index % 5 == 0:
                tier = tiers[index % len(tiers)]
                currency = CURRENCY_CYCLE[index % len(CURRENCY_CYCLE)]
                if not self._subscribed(reader):
                    subscriptions.start_subscription(
                        self.app, reader, tier=tier, currency=currency, key=self.key("sub", reader)
                    )
                    self.summary.counts["subscriptions"] += 1
            self.tick(f"{reader} subscriptions")

    def _subscribed(self, reader: str) -> bool:
        from legato_pay.readers import subscriptions

        active = self.app.run(lambda s: subscriptions.active_subscription(s, reader), write=False)
        return active is not None

    def read_and_refund(self) -> None:
        """Reading time for two items per reader; the fifth reader's purchase is refunded."""
        from legato_pay.readers import purchases

        for index, reader in enumerate(self.reader_ids):
            for content_id in self.rng.sample(self.catalogue, k=2):
                self._record_reading(reader, content_id)
            if index == 4 and reader in self.bought:
                refund = purchases.refund_purchase(
                    self.app, self.bought[reader], key=self.key("refund", reader)
                )
                self.summary.refunded_purchase = self.bought[reader]
                self.summary.counts["refunds"] += 1
                self.summary.counts["refund_coins_lost"] += refund.refund.coins_lost
            self.tick(f"{reader} reading time")

    def _record_reading(self, reader: str, content_id: str) -> None:
        from legato_pay.readers import engagement

        def record(session: Session) -> engagement.EngagementView:
            minutes = self.rng.randint(3, 45)
            key = self.key("read", reader, content_id)
            return engagement.record_engagement(
                session, engagement.engagement_input(reader, content_id, minutes, key=key)
            )

        self.app.run(record)
        self.summary.counts["engagement_records"] += 1

    def run_pool(self) -> None:
        """The previous month's pool run (this month is not over): filled, run, or replayed."""
        from legato_pay.demo.pool import run_previous_month_pool

        self.tick("subscription pool run")
        self.summary.pool_run = run_previous_month_pool(
            self.app, writers=self.writers, now=utcnow()
        )

    def pay_writers(self) -> None:
        """Payout requests to sandbox methods, one approved by signature (``demo.payouts``)."""
        from legato_pay.demo.payouts import pay_demo_writers

        self.tick("writers' payouts")
        self.summary.payouts = pay_demo_writers(
            self.app, writers=self.writers, key=self.key, run_id=self.run_id, now=utcnow()
        )

    def fund_escrow(self) -> None:
        """An app funded in escrow by two investors, released, refunded and disputed
        (``demo.escrow``); a refusal (a flag turned off, say) is reported as ``skipped``."""
        from legato_pay.demo.escrow import run_escrow_demo
        from legato_pay.errors import LegatoError

        self.tick("escrow")
        try:
            self.summary.escrow = run_escrow_demo(self.app, tag=self.run_id)
        except LegatoError as refused:
            self.summary.escrow = {"skipped": refused.message}

    def seal_and_verify(self) -> None:
        from legato_pay import ledger

        app, batch_size = self.app, self.settings.ledger.seal_batch_size
        self.tick("sealing the ledger")
        self.summary.seal = app.run(
            lambda s: ledger.seal(s, actor=app.actor, batch_size=batch_size)
        ).as_json()
        self.tick("verifying the ledger")
        self.summary.verify = app.run(lambda s: ledger.verify_ledger(s), write=False).as_json()
        self.tick("done")
