"""Milestones: an app's percentages never add up to more than 100 % (also when added at
once), completing twice is INVALID_STATE, and the shares of a deposit add up exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from legato_pay.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from legato_pay.escrow.milestones import add_milestone, list_milestones, share_of_deposit
from legato_pay.escrow.releases_auto import complete_milestone
from tests.escrow.deposit_factory import counts, make_app
from tests.readers.at_once import run_at_once


def add(app: Any, name: str, percent: str, app_id: str = "tales", due: str | None = None) -> Any:
    return app.run(
        lambda s: add_milestone(s, app=app_id, name=name, percent=percent, due=due, actor="pm")
    )


def test_percentages_never_exceed_100(app: Any) -> None:
    make_app(app)
    first = add(app, "beta", "62.5", due="2026-12-31")
    assert (first.percent_bp, first.percent, first.status) == (6250, "62.5", "open")
    add(app, "launch", "37.49")
    before = counts(app)
    with pytest.raises(InvalidInput) as error:
        add(app, "extra", "0.02")
    assert error.value.code == "MILESTONES_OVER_100"
    assert counts(app) == before
    add(app, "last", "0.01")
    assert sum(m.percent_bp for m in app.run(lambda s: list_milestones(s, app="tales"))) == 10000


def test_bad_percent_changes_nothing(app: Any) -> None:
    make_app(app)
    for percent in ("0", "-5", "100.001", "abc", "101", "NaN", "1e2", "12.345", " "):
        with pytest.raises(InvalidInput):
            add(app, "beta", percent)
    assert counts(app)["escrow_milestones"] == 0


def test_unknown_app_duplicate_name_bad_due(app: Any) -> None:
    make_app(app)
    with pytest.raises(NotFound) as error:
        add(app, "beta", "10", app_id="nope")
    assert error.value.code == "APP_NOT_FOUND"
    add(app, "beta", "10")
    with pytest.raises(AlreadyExists):
        add(app, "beta", "10")
    with pytest.raises(InvalidInput) as bad:
        add(app, "gamma", "10", due="31/12/2026")
    assert bad.value.code == "INVALID_TIME"


def test_complete_once_by_name_or_id(app: Any) -> None:
    make_app(app)
    beta = add(app, "beta", "50")

    def complete(milestone: str) -> Any:
        return app.run(
            lambda s: complete_milestone(
                s, app.settings, app="tales", milestone=milestone, evidence="shipped", actor="pm"
            )
        )

    done = complete(str(beta.id)).milestone
    assert (done.status, done.evidence, done.completed_by) == ("completed", "shipped", "pm")
    with pytest.raises(InvalidState):
        complete("beta")
    with pytest.raises(NotFound) as error:
        complete("gamma")
    assert error.value.code == "MILESTONE_NOT_FOUND"


def test_shares_add_up_exactly(app: Any) -> None:
    make_app(app)
    views = [add(app, f"m{i}", p) for i, p in enumerate(["33.33", "33.33", "33.34"])]
    for deposit in (1, 2, 3, 100, 99_999, 1_000_001):
        shares = app.run(lambda s, d=deposit: [share_of_deposit(s, v, d) for v in views])
        assert sum(shares) == deposit
        assert all(share >= 0 for share in shares)


def test_concurrent_adds_never_exceed_100(database_url: str, app: Any, tmp_path: Path) -> None:
    make_app(app)
    commands = [
        ["escrow", "milestones", "add", "--app", "tales", "--name", f"m{i}", "--percent", "30"]
        for i in range(6)
    ]
    results = run_at_once(database_url, tmp_path, commands)
    assert sorted(r["status"] for r in results) == [0, 0, 0, 3, 3, 3]
    total = sum(m.percent_bp for m in app.run(lambda s: list_milestones(s, app="tales")))
    assert total == 9000
