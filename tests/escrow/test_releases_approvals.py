"""Approvals of held releases: only an approver of app:<A> with their key, never the
requester, once per approver, within the TTL; rejection and expiry give the money back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from legato_pay.errors import InvalidState, Unauthorized
from legato_pay.escrow.releases import get_release
from legato_pay.escrow.releases_approvals import expire_due_releases, reject_release
from legato_pay.ledger.types import utcnow
from legato_pay.store.tables import APPROVALS
from tests.escrow.deposit_factory import Keys, counts
from tests.escrow.helpers import BIG, app_funds, approve, balances, funded_app, release
from tests.readers.at_once import run_at_once


@pytest.fixture
def held(app: Any, tmp_path: Path) -> tuple[int, int, Keys]:
    deposit = funded_app(app, BIG, "40")
    keyring = Keys(app, tmp_path)
    return deposit, release(app, deposit, actor="maker").id, keyring


def status(app: Any, release_id: int) -> str:
    return app.run(lambda s: get_release(s, release_id).status, write=False)  # type: ignore[no-any-return]


def test_two_distinct_approvers_post_it(app: Any, held: tuple[int, int, Keys]) -> None:
    deposit, release_id, keyring = held
    first = approve(app, release_id, keyring, "carol")
    assert (first.posted_now, first.approvers, first.required) == (False, ("carol",), 2)
    twice = approve(app, release_id, keyring, "carol")
    assert (twice.replayed, twice.approvers, twice.posted_now) == (True, ("carol",), False)
    assert status(app, release_id) == "held"
    done = approve(app, release_id, keyring, "dave")
    assert done.posted_now and done.release.status == "posted"
    assert set(done.approvers) == {"carol", "dave"}
    assert balances(app, deposit)["released"] == 2_000_000
    assert balances(app, deposit)["held"] == 0
    assert app_funds(app) == 2_000_000
    with pytest.raises(InvalidState):
        approve(app, release_id, keyring, "erin")


def test_requester_and_outsider_are_unauthorized(app: Any, held: tuple[int, int, Keys]) -> None:
    deposit, release_id, keyring = held
    before = counts(app)
    with pytest.raises(Unauthorized):  # the acting label is the requester
        approve(app, release_id, keyring, "carol", actor="maker")
    with pytest.raises(Unauthorized):
        approve(app, release_id, keyring, "mallory")
    assert counts(app) == before
    own = release(app, deposit, actor="carol", amount="10000")  # carol asks: carol can't sign
    with pytest.raises(Unauthorized) as error:
        approve(app, own.id, keyring, "carol")
    assert error.value.details["reason"] == "self"
    assert status(app, release_id) == "held"


def test_reject_gives_the_money_back(app: Any, held: tuple[int, int, Keys]) -> None:
    deposit, release_id, keyring = held
    approve(app, release_id, keyring, "carol")
    view = app.run(
        lambda s: reject_release(
            s, app.settings, release_id, key=keyring.key("erin"), name=None,
            reason="not yet", actor="ops",
        )
    )  # fmt: skip
    assert view.status == "rejected"
    assert balances(app, deposit)["available"] == BIG
    with pytest.raises(InvalidState):  # reject came first: it wins
        approve(app, release_id, keyring, "dave")
    assert app_funds(app) == 0


def test_expired_release_is_voided_when_touched(app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app, BIG, "40")
    keyring = Keys(app, tmp_path)
    long_ago = utcnow() - timedelta(hours=73)
    old = release(app, deposit, now=long_ago).id
    older = release(app, deposit, now=long_ago, amount="10000").id
    assert balances(app, deposit)["held"] == 2_000_000 + 1_000_000
    outcome = approve(app, old, keyring, "carol")
    assert outcome.expired_now and outcome.release.status == "expired"
    assert app.run(lambda s: expire_due_releases(s, app.settings)) == [older]
    assert balances(app, deposit) | {"currency": "USD"} == {
        "currency": "USD", "deposited": BIG, "released": 0, "refunded": 0, "held": 0,
        "available": BIG,
    }  # fmt: skip
    with pytest.raises(InvalidState):
        approve(app, older, keyring, "dave")


def test_stale_approval_does_not_count(app: Any, held: tuple[int, int, Keys]) -> None:
    _, release_id, keyring = held
    approve(app, release_id, keyring, "carol")
    stale = utcnow() - timedelta(hours=73)  # carol signed longer ago than approval_ttl_hours
    app.run(lambda s: s.execute(update(APPROVALS).values(created_at=stale)))
    outcome = approve(app, release_id, keyring, "dave")
    assert (outcome.approvers, outcome.posted_now) == (("dave",), False)
    assert status(app, release_id) == "held"
    assert approve(app, release_id, keyring, "erin").posted_now


def test_approve_races_reject(database_url: str, app: Any, held: tuple[int, int, Keys]) -> None:
    deposit, release_id, keyring = held
    approve(app, release_id, keyring, "carol")
    results = run_at_once(
        database_url,
        Path(keyring.root),
        [
            ["escrow", "approve", str(release_id), "--key-file", keyring["dave"]],
            ["escrow", "reject", str(release_id), "--key-file", keyring["erin"],
             "--reason", "no", "--yes"],
        ],
    )  # fmt: skip
    statuses = [r["status"] for r in results]
    assert sorted(statuses) == [0, 6], results
    final = status(app, release_id)
    assert final == ("posted" if statuses[0] == 0 else "rejected")
    expected = 2_000_000 if final == "posted" else 0
    assert balances(app, deposit)["released"] == expected
    assert balances(app, deposit)["available"] == BIG - expected
