"""Subscriptions: charged through the gateway into the period's pool, one active per reader,
cancel and expiry, idempotent starts, payment failures that record nothing, and the commands."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from legato_pay import chart
from legato_pay.config import load_settings
from legato_pay.errors import (
    GatewayError,
    IdempotencyConflict,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    NotFound,
)
from legato_pay.ledger import get_entry
from legato_pay.readers.subscriptions import (
    SUBSCRIPTIONS,
    active_subscription,
    cancel_subscription,
    list_subscriptions,
    start_subscription,
)
from legato_pay.store.models.readers import SandboxPayment
from tests.cli_runner import run_cli
from tests.factories import assert_ledger_ok, balance, make_users, snapshot

BOOK = SandboxPayment.__table__  # type: ignore[attr-defined]
START = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def readers(app: Any) -> Any:
    make_users(app, "r1", "r2")
    return app


def sandbox_book(app: Any) -> list[Any]:
    return app.run(lambda s: s.execute(select(BOOK).order_by(BOOK.c.created_at)).all())  # type: ignore[no-any-return]


def test_start_charges_the_tier_into_the_periods_pool(readers: Any) -> None:
    view = start_subscription(readers, "r1", tier="Premium", now=START)
    assert (view.user_id, view.tier, view.status, view.amount, view.currency) == (
        "r1",
        "premium",
        "active",
        999,
        "USD",
    )
    assert view.gateway == "sandbox" and view.gateway_payment_id.startswith("sbx_pay_")
    assert view.period == "2026-03"
    assert (view.period_start, view.period_end) == (START, START + timedelta(days=30))
    assert balance(readers, chart.subscription_pool("2026-03", "USD")).posted == 999
    assert balance(readers, chart.gateway_cash("sandbox", "USD")).posted == 999
    entry = readers.run(lambda s: get_entry(s, view.entry_id), write=False)
    assert sorted((leg.account, leg.side, leg.amount) for leg in entry.legs) == [
        ("gateway:sandbox:USD", "debit", 999),
        ("subscriptions:pool:2026-03:USD", "credit", 999),
    ]
    [payment] = sandbox_book(readers)
    assert (payment.amount, payment.currency, payment.status) == (999, "USD", "succeeded")
    assert_ledger_ok(readers)


def test_prices_per_tier_and_currency(readers: Any) -> None:
    vip = start_subscription(readers, "r1", tier="vip", currency="ngn", now=START)
    assert (vip.amount, vip.currency) == (3_000_000, "NGN")
    basic = start_subscription(readers, "r2", tier="basic", currency="CAD", now=START)
    assert (basic.amount, basic.currency) == (679, "CAD")
    assert balance(readers, chart.subscription_pool("2026-03", "NGN")).posted == 3_000_000
    assert balance(readers, chart.subscription_pool("2026-03", "CAD")).posted == 679


def test_currencies_are_checked_and_multi_currency_can_be_off(readers: Any) -> None:
    before = snapshot(readers)
    for currency in ["EUR", "XYZ"]:  # known but not accepted; unknown
        with pytest.raises(InvalidCurrency):
            start_subscription(readers, "r1", tier="basic", currency=currency)
    single = dataclasses.replace(
        readers,
        settings=load_settings(
            environ={}, overrides={"features": {"enable_multi_currency": False}}
        ),
    )
    with pytest.raises(InvalidCurrency) as raised:
        start_subscription(single, "r1", tier="basic", currency="NGN")
    assert raised.value.details["accepted"] == ["USD"]
    assert snapshot(readers) == before
    assert start_subscription(single, "r1", tier="basic").currency == "USD"


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("pm_sandbox_fail", "failed"),
        ("pm_sandbox_pending", "pending"),
        ("pm_sandbox_underpay", "succeeded"),
        ("pm_sandbox_wrong_currency", "succeeded"),
    ],
)
def test_a_payment_that_does_not_go_through_records_nothing(
    readers: Any, method: str, status: str
) -> None:
    with pytest.raises(GatewayError) as raised:
        start_subscription(readers, "r1", tier="basic", payment_method=method)
    assert raised.value.code == "PAYMENT_FAILED" and raised.value.exit_status == 7
    assert raised.value.details["status"] == status
    after = snapshot(readers)
    assert after["counts"]["subscriptions"] == 0 and after["counts"]["entries"] == 0
    assert after["balances"] == {}
    assert readers.run(lambda s: active_subscription(s, "r1")) is None


def test_one_active_subscription_per_reader(readers: Any) -> None:
    start_subscription(readers, "r1", tier="basic")
    before = snapshot(readers)
    with pytest.raises(InvalidState) as raised:
        start_subscription(readers, "r1", tier="vip")  # no upgrades: cancel first
    assert raised.value.code == "INVALID_STATE"
    assert snapshot(readers) == before  # refused before the gateway was called
    readers.run(lambda s: cancel_subscription(s, "r1"))
    assert start_subscription(readers, "r1", tier="vip").tier == "vip"


def test_an_expired_subscription_can_be_followed_by_a_new_one(readers: Any) -> None:
    old = start_subscription(readers, "r1", tier="basic", now=START)
    renewed = start_subscription(readers, "r1", tier="premium", now=START + timedelta(days=30))
    assert renewed.period == "2026-04"
    views = readers.run(
        lambda s: list_subscriptions(s, user_id="r1", now=START + timedelta(days=31))
    )
    assert [(v.id, v.status) for v in views] == [(old.id, "expired"), (renewed.id, "active")]


def test_a_start_that_loses_a_race_is_refunded(readers: Any, monkeypatch: Any) -> None:
    """Another start for the same reader commits while our payment is being verified."""
    from legato_pay import gateways

    real_get = gateways.get_gateway

    class Racing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.name = inner.name

        def create_payment(self, request: Any) -> Any:
            return self.inner.create_payment(request)

        def verify_payment(self, reference: str, payment_id: str | None) -> Any:
            monkeypatch.setattr(gateways, "get_gateway", real_get)
            start_subscription(readers, "r1", tier="basic", key="the-winner")
            return self.inner.verify_payment(reference, payment_id)

        def refund(self, **kwargs: Any) -> Any:
            return self.inner.refund(**kwargs)

    monkeypatch.setattr(gateways, "get_gateway", lambda app, name: Racing(real_get(app, name)))
    with pytest.raises(InvalidState) as raised:
        start_subscription(readers, "r1", tier="vip")
    assert raised.value.details["refunded"] is True
    book = sandbox_book(readers)
    assert sorted((row.kind, row.amount) for row in book) == [
        ("payment", 499),
        ("payment", 1999),
        ("refund", 1999),
    ]
    [only] = readers.run(lambda s: list_subscriptions(s))
    assert (only.tier, only.idempotency_key) == ("basic", "the-winner")
    assert balance(readers, chart.subscription_pool(only.period, "USD")).posted == 499


def test_a_key_makes_a_start_idempotent(readers: Any) -> None:
    first = start_subscription(readers, "r1", tier="premium", key="sub-req-1")
    again = start_subscription(readers, "r1", tier="premium", key="sub-req-1")
    assert again.id == first.id and again.replayed and not first.replayed
    assert len(sandbox_book(readers)) == 1
    assert balance(readers, chart.subscription_pool(first.period, "USD")).posted == 999
    with pytest.raises(IdempotencyConflict):
        start_subscription(readers, "r1", tier="vip", key="sub-req-1")
    with pytest.raises(IdempotencyConflict):
        start_subscription(readers, "r2", tier="premium", key="sub-req-1")


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_a_bad_key_is_refused_like_the_ledgers_and_charges_nothing(readers: Any, key: str) -> None:
    before = snapshot(readers)
    with pytest.raises(InvalidInput) as raised:
        start_subscription(readers, "r1", tier="basic", key=key)
    assert raised.value.code == "INVALID_IDEMPOTENCY_KEY"
    assert raised.value.details == {"key": key}
    assert sandbox_book(readers) == [] and snapshot(readers) == before


def test_a_bad_key_on_the_command_line_exits_3(readers: Any) -> None:
    result = run_cli(
        readers.database_url,
        "subscriptions",
        "start",
        "--user",
        "r1",
        "--tier",
        "basic",
        "--key",
        " ",
    )
    assert result.status == 3 and result.error["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert sandbox_book(readers) == []


def test_cancel_ends_access_and_refunds_nothing(readers: Any) -> None:
    view = start_subscription(readers, "r1", tier="vip")
    cancelled = readers.run(lambda s: cancel_subscription(s, "r1"))
    assert (cancelled.id, cancelled.status) == (view.id, "cancelled")
    assert cancelled.cancelled_at is not None
    assert readers.run(lambda s: active_subscription(s, "r1")) is None
    assert balance(readers, chart.subscription_pool(view.period, "USD")).posted == 1999
    with pytest.raises(InvalidState):
        readers.run(lambda s: cancel_subscription(s, "r1"))
    with pytest.raises(NotFound):
        readers.run(lambda s: cancel_subscription(s, "ghost"))


def test_list_filters_by_status_and_user(readers: Any) -> None:
    make_users(readers, "r3")
    start_subscription(readers, "r1", tier="basic", now=START - timedelta(days=60))
    start_subscription(readers, "r2", tier="premium")
    start_subscription(readers, "r3", tier="vip")
    readers.run(lambda s: cancel_subscription(s, "r3"))

    def users(**filters: Any) -> list[str]:
        return [v.user_id for v in readers.run(lambda s: list_subscriptions(s, **filters))]

    assert users() == ["r1", "r2", "r3"]
    assert users(status="active") == ["r2"]
    assert users(status="expired") == ["r1"]
    assert users(status="cancelled") == ["r3"]
    assert users(user_id="r2") == ["r2"]
    with pytest.raises(InvalidInput):
        users(status="paused")
    with pytest.raises(NotFound):
        users(user_id="ghost")


@pytest.mark.parametrize(
    ("user", "tier", "error", "code"),
    [
        ("ghost", "basic", NotFound, "USER_NOT_FOUND"),
        ("r1", "gold", InvalidInput, "UNKNOWN_TIER"),
    ],
)
def test_unknown_user_or_tier_charges_nothing(
    readers: Any, user: str, tier: str, error: type[Exception], code: str
) -> None:
    before = snapshot(readers)
    with pytest.raises(error) as raised:
        start_subscription(readers, user, tier=tier)
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert snapshot(readers) == before


def test_subscription_commands_end_to_end(readers: Any) -> None:
    url = readers.database_url
    start = ("subscriptions", "start", "--user")
    started = run_cli(url, *start, "r1", "--tier", "premium", "--key", "k1")
    assert started.status == 0, started.stderr
    body = started.json
    assert (body["user"], body["tier"], body["status"]) == ("r1", "premium", "active")
    assert body["amount"] == {"amount": 999, "currency": "USD", "display": "9.99 USD"}
    assert body["gateway"] == "sandbox" and body["replayed"] is False
    assert body["period"] == body["period_start"][:7]
    replay = run_cli(url, *start, "r1", "--tier", "premium", "--key", "k1")
    assert replay.status == 0 and replay.json["id"] == body["id"] and replay.json["replayed"]

    ngn = run_cli(
        url, *start, "r2", "--tier", "vip", "--currency", "NGN",
        "--gateway", "sandbox",
    )  # fmt: skip
    assert ngn.status == 0, ngn.stderr
    assert (ngn.json["amount"]["amount"], ngn.json["currency"]) == (3_000_000, "NGN")

    listed = run_cli(url, "subscriptions", "list", "--status", "active")
    assert [(s["user"], s["tier"]) for s in listed.json["subscriptions"]] == [
        ("r1", "premium"),
        ("r2", "vip"),
    ]
    assert listed.json["next_cursor"] is None
    first = run_cli(url, "subscriptions", "list", "--limit", "1")
    assert [s["user"] for s in first.json["subscriptions"]] == ["r1"]
    rest = run_cli(url, "subscriptions", "list", "--cursor", first.json["next_cursor"])
    assert [s["user"] for s in rest.json["subscriptions"]] == ["r2"]
    table = run_cli(url, "subscriptions", "list", output="table")
    assert "9.99 USD" in table.stdout and "999 " not in table.stdout
    csv_list = run_cli(url, "subscriptions", "list", output="csv")
    assert csv_list.stdout.splitlines()[1].split(",")[4:6] == ["9.99", "USD"]

    shown = run_cli(url, "subscriptions", "show", "--user", "r1")
    assert (shown.json["user"], shown.json["subscription"]["status"]) == ("r1", "active")
    unconfirmed = run_cli(url, "subscriptions", "cancel", "--user", "r1")
    assert (unconfirmed.status, unconfirmed.error["code"]) == (2, "USAGE_ERROR")
    cancelled = run_cli(url, "subscriptions", "cancel", "--user", "r1", "--yes")
    assert cancelled.status == 0 and cancelled.json["status"] == "cancelled"
    mine = run_cli(url, "subscriptions", "list", "--user", "r1")
    assert [s["status"] for s in mine.json["subscriptions"]] == ["cancelled"]
    after = run_cli(url, "subscriptions", "show", "--user", "r1")
    assert after.json["subscription"]["status"] == "cancelled"
    make_users(readers, "r3")
    never = run_cli(url, "subscriptions", "show", "--user", "r3")
    assert never.status == 0 and never.json == {"user": "r3", "subscription": None}
    verify = run_cli(url, "ledger", "verify")
    assert verify.status == 0 and verify.json["ok"] is True


def test_subscription_command_errors_exit_with_documented_statuses(readers: Any) -> None:
    url = readers.database_url
    start_subscription(readers, "r2", tier="basic")
    before = snapshot(readers)
    cases = [
        (["start", "--user", "ghost", "--tier", "basic"], 5, "USER_NOT_FOUND"),
        (["start", "--user", "r1", "--tier", "gold"], 3, "UNKNOWN_TIER"),
        (["start", "--user", "r1", "--tier", "basic", "--currency", "XYZ"], 3, "INVALID_CURRENCY"),
        (
            ["start", "--user", "r1", "--tier", "basic", "--payment-method", "pm_sandbox_fail"],
            7,
            None,
        ),
        (["start", "--user", "r2", "--tier", "vip"], 6, "INVALID_STATE"),
        (["start", "r1", "--tier", "basic"], 2, "USAGE_ERROR"),
        (["cancel", "--user", "r1", "--yes"], 6, "INVALID_STATE"),
        (["cancel", "--user", "ghost", "--yes"], 5, "USER_NOT_FOUND"),
        (["cancel", "--user", "r2"], 2, "USAGE_ERROR"),
        (["show", "--user", "ghost"], 5, "USER_NOT_FOUND"),
        (["list", "--status", "paused"], 3, "INVALID_STATUS"),
        (["list", "--user", "ghost"], 5, "USER_NOT_FOUND"),
        (["list", "--limit", "99999999999999999999999"], 3, "VALIDATION_ERROR"),
        (["list", "--cursor", "x"], 3, "INVALID_CURSOR"),
    ]
    for args, status, code in cases:
        result = run_cli(url, "subscriptions", *args)
        assert result.status == status, (args, result.stderr)
        assert result.stdout == ""
        assert result.error["code"] == (code or "PAYMENT_FAILED"), args
    after = snapshot(readers)
    # The declined card is in the sandbox's own book; nothing else moved.
    assert after["counts"]["sandbox_payments"] == before["counts"]["sandbox_payments"] + 1
    after["counts"]["sandbox_payments"] -= 1
    assert after == before
    rows = readers.run(lambda s: s.execute(select(SUBSCRIPTIONS)).all())
    assert [row.user_id for row in rows] == ["r2"]
