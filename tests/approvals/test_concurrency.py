"""Approvals raced on both databases: threads released together by a barrier, each with its own
unit of work. One approver approving at once from many places is stored, and counted, once; an
approval racing the approver's removal never counts afterwards."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from legato_pay.approvals import (
    ApprovalView,
    add_approver,
    canonical_payload,
    keygen,
    record_approval,
    remove_approver,
    sign,
    valid_approvals,
)
from legato_pay.context import AppContext
from legato_pay.errors import Unauthorized

THREADS = 6
PAYLOAD = canonical_payload("payout", {"id": "9", "amount_minor": 500000, "currency": "USD"})


def race(database_url: str, jobs: list[Any]) -> list[Any]:
    """Run each job(app) in its own thread, all released at once; their results or errors."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        app = AppContext.create(database_url=database_url, actor=f"t{index}")
        app.engine  # noqa: B018  (connect and check the schema before the start line)
        barrier.wait()
        try:
            results[index] = jobs[index](app)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _approve(name: str, key: str) -> Any:
    def job(app: Any) -> Any:
        return app.run(
            lambda s: record_approval(
                s,
                scope="payouts",
                subject_kind="payout",
                subject_id="9",
                payload=PAYLOAD,
                signature=sign(key, PAYLOAD),
                approver_name=name,
                actor=app.actor,
            )
        )

    return job


def test_one_approver_from_many_places_counts_once(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    carol = keygen(tmp_path / "carol.key")
    app.run(
        lambda s: add_approver(
            s, scope="payouts", name="carol", public_key=carol["public_key"], actor="ops"
        )
    )
    results = race(database_url, [_approve("carol", carol["private_key_file"])] * THREADS)
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    counted = app.run(lambda s: valid_approvals(s, "payouts", "payout", "9", PAYLOAD))
    assert [v.approver for v in counted] == ["carol"]


def test_an_approval_racing_removal_never_counts_after_it(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    dave = keygen(tmp_path / "dave.key")
    app.run(
        lambda s: add_approver(
            s, scope="payouts", name="dave", public_key=dave["public_key"], actor="ops"
        )
    )

    def remove(app: Any) -> Any:
        return app.run(lambda s: remove_approver(s, scope="payouts", name="dave", actor="ops"))

    results = race(database_url, [_approve("dave", dave["private_key_file"]), remove])
    assert not isinstance(results[1], Exception), results
    # Either the approval went in first (then the removal voided it) or it was refused.
    assert isinstance(results[0], Unauthorized | ApprovalView), results
    assert app.run(lambda s: valid_approvals(s, "payouts", "payout", "9", PAYLOAD)) == []
