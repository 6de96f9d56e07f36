"""``payouts approve|reject`` as operators run them: only an approver's key authorises, the
requester and labels never do, approvals count once, re-checked before sending, void when the
payout changes, re-checked by ``ledger verify``, and re-queued when their approver leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from legato_pay.approvals import add_approver, keygen, read_public_key
from legato_pay.payouts.approvals import approvals_still_valid
from legato_pay.store.tables import APPROVALS, PAYOUTS
from tests.cli_runner import CliResult, run_cli, run_parallel
from tests.payouts.helpers import KEY, available, counts, writer_with_money

#: NGN 600,000: above the default approval threshold of NGN 500,000.
BIG = "600000"
BIG_MINOR = 60_000_000
POSTED = 200_000_000


class Keys:
    """Key files by name; carol and dave are payout approvers, mallory is not."""

    def __init__(self, app: Any, root: Path) -> None:
        self.root = root
        for name in ("carol", "dave", "mallory"):
            keygen(root / f"{name}.key")
        for name in ("carol", "dave"):
            public = read_public_key(root / f"{name}.key.pub")
            app.run(
                lambda s, n=name, k=public: add_approver(
                    s, scope="payouts", name=n, public_key=k, actor="admin"
                )
            )

    def __getitem__(self, name: str) -> str:
        return str(self.root / f"{name}.key")


@pytest.fixture
def keys(app: Any, tmp_path: Path) -> Keys:
    writer_with_money(app, "wendy", "NGN", posted=POSTED)
    return Keys(app, tmp_path)


def cli(url: str, *args: str, actor: str = "ops", **env: str) -> CliResult:
    return run_cli(url, *args, LEGATO_ACTOR=actor, LEGATO_ENCRYPTION_KEY=KEY, **env)


def request(url: str, amount: str = BIG, *, actor: str = "maker", **env: str) -> int:
    made = cli(url, "payouts", "request", "--writer", "wendy", "--currency", "NGN",
               "--amount", amount, actor=actor, **env)  # fmt: skip
    assert made.status == 0, made.stderr
    return int(made.json["id"])


def approve(
    url: str, payout: int | str, key: str, *extra: str, actor: str = "ops", **env: str
) -> Any:
    return cli(
        url, "payouts", "approve", str(payout), "--key-file", key, *extra, actor=actor, **env
    )


def status_of(url: str, payout: int) -> str:
    return str(cli(url, "payouts", "show", str(payout)).json["status"])


def approval_rows(app: Any) -> int:
    return app.run(  # type: ignore[no-any-return]
        lambda s: s.execute(select(func.count()).select_from(APPROVALS)).scalar_one(), write=False
    )


def still_valid(app: Any, payout: int) -> bool:
    return app.run(  # type: ignore[no-any-return]
        lambda s: approvals_still_valid(s, app.settings, payout), write=False
    )


def test_only_an_approvers_key_authorises(app: Any, database_url: str, keys: Keys) -> None:
    url = database_url
    own = request(url, actor="carol")  # carol asks for this one: she cannot approve it
    other = request(url, actor="maker")
    before = counts(app)
    refusals = [
        approve(url, own, keys["carol"], actor="carol"),  # the requester
        approve(url, own, keys["carol"], actor="ops"),  # the requester under another label
        approve(url, own, keys["dave"], actor="carol"),  # acting as the requester
        approve(url, other, keys["mallory"]),  # a key on no list
        approve(url, other, keys["mallory"], actor="carol"),  # an approver's name as label only
        approve(url, other, keys["mallory"], "--name", "carol", actor="carol"),  # claims carol
        approve(url, other, keys["dave"], "--name", "carol"),  # the wrong key for carol
        approve(url, other, keys["carol"], "--name", "mallory"),  # not on the list
    ]
    for result in refusals:
        assert result.status == 8, result.stderr
        assert result.error["code"] == "UNAUTHORIZED"
    assert counts(app) == before and approval_rows(app) == 0
    assert status_of(url, own) == status_of(url, other) == "requested"
    assert not still_valid(app, other)
    unreadable = Path(keys["dave"])
    unreadable.chmod(0o644)  # a private key others can read is refused before anything
    loose = approve(url, other, str(unreadable))
    assert loose.status == 3 and loose.error["code"] == "INVALID_KEY"
    unreadable.chmod(0o600)
    done = approve(url, other, keys["dave"])  # the key decides; the label is only recorded
    assert done.status == 0, done.stderr
    assert done.json["status"] == "approved" and done.json["approval"]["approver"] == "dave"
    step = done.json["timeline"][-1]
    assert step["action"] == "approved" and step["actor"] == "ops" and "dave" in step["reason"]


def test_threshold_same_approver_counts_once(app: Any, database_url: str, keys: Keys) -> None:
    url = database_url
    two = {"LEGATO_PAYOUTS__REQUIRED_APPROVALS": "2"}
    payout = request(url)
    first = approve(url, payout, keys["carol"], **two)
    assert first.status == 0, first.stderr
    assert first.json["status"] == "requested"
    assert first.json["approval"] == {
        "approver": "carol",
        "valid_approvals": 1,
        "approvers": ["carol"],
        "required": 2,
        "replayed": False,
        "approved_now": False,
    }
    again = approve(url, payout, keys["carol"], actor="someone-else", **two)
    assert again.status == 0, again.stderr
    assert again.json["status"] == "requested" and again.json["approval"]["replayed"] is True
    assert again.json["approval"]["valid_approvals"] == 1 and approval_rows(app) == 1
    second = approve(url, payout, keys["dave"], **two)
    assert second.status == 0, second.stderr
    assert second.json["status"] == "approved" and second.json["approval"]["approved_now"]
    actions = [step["action"] for step in second.json["timeline"]]
    assert actions == ["requested", "approval", "approved"]
    assert still_valid(app, payout)
    replay = approve(url, payout, keys["carol"], **two)  # after approval: still a no-op
    assert replay.status == 0 and replay.json["approval"]["replayed"] is True
    assert [s["action"] for s in replay.json["timeline"]] == actions

    small = request(url, "10000")  # below the threshold: approved at request, no approval
    assert status_of(url, small) == "approved" and still_valid(app, small)
    needless = approve(url, small, keys["carol"])
    assert needless.status == 6 and needless.error["code"] == "INVALID_STATE"
    assert "did not need approval" in needless.error["message"] and approval_rows(app) == 2


def test_reject_returns_the_money_once(app: Any, database_url: str, keys: Keys) -> None:
    url = database_url
    payout = request(url)
    assert available(app, "wendy") == POSTED - BIG_MINOR
    reject = ["payouts", "reject", str(payout), "--reason", "unknown account"]
    unconfirmed = cli(url, *reject, "--key-file", keys["carol"])
    assert unconfirmed.status == 2 and "--yes" in unconfirmed.error["message"]
    stranger = cli(url, *reject, "--key-file", keys["mallory"], "--yes", actor="carol")
    assert stranger.status == 8 and stranger.error["code"] == "UNAUTHORIZED"
    requester = cli(url, *reject, "--key-file", keys["carol"], "--yes", actor="maker")
    assert requester.status == 8
    assert status_of(url, payout) == "requested"
    assert available(app, "wendy") == POSTED - BIG_MINOR and approval_rows(app) == 0

    approve(url, payout, keys["dave"], **{"LEGATO_PAYOUTS__REQUIRED_APPROVALS": "2"})
    done = cli(url, *reject, "--key-file", keys["carol"], "--yes")
    assert done.status == 0, done.stderr
    assert done.json["status"] == "cancelled"
    step = done.json["timeline"][-1]
    assert step["action"] == "rejected" and "carol" in step["reason"]
    assert available(app, "wendy") == POSTED
    assert not still_valid(app, payout)
    twice = cli(url, *reject, "--key-file", keys["carol"], "--yes")
    assert twice.status == 6 and twice.error["code"] == "INVALID_STATE"
    late = approve(url, payout, keys["dave"])
    assert late.status == 6
    assert available(app, "wendy") == POSTED  # back exactly once
    voided = app.run(
        lambda s: s.execute(
            select(func.count())
            .select_from(APPROVALS)
            .where(APPROVALS.c.subject_kind == "payout", APPROVALS.c.voided_at.is_not(None))
        ).scalar_one(),
        write=False,
    )
    assert voided == 1  # dave's approval was voided with the rejection


def test_a_changed_payout_voids_its_approval(app: Any, database_url: str, keys: Keys) -> None:
    url = database_url
    payout = request(url)
    assert approve(url, payout, keys["carol"]).status == 0
    assert status_of(url, payout) == "approved" and still_valid(app, payout)

    def set_gross(delta: int) -> None:
        app.run(
            lambda s: s.execute(
                update(PAYOUTS).where(PAYOUTS.c.id == payout).values(gross=PAYOUTS.c.gross + delta)
            )
        )

    set_gross(-100)  # tampered in SQL after the signature
    assert not still_valid(app, payout)
    assert status_of(url, payout) == "approved"  # the stored flag alone never suffices
    set_gross(+100)  # what was signed again: the signature counts again
    assert still_valid(app, payout)
    app.run(
        lambda s: s.execute(update(PAYOUTS).where(PAYOUTS.c.id == payout).values(currency="USD"))
    )
    assert not still_valid(app, payout)


def test_ledger_verify_catches_a_tampered_signature(
    app: Any, database_url: str, keys: Keys
) -> None:
    url = database_url
    payout = request(url)
    assert approve(url, payout, keys["carol"]).status == 0
    clean = run_cli(url, "ledger", "verify")
    assert clean.status == 0, clean.stdout + clean.stderr

    def flip(session: Any) -> None:
        stored = session.execute(select(APPROVALS.c.signature)).scalar_one()
        forged = ("0" if stored[0] != "0" else "1") + stored[1:]
        session.execute(update(APPROVALS).values(signature=forged))

    app.run(flip)
    checked = run_cli(url, "ledger", "verify")
    assert checked.status == 1
    codes = [problem["code"] for problem in checked.json["problems"]]
    assert codes == ["APPROVAL_BAD_SIGNATURE"]
    assert not still_valid(app, payout)


def test_removing_the_approver_requeues_the_payout(app: Any, database_url: str, keys: Keys) -> None:
    url = database_url
    payout = request(url)
    small = request(url, "10000")  # auto-approved: no approval to lose
    assert approve(url, payout, keys["carol"]).status == 0
    removed = cli(url, "approvers", "remove", "--scope", "payouts", "--name", "carol", "--yes")
    assert removed.status == 0, removed.stderr
    assert removed.json["voided_subjects"] == [f"payout:{payout}"]
    shown = cli(url, "payouts", "show", str(payout)).json
    assert shown["status"] == "requested"
    assert shown["timeline"][-1]["action"] == "approval_voided"
    assert not still_valid(app, payout)
    assert status_of(url, small) == "approved" and still_valid(app, small)
    again = approve(url, payout, keys["dave"])  # a remaining approver can approve it again
    assert again.status == 0 and again.json["status"] == "approved"
    assert available(app, "wendy") == POSTED - BIG_MINOR - 1_000_000


def test_removal_requeues_only_below_the_required_count(
    app: Any, database_url: str, keys: Keys
) -> None:
    url = database_url
    two = {"LEGATO_PAYOUTS__REQUIRED_APPROVALS": "2"}
    payout = request(url, **two)
    assert approve(url, payout, keys["carol"], **two).json["status"] == "requested"
    assert approve(url, payout, keys["dave"], **two).json["status"] == "approved"
    remove = ["approvers", "remove", "--scope", "payouts", "--name", "dave", "--yes"]
    assert cli(url, *remove, **two).status == 0
    assert status_of(url, payout) == "requested"  # carol's one approval is short of two
    replay = approve(url, payout, keys["carol"], **two)  # carol again still counts once
    assert replay.json["status"] == "requested" and replay.json["approval"]["replayed"]
    assert replay.json["approval"]["valid_approvals"] == 1
    # with one approval required, carol's standing signature suffices: her replay approves
    once = approve(url, payout, keys["carol"])
    assert once.status == 0 and once.json["status"] == "approved"
    assert once.json["approval"] | {"approvers": None} == {
        "approver": "carol",
        "valid_approvals": 1,
        "approvers": None,
        "required": 1,
        "replayed": True,
        "approved_now": True,
    }


@pytest.mark.slow
def test_racing_approvals_approve_once(app: Any, database_url: str, keys: Keys) -> None:
    """Four approvals (carol and dave, each twice) released together with two required: the
    payout is approved exactly once, from two stored approvals."""
    url = database_url
    two = {"LEGATO_PAYOUTS__REQUIRED_APPROVALS": "2"}
    payout = request(url, **two)
    commands = [
        ["--output", "json", "payouts", "approve", str(payout), "--key-file", keys[name]]
        for name in ("carol", "dave", "carol", "dave")
    ]
    results = run_parallel(url, commands, LEGATO_ENCRYPTION_KEY=KEY, **two)
    assert [status for status, _, _ in results] == [0, 0, 0, 0], results
    shown = cli(url, "payouts", "show", str(payout)).json
    assert shown["status"] == "approved"
    assert [s["action"] for s in shown["timeline"]].count("approved") == 1
    assert approval_rows(app) == 2 and still_valid(app, payout)


def test_hostile_input_is_refused_and_changes_nothing(
    app: Any, database_url: str, keys: Keys, tmp_path: Path
) -> None:
    url = database_url
    payout = request(url)
    before = counts(app)
    refused = [
        approve(url, "9" * 25, keys["carol"]),
        approve(url, "١", keys["carol"]),  # a non-ASCII digit
        approve(url, str(payout), "/dev/zero"),
        approve(url, str(payout), str(tmp_path / "missing.key")),
        approve(url, str(payout), keys["carol"], "--name", "carol\n"),
        approve(url, str(payout), keys["carol"], "--name", "x" * 101),
        cli(url, "payouts", "reject", str(payout), "--reason", " ", "--key-file", keys["carol"]),
        cli(
            url,
            "payouts",
            "reject",
            str(payout),
            "--reason",
            "x" * 501,
            "--key-file",
            keys["carol"],
            "--yes",
        ),
    ]
    for result in refused:
        assert result.status == 3, result.stderr
        assert result.error["code"] != "INTERNAL_ERROR"
    assert counts(app) == before and approval_rows(app) == 0
    assert status_of(url, payout) == "requested"
    table = approve(url, str(payout), keys["carol"], output="table")
    assert table.status == 0 and f"payout {payout} approved: 1 of 1 approvals" in table.stdout


def test_cancel_voids_pending_approvals(app: Any, database_url: str, keys: Keys) -> None:
    url = database_url
    two = {"LEGATO_PAYOUTS__REQUIRED_APPROVALS": "2"}
    payout = request(url, **two)
    assert approve(url, payout, keys["carol"], **two).json["status"] == "requested"
    assert cli(url, "payouts", "cancel", str(payout), "--yes").status == 0
    voided = app.run(
        lambda s: (
            s.execute(select(APPROVALS.c.void_reason).where(APPROVALS.c.voided_at.is_not(None)))
            .scalars()
            .all()
        ),
        write=False,
    )
    assert voided == ["payout cancelled"]
    late = approve(url, payout, keys["dave"], **two)
    assert late.status == 6 and late.error["code"] == "INVALID_STATE"
    assert available(app, "wendy") == POSTED
