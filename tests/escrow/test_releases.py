"""Releases below and above the threshold, idempotency, bad input (documented status, nothing
changed), automatic releases, and the ESCROW_RELEASE_THRESHOLD alias."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from legato_pay.config import load_settings
from legato_pay.errors import (
    ConfigError,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    NotFound,
    UsageError,
)
from legato_pay.escrow.releases import percent_of
from legato_pay.escrow.releases_auto import complete_milestone
from tests.escrow.deposit_factory import counts
from tests.escrow.helpers import (
    BIG,
    app_funds,
    balances,
    funded_app,
    milestone,
    release,
    tales_deposit,
    with_flags,
)


def test_below_threshold_posts_at_once(app: Any) -> None:
    deposit = funded_app(app, 100_000, "40")
    view = release(app, deposit, key="r1")
    assert (view.status, view.amount, view.needs_approval) == ("posted", 40_000, False)
    assert view.destination == "app:tales:funds:USD"
    assert balances(app, deposit) == {
        "currency": "USD", "deposited": 100_000, "released": 40_000, "refunded": 0,
        "held": 0, "available": 60_000,
    }  # fmt: skip
    again = release(app, deposit, key="r1")
    assert (again.id, again.replayed) == (view.id, True)
    assert app_funds(app) == 40_000
    with pytest.raises(IdempotencyConflict):
        release(app, deposit, key="r1", percentage="10")
    partial = release(app, deposit, percentage="12.5")
    exact = release(app, deposit, amount="100.01")
    assert (partial.amount, exact.amount) == (12_500, 10_001)
    assert balances(app, deposit)["available"] == 100_000 - 40_000 - 12_500 - 10_001


def test_half_even_rounding() -> None:
    assert percent_of(3, 5000) == 2  # 1.5 -> 2
    assert percent_of(5, 5000) == 2  # 2.5 -> 2
    assert percent_of(7, 5000) == 4  # 3.5 -> 4
    assert percent_of(1001, 1250) == 125  # 125.125 -> 125


def test_above_threshold_is_held(app: Any) -> None:
    deposit = funded_app(app, BIG, "40")
    view = release(app, deposit)
    assert (view.status, view.amount, view.needs_approval) == ("held", 2_000_000, True)
    assert view.expires_at is not None
    assert balances(app, deposit) | {"currency": "USD"} == {
        "currency": "USD", "deposited": BIG, "released": 0, "refunded": 0,
        "held": 2_000_000, "available": BIG - 2_000_000,
    }  # fmt: skip
    assert app_funds(app) == 0
    with pytest.raises(InsufficientFunds):
        release(app, deposit, amount="30000.01")  # 50,000 - 20,000 held = 30,000 available
    assert release(app, deposit, amount="30000").status == "held"


def test_bad_input_changes_nothing(app: Any) -> None:
    deposit = funded_app(app)
    milestone(app, "launch", "20", complete=False)
    pending = tales_deposit(app, confirmed=False)
    before = counts(app)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"deposit": pending}, InvalidState, "INVALID_STATE"),
        ({"deposit": deposit, "milestone": "launch"}, InvalidState, "MILESTONE_NOT_COMPLETED"),
        ({"deposit": 9999}, NotFound, "DEPOSIT_NOT_FOUND"),
        ({"deposit": "x1"}, InvalidInput, "VALIDATION_ERROR"),
        ({"deposit": deposit, "milestone": "nope"}, NotFound, "MILESTONE_NOT_FOUND"),
        ({"deposit": deposit, "amount": "-5"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"deposit": deposit, "amount": "0"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"deposit": deposit, "amount": "1.001"}, InvalidAmount, "INVALID_AMOUNT"),
        ({"deposit": deposit, "percentage": "-1"}, InvalidInput, "VALIDATION_ERROR"),
        ({"deposit": deposit, "percentage": "101"}, InvalidInput, "VALIDATION_ERROR"),
        ({"deposit": deposit, "amount": "1", "percentage": "1"}, UsageError, "USAGE_ERROR"),
        ({"deposit": deposit, "amount": "1000.01"}, InsufficientFunds, "INSUFFICIENT_FUNDS"),
        ({"deposit": deposit, "key": " "}, InvalidInput, "INVALID_IDEMPOTENCY_KEY"),
    ]
    for options, error, code in cases:
        target = options.pop("deposit")
        with pytest.raises(error) as raised:
            release(app, target, **options)
        assert raised.value.code == code, options
    assert counts(app) == before
    assert balances(app, deposit)["available"] == 100_000


def test_milestone_of_another_app_is_not_found(app: Any) -> None:
    deposit = funded_app(app)
    from legato_pay.escrow.milestones import add_milestone
    from legato_pay.shares.apps import add_app

    app.run(lambda s: add_app(s, "other", name="Other", owner="olga"))
    theirs = app.run(
        lambda s: add_milestone(s, app="other", name="beta2", percent="10", actor="pm")
    )
    with pytest.raises(NotFound) as error:
        release(app, deposit, milestone=str(theirs.id))
    assert error.value.code == "MILESTONE_NOT_FOUND"


def test_automatic_releases(app: Any) -> None:
    from tests.escrow.deposit_factory import make_app

    make_app(app)
    small = tales_deposit(app, 100_000)
    big = tales_deposit(app, BIG)
    unconfirmed = tales_deposit(app, 100_000, confirmed=False)
    milestone(app, "beta", "25", complete=False)
    milestone(app, "gamma", "25", complete=False)
    auto = with_flags(app, enable_automatic_releases=True)

    def complete(target: Any, name: str) -> Any:
        return target.run(
            lambda s: complete_milestone(
                s, target.settings, app="tales", milestone=name, evidence="ok", actor="pm"
            )
        )

    done = complete(auto, "beta")
    assert len(done.released) == 2
    assert balances(app, small)["released"] == 25_000
    assert balances(app, big)["held"] == BIG // 4
    assert balances(app, unconfirmed)["deposited"] == 0
    with pytest.raises(InvalidState):
        complete(auto, "beta")
    assert complete(with_flags(app, enable_automatic_releases=False), "gamma").released == []
    assert balances(app, small)["released"] == 25_000


def test_threshold_environment_alias(tmp_path: Path) -> None:
    env = {"LEGATO_HOME": str(tmp_path), "ESCROW_RELEASE_THRESHOLD": "500.25"}
    settings = load_settings(environ=env)
    assert settings.escrow.release_threshold["USD"] == 50_025
    assert settings.escrow.release_threshold["NGN"] == 500_000_000
    env["ESCROW_RELEASE_THRESHOLD"] = "750"
    assert load_settings(environ=env).escrow.release_threshold["USD"] == 75_000
    with pytest.raises(ConfigError):
        load_settings(environ=env | {"ESCROW_RELEASE_THRESHOLD": "-3"})
    with pytest.raises(ConfigError):
        load_settings(environ=env | {"ESCROW_RELEASE_THRESHOLD": "ten"})
