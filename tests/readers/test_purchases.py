"""Coin purchases: create, verify (credit exactly once, also concurrently), flag, refund, CLI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.context import AppContext
from legato_pay.errors import (
    AccountNotFound,
    GatewayError,
    IdempotencyConflict,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    LegatoError,
    NotFound,
    RefundFailed,
)
from legato_pay.gateways.base import PaymentStatus
from legato_pay.ledger import EntrySpec, get_balance, get_entry, post_entries, verify_ledger
from legato_pay.ledger.types import utcnow
from legato_pay.readers import fx, packages, purchases
from legato_pay.readers.users import add_user
from legato_pay.store.tables import ENTRIES
from tests.cli_runner import run_cli, run_parallel

READER = "reader1"


# -- helpers ---------------------------------------------------------------------------------


def in_process(database_url: str) -> AppContext:
    return AppContext.create(database_url=database_url, actor="test")


def add_reader(app: AppContext, user: str = READER) -> None:
    app.run(lambda s: add_user(s, user))


def available(app: AppContext, code: str) -> int:
    try:
        return app.run(lambda s: get_balance(s, code).available, write=False)
    except AccountNotFound:
        return 0


def wallet(app: AppContext, user: str = READER) -> tuple[int, int]:
    return available(app, chart.wallet_paid(user)), available(app, chart.wallet_bonus(user))


def assert_ledger_ok(app: AppContext) -> None:
    report = app.run(lambda s: verify_ledger(s), write=False)
    assert report.ok, report.problems


def entry_count(app: AppContext, key: str | None = None) -> int:
    query = select(func.count()).select_from(ENTRIES)
    if key is not None:
        query = query.where(ENTRIES.c.idempotency_key == key)
    return app.run(lambda s: s.execute(query).scalar_one(), write=False)


def all_purchases(app: AppContext) -> list[purchases.PurchaseView]:
    return app.run(lambda s: purchases.list_purchases(s), write=False)


def snapshot(app: AppContext) -> dict[str, Any]:
    """Everything a refused command must leave untouched."""
    from legato_pay.ledger import list_accounts

    def work(session: Any) -> dict[str, Any]:
        accounts = {a.code: get_balance(session, a.code).as_json() for a in list_accounts(session)}
        bought = [
            (p.reference, p.status, p.refunded_amount, p.entry_id, len(p.refunds))
            for p in (purchases.get_purchase(session, r.reference) for r in all_purchases(app))
        ]
        return {"accounts": accounts, "purchases": bought}

    return {**app.run(work, write=False), "entries": entry_count(app)}


def buy(app: AppContext, package: str = "popular", **options: Any) -> purchases.PurchaseView:
    options.setdefault("user_id", READER)
    return purchases.create_purchase(app, package_id=package, **options).purchase


def buy_and_verify(app: AppContext, package: str = "popular", **options: Any) -> Any:
    purchase = buy(app, package, **options)
    return purchases.verify_purchase(app, purchase.reference).purchase


def spend(app: AppContext, coins: int, user: str = READER) -> None:
    """Spend coins the way content unlocks do (bonus first), so a refund finds them gone."""
    from legato_pay.readers.coins import lock_wallet, plan_spend, spend_legs

    def work(session: Any) -> None:
        chart.open_system(session, chart.COINS_REDEEMED, chart.COIN)
        plan = plan_spend(lock_wallet(session, user), coins, "bonus_first", user_id=user)
        legs = tuple(spend_legs(user, plan, chart.COINS_REDEEMED))
        post_entries(session, [EntrySpec(legs=legs)], actor="test")

    app.run(work)


# -- creating and crediting ------------------------------------------------------------------


def test_purchase_is_credited_exactly_once(app: AppContext) -> None:
    add_reader(app)
    created = purchases.create_purchase(app, user_id=READER, package_id="popular")
    purchase = created.purchase
    assert purchase.reference.startswith("pur_")
    assert (purchase.status, purchase.amount, purchase.currency) == ("pending", 999, "USD")
    assert (purchase.coins, purchase.bonus_coins, created.price_source) == (1000, 100, "usd")
    assert purchase.gateway_payment_id and purchase.client_secret and purchase.payment_url
    assert wallet(app) == (0, 0)

    first = purchases.verify_purchase(app, purchase.reference)
    assert (first.credited, first.purchase.status) == (True, "succeeded")
    for _ in range(3):
        again = purchases.verify_purchase(app, purchase.reference)
        assert (again.credited, again.purchase.entry_id) == (False, first.purchase.entry_id)
    assert wallet(app) == (1000, 100)
    assert available(app, chart.gateway_cash("sandbox", "USD")) == 999
    assert available(app, chart.coin_sales("USD")) == 999
    assert entry_count(app, f"purchase:{purchase.reference}") == 1
    entry = app.run(lambda s: get_entry(s, first.purchase.entry_id), write=False)
    assert sorted((leg.account, leg.side, leg.amount) for leg in entry.legs) == [
        ("gateway:sandbox:USD", "debit", 999),
        ("platform:coin_sales:USD", "credit", 999),
        ("platform:coins:issuance", "debit", 1100),
        ("user:reader1:coins:bonus", "credit", 100),
        ("user:reader1:coins:paid", "credit", 1000),
    ]
    assert_ledger_ok(app)


def test_create_with_a_key_returns_the_same_purchase(app: AppContext) -> None:
    add_reader(app)
    first = purchases.create_purchase(app, user_id=READER, package_id="basic", key="order-1")
    again = purchases.create_purchase(app, user_id=READER, package_id="basic", key="order-1")
    assert (again.purchase.reference, again.replayed, first.replayed) == (
        first.purchase.reference,
        True,
        False,
    )
    assert again.purchase.client_secret == first.purchase.client_secret
    with pytest.raises(IdempotencyConflict) as caught:
        purchases.create_purchase(app, user_id=READER, package_id="premium", key="order-1")
    assert caught.value.details["differs"] == ["package"]
    assert len(all_purchases(app)) == 1


def test_converted_price_records_the_rate(app: AppContext) -> None:
    add_reader(app)
    app.run(
        lambda s: packages.create_package(
            s, app.settings, "usd-only", name="USD only", coins=700, price_usd=699
        )
    )
    rate = app.run(lambda s: fx.set_rate(s, app.settings, "USD", "CAD", "1.3712"))
    created = purchases.create_purchase(app, user_id=READER, package_id="usd-only", currency="cad")
    # 6.99 × 1.3712 = 9.584688 CAD → 958.4688 cents → 958 (half-even, once)
    assert (created.purchase.amount, created.purchase.currency) == (958, "CAD")
    assert (created.purchase.rate_id, created.purchase.rate, created.price_source) == (
        rate.id,
        "1.3712",
        "converted",
    )
    # A later rate does not change a purchase already priced.
    app.run(lambda s: fx.set_rate(s, app.settings, "USD", "CAD", "2"))
    verified = purchases.verify_purchase(app, created.purchase.reference)
    assert verified.credited and verified.purchase.rate_id == rate.id
    assert available(app, chart.gateway_cash("sandbox", "CAD")) == 958
    assert wallet(app) == (700, 0)
    assert_ledger_ok(app)


def test_a_stale_or_missing_rate_refuses_the_purchase(app: AppContext) -> None:
    add_reader(app)
    app.run(
        lambda s: packages.create_package(
            s, app.settings, "usd-only", name="USD only", coins=700, price_usd=699
        )
    )
    with pytest.raises(InvalidInput) as caught:
        buy(app, "usd-only", currency="CAD")
    assert caught.value.code == "NO_RATE"
    stale_at = utcnow() - timedelta(hours=25)
    app.run(lambda s: fx.set_rate(s, app.settings, "USD", "CAD", "1.37", as_of=stale_at))
    with pytest.raises(InvalidInput) as caught:
        buy(app, "usd-only", currency="CAD")
    assert (caught.value.code, caught.value.exit_status) == ("STALE_RATE", 3)
    assert all_purchases(app) == []


@pytest.mark.parametrize(
    ("options", "error", "code"),
    [
        ({"user_id": "ghost"}, NotFound, "USER_NOT_FOUND"),
        ({"package_id": "nope"}, NotFound, "NOT_FOUND"),
        ({"package_id": "archived"}, InvalidState, "PACKAGE_ARCHIVED"),
        ({"currency": "EUR"}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"currency": "XYZ"}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"currency": "COIN"}, InvalidCurrency, "INVALID_CURRENCY"),
        ({"gateway": "bitpay"}, InvalidInput, "VALIDATION_ERROR"),
        ({"payment_method": "pm_cash"}, InvalidInput, "VALIDATION_ERROR"),
        ({"key": "k" * 101}, InvalidInput, "INVALID_IDEMPOTENCY_KEY"),
    ],
)
def test_create_refuses_bad_requests(
    app: AppContext, options: dict[str, Any], error: type, code: str
) -> None:
    add_reader(app)
    app.run(
        lambda s: packages.create_package(
            s, app.settings, "archived", name="A", coins=1, price_usd=1
        )
    )
    app.run(lambda s: packages.archive_package(s, app.settings, "archived"))
    arguments = {"user_id": READER, "package_id": "popular"} | options
    with pytest.raises(error) as caught:
        purchases.create_purchase(app, **arguments)
    assert caught.value.code == code
    assert all_purchases(app) == []


def test_multi_currency_off_accepts_only_the_base_currency(database_url: str) -> None:
    from legato_pay.config import load_settings

    settings = load_settings(overrides={"features": {"enable_multi_currency": False}})
    app = AppContext(settings=settings, database_url=database_url, actor="test")
    add_reader(app)
    with pytest.raises(InvalidCurrency) as caught:
        buy(app, currency="NGN")
    assert caught.value.code == "MULTI_CURRENCY_DISABLED"
    assert buy(app, currency="USD").amount == 999


# -- failures, mismatches and the webhook path ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "paid"),
    [
        ("pm_sandbox_underpay", {"amount": 998, "currency": "USD", "display": "9.98 USD"}),
        ("pm_sandbox_wrong_currency", {"amount": 999, "currency": "EUR", "display": "9.99 EUR"}),
    ],
)
def test_a_mismatched_payment_is_flagged_and_credits_nothing(
    app: AppContext, method: str, paid: dict[str, Any]
) -> None:
    add_reader(app)
    purchase = buy(app, payment_method=method)
    for _ in range(2):
        with pytest.raises(GatewayError) as caught:
            purchases.verify_purchase(app, purchase.reference)
        assert (caught.value.code, caught.value.exit_status) == ("PAYMENT_FAILED", 7)
        details = caught.value.details
        assert details["expected"] == {"amount": 999, "currency": "USD", "display": "9.99 USD"}
        assert details["paid"] == paid
        assert details["status"] == "flagged"
    stored = app.run(lambda s: purchases.get_purchase(s, purchase.reference), write=False)
    assert (stored.status, stored.entry_id) == ("flagged", None)
    assert "expected 9.99 USD" in (stored.failure_reason or "")
    assert wallet(app) == (0, 0)
    assert entry_count(app) == 0
    with pytest.raises(InvalidState):  # nothing was paid in, so nothing can be refunded
        purchases.refund_purchase(app, purchase.reference)


def test_failed_and_pending_payments(app: AppContext) -> None:
    add_reader(app)
    failed = buy(app, payment_method="pm_sandbox_fail")
    with pytest.raises(GatewayError) as caught:
        purchases.verify_purchase(app, failed.reference)
    assert caught.value.code == "PAYMENT_FAILED"
    assert caught.value.details["failure_reason"] == "card_declined"
    assert app.run(lambda s: purchases.get_purchase(s, failed.reference)).status == "failed"

    pending = buy(app, payment_method="pm_sandbox_pending")
    result = purchases.verify_purchase(app, pending.reference)
    assert (result.purchase.status, result.credited) == ("pending", False)
    assert wallet(app) == (0, 0) and entry_count(app) == 0
    with pytest.raises(NotFound):
        purchases.verify_purchase(app, "pur_doesnotexist")


def test_webhook_path_settles_inside_the_callers_transaction(app: AppContext) -> None:
    add_reader(app)
    good = buy(app)
    bad = buy(app)

    def status(purchase: Any, amount: int) -> PaymentStatus:
        paid = purchase.gateway_payment_id  # the payment recorded for it (another is a mismatch)
        return PaymentStatus("sandbox", purchase.reference, paid, "succeeded", amount, "USD")

    def deliver(session: Any) -> tuple[str, str]:
        outcomes = []
        for purchase, amount in ((good, 999), (good, 999), (bad, 5)):
            try:
                outcomes.append(
                    str(purchases.apply_payment_status(session, status(purchase, amount)))
                )
            except LegatoError as error:  # what the inbox handler does: record and go on
                outcomes.append(error.code)
        return outcomes[1], outcomes[2]

    second, third = app.run(deliver)
    assert "no change" in second and third == "PAYMENT_FAILED"
    assert app.run(lambda s: purchases.get_purchase(s, bad.reference)).status == "flagged"
    assert app.run(lambda s: purchases.get_purchase(s, good.reference)).status == "succeeded"
    assert wallet(app) == (1000, 100)
    with pytest.raises(NotFound):
        app.run(
            lambda s: purchases.apply_payment_status(
                s, PaymentStatus("sandbox", "pur_x", None, "succeeded", 1, "USD")
            )
        )
    assert_ledger_ok(app)


# -- refunds ---------------------------------------------------------------------------------


@given(
    total=st.integers(min_value=0, max_value=10**9),
    parts=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=8),
)
def test_partial_refund_shares_add_up_to_every_coin(total: int, parts: list[int]) -> None:
    paid = sum(parts)
    taken, refunded = [], 0
    for part in parts:
        taken.append(purchases.clawback_due(total, paid, refunded, refunded + part))
        refunded += part
    assert all(due >= 0 for due in taken)
    assert sum(taken) == total  # refunds that add up to the whole take exactly every coin
    assert all(due <= total * part // paid + 1 for due, part in zip(taken, parts, strict=True))


def test_full_refund_claws_back_unspent_coins_and_records_the_loss(app: AppContext) -> None:
    add_reader(app)
    purchase = buy_and_verify(app)
    spend(app, 300)  # bonus first: 100 bonus + 200 paid
    assert wallet(app) == (800, 0)

    outcome = purchases.refund_purchase(app, purchase.reference)
    refund = outcome.refund
    assert (refund.amount, refund.coins_clawed_back, refund.coins_lost) == (999, 800, 300)
    assert (outcome.purchase.status, outcome.purchase.refunded_amount) == ("refunded", 999)
    assert (outcome.purchase.coins_clawed_back, outcome.purchase.coins_lost) == (800, 300)
    assert wallet(app) == (0, 0)  # never negative
    entry = app.run(lambda s: get_entry(s, refund.entry_id), write=False)
    # 999 split by coins returned vs lost, 800:300 → 726.5… : 272.4… → 727 + 272
    assert sorted((leg.account, leg.side, leg.amount) for leg in entry.legs) == [
        ("gateway:sandbox:USD", "credit", 999),
        ("platform:coin_sales:USD", "debit", 727),
        ("platform:coins:issuance", "credit", 800),
        ("platform:refund_losses:USD", "debit", 272),
        ("user:reader1:coins:paid", "debit", 800),
    ]
    assert available(app, chart.gateway_cash("sandbox", "USD")) == 0
    assert available(app, chart.refund_losses("USD")) == 272
    with pytest.raises(InvalidState):
        purchases.refund_purchase(app, purchase.reference)
    assert_ledger_ok(app)


def test_partial_refunds_take_every_coin_exactly_once(app: AppContext) -> None:
    add_reader(app)
    purchase = buy_and_verify(app)
    first = purchases.refund_purchase(app, purchase.reference, amount="1.00", key="r1")
    # floor(1000 × 100/999) = 100 paid, floor(100 × 100/999) = 10 bonus
    assert (first.refund.coins_clawed_back, first.purchase.status) == (110, "partially_refunded")
    assert wallet(app) == (900, 90)
    replay = purchases.refund_purchase(app, purchase.reference, amount="1.00", key="r1")
    assert (replay.replayed, replay.refund.id) == (True, first.refund.id)
    with pytest.raises(IdempotencyConflict):
        purchases.refund_purchase(app, purchase.reference, amount="2.00", key="r1")
    second = purchases.refund_purchase(app, purchase.reference, amount="3.33", key="r2")
    assert second.refund.coins_clawed_back == 366  # 433 + 43 cumulative − 110 already taken
    last = purchases.refund_purchase(app, purchase.reference, key="r3")
    assert (last.refund.amount, last.purchase.status) == (566, "refunded")
    assert last.purchase.coins_clawed_back == 1100 and last.purchase.coins_lost == 0
    assert wallet(app) == (0, 0)
    shown = app.run(lambda s: purchases.get_purchase(s, purchase.reference), write=False)
    assert [r.amount for r in shown.refunds] == [100, 333, 566]
    assert_ledger_ok(app)


@pytest.mark.parametrize(
    ("amount", "error", "code"),
    [
        ("10.00", InvalidAmount, "INVALID_AMOUNT"),
        ("1.001", InvalidAmount, "INVALID_AMOUNT"),
        ("-1", InvalidAmount, "INVALID_AMOUNT"),
        ("0", InvalidAmount, "INVALID_AMOUNT"),
        ("abc", InvalidAmount, "INVALID_AMOUNT"),
    ],
)
def test_refund_refuses_bad_amounts_and_changes_nothing(
    app: AppContext, amount: str, error: type, code: str
) -> None:
    add_reader(app)
    purchase = buy_and_verify(app)
    before = snapshot(app)
    with pytest.raises(error) as caught:
        purchases.refund_purchase(app, purchase.reference, amount=amount)
    assert caught.value.code == code
    assert snapshot(app) == before
    assert_ledger_ok(app)


def test_refund_of_a_purchase_that_was_not_paid_is_invalid_state(app: AppContext) -> None:
    add_reader(app)
    pending = buy(app)
    with pytest.raises(InvalidState) as caught:
        purchases.refund_purchase(app, pending.reference)
    assert caught.value.details["status"] == "pending"
    with pytest.raises(NotFound):
        purchases.refund_purchase(app, "pur_nope")


def test_a_declined_refund_releases_its_reservation(app: AppContext) -> None:
    add_reader(app)
    purchase = buy_and_verify(app, payment_method="pm_sandbox_refund_fail")
    before = wallet(app)
    with pytest.raises(RefundFailed) as caught:
        purchases.refund_purchase(app, purchase.reference, amount="5.00", key="r1")
    assert (caught.value.code, caught.value.exit_status) == ("REFUND_FAILED", 7)
    stored = app.run(lambda s: purchases.get_purchase(s, purchase.reference), write=False)
    assert (stored.status, stored.refunded_amount) == ("succeeded", 0)
    assert [(r.status, r.amount) for r in stored.refunds] == [("failed", 500)]
    assert wallet(app) == before
    assert_ledger_ok(app)


# -- command line ----------------------------------------------------------------------------


def test_purchases_cli_end_to_end(database_url: str) -> None:
    app = in_process(database_url)
    add_reader(app)
    created = run_cli(
        database_url, "purchases", "create", "--user", READER, "--package", "popular",
        "--currency", "NGN", "--key", "order-7",
    )  # fmt: skip
    assert created.status == 0, created.stderr
    data = created.json
    reference = data["reference"]
    assert reference.startswith("pur_") and data["status"] == "pending"
    assert (data["amount"], data["currency"], data["display"]) == (1500000, "NGN", "15,000.00 NGN")
    assert (data["coins"], data["bonus_coins"], data["price_source"]) == (1000, 100, "fixed")
    assert data["client_secret"] and data["payment_url"] and data["provider_payment_id"]

    verified = run_cli(database_url, "purchases", "verify", reference)
    assert verified.status == 0, verified.stderr
    assert (verified.json["status"], verified.json["credited"]) == ("succeeded", True)
    again = run_cli(database_url, "purchases", "verify", reference)
    assert (again.status, again.json["credited"]) == (0, False)
    assert wallet(app) == (1000, 100)

    refunded = run_cli(
        database_url, "purchases", "refund", reference, "--amount", "5000.00", "--key", "rf1",
        "--yes",
    )  # fmt: skip
    assert refunded.status == 0, refunded.stderr
    assert refunded.json["amount"] == 500000
    assert refunded.json["purchase_status"] == "partially_refunded"
    assert refunded.json["coins_clawed_back"] == 366  # floor(1000/3) + floor(100/3)

    listed = run_cli(database_url, "purchases", "list", "--user", READER)
    assert [p["reference"] for p in listed.json["purchases"]] == [reference]
    assert listed.json["next_cursor"] is None
    filtered = run_cli(database_url, "purchases", "list", "--status", "succeeded")
    assert filtered.json == {"purchases": [], "next_cursor": None}
    shown = run_cli(database_url, "purchases", "show", reference)
    assert shown.status == 0, shown.stderr
    detail = shown.json
    assert detail["provider_payment_id"] == data["provider_payment_id"]
    assert detail["client_secret"] == data["client_secret"]
    assert detail["entry_id"] == verified.json["entry_id"]
    assert [(r["key"], r["amount"], r["status"]) for r in detail["refunds"]] == [
        ("rf1", 500000, "succeeded")
    ]
    assert_ledger_ok(app)


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (["create", "--user", "ghost", "--package", "popular"], 5, "USER_NOT_FOUND"),
        (["create", "--user", READER, "--package", "nope"], 5, "NOT_FOUND"),
        (["create", "--user", READER, "--package", "old"], 6, "PACKAGE_ARCHIVED"),
        (["create", "--user", READER, "--package", "popular", "-c", "XYZ"], 3, "INVALID_CURRENCY"),
        (["create", "--user", READER, "--package", "usd-only", "-c", "CAD"], 3, "STALE_RATE"),
        (["create", "--user", READER, "--package", "basic", "--key", "k1"], 6,
         "IDEMPOTENCY_CONFLICT"),
        (["verify", "PENDING_UNDERPAID"], 7, "PAYMENT_FAILED"),
        (["verify", "pur_missing"], 5, "NOT_FOUND"),
        (["show", "PAID\n"], 5, "NOT_FOUND"),
        (["show", "pur_\x01" + "x" * 5000], 5, "NOT_FOUND"),
        (["refund", "PAID", "--amount", "100.00", "--yes"], 3, "INVALID_AMOUNT"),
        (["refund", "PAID", "--amount", "-1", "--yes"], 3, "INVALID_AMOUNT"),
        (["refund", "PAID", "--amount", "0.005", "--yes"], 3, "INVALID_AMOUNT"),
        (["refund", "PAID", "--amount", "1e0", "--yes"], 3, "INVALID_AMOUNT"),
        (["refund", "PAID", "--amount", "1.00"], 2, "USAGE_ERROR"),
        (["refund", "PENDING_UNDERPAID", "--yes"], 6, "INVALID_STATE"),
        (["cancel", "PENDING_UNDERPAID", "--yes"], 6, "INVALID_STATE"),
        (["cancel", "PAID"], 2, "USAGE_ERROR"),
        (["list", "--status", "lost"], 3, "VALIDATION_ERROR"),
        (["list", "--user", "nobody"], 5, "USER_NOT_FOUND"),
        (["list", "--from", "2026-02-01", "--to", "2026-01-01"], 3, "INVALID_TIME"),
        (["list", "--from", "yesterday"], 3, "INVALID_TIME"),
        (["list", "--cursor", "not-a-cursor"], 3, "VALIDATION_ERROR"),
        (["list", "--limit", "0"], 3, "VALIDATION_ERROR"),
        (["list", "--limit", "99999999999999999999999"], 3, "VALIDATION_ERROR"),
    ],
)  # fmt: skip
def test_purchases_cli_bad_input_changes_nothing(
    database_url: str, args: list[str], status: int, code: str
) -> None:
    app = in_process(database_url)
    add_reader(app)
    settings = app.settings
    app.run(lambda s: packages.create_package(s, settings, "old", name="O", coins=1, price_usd=1))
    app.run(lambda s: packages.archive_package(s, settings, "old"))
    app.run(
        lambda s: packages.create_package(s, settings, "usd-only", name="U", coins=7, price_usd=699)
    )
    stale_at = utcnow() - timedelta(hours=48)
    app.run(lambda s: fx.set_rate(s, settings, "USD", "CAD", "1.37", as_of=stale_at))
    paid = buy_and_verify(app, key="k1")
    underpaid = buy(app, "basic", payment_method="pm_sandbox_underpay")
    references = {"PAID": paid.reference, "PENDING_UNDERPAID": underpaid.reference}
    if args[0] != "verify":  # flag it first, so the refusal below is the one under test
        with pytest.raises(GatewayError):
            purchases.verify_purchase(app, underpaid.reference)
    before = snapshot(app)

    result = run_cli(database_url, "purchases", *[references.get(a, a) for a in args])
    assert result.status == status, result.stderr
    assert result.error["code"] == code
    assert result.stdout == ""
    after = snapshot(app)
    if args[0] == "verify" and code == "PAYMENT_FAILED":  # the only change: the flag itself
        flagged = [p for p in after["purchases"] if p[0] == underpaid.reference]
        assert flagged[0][1] == "flagged"
        after["purchases"] = before["purchases"]
    assert after == before
    assert_ledger_ok(app)


# -- concurrency -----------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_verifies_credit_once(database_url: str) -> None:
    import json

    app = in_process(database_url)
    add_reader(app)
    purchase = buy(app, "premium")
    # Released together through the start gate, so the verifies race for the one credit.
    outcomes = run_parallel(database_url, [["purchases", "verify", purchase.reference]] * 8)
    results = []
    for status, stdout, stderr in outcomes:
        assert status == 0, stderr
        results.append(json.loads(stdout))
    assert sum(result["credited"] for result in results) == 1
    assert {result["status"] for result in results} == {"succeeded"}
    assert len({result["entry_id"] for result in results}) == 1
    assert wallet(app) == (2500, 375)
    assert entry_count(app) == 1
    assert available(app, chart.gateway_cash("sandbox", "USD")) == 2499
    assert_ledger_ok(app)


@pytest.mark.slow
def test_concurrent_refunds_never_return_more_than_was_paid(database_url: str) -> None:
    import json

    app = in_process(database_url)
    add_reader(app)
    purchase = buy_and_verify(app)
    refund = ["purchases", "refund", purchase.reference, "--amount", "6.00", "--yes"]
    outcomes = run_parallel(database_url, [refund] * 4)
    succeeded = [json.loads(out) for status, out, _ in outcomes if status == 0]
    refused = [json.loads(err)["error"]["code"] for status, _, err in outcomes if status != 0]
    assert len(succeeded) == 1, outcomes
    assert refused == ["INVALID_AMOUNT"] * 3
    stored = app.run(lambda s: purchases.get_purchase(s, purchase.reference), write=False)
    assert (stored.refunded_amount, stored.status) == (600, "partially_refunded")
    assert wallet(app) == (1000 - 600, 100 - 60)
    assert_ledger_ok(app)


@pytest.mark.slow
def test_concurrent_cancel_and_verify_never_both_win(database_url: str) -> None:
    """A cancel racing the verify of a paid purchase: whichever lands first, the purchase is
    credited once or cancelled, never cancelled after being credited."""
    import json

    app = in_process(database_url)
    add_reader(app)
    purchase = buy(app)  # the sandbox took the payment; nobody verified yet
    outcomes = run_parallel(
        database_url,
        [["purchases", "cancel", purchase.reference, "--yes"]] * 2
        + [["purchases", "verify", purchase.reference]] * 2,
    )
    cancels, verifies = outcomes[:2], outcomes[2:]
    assert all(status == 0 for status, _, _ in verifies), verifies
    for status, _, stderr in cancels:  # the gateway says paid: refused, whatever the order
        assert (status, json.loads(stderr)["error"]["code"]) == (6, "INVALID_STATE")
    stored = app.run(lambda s: purchases.get_purchase(s, purchase.reference), write=False)
    assert stored.status == "succeeded" and wallet(app) == (1000, 100)
    assert entry_count(app, f"purchase:{purchase.reference}") == 1
    assert_ledger_ok(app)
