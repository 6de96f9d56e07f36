"""Access decisions and unlocks: exact splits, spend order, no-ops, failures that change
nothing, the access commands end to end, and concurrent unlocks from real processes."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from legato_pay import chart
from legato_pay.config import load_settings
from legato_pay.context import AppContext
from legato_pay.earnings.holds import split_value
from legato_pay.errors import IdempotencyConflict, InsufficientFunds, NotFound
from legato_pay.ledger import get_entry
from legato_pay.ledger.types import utcnow
from legato_pay.readers.access import UNLOCKS, check_access, check_access_bulk, unlock_content
from legato_pay.readers.subscriptions import cancel_subscription, start_subscription
from tests.cli_runner import run_cli
from tests.factories import (
    add_item,
    assert_ledger_ok,
    balance,
    fund,
    make_users,
    snapshot,
    wallet,
)
from tests.readers.at_once import run_at_once


@pytest.fixture
def shop(app: Any) -> Any:
    """A writer w1 with chapter c1 (10 coins), story s1 (50), free f1 and premium-tier p1;
    reader r1 holds 20 paid and 5 bonus coins."""
    make_users(app, "w1", kind="writer")
    make_users(app, "r1", "r2")
    add_item(app, "c1")
    add_item(app, "s1", content_type="story")
    add_item(app, "f1", price=0)
    add_item(app, "p1", tier="premium")
    fund(app, "r1", paid=20, bonus=5)
    return app


def unlock(app: Any, user: str, content: str, **kwargs: Any) -> Any:
    return app.run(lambda s: unlock_content(s, app.settings, user, content, actor="test", **kwargs))


def at_once(database_url: str, tmp_path: Path, commands: list[list[str]]) -> list[Any]:
    """(status, stdout, stderr) of each command, all released together."""
    return [
        (r["status"], r["stdout"], r["stderr"])
        for r in run_at_once(database_url, tmp_path, commands)
    ]


def with_settings(app: Any, **overrides: Any) -> AppContext:
    return dataclasses.replace(app, settings=load_settings(overrides=overrides))


def test_unlocking_a_chapter_splits_its_value_exactly(shop: Any) -> None:
    result = unlock(shop, "r1", "c1")
    assert (result.unlocked, result.reason, result.charged) == (True, "unlocked", 10)
    assert (result.value, result.writer_share, result.platform_share) == (10, 7, 3)
    assert result.writer_share_status == "pending"
    assert (result.bonus_coins, result.paid_coins) == (5, 5)  # bonus first by default
    assert wallet(shop, "r1").as_json() == {"paid": 15, "bonus": 0, "total": 15}
    assert balance(shop, chart.COINS_REDEEMED).posted == 10
    assert balance(shop, chart.platform_revenue("content", "USD")).posted == 3
    earnings = balance(shop, chart.writer_earnings("w1", "USD"))
    assert (earnings.posted, earnings.pending, earnings.available) == (0, 7, 0)
    value = balance(shop, chart.coin_value("USD"))
    assert value.posted == -3 and value.pending == -7  # funds both shares

    entry = shop.run(lambda s: get_entry(s, result.entry_id), write=False)
    assert entry.idempotency_key == "unlock:r1:c1" and entry.status == "posted"
    assert sorted((leg.account, leg.side, leg.amount) for leg in entry.legs) == sorted(
        [
            ("user:r1:coins:bonus", "debit", 5),
            ("user:r1:coins:paid", "debit", 5),
            ("platform:coins:redeemed", "credit", 10),
            ("platform:coin_value:USD", "debit", 3),
            ("platform:revenue:content:USD", "credit", 3),
        ]
    )
    writer = shop.run(lambda s: get_entry(s, result.writer_entry_id), write=False)
    assert writer.idempotency_key == "unlock:r1:c1:writer" and writer.status == "pending"
    assert writer.metadata["hold_until"]
    row = shop.run(lambda s: s.execute(select(UNLOCKS)).one(), write=False)
    assert (row.coins, row.value, row.writer_share, row.platform_share) == (10, 10, 7, 3)
    assert (row.bonus_coins_used, row.paid_coins_used) == (5, 5)
    assert check_reason(shop, "r1", "c1") == (True, "purchased")
    assert_ledger_ok(shop)


def test_a_story_and_a_one_coin_item_split_by_largest_remainder(shop: Any) -> None:
    fund(shop, "r1", paid=100)
    story = unlock(shop, "r1", "s1")
    assert (story.value, story.writer_share, story.platform_share) == (50, 35, 15)
    add_item(shop, "tiny", price=1)
    tiny = unlock(shop, "r1", "tiny")
    # 0.7 and 0.3 of a cent: the larger remainder wins the cent, the platform gets nothing.
    assert (tiny.value, tiny.writer_share, tiny.platform_share) == (1, 1, 0)
    entry = shop.run(lambda s: get_entry(s, tiny.entry_id), write=False)
    assert {leg.currency for leg in entry.legs} == {"COIN"}
    assert_ledger_ok(shop)


@given(
    coins=st.integers(min_value=1, max_value=10**12),
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_writer_and_platform_shares_always_add_up_to_the_value(
    coins: int, percent: Decimal
) -> None:
    writer_percent = str(percent)
    platform_percent = str(Decimal(100) - percent)
    settings = load_settings(
        environ={},
        overrides={
            "revenue": {
                "content": {
                    "writer_percent": writer_percent,
                    "platform_percent": platform_percent,
                }
            }
        },
    )
    value = coins * settings.coins.value_minor
    split = split_value(settings, "content", value, "USD")
    assert split.writer + split.platform == value
    assert split.writer >= 0 and split.platform >= 0
    exact = Decimal(value) * percent / 100
    assert abs(Decimal(split.writer) - exact) < 1  # each share within a cent of its exact part


def test_paid_first_spend_order(shop: Any) -> None:
    paid_first = with_settings(shop, coins={"spend_order": "paid_first"})
    result = unlock(paid_first, "r1", "c1")
    assert (result.paid_coins, result.bonus_coins) == (10, 0)
    assert wallet(shop, "r1").as_json() == {"paid": 10, "bonus": 5, "total": 15}
    second = unlock(paid_first, "r1", "p1")
    assert (second.paid_coins, second.bonus_coins) == (10, 0)
    fund(shop, "r1", paid=0, bonus=20)
    add_item(shop, "c9", price=12)
    third = unlock(paid_first, "r1", "c9")  # 0 paid left: the rest comes from bonus
    assert (third.paid_coins, third.bonus_coins) == (0, 12)
    assert_ledger_ok(shop)


def test_bonus_first_spends_bonus_then_paid(shop: Any) -> None:
    first = unlock(shop, "r1", "c1")
    assert (first.bonus_coins, first.paid_coins) == (5, 5)
    second = unlock(shop, "r1", "p1")
    assert (second.bonus_coins, second.paid_coins) == (0, 10)
    assert wallet(shop, "r1").total == 5


def test_unlocking_again_charges_nothing(shop: Any) -> None:
    first = unlock(shop, "r1", "c1")
    before = snapshot(shop)
    again = unlock(shop, "r1", "c1")
    assert (again.unlocked, again.reason, again.charged) == (False, "already_purchased", 0)
    assert again.entry_id == first.entry_id
    assert snapshot(shop) == before


def test_free_content_charges_nothing(shop: Any) -> None:
    before = snapshot(shop)
    result = unlock(shop, "r1", "f1")
    assert (result.unlocked, result.reason, result.charged) == (False, "free", 0)
    assert snapshot(shop) == before
    assert check_reason(shop, "r2", "f1") == (True, "free")


def test_subscription_of_the_tier_or_higher_grants_access(shop: Any) -> None:
    add_item(shop, "v1", tier="vip")
    add_item(shop, "b1", tier="basic")
    start_subscription(shop, "r1", tier="premium")
    assert check_reason(shop, "r1", "p1") == (True, "subscription")
    assert check_reason(shop, "r1", "b1") == (True, "subscription")
    assert check_reason(shop, "r1", "v1") == (False, "tier_too_low")
    assert check_reason(shop, "r1", "c1") == (False, "not_purchased")  # no tier: coins only
    assert check_reason(shop, "r2", "p1") == (False, "not_purchased")

    before = snapshot(shop)
    covered = unlock(shop, "r1", "p1")
    assert (covered.unlocked, covered.reason, covered.charged) == (False, "subscription", 0)
    assert snapshot(shop) == before
    bought = unlock(shop, "r1", "v1")  # too low a tier: buying it with coins still works
    assert (bought.unlocked, bought.charged) == (True, 10)
    assert check_reason(shop, "r1", "v1") == (True, "purchased")

    shop.run(lambda s: cancel_subscription(s, "r1"))
    assert check_reason(shop, "r1", "p1") == (False, "not_purchased")
    assert check_reason(shop, "r1", "v1") == (True, "purchased")  # what was bought stays


def test_an_expired_subscription_grants_nothing(shop: Any) -> None:
    started = utcnow() - timedelta(days=31)  # period_days is 30
    start_subscription(shop, "r1", tier="vip", now=started)
    assert check_reason(shop, "r1", "p1") == (False, "not_purchased")
    during = started + timedelta(days=29)
    decision = shop.run(lambda s: check_access(s, shop.settings, "r1", "p1", now=during))
    assert (decision.allowed, decision.reason) == (True, "subscription")


def test_too_few_coins_is_insufficient_funds_and_changes_nothing(shop: Any) -> None:
    before = snapshot(shop)
    with pytest.raises(InsufficientFunds) as raised:
        unlock(shop, "r1", "s1")  # 50 coins, holds 25
    assert raised.value.details["available"] == 25
    assert snapshot(shop) == before
    with pytest.raises(InsufficientFunds):
        unlock(shop, "r2", "c1")  # never held a coin
    assert check_reason(shop, "r1", "s1") == (False, "not_purchased")


def test_unknown_user_or_content_is_not_found_and_changes_nothing(shop: Any) -> None:
    before = snapshot(shop)
    for user, content, code in [
        ("ghost", "c1", "USER_NOT_FOUND"),
        ("r1", "nope", "CONTENT_NOT_FOUND"),
    ]:
        with pytest.raises(NotFound) as raised:
            unlock(shop, user, content)
        assert raised.value.code == code
        with pytest.raises(NotFound):
            shop.run(lambda s, u=user, c=content: check_access(s, shop.settings, u, c))
    assert snapshot(shop) == before


def test_a_callers_key_names_one_unlock_only(shop: Any) -> None:
    first = unlock(shop, "r1", "c1", key="req-1")
    assert first.unlocked
    entry = shop.run(lambda s: get_entry(s, first.entry_id), write=False)
    assert entry.idempotency_key == "req-1"
    again = unlock(shop, "r1", "c1", key="req-1")
    assert (again.unlocked, again.charged) == (False, 0)
    before = snapshot(shop)
    with pytest.raises(IdempotencyConflict):
        unlock(shop, "r1", "p1", key="req-1")  # same price, other content: still refused
    assert snapshot(shop) == before


def check_reason(app: Any, user: str, content: str) -> tuple[bool, str]:
    decision = app.run(lambda s: check_access(s, app.settings, user, content), write=False)
    return decision.allowed, decision.reason


def test_bulk_check_answers_in_order_with_a_fixed_number_of_queries(shop: Any) -> None:
    unlock(shop, "r1", "c1")
    for number in range(300):
        add_item(shop, f"bulk-{number:03d}")
    ids = ["c1", "f1", "p1", "c1", *(f"bulk-{n:03d}" for n in range(300))]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(shop.engine, "before_cursor_execute", count)
    try:
        decisions = shop.run(lambda s: check_access_bulk(s, shop.settings, "r1", ids), write=False)
    finally:
        event.remove(shop.engine, "before_cursor_execute", count)
    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 3, selects
    assert [d.content for d in decisions] == ids
    assert [(d.allowed, d.reason) for d in decisions[:4]] == [
        (True, "purchased"),
        (True, "free"),
        (False, "not_purchased"),
        (True, "purchased"),
    ]
    assert all(d.reason == "not_purchased" for d in decisions[4:])
    with pytest.raises(NotFound) as raised:
        shop.run(lambda s: check_access_bulk(s, shop.settings, "r1", ["c1", "x", "y"]))
    assert raised.value.details["missing"] == ["x", "y"]


def test_access_commands_end_to_end(shop: Any, tmp_path: Path) -> None:
    url = shop.database_url
    check = run_cli(url, "access", "check", "--user", "r1", "--content", "c1")
    assert check.status == 0, check.stderr
    assert check.json == {
        "user": "r1",
        "content": "c1",
        "allowed": False,
        "reason": "not_purchased",
    }

    unlocked = run_cli(url, "access", "unlock", "--user", "r1", "--content", "c1")
    assert unlocked.status == 0, unlocked.stderr
    body = unlocked.json
    assert (body["unlocked"], body["reason"], body["charged"]) == (True, "unlocked", 10)
    assert body["coins"] == {"paid": 5, "bonus": 5}
    assert body["value"] == {"amount": 10, "currency": "USD", "display": "0.10 USD"}
    assert body["writer_share"]["amount"] == 7 and body["platform_share"]["amount"] == 3
    assert body["writer_share_status"] == "pending"

    again = run_cli(url, "access", "unlock", "--user", "r1", "--content", "c1")
    assert again.status == 0
    assert (again.json["charged"], again.json["reason"]) == (0, "already_purchased")
    free = run_cli(url, "access", "unlock", "--user", "r1", "--content", "f1")
    assert (free.status, free.json["charged"], free.json["reason"]) == (0, 0, "free")

    ids = tmp_path / "ids.txt"
    ids.write_text("p1\n\n# a comment\nf1\n", encoding="utf-8")
    bulk = run_cli(url, "access", "check-bulk", "--user", "r1", "c1", "--file", str(ids))
    assert bulk.status == 0, bulk.stderr
    assert bulk.json == {
        "user": "r1",
        "results": [
            {"content": "c1", "allowed": True, "reason": "purchased"},
            {"content": "p1", "allowed": False, "reason": "not_purchased"},
            {"content": "f1", "allowed": True, "reason": "free"},
        ],
    }
    table = run_cli(url, "access", "unlock", "--user", "r1", "--content", "c1", output="table")
    assert table.status == 0 and "nothing charged" in table.stdout
    verify = run_cli(url, "ledger", "verify")
    assert verify.status == 0 and verify.json["ok"] is True


def test_access_command_errors_change_nothing(shop: Any) -> None:
    url = shop.database_url
    before = snapshot(shop)
    cases = [
        (["unlock", "--user", "r1", "--content", "s1"], 4, "INSUFFICIENT_FUNDS"),
        (["unlock", "--user", "ghost", "--content", "c1"], 5, "USER_NOT_FOUND"),
        (["unlock", "--user", "r1", "--content", "nope"], 5, "CONTENT_NOT_FOUND"),
        (["unlock", "--user", "r1\n", "--content", "c1"], 3, "VALIDATION_ERROR"),
        (["unlock", "--user", "r1", "--content", "c1\n"], 3, "INVALID_CONTENT_ID"),
        (["unlock", "r1", "c1"], 2, "USAGE_ERROR"),
        (["check", "--user", "ghost", "--content", "c1"], 5, "USER_NOT_FOUND"),
        (["check", "--user", "r1", "--content", "nope"], 5, "CONTENT_NOT_FOUND"),
        (["check", "--user", "r1", "--content", "c\x001"], 3, "INVALID_CONTENT_ID"),
        (["check-bulk", "--user", "r1", "c1", "nope"], 5, "CONTENT_NOT_FOUND"),
        (["check-bulk", "--user", "r1", "c1", "c1\n"], 3, "INVALID_CONTENT_ID"),
        (["check-bulk", "--user", "r1"], 3, "NO_CONTENT_IDS"),
        (["check-bulk", "--user", "r1", "--file", "/nonexistent/ids.txt"], 3, "VALIDATION_ERROR"),
        (["check-bulk", "--user", "r1", "--file", "/dev/zero"], 3, "VALIDATION_ERROR"),
    ]
    for args, status, code in cases:
        result = run_cli(url, "access", *args)
        assert result.status == status, (args, result.stderr)
        assert result.error["code"] == code, args
        assert result.stdout == ""
    assert snapshot(shop) == before
    assert wallet(shop, "r1").total == 25
    assert_ledger_ok(shop)


@pytest.mark.slow
def test_concurrent_unlocks_never_overspend(shop: Any, tmp_path: Path) -> None:
    """Eight processes released together unlock different chapters; the reader can afford
    exactly three."""
    make_users(shop, "r9")
    fund(shop, "r9", paid=20, bonus=10)  # 3 chapters of 10
    chapters = [f"race-{n}" for n in range(8)]
    for chapter in chapters:
        add_item(shop, chapter)
    results = at_once(
        shop.database_url,
        tmp_path,
        [["access", "unlock", "--user", "r9", "--content", chapter] for chapter in chapters],
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [0, 0, 0, 4, 4, 4, 4, 4], [err for _, _, err in results]
    for status, out, err in results:
        if status == 0:
            assert json.loads(out)["charged"] == 10
        else:
            assert json.loads(err)["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert wallet(shop, "r9").total == 0
    assert (
        shop.run(
            lambda s: s.execute(
                select(func.count()).select_from(UNLOCKS).where(UNLOCKS.c.user_id == "r9")
            ).scalar_one(),
            write=False,
        )
        == 3
    )
    assert balance(shop, chart.writer_earnings("w1", "USD")).pending == 21
    verify = run_cli(shop.database_url, "ledger", "verify")
    assert verify.status == 0 and verify.json["ok"] is True


@pytest.mark.slow
def test_the_same_chapter_unlocked_concurrently_is_charged_once(shop: Any, tmp_path: Path) -> None:
    results = at_once(
        shop.database_url, tmp_path, [["access", "unlock", "--user", "r1", "--content", "c1"]] * 8
    )
    assert [status for status, _, _ in results] == [0] * 8, [err for _, _, err in results]
    bodies = [json.loads(out) for _, out, _ in results]
    assert sum(body["unlocked"] for body in bodies) == 1
    assert sorted(body["charged"] for body in bodies) == [0] * 7 + [10]
    assert {body["reason"] for body in bodies if not body["unlocked"]} == {"already_purchased"}
    assert wallet(shop, "r1").total == 15
    assert balance(shop, chart.COINS_REDEEMED).posted == 10
    assert (
        shop.run(
            lambda s: s.execute(select(func.count()).select_from(UNLOCKS)).scalar_one(), write=False
        )
        == 1
    )
    verify = run_cli(shop.database_url, "ledger", "verify")
    assert verify.status == 0 and verify.json["ok"] is True


def test_a_writer_reads_their_own_content_free_and_earns_nothing_from_it(shop: Any) -> None:
    """Own content is open to its writer (``own_content``): no coins spent, no share credited."""
    fund(shop, "w1", paid=100)
    before = snapshot(shop)
    decision = shop.run(lambda s: check_access(s, shop.settings, "w1", "c1"), write=False)
    assert (decision.allowed, decision.reason) == (True, "own_content")
    result = unlock(shop, "w1", "s1")
    assert (result.unlocked, result.reason, result.charged) == (False, "own_content", 0)
    assert result.writer_share == 0 and result.entry_id is None
    assert snapshot(shop) == before
    assert wallet(shop, "w1").total == 100
    bulk = shop.run(lambda s: check_access_bulk(s, shop.settings, "w1", ["c1", "f1", "p1"]))
    assert [d.reason for d in bulk] == ["own_content", "free", "own_content"]
    make_users(shop, "w2", kind="writer")
    fund(shop, "w2", paid=100)
    other = unlock(shop, "w2", "c1")  # another writer pays like any reader
    assert (other.unlocked, other.charged, other.writer_share) == (True, 10, 7)
    assert_ledger_ok(shop)


def test_cli_own_content_unlock_is_free(shop: Any) -> None:
    fund(shop, "w1", paid=100)
    result = run_cli(shop.database_url, "access", "unlock", "--user", "w1", "--content", "c1")
    assert result.status == 0, result.stderr
    assert (result.json["reason"], result.json["charged"]) == ("own_content", 0)
    assert wallet(shop, "w1").total == 100
