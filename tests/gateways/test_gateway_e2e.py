"""End to end: real gateways (localstripe, the fake Paystack over HTTP) and a real running
``legato-pay serve-webhooks`` process, on SQLite and PostgreSQL.

What the in-process webhook tests (``test_webhooks.py``) cannot show: a provider's own signed
delivery reaching a listener process and crediting a purchase made through the CLI exactly once;
a webhook racing ``purchases verify``; one event at two listener processes at once; and a
listener killed mid-request losing nothing it acknowledged.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select, text

from legato_pay.context import AppContext
from legato_pay.ledger import verify_ledger
from legato_pay.readers import purchases
from legato_pay.readers.coins import wallet_balance
from legato_pay.readers.users import add_user
from legato_pay.store.dialect import is_postgres
from legato_pay.store.lightread import SessionRows
from legato_pay.store.tables import ENTRIES, PURCHASES
from legato_pay.webhooks import inbox
from tests.cli_runner import ROOT, CliResult, cli_env, run_cli
from tests.fakes.listener import Listener
from tests.fakes.localstripe import (
    TEST_SECRET_KEY,
    localstripe_fixture,  # noqa: F401  (the module-scoped ``localstripe`` fixture)
    register_webhook,
)
from tests.fakes.paystack import FakePaystack, post_paystack_webhook, sign_paystack_webhook

T = TypeVar("T")

STRIPE_WEBHOOK_SECRET = "whsec_legato_e2e"
PAYSTACK_SECRET = "sk_test_fakepaystack_e2e"
READER = "reader-e2e"
#: The ``popular`` package: 1000 coins + 10 % bonus, USD 9.99 or NGN 15,000.00 (fixed price).
PACKAGE, COINS, BONUS = "popular", 1000, 100
NGN_PRICE = 1_500_000


# -- helpers ---------------------------------------------------------------------------------


def context(database_url: str) -> AppContext:
    app = AppContext.create(database_url=database_url, actor="test")
    _ = app.engine  # create the schema here, before any listener process looks at it
    return app


def add_reader(app: AppContext, user: str = READER) -> None:
    app.run(lambda s: add_user(s, user, email=f"{user}@example.com"))


def get_purchase(app: AppContext, reference: str) -> purchases.PurchaseView:
    return app.run(lambda s: purchases.get_purchase(s, reference), write=False)


def credit_entries(app: AppContext, reference: str) -> int:
    """Ledger entries keyed ``purchase:<ref>``: 1 once credited, never more."""
    query = (
        select(func.count())
        .select_from(ENTRIES)
        .where(ENTRIES.c.idempotency_key == f"purchase:{reference}")
    )
    return app.run(lambda s: s.execute(query).scalar_one(), write=False)


def coins(app: AppContext, user: str = READER) -> tuple[int, int]:
    found = app.run(lambda s: wallet_balance(SessionRows(s), user), write=False)
    return found.paid, found.bonus


def events(app: AppContext, provider: str | None = None) -> list[dict[str, Any]]:
    return app.run(lambda s: inbox.list_events(s, provider=provider, limit=1000), write=False)


def assert_ledger_ok(app: AppContext) -> None:
    report = app.run(lambda s: verify_ledger(s), write=False)
    assert report.ok, report.problems


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def run_cli_parallel(database_url: str, *commands: list[str]) -> list[CliResult]:
    """Several ``legato-pay`` processes at once (independent read-only checks, or a race)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "commands.main", "--output", "json", *args],
            cwd=ROOT,
            env=cli_env(database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for args in commands
    ]
    results = []
    for args, process in zip(commands, processes, strict=True):
        out, err = process.communicate(timeout=120)
        results.append(CliResult(subprocess.CompletedProcess(args, process.returncode, out, err)))
    return results


def assert_cli_ledger_ok(result: CliResult) -> None:
    assert result.status == 0, result.stderr
    assert result.json["ok"] is True and result.json["problem_count"] == 0


def charge(fake: FakePaystack, reference: str) -> dict[str, Any]:
    """The payer pays at the hosted checkout; this is the ``charge.success`` Paystack sends."""
    fake.settle(reference, "success")
    return fake.charge_event(reference)


def charge_key(event: dict[str, Any]) -> str:
    return f"charge.success:{event['data']['id']}:success"


def paystack_purchase(app: AppContext, user: str = READER) -> str:
    """A pending NGN purchase opened at the fake Paystack (in process: faster than the CLI)."""
    created = purchases.create_purchase(
        app, user_id=user, package_id=PACKAGE, currency="NGN", gateway="paystack"
    )
    assert created.purchase.status == "pending" and created.purchase.amount == NGN_PRICE
    return created.purchase.reference


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def paystack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePaystack]:
    """The fake Paystack over HTTP; the CLI, the listener and in-process code all use it."""
    fake = FakePaystack(PAYSTACK_SECRET)
    with fake.serve() as base_url:
        monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
        monkeypatch.setenv("PAYSTACK_BASE_URL", base_url)
        monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "test")
        yield fake


def paystack_hook(listener: Listener) -> str:
    return listener.url("/webhooks/paystack")


# -- 1. Stripe on localstripe ----------------------------------------------------------------


@pytest.fixture
def stripe_env(localstripe: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STRIPE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET)
    monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "test")
    return localstripe


def test_stripe_delivery_to_a_running_listener_credits_once_fails_and_refunds(
    database_url: str, stripe_env: str, tmp_path: Path
) -> None:
    app = context(database_url)
    add_reader(app)
    with Listener(database_url, tmp_path, name="stripe-listener") as listener:
        register_webhook(
            stripe_env,
            "legato-e2e",
            listener.url("/webhooks/stripe"),
            STRIPE_WEBHOOK_SECRET,
            events=["payment_intent.succeeded", "payment_intent.payment_failed"],
        )
        created = run_cli(
            database_url,
            *("purchases", "create", "--user", READER, "--package", PACKAGE),
            *("--currency", "USD", "--gateway", "stripe", "--payment-method", "pm_card_visa"),
        )
        assert created.status == 0, created.stderr
        reference = created.json["reference"]
        intent_id = created.json["provider_payment_id"]
        assert intent_id.startswith("pi_") and created.json["amount"] == 999

        # localstripe posts the signed payment_intent.succeeded about a second later.
        wait_for(
            lambda: get_purchase(app, reference).status == "succeeded",
            f"payment_intent.succeeded to credit {reference}\n{listener.log()}",
        )
        verified = run_cli(database_url, "purchases", "verify", reference)
        assert verified.status == 0, verified.stderr
        assert (verified.json["status"], verified.json["credited"]) == ("succeeded", False)

        listed, balance, ledger = run_cli_parallel(
            database_url,
            ["webhooks", "list", "--provider", "stripe"],
            ["balances", "show", "--user", READER],
            ["ledger", "verify"],
        )
        assert listed.status == 0, listed.stderr
        [event] = [e for e in listed.json["events"] if e["object_ref"] == intent_id]
        assert (event["type"], event["status"]) == ("payment_intent.succeeded", "applied")
        assert event["outcome"] == f"purchase {reference} succeeded (credited)"
        assert balance.json["coins"] == {"paid": COINS, "bonus": BONUS, "total": COINS + BONUS}
        assert_cli_ledger_ok(ledger)
        assert credit_entries(app, reference) == 1
        assert get_purchase(app, reference).gateway_payment_id == intent_id

        # A declined card: the CLI says PAYMENT_FAILED, and payment_intent.payment_failed
        # arrives later and is applied to the same purchase. Nothing is credited.
        declined = run_cli(
            database_url,
            *("purchases", "create", "--user", READER, "--package", "starter"),
            *("--currency", "USD", "--gateway", "stripe"),
            *("--payment-method", "pm_card_chargeCustomerFail"),
        )
        assert declined.status == 7, declined.stderr
        assert declined.error["code"] == "PAYMENT_FAILED"
        [failed] = app.run(
            lambda s: purchases.list_purchases(s, user_id=READER, status="failed"), write=False
        )
        assert failed.package_id == "starter"
        failed_event = wait_for(
            lambda: [
                e
                for e in events(app, "stripe")
                if e["type"] == "payment_intent.payment_failed" and e["status"] == "applied"
            ],
            f"payment_intent.payment_failed for {failed.reference}\n{listener.log()}",
        )
        assert len(failed_event) == 1
        after = get_purchase(app, failed.reference)
        assert after.status == "failed" and after.entry_id is None
        assert after.gateway_payment_id == failed_event[0]["object_ref"]
        assert credit_entries(app, failed.reference) == 0
        assert coins(app) == (COINS, BONUS)

        # A refund through Stripe claws every coin back.
        refunded = run_cli(database_url, "purchases", "refund", reference, "--yes")
        assert refunded.status == 0, refunded.stderr
        assert refunded.json["gateway_refund_id"].startswith("re_")
        assert (refunded.json["status"], refunded.json["purchase_status"]) == (
            "succeeded",
            "refunded",
        )
        assert (refunded.json["coins_clawed_back"], refunded.json["coins_lost"]) == (
            COINS + BONUS,
            0,
        )
        balance, ledger = run_cli_parallel(
            database_url, ["balances", "show", "--user", READER], ["ledger", "verify"]
        )
        assert balance.json["coins"] == {"paid": 0, "bonus": 0, "total": 0}
        assert balance.json["lifetime"]["purchased"] == COINS
        assert_cli_ledger_ok(ledger)
        assert credit_entries(app, reference) == 1
        assert len(get_purchase(app, reference).refunds) == 1


# -- 2. Paystack against the fake, through the running listener ---------------------------------


def test_paystack_charge_webhook_credits_once_refuses_tampering_and_races_verify(
    database_url: str, paystack: FakePaystack, tmp_path: Path
) -> None:
    app = context(database_url)
    add_reader(app)
    with Listener(database_url, tmp_path, name="paystack-listener") as listener:
        hook = paystack_hook(listener)
        created = run_cli(
            database_url,
            *("purchases", "create", "--user", READER, "--package", PACKAGE),
            *("--currency", "NGN", "--gateway", "paystack"),
        )
        assert created.status == 0, created.stderr
        reference = created.json["reference"]
        assert created.json["payment_url"].startswith("https://checkout.paystack.test/")
        event = charge(paystack, reference)

        # Paystack retries the same notification: the first applies, the rest are duplicates.
        answers = [post_paystack_webhook(hook, event, PAYSTACK_SECRET) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200], answers[0].text
        assert [a.json()["duplicate"] for a in answers] == [False, True, True]
        assert {a.json()["status"] for a in answers} == {"applied"}
        assert get_purchase(app, reference).status == "succeeded"
        assert coins(app) == (COINS, BONUS)

        verified = run_cli(database_url, "purchases", "verify", reference)
        assert verified.status == 0, verified.stderr
        assert verified.json["credited"] is False
        assert credit_entries(app, reference) == 1
        assert coins(app) == (COINS, BONUS)
        [stored] = events(app, "paystack")
        assert (stored["event_key"], stored["status"]) == (charge_key(event), "applied")

        # A body changed after signing is refused and leaves no trace.
        other = paystack_purchase(app)
        other_event = charge(paystack, other)
        body, headers = sign_paystack_webhook(other_event, PAYSTACK_SECRET)
        tampered = body.replace(b'"amount": 1500000', b'"amount": 150000000', 1)
        assert tampered != body
        refused = httpx.post(hook, content=tampered, headers=headers, timeout=10)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "INVALID_SIGNATURE"
        assert len(events(app, "paystack")) == 1
        assert get_purchase(app, other).status == "pending"
        assert credit_entries(app, other) == 0

        # The webhook racing `purchases verify`: both are let through to the purchase at once
        # (see `held_race`), each side first in line in turn. One credit between them.
        verify_cli = lambda: run_cli(database_url, "purchases", "verify", other)  # noqa: E731
        result, answer = held_race(app, paystack, other, hook, other_event, verify_cli)
        assert result.status == 0, result.stderr
        assert answer.status_code == 200, answer.text
        assert_one_credit(app, other, other_event, result.json["credited"])

        races = [paystack_purchase(app) for _ in range(4)]
        for n, race in enumerate(races):
            event = charge(paystack, race)
            settled, answer = held_race(
                app,
                paystack,
                race,
                hook,
                event,
                lambda reference=race: purchases.verify_purchase(app, reference),
                verify_first=n % 2 == 0,
            )
            assert answer.status_code == 200, answer.text
            assert_one_credit(app, race, event, settled.credited)

    credited = 2 + len(races)
    assert coins(app) == (COINS * credited, BONUS * credited)
    assert_cli_ledger_ok(run_cli(database_url, "ledger", "verify"))


@contextmanager
def purchase_held(app: AppContext, reference: str) -> Iterator[None]:
    """Hold the purchase row (PostgreSQL: ``FOR UPDATE``; SQLite: the write lock) so that both
    racers get as far as crediting and wait there; on exit they go at the same moment."""
    connection = app.engine.connect().execution_options(legato_write=True)
    with connection, connection.begin():
        connection.execute(
            select(PURCHASES.c.reference)
            .where(PURCHASES.c.reference == reference)
            .with_for_update()
        )
        yield


def lock_waiters(app: AppContext) -> int:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with app.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def wait_blocked(app: AppContext, waiters: int, arrived: Callable[[], bool]) -> None:
    """Until ``waiters`` racers wait on the held purchase. PostgreSQL shows waiting sessions;
    SQLite does not, so wait for the racer's sign of life and give it a moment more."""
    if is_postgres(app.engine):
        wait_for(lambda: lock_waiters(app) >= waiters, f"{waiters} sessions waiting on a lock")
    else:
        wait_for(arrived, "the racer to arrive")
        time.sleep(0.5)


def held_race(
    app: AppContext,
    fake: FakePaystack,
    reference: str,
    hook: str,
    event: dict[str, Any],
    verify: Callable[[], T],
    *,
    verify_first: bool = True,
) -> tuple[T, httpx.Response]:
    """``verify`` (which asks the fake Paystack, then settles) and the webhook delivery of
    ``event``, both held at the purchase until both are there, then released together."""
    asked = fake.count("GET", "/transaction/verify/")
    posted = threading.Event()

    def deliver() -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            posted.set()
            return post_paystack_webhook(hook, event, PAYSTACK_SECRET, client=http)

    def verify_arrived() -> bool:
        return fake.count("GET", "/transaction/verify/") > asked

    with ThreadPoolExecutor(2) as pool, purchase_held(app, reference):
        if verify_first:
            verified = pool.submit(verify)
            wait_blocked(app, 1, verify_arrived)
            delivered = pool.submit(deliver)
            wait_blocked(app, 2, posted.is_set)
        else:
            delivered = pool.submit(deliver)
            wait_blocked(app, 1, posted.is_set)
            verified = pool.submit(verify)
            wait_blocked(app, 2, verify_arrived)
    return verified.result(), delivered.result()


def assert_one_credit(
    app: AppContext, reference: str, event: dict[str, Any], verify_credited: bool
) -> None:
    """The purchase is credited by exactly one of the verify and the webhook."""
    assert get_purchase(app, reference).status == "succeeded"
    assert credit_entries(app, reference) == 1
    [row] = [e for e in events(app, "paystack") if e["event_key"] == charge_key(event)]
    assert row["status"] == "applied"
    assert row["outcome"].startswith(f"purchase {reference} succeeded")
    webhook_credited = row["outcome"].endswith("(credited)")
    assert verify_credited != webhook_credited, (verify_credited, row["outcome"])


# -- 3. One event at two listener processes at once -------------------------------------------


def deliver_at_once(event: dict[str, Any], listeners: list[Listener]) -> list[httpx.Response]:
    """One POST of ``event`` per listener in the list, all released by one barrier."""
    barrier = threading.Barrier(len(listeners))

    def deliver(listener: Listener) -> httpx.Response:
        # Longer than the listener's SQLite busy timeout (30 s): under a loaded CI a writer may
        # wait that long for the lock, and its answer (200, or an error the test reports) must
        # arrive rather than the client giving up first.
        with httpx.Client(timeout=120) as http:
            http.get(listener.url("/healthz"))  # connect first: the barrier then times the POST
            barrier.wait(timeout=10)
            return post_paystack_webhook(
                paystack_hook(listener), event, PAYSTACK_SECRET, client=http
            )

    with ThreadPoolExecutor(len(listeners)) as pool:
        return list(pool.map(deliver, listeners))


def test_same_event_at_two_listeners_at_once_credits_once(
    database_url: str, paystack: FakePaystack, tmp_path: Path
) -> None:
    app = context(database_url)
    add_reader(app)
    first = Listener(database_url, tmp_path, name="first")
    second = Listener(database_url, tmp_path, name="second", workers=2)
    with first, second:
        references = [paystack_purchase(app) for _ in range(4)]
        deliveries = 8  # per event, half to each listener, all released at once
        for reference in references:
            event = charge(paystack, reference)
            answers = deliver_at_once(event, [first, second] * (deliveries // 2))
            assert [a.status_code for a in answers] == [200] * deliveries, answers[0].text
            assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * (
                deliveries - 1
            )
            assert credit_entries(app, reference) == 1
            rows = [e for e in events(app, "paystack") if e["event_key"] == charge_key(event)]
            assert len(rows) == 1 and rows[0]["status"] == "applied"
            assert rows[0]["attempts"] == 1

    assert len(events(app)) == len(references)
    n = len(references)
    assert coins(app) == (COINS * n, BONUS * n)
    assert_ledger_ok(app)


# -- 4. A listener killed mid-request -----------------------------------------------------------


def test_listener_killed_mid_request_loses_nothing_it_acknowledged(
    database_url: str, paystack: FakePaystack, tmp_path: Path
) -> None:
    app = context(database_url)
    add_reader(app)
    references = [paystack_purchase(app) for _ in range(30)]
    bodies = [charge(paystack, reference) for reference in references]
    kill_after = 8

    listener = Listener(database_url, tmp_path, name="doomed").start()
    acked: set[int] = set()
    refused: dict[int, str] = {}
    lock = threading.Lock()
    enough, killed = threading.Event(), threading.Event()

    def deliver(index: int) -> None:
        if enough.is_set():  # what is in flight now meets the kill; the rest come after it
            killed.wait(timeout=60)
        try:
            with httpx.Client(timeout=30) as http:
                answer = post_paystack_webhook(
                    paystack_hook(listener), bodies[index], PAYSTACK_SECRET, client=http
                )
        except httpx.TransportError as error:  # killed under us, or not listening any more
            with lock:
                refused[index] = type(error).__name__
            return
        with lock:
            if answer.status_code == 200:
                acked.add(index)
                if len(acked) >= kill_after:
                    enough.set()
            else:
                refused[index] = f"HTTP {answer.status_code}"

    try:
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(deliver, i) for i in range(len(bodies))]
            assert enough.wait(timeout=60), f"no {kill_after} acknowledgements\n{listener.log()}"
            listener.kill()
            killed.set()
            for future in futures:
                future.result()
    finally:
        listener.kill()

    assert kill_after <= len(acked) < len(bodies), (len(acked), refused)
    assert set(refused) == set(range(len(bodies))) - acked
    assert all(not reason.startswith("HTTP") for reason in refused.values()), refused

    # Before any redelivery: everything acknowledged is stored and applied, credited once.
    stored = {e["event_key"]: e for e in events(app, "paystack")}
    for index in acked:
        row = stored.get(charge_key(bodies[index]))
        assert row is not None and row["status"] == "applied", (index, row)
        assert credit_entries(app, references[index]) == 1
    assert all(row["status"] == "applied" for row in stored.values()), stored
    assert_ledger_ok(app)

    # The provider retries everything; a fresh listener takes over.
    with (
        Listener(database_url, tmp_path, name="restarted") as restarted,
        httpx.Client(timeout=30) as http,
    ):
        answers = [
            post_paystack_webhook(paystack_hook(restarted), body, PAYSTACK_SECRET, client=http)
            for body in bodies
        ]
    assert [a.status_code for a in answers] == [200] * len(bodies)
    for index in acked:
        assert answers[index].json()["duplicate"] is True
    rows = events(app, "paystack")
    assert len(rows) == len(bodies)
    assert {row["status"] for row in rows} == {"applied"}
    for reference in references:
        assert get_purchase(app, reference).status == "succeeded"
        assert credit_entries(app, reference) == 1
    n = len(references)
    assert coins(app) == (COINS * n, BONUS * n)
    assert_cli_ledger_ok(run_cli(database_url, "ledger", "verify"))
