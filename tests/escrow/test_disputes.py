"""Disputes: the flag, the freeze (also against racing releases and refunds), resolution by
release, refund or an exact split once two approvers sign — the refund part through the
deposit's gateway (sandbox, the Paystack fake), once — and bad input changing nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from legato_pay.errors import (
    DepositInDispute,
    FeatureDisabled,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    NotFound,
    Unauthorized,
    UsageError,
)
from legato_pay.escrow.deposits import create_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.escrow.disputes import get_dispute, open_dispute, request_resolution
from legato_pay.escrow.disputes_approvals import approve_dispute, reject_resolution
from legato_pay.escrow.refunds import refund_status
from legato_pay.gateways.paystack.references import transaction_reference
from legato_pay.ledger.types import utcnow
from legato_pay.store.tables import APPROVALS, BOOK, ESCROW_EVENTS, ESCROW_REFUNDS
from tests.escrow.deposit_factory import Keys, app_with_investor, counts
from tests.escrow.helpers import (
    BIG,
    app_funds,
    approve,
    balances,
    funded_app,
    release,
    tales_deposit,
    with_flags,
)
from tests.fakes.paystack import FakePaystack
from tests.readers.at_once import run_at_once


def open_(app: Any, deposit: int, actor: str = "ivan") -> Any:
    return app.run(
        lambda s: open_dispute(s, app.settings, deposit=deposit, reason="late", actor=actor)
    )


def resolve(app: Any, dispute: int, actor: str = "judge", **outcome: Any) -> Any:
    return app.run(
        lambda s: request_resolution(
            s, app.settings, dispute, reason="agreed", actor=actor, **outcome
        )
    )


def sign(app: Any, dispute: int, keyring: Keys, who: str, **kw: Any) -> Any:
    return approve_dispute(app, dispute, key=keyring.key(who), name=None, **kw)


def dispute_refund(app: Any, dispute: int) -> Any:
    return app.run(
        lambda s: s.execute(
            select(ESCROW_REFUNDS).where(ESCROW_REFUNDS.c.dispute_id == dispute)
        ).one(),
        write=False,
    )


def sandbox_refunds(app: Any) -> int:
    return app.run(  # type: ignore[no-any-return]
        lambda s: s.execute(
            select(func.count()).select_from(BOOK).where(BOOK.c.kind == "refund")
        ).scalar_one(),
        write=False,
    )


def test_flag_off_is_feature_disabled(app: Any) -> None:
    deposit = funded_app(app)
    off = with_flags(app, enable_dispute_resolution=False)
    before = counts(app)
    with pytest.raises(FeatureDisabled) as error:
        open_(off, deposit)
    assert error.value.exit_status == 14
    dispute = open_(app, deposit).id
    with pytest.raises(FeatureDisabled):
        resolve(off, dispute, refund=True)
    assert counts(app)["escrow_disputes"] == before["escrow_disputes"] + 1


def test_dispute_freezes_releases(app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app, BIG, "40")
    keyring = Keys(app, tmp_path)
    held = release(app, deposit).id
    dispute = open_(app, deposit).id
    before = counts(app)
    with pytest.raises(DepositInDispute) as error:
        release(app, deposit, amount="1")
    assert (error.value.code, error.value.exit_status) == ("DEPOSIT_IN_DISPUTE", 6)
    with pytest.raises(DepositInDispute):
        approve(app, held, keyring, "carol")
    with pytest.raises(DepositInDispute):
        open_(app, deposit)
    assert counts(app) == before
    assert app.run(lambda s: get_dispute(s, dispute).status, write=False) == "open"


def test_split_resolution_is_exact(app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app, 99_999, "40")
    keyring = Keys(app, tmp_path)
    dispute = open_(app, deposit).id
    view = resolve(app, dispute, split="60/40", actor="carol")
    assert (view.status, view.outcome, view.release_bp) == ("resolving", "split", 6000)
    assert resolve(app, dispute, split="60/40", actor="carol").replayed
    with pytest.raises(InvalidState):
        resolve(app, dispute, refund=True)
    with pytest.raises(Unauthorized):  # carol asked for it: carol can't approve it
        sign(app, dispute, keyring, "carol")
    with pytest.raises(Unauthorized):
        sign(app, dispute, keyring, "mallory")
    first = sign(app, dispute, keyring, "dave")
    assert (first.resolved_now, first.approvers) == (False, ("dave",))
    with pytest.raises(DepositInDispute):  # still frozen while resolving
        release(app, deposit, amount="1")
    done = sign(app, dispute, keyring, "erin")
    assert done.resolved_now and done.dispute.status == "resolved"
    # 99,999 x 60 % = 59,999.4 and x 40 % = 39,999.6: the leftover cent goes to the larger remainder
    assert app_funds(app) == 59_999
    refund = dispute_refund(app, dispute)
    assert (refund.amount, refund.status) == (40_000, "succeeded")  # through the sandbox
    assert (done.refund_id, done.refund.status) == (refund.id, "succeeded")
    assert refund.provider_refund_id and sandbox_refunds(app) == 1
    assert balances(app, deposit) == {
        "currency": "USD", "deposited": 99_999, "released": 59_999, "refunded": 40_000,
        "held": 0, "available": 0,
    }  # fmt: skip
    with pytest.raises(InsufficientFunds):  # resolved: no longer frozen, nothing left
        release(app, deposit, amount="0.01")
    with pytest.raises(InvalidState):
        sign(app, dispute, keyring, "carol")


@pytest.mark.parametrize(
    ("outcome", "to_app"), [({"release": True}, 100_000), ({"refund": True}, 0)]
)
def test_release_or_refund_everything(
    app: Any, tmp_path: Path, outcome: dict[str, Any], to_app: int
) -> None:
    deposit = funded_app(app, 100_000, "40")
    keyring = Keys(app, tmp_path)
    dispute = open_(app, deposit).id
    resolve(app, dispute, **outcome)
    sign(app, dispute, keyring, "carol")
    assert sign(app, dispute, keyring, "dave").resolved_now
    assert app_funds(app) == to_app
    assert sandbox_refunds(app) == (1 if to_app == 0 else 0)
    got = balances(app, deposit)
    assert (got["released"], got["refunded"], got["held"], got["available"]) == (
        to_app,
        100_000 - to_app,
        0,
        0,
    )
    with pytest.raises(InsufficientFunds):
        release(app, deposit, amount="0.01")


def test_split_refund_goes_through_paystack_once(
    app: Any, tmp_path: Path, paystack: FakePaystack
) -> None:
    app_with_investor(app)  # quill, owned by olga; ann invests (Paystack needs her email)
    keyring = Keys(app, tmp_path, app_id="quill")
    view = create_deposit(
        app, app_id="quill", investor="ann", amount="20000.01", currency="NGN",
        gateway="paystack", units=None, key="ps-dispute",
    )  # fmt: skip
    paystack.settle(transaction_reference(view.reference), "success")
    deposit = confirm_deposit(app, view.reference).deposit.id
    dispute = open_(app, deposit, actor="ann").id
    resolve(app, dispute, split="70/30")
    sign(app, dispute, keyring, "carol")
    done = sign(app, dispute, keyring, "dave")
    # 2,000,001 kobo x 70 % = 1,400,000.7 and x 30 % = 600,000.3: the larger remainder wins
    assert done.resolved_now and (done.refund.status, done.refund.amount) == ("pending", 600_000)
    [sent] = [r for r in paystack.requests if r.path == "/refund"]
    assert sent.body["amount"] == 600_000
    paystack.set_refund_status(int(done.refund.provider_refund_id), "processed")
    assert refund_status(app, done.refund_id).status == "succeeded"
    assert paystack.count("POST", "/refund") == 1  # asked, then found: one refund
    assert app_funds(app, "NGN", app_id="quill") == 1_400_001
    assert balances(app, deposit) == {
        "currency": "NGN", "deposited": 2_000_001, "released": 1_400_001, "refunded": 600_000,
        "held": 0, "available": 0,
    }  # fmt: skip


def test_reject_reopens_and_stale_approvals_do_not_count(app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app)
    keyring = Keys(app, tmp_path)
    dispute = open_(app, deposit).id
    resolve(app, dispute, refund=True)
    sign(app, dispute, keyring, "carol")
    view = app.run(
        lambda s: reject_resolution(
            s, app.settings, dispute, key=keyring.key("erin"), name=None, reason="no", actor="x"
        )
    )
    assert (view.status, view.outcome) == ("open", None)
    resolve(app, dispute, release=True)
    sign(app, dispute, keyring, "carol")
    stale = utcnow() - timedelta(hours=73)
    app.run(lambda s: s.execute(update(APPROVALS).values(created_at=stale)))
    again = sign(app, dispute, keyring, "dave")
    assert (again.resolved_now, again.approvers) == (False, ("dave",))
    assert app_funds(app) == 0


def test_bad_input_changes_nothing(app: Any, tmp_path: Path) -> None:
    deposit = funded_app(app)
    keyring = Keys(app, tmp_path)
    pending = tales_deposit(app, confirmed=False)
    dispute = open_(app, deposit).id
    before = counts(app)
    for split in ("60/30", "60", "a/b", "-10/110", "50.001/49.999", "60/40/0"):
        with pytest.raises(InvalidInput):
            resolve(app, dispute, split=split)
    with pytest.raises(UsageError):
        resolve(app, dispute, release=True, refund=True)
    with pytest.raises(NotFound) as missing:
        resolve(app, 999, refund=True)
    assert missing.value.code == "DISPUTE_NOT_FOUND"
    with pytest.raises(InvalidState):
        open_(app, pending)
    with pytest.raises(NotFound):
        open_(app, 4242)
    with pytest.raises(InvalidState):  # nothing asked for yet
        sign(app, dispute, keyring, "carol")
    assert counts(app) == before


def test_freeze_against_racing_releases_and_refunds(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    deposit = funded_app(app, 100_000, "100")
    moves = [
        ["escrow", verb, str(deposit), *extra, "--amount", "100", "--key", f"k{i}"]
        for i, (verb, extra) in enumerate(
            [("release", ["--milestone", "beta", "--yes"]), ("refund", ["--reason", "out"])] * 3
        )
    ]
    commands = [*moves[:3], ["escrow", "dispute", "open", str(deposit), "--reason", "fraud"]]
    commands += moves[3:]
    results = run_at_once(database_url, tmp_path, commands)
    assert results[3]["status"] == 0, results[3]
    others = [r for i, r in enumerate(results) if i != 3]
    assert {r["status"] for r in others} <= {0, 6}, results
    moved = sum(r["status"] == 0 for r in others)
    got = balances(app, deposit)
    assert got["released"] + got["refunded"] == 10_000 * moved, (got, results)
    assert (got["held"], got["available"]) == (0, 100_000 - 10_000 * moved)
    actions = app.run(
        lambda s: list(
            s.execute(select(ESCROW_EVENTS.c.action).order_by(ESCROW_EVENTS.c.id)).scalars()
        ),
        write=False,
    )
    after = actions[actions.index("dispute_opened") :]
    assert "released" not in after and "refund_requested" not in after, actions
