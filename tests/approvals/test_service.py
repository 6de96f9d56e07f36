"""Approver lists and signed approvals on both databases: who may approve, what counts, and
what voids an approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from legato_pay.approvals import (
    add_approver,
    canonical_payload,
    consume_approvals,
    keygen,
    list_approvers,
    on_approver_removed,
    record_approval,
    remove_approver,
    sign,
    valid_approvals,
    verify_approvals,
    void_subject_approvals,
)
from legato_pay.approvals import approvers as approvals_service
from legato_pay.errors import AlreadyExists, InvalidInput, NotFound, Unauthorized
from legato_pay.store.tables import APPROVALS, APPROVERS


def payout_payload(amount: int = 150000, requested_by: str = "cli:rita") -> bytes:
    return canonical_payload(
        "payout",
        {
            "id": "17",
            "amount_minor": amount,
            "currency": "NGN",
            "source": "writer:wendy:earnings:NGN",
            "destination": "bank:****6789",
            "requested_by": requested_by,
        },
    )


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, dict[str, str]]:
    return {name: keygen(tmp_path / f"{name}.key") for name in ("carol", "dave", "rita")}


@pytest.fixture
def listed(app: Any, keys: dict[str, dict[str, str]]) -> Any:
    """carol and dave approve payouts; rita (who requests) holds a key but is not listed."""
    app.run(
        lambda s: [
            add_approver(
                s, scope="payouts", name=name, public_key=keys[name]["public_key"], actor="ops"
            )
            for name in ("carol", "dave")
        ]
    )
    return app


def approve(app: Any, name: str, key_file: str, payload: bytes, **kw: Any) -> Any:
    return app.run(
        lambda s: record_approval(
            s,
            scope=kw.pop("scope", "payouts"),
            subject_kind="payout",
            subject_id="17",
            payload=payload,
            signature=sign(key_file, payload),
            approver_name=name,
            actor=kw.pop("actor", f"cli:{name}"),
            **kw,
        )
    )


def counted(app: Any, payload: bytes) -> list[str]:
    views = app.run(lambda s: valid_approvals(s, "payouts", "payout", "17", payload), write=False)
    return [view.approver for view in views]


def approval_rows(app: Any) -> int:
    from sqlalchemy import func, select

    return app.run(  # type: ignore[no-any-return]
        lambda s: s.execute(select(func.count()).select_from(APPROVALS)).scalar_one(), write=False
    )


def test_an_approver_signs_and_the_approval_counts(listed: Any, keys: Any) -> None:
    payload = payout_payload()
    view = approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    assert view.approver == "carol" and not view.replayed
    assert counted(listed, payload) == ["carol"]
    assert listed.run(verify_approvals, write=False) == []


def test_a_changed_subject_voids_the_signature(listed: Any, keys: Any) -> None:
    approve(listed, "carol", keys["carol"]["private_key_file"], payout_payload(150000))
    assert counted(listed, payout_payload(150000)) == ["carol"]
    assert counted(listed, payout_payload(990000)) == []


def test_a_tampered_stored_signature_no_longer_counts(listed: Any, keys: Any) -> None:
    payload = payout_payload()
    approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    forged = sign(keys["rita"]["private_key_file"], payload)
    listed.run(lambda s: s.execute(update(APPROVALS).values(signature=forged)))
    assert counted(listed, payload) == []
    problems = listed.run(verify_approvals, write=False)
    assert [p["problem"] for p in problems] == ["bad_signature"]
    assert problems[0]["code"] == "APPROVAL_BAD_SIGNATURE"
    assert "carol" in problems[0]["message"] and "payout:17" in problems[0]["message"]


def test_a_tampered_stored_payload_is_reported(listed: Any, keys: Any) -> None:
    payload = payout_payload()
    approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    listed.run(lambda s: s.execute(update(APPROVALS).values(payload=payout_payload(1).decode())))
    problems = listed.run(verify_approvals, write=False)
    assert [p["problem"] for p in problems] == ["payload_digest_mismatch"]


def test_a_swapped_approver_key_is_reported(listed: Any, keys: Any) -> None:
    approve(listed, "carol", keys["carol"]["private_key_file"], payout_payload())
    listed.run(
        lambda s: s.execute(
            update(APPROVERS)
            .where(APPROVERS.c.name == "carol")
            .values(public_key=keys["rita"]["public_key"])
        )
    )
    assert counted(listed, payout_payload()) == []
    assert [p["problem"] for p in listed.run(verify_approvals, write=False)] == ["bad_signature"]


def test_a_signature_with_the_wrong_key_is_unauthorized(listed: Any, keys: Any) -> None:
    with pytest.raises(Unauthorized) as caught:
        approve(listed, "carol", keys["dave"]["private_key_file"], payout_payload())
    assert caught.value.exit_status == 8 and caught.value.code == "UNAUTHORIZED"
    assert caught.value.details["reason"] == "bad_signature"
    assert approval_rows(listed) == 0


def test_a_name_not_on_the_list_is_unauthorized(listed: Any, keys: Any) -> None:
    with pytest.raises(Unauthorized) as caught:
        approve(listed, "eve", keys["rita"]["private_key_file"], payout_payload())
    assert caught.value.details["reason"] == "not_an_approver"
    with pytest.raises(Unauthorized):  # carol is a payouts approver, not one of this app's
        approve(
            listed, "carol", keys["carol"]["private_key_file"], payout_payload(), scope="app:quill"
        )
    assert approval_rows(listed) == 0


def test_the_requester_can_never_approve_their_own_subject(listed: Any, keys: Any) -> None:
    payload = payout_payload(requested_by="carol")
    with pytest.raises(Unauthorized) as caught:
        approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    assert caught.value.details["reason"] == "self"
    with pytest.raises(Unauthorized):  # nor does a different --actor label change that
        approve(listed, "carol", keys["carol"]["private_key_file"], payload, actor="cli:boss")
    with pytest.raises(Unauthorized):  # the acting label of the requester, explicit requester
        approve(
            listed,
            "dave",
            keys["dave"]["private_key_file"],
            payout_payload(),
            actor="cli:rita",
            requested_by="cli:rita",
        )
    assert approval_rows(listed) == 0


def test_the_same_approver_twice_counts_once(listed: Any, keys: Any) -> None:
    payload = payout_payload()
    first = approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    again = approve(listed, "carol", keys["carol"]["private_key_file"], payload, actor="cli:x")
    assert again.replayed and again.id == first.id
    approve(listed, "dave", keys["dave"]["private_key_file"], payload)
    assert counted(listed, payload) == ["carol", "dave"]
    assert approval_rows(listed) == 2


def test_removing_an_approver_voids_their_pending_approvals(listed: Any, keys: Any) -> None:
    payload = payout_payload()
    approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    approve(listed, "dave", keys["dave"]["private_key_file"], payload)
    seen: list[Any] = []
    hook = on_approver_removed(lambda s, scope, name, voided: seen.append((scope, name, voided)))
    try:
        view, voided = listed.run(
            lambda s: remove_approver(s, scope="payouts", name="carol", actor="ops")
        )
    finally:
        approvals_service._removal_hooks.remove(hook)
    assert view.name == "carol" and voided == [("payout", "17")]
    assert seen == [("payouts", "carol", [("payout", "17")])]
    assert counted(listed, payload) == ["dave"]
    # Re-added with a new key, carol's earlier approval stays void; she must sign again.
    listed.run(
        lambda s: add_approver(
            s, scope="payouts", name="carol", public_key=keys["rita"]["public_key"], actor="ops"
        )
    )
    assert counted(listed, payload) == ["dave"]
    approve(listed, "carol", keys["rita"]["private_key_file"], payload)
    assert sorted(counted(listed, payload)) == ["carol", "dave"]
    assert listed.run(verify_approvals, write=False) == []


def test_consumed_approvals_survive_removal_and_rejected_ones_do_not_count(
    listed: Any, keys: Any
) -> None:
    payload = payout_payload()
    approve(listed, "carol", keys["carol"]["private_key_file"], payload)
    assert listed.run(lambda s: consume_approvals(s, "payouts", "payout", "17")) == 1
    _, voided = listed.run(lambda s: remove_approver(s, scope="payouts", name="carol", actor="o"))
    assert voided == []
    approve(listed, "dave", keys["dave"]["private_key_file"], payload)
    assert (
        listed.run(
            lambda s: void_subject_approvals(s, "payouts", "payout", "17", reason="rejected")
        )
        == 1
    )
    assert counted(listed, payload) == []


def test_the_list_refuses_duplicates_and_unknown_names(listed: Any, keys: Any) -> None:
    with pytest.raises(AlreadyExists):
        listed.run(
            lambda s: add_approver(
                s, scope="payouts", name="carol", public_key=keys["rita"]["public_key"], actor="o"
            )
        )
    with pytest.raises(AlreadyExists):  # one key, one person
        listed.run(
            lambda s: add_approver(
                s, scope="payouts", name="erin", public_key=keys["dave"]["public_key"], actor="o"
            )
        )
    with pytest.raises(NotFound) as caught:
        listed.run(lambda s: remove_approver(s, scope="payouts", name="nobody", actor="o"))
    assert caught.value.code == "APPROVER_NOT_FOUND"
    with pytest.raises(NotFound):  # an app scope must name an app
        listed.run(lambda s: list_approvers(s, scope="app:nothere"))
    with pytest.raises(InvalidInput):
        listed.run(lambda s: list_approvers(s, scope="escrow"))
    names = [v.name for v in listed.run(lambda s: list_approvers(s, scope="payouts"), write=False)]
    assert names == ["carol", "dave"]


@pytest.mark.parametrize("payload", ["text", b"\xff\xfe", b"{" + b" " * 70000 + b"}"])
def test_a_payload_that_is_not_canonical_bytes_is_invalid_input(
    listed: Any, keys: Any, payload: Any
) -> None:
    with pytest.raises(InvalidInput):
        listed.run(
            lambda s: record_approval(
                s,
                scope="payouts",
                subject_kind="payout",
                subject_id="17",
                payload=payload,
                signature="00" * 64,
                approver_name="carol",
                actor="cli:carol",
            )
        )
    assert approval_rows(listed) == 0
