"""Tips and gifts: exact splits, spend order, idempotency, and refusals that change nothing."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from legato_pay import chart
from legato_pay.config import load_settings
from legato_pay.earnings.holds import split_value
from legato_pay.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    LegatoError,
    NotFound,
)
from legato_pay.ledger import get_entry
from legato_pay.readers.tips import send_gift, send_tip
from tests.cli_runner import run_cli
from tests.factories import (
    add_content,
    add_users,
    assert_ledger_ok,
    fund,
    transfer_count,
)
from tests.factories import balance_json as balance
from tests.factories import wallet_json as wallet

TIPS_REVENUE = chart.platform_revenue("tips", "USD")


@pytest.fixture
def people(app: Any) -> Any:
    add_users(app, r1="reader", r2="reader", w1="writer", w2="writer")
    fund(app, "r1", paid=500, bonus=30)
    return app


def tip(app: Any, settings: Any = None, **kwargs: Any) -> Any:
    kwargs.setdefault("from_user", "r1")
    kwargs.setdefault("to_user", "w1")
    return app.run(lambda s: send_tip(s, settings or app.settings, actor="test", **kwargs))


def gift(app: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("from_user", "r1")
    kwargs.setdefault("to_user", "r2")
    return app.run(lambda s: send_gift(s, app.settings, actor="test", **kwargs))


def snapshot(app: Any) -> tuple[Any, ...]:
    """Everything a refused tip or gift must leave as it was."""
    return (wallet(app, "r1"), wallet(app, "r2"), transfer_count(app))


# --- tips -------------------------------------------------------------------------------------


def test_tip_of_100_coins_splits_100_cents_by_the_tips_split(people: Any) -> None:
    view = tip(people, coins=100, message="thanks!")

    assert (view.value, view.value_currency) == (100, "USD")
    assert (view.writer_share, view.platform_share) == (70, 30)
    assert view.writer_share + view.platform_share == view.value
    # bonus first by default: all 30 bonus coins, then 70 paid
    assert (view.bonus_coins, view.paid_coins) == (30, 70)
    assert wallet(people, "r1") == {"paid": 430, "bonus": 0, "total": 430}
    earnings = balance(people, chart.writer_earnings("w1", "USD"))
    assert (earnings["posted"], earnings["pending"], earnings["available"]) == (0, 70, 0)
    assert balance(people, TIPS_REVENUE)["posted"] == 30
    assert balance(people, chart.COINS_REDEEMED)["posted"] == 100
    assert transfer_count(people) == 1
    writer_entry = people.run(lambda s: get_entry(s, view.writer_entry_id), write=False)
    assert writer_entry.status == "pending"
    assert "hold_until" in writer_entry.metadata
    assert_ledger_ok(people)


def test_tip_split_follows_configuration_and_adds_up(people: Any) -> None:
    settings = load_settings(
        overrides={"revenue": {"tips": {"writer_percent": "66.67", "platform_percent": "33.33"}}}
    )
    view = tip(people, settings, coins=7)
    assert (view.writer_share, view.platform_share) == (5, 2)  # 4.6669 / 2.3331
    assert balance(people, TIPS_REVENUE)["posted"] == 2
    assert balance(people, chart.writer_earnings("w1", "USD"))["pending"] == 5
    assert_ledger_ok(people)


def test_tip_of_one_coin_goes_wholly_to_the_writer(people: Any) -> None:
    view = tip(people, coins=1)
    assert (view.writer_share, view.platform_share) == (1, 0)
    entry = people.run(lambda s: get_entry(s, view.entry_id), write=False)
    assert {leg.currency for leg in entry.legs} == {"COIN"}  # no platform legs for 0 cents
    assert_ledger_ok(people)


def test_all_to_the_platform_posts_no_writer_entry(people: Any) -> None:
    settings = load_settings(
        overrides={"revenue": {"tips": {"writer_percent": "0", "platform_percent": "100"}}}
    )
    view = tip(people, settings, coins=10)
    assert (view.writer_share, view.platform_share, view.writer_entry_id) == (0, 10, None)
    assert balance(people, TIPS_REVENUE)["posted"] == 10
    assert_ledger_ok(people)


def test_without_a_refund_hold_the_writer_share_is_available_at_once(people: Any) -> None:
    settings = load_settings(overrides={"content": {"refund_hold_days": 0}})
    tip(people, settings, coins=50)
    earnings = balance(people, chart.writer_earnings("w1", "USD"))
    assert (earnings["posted"], earnings["pending"], earnings["available"]) == (35, 0, 35)


def test_paid_first_spend_order(people: Any) -> None:
    settings = load_settings(overrides={"coins": {"spend_order": "paid_first"}})
    view = tip(people, settings, coins=100)
    assert (view.paid_coins, view.bonus_coins) == (100, 0)
    assert wallet(people, "r1") == {"paid": 400, "bonus": 30, "total": 430}


def test_tip_for_content_checks_the_content_and_its_writer(people: Any) -> None:
    add_content(people, "c1", "w1")
    before = snapshot(people)
    with pytest.raises(NotFound) as missing:
        tip(people, coins=10, content_id="nope")
    assert missing.value.code == "CONTENT_NOT_FOUND"
    with pytest.raises(InvalidInput) as mismatch:
        tip(people, to_user="w2", coins=10, content_id="c1")
    assert mismatch.value.code == "CONTENT_WRITER_MISMATCH"
    assert snapshot(people) == before

    view = tip(people, coins=10, content_id="c1")
    assert view.content_id == "c1"


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"to_user": "r2"}, InvalidInput, "NOT_A_WRITER"),
        ({"to_user": "ghost"}, NotFound, "USER_NOT_FOUND"),
        ({"from_user": "ghost"}, NotFound, "USER_NOT_FOUND"),
        ({"from_user": "w1", "to_user": "w1"}, InvalidInput, "SELF_TRANSFER"),
        ({"coins": "-5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": "1.5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": "0"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": 2.0}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": 531}, InsufficientFunds, "INSUFFICIENT_FUNDS"),
        ({"key": " "}, InvalidInput, "INVALID_IDEMPOTENCY_KEY"),
    ],
)
def test_refused_tips_change_nothing(
    people: Any, kwargs: dict[str, Any], error: type[LegatoError], code: str
) -> None:
    before = snapshot(people)
    kwargs.setdefault("coins", 10)
    with pytest.raises(error) as raised:
        tip(people, **kwargs)
    assert raised.value.code == code
    assert snapshot(people) == before
    assert_ledger_ok(people)


def test_tip_with_a_key_is_idempotent(people: Any) -> None:
    first = tip(people, coins=100, key="tip-1", message="hi")
    again = tip(people, coins=100, key="tip-1", message="hi")
    assert again.replayed and not first.replayed
    assert again.as_json() | {"replayed": False} == first.as_json()
    assert wallet(people, "r1")["total"] == 430  # spent once
    assert transfer_count(people) == 1

    with pytest.raises(IdempotencyConflict):
        tip(people, coins=101, key="tip-1", message="hi")
    with pytest.raises(IdempotencyConflict):
        tip(people, coins=100, key="tip-1", message="other")
    with pytest.raises(IdempotencyConflict):
        gift(people, coins=100, key="tip-1")
    assert wallet(people, "r1")["total"] == 430
    assert_ledger_ok(people)


def test_concurrent_tips_never_overdraw(people: Any) -> None:
    """Twelve tips of 100 from a wallet of 530: exactly five succeed, whatever the interleaving."""
    outcomes: list[str] = []

    def one(index: int) -> None:
        try:
            tip(people, coins=100, key=f"burst-{index}")
            outcomes.append("ok")
        except InsufficientFunds:
            outcomes.append("insufficient")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["insufficient"] * 7 + ["ok"] * 5
    assert wallet(people, "r1")["total"] == 30
    assert balance(people, chart.writer_earnings("w1", "USD"))["pending"] == 350
    assert_ledger_ok(people)


def test_concurrent_retries_of_one_key_spend_once(people: Any) -> None:
    results: list[Any] = []

    def one() -> None:
        results.append(tip(people, coins=100, key="same"))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({view.id for view in results}) == 1
    assert sum(not view.replayed for view in results) == 1
    assert wallet(people, "r1")["total"] == 430
    assert transfer_count(people) == 1


@hypothesis_settings(deadline=None)  # loads settings per example; a busy CI box is slow
@given(
    value=st.integers(min_value=0, max_value=10**12),
    writer_percent=st.decimals(min_value=0, max_value=100, places=4),
)
def test_tip_split_always_sums_to_the_value(value: int, writer_percent: Decimal) -> None:
    settings = load_settings(
        overrides={
            "revenue": {
                "tips": {
                    "writer_percent": str(writer_percent),
                    "platform_percent": str(100 - writer_percent),
                }
            }
        }
    )
    split = split_value(settings, "tips", value, "USD")
    assert split.writer + split.platform == value
    assert split.writer >= 0 and split.platform >= 0
    exact_writer = Decimal(value) * writer_percent / 100
    assert abs(split.writer - exact_writer) < 1


# --- gifts ------------------------------------------------------------------------------------


def test_gift_keeps_paid_paid_and_bonus_bonus(people: Any) -> None:
    view = gift(people, coins=60)
    assert (view.bonus_coins, view.paid_coins) == (30, 30)
    assert wallet(people, "r1") == {"paid": 470, "bonus": 0, "total": 470}
    assert wallet(people, "r2") == {"paid": 30, "bonus": 30, "total": 60}
    entry = people.run(lambda s: get_entry(s, view.entry_id), write=False)
    assert len(entry.legs) == 4
    assert transfer_count(people) == 1
    assert_ledger_ok(people)


def test_gift_with_a_key_is_idempotent(people: Any) -> None:
    first = gift(people, coins=40, key="g-1")
    again = gift(people, coins=40, key="g-1")
    assert again.replayed and again.id == first.id
    assert (again.paid_coins, again.bonus_coins) == (first.paid_coins, first.bonus_coins)
    assert wallet(people, "r2")["total"] == 40
    with pytest.raises(IdempotencyConflict):
        gift(people, coins=40, to_user="w1", key="g-1")


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"to_user": "r1"}, InvalidInput, "SELF_TRANSFER"),
        ({"to_user": "ghost"}, NotFound, "USER_NOT_FOUND"),
        ({"coins": "-1"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": "0.5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"coins": 531}, InsufficientFunds, "INSUFFICIENT_FUNDS"),
    ],
)
def test_refused_gifts_change_nothing(
    people: Any, kwargs: dict[str, Any], error: type[LegatoError], code: str
) -> None:
    before = snapshot(people)
    kwargs.setdefault("coins", 10)
    with pytest.raises(error) as raised:
        gift(people, **kwargs)
    assert raised.value.code == code
    assert snapshot(people) == before


# --- command line -----------------------------------------------------------------------------


def test_cli_tips_and_gifts(people: Any, database_url: str) -> None:
    add_content(people, "c1", "w1")
    sent = run_cli(
        database_url,
        "tips", "send", "--from", "r1", "--to", "w1", "--coins", "100",
        "--content", "c1", "--message", "great chapter", "--key", "k1",
    )  # fmt: skip
    assert sent.status == 0, sent.stderr
    data = sent.json
    assert {k: data[k] for k in ("kind", "from", "to", "coins", "content", "value")} == {
        "kind": "tip",
        "from": "r1",
        "to": "w1",
        "coins": 100,
        "content": "c1",
        "value": {"amount": 100, "currency": "USD", "display": "1.00 USD"},
    }
    assert (data["writer_share"]["amount"], data["platform_share"]["amount"]) == (70, 30)
    assert (data["paid_coins"], data["bonus_coins"], data["replayed"]) == (70, 30, False)

    replay = run_cli(
        database_url,
        "tips", "send", "--from", "r1", "--to", "w1", "--coins", "100",
        "--content", "c1", "--message", "great chapter", "--key", "k1",
    )  # fmt: skip
    assert replay.status == 0 and replay.json["id"] == data["id"] and replay.json["replayed"]
    conflict = run_cli(
        database_url, "tips", "send", "--from", "r1", "--to", "w1", "--coins", "5", "--key", "k1"
    )
    assert conflict.status == 6 and conflict.error["code"] == "IDEMPOTENCY_CONFLICT"

    given_ = run_cli(database_url, "gifts", "send", "--from", "r1", "--to", "r2", "--coins", "50")
    assert given_.status == 0, given_.stderr
    assert {k: given_.json[k] for k in ("kind", "from", "to", "coins", "paid_coins")} == {
        "kind": "gift",
        "from": "r1",
        "to": "r2",
        "coins": 50,
        "paid_coins": 50,
    }
    assert wallet(people, "r1")["total"] == 380
    assert wallet(people, "r2") == {"paid": 50, "bonus": 0, "total": 50}
    assert_ledger_ok(people)


def test_cli_tip_table_shows_formatted_amounts_only(people: Any, database_url: str) -> None:
    table = run_cli(
        database_url, "tips", "send", "--from", "r1", "--to", "w1", "--coins", "10", output="table"
    )
    assert table.status == 0, table.stderr
    shown = dict(line.split(None, 1) for line in table.stdout.splitlines() if " " in line.strip())
    assert (shown["value"], shown["writer_share"], shown["platform_share"]) == (
        "0.10 USD",
        "0.07 USD",
        "0.03 USD",
    )


TIP = ["tips", "send", "--from", "r1", "--coins"]


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        ([*TIP, "-5", "--to", "w1"], 3, "INVALID_AMOUNT"),
        ([*TIP, "2.5", "--to", "w1"], 3, "INVALID_AMOUNT"),
        ([*TIP, "5", "--to", "r2"], 3, "NOT_A_WRITER"),
        ([*TIP, "5", "--to", "nobody"], 5, "USER_NOT_FOUND"),
        ([*TIP, "9999", "--to", "w1"], 4, "INSUFFICIENT_FUNDS"),
        (["gifts", "send", "--from", "r1", "--to", "r1", "--coins", "5"], 3, "SELF_TRANSFER"),
        (["tips", "send", "--from", "w1", "--to", "w1", "--coins", "5"], 3, "SELF_TRANSFER"),
        ([*TIP, "5", "--to", "w1\n"], 3, "VALIDATION_ERROR"),
        ([*TIP, "5", "--to", "w1", "--content", "c\x001"], 3, "INVALID_CONTENT_ID"),
        ([*TIP, "5", "--to", "w1", "--message", "hi\x00"], 3, "VALIDATION_ERROR"),
        ([*TIP, "5", "--to", "w1", "--message", "m" * 1001], 3, "VALIDATION_ERROR"),
    ],
)
def test_cli_refusals_exit_with_their_status_and_change_nothing(
    people: Any, database_url: str, args: list[str], status: int, code: str
) -> None:
    before = snapshot(people)
    result = run_cli(database_url, *args)
    assert result.status == status, result.stderr
    assert result.error["code"] == code
    assert result.stdout == ""
    assert snapshot(people) == before
    assert_ledger_ok(people)
