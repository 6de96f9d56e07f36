"""The escrow demo (issue 13, item 8): one app funded by two investors through the sandbox
gateway (``escrow deposit`` + ``escrow confirm``), a completed milestone, a small release
posted at once, a large one needing two signed approvals, a partial refund of a deposit, and a
dispute resolved by a 50/50 split (its refund part through the sandbox too).

``run_escrow_demo(app, tag=...)`` is what the demo day calls (``tag``: the day's run id); each
run makes its own app, users and approver keys (a temporary directory, deleted afterwards) named
by its tag, so the demo can run again on the same database. Nothing writes around the services:
deposits, releases, approvals, the refund and the dispute are the commands' own calls.

With the default release threshold (USD 10,000.00) and MVP at 30 %:

============  ==========  ==========  ========  =========
investor      deposited   released    refunded  available
============  ==========  ==========  ========  =========
ada           5,000.00    3,250.00    1,750.00  0.00
ben           40,000.00   12,000.00   2,500.00  25,500.00
============  ==========  ==========  ========  =========

ada: 1,500.00 released for MVP at once; her dispute splits the 3,500.00 left 50/50.
ben: 12,000.00 for MVP is held until carol and dave sign; 2,500.00 is refunded.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato_pay.money import format_amount

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from legato_pay.context import AppContext

CURRENCY = "USD"
#: Investor -> deposit (major units): one small, one whose MVP share is above the threshold.
DEPOSITS = {"ada": "5000.00", "ben": "40000.00"}
MILESTONES = (("MVP", "30"), ("Launch", "70"))
APPROVERS = ("carol", "dave")
#: ben's partial refund (major units).
REFUND = "2500.00"


def _deposit(app: AppContext, app_id: str, investor: str, amount: str, tag: str) -> int:
    """A deposit through the sandbox gateway, confirmed as `escrow confirm REF` would."""
    from legato_pay.escrow.deposits import create_deposit
    from legato_pay.escrow.deposits_confirm import confirm_deposit

    view = create_deposit(
        app,
        app_id=app_id,
        investor=investor,
        amount=amount,
        currency=CURRENCY,
        gateway="sandbox",
        units=None,
        key=f"demo:{tag}:deposit:{investor}",
    )
    return confirm_deposit(app, view.reference).deposit.id


def _setup(app: AppContext, tag: str, keys: Path) -> str:
    from legato_pay.approvals import add_approver, keygen, read_public_key
    from legato_pay.escrow.milestones import add_milestone
    from legato_pay.readers.users import add_user
    from legato_pay.shares.apps import add_app

    app_id = f"demo-app-{tag}"
    for name in APPROVERS:
        keygen(keys / f"{name}.key")

    def work(session: Session) -> None:
        add_user(session, f"demo-owner-{tag}", kind="writer")
        add_app(session, app_id, name="Demo escrow app", owner=f"demo-owner-{tag}")
        for investor in DEPOSITS:
            add_user(session, f"demo-{investor}-{tag}", kind="investor")
        for name in APPROVERS:
            public = read_public_key(keys / f"{name}.key.pub")
            add_approver(
                session, scope=f"app:{app_id}", name=name, public_key=public, actor=app.actor
            )
        for milestone, percent in MILESTONES:
            add_milestone(session, app=app_id, name=milestone, percent=percent, actor=app.actor)

    app.run(work)
    return app_id


def _sign_all(app: AppContext, keys: Path, sign: Any) -> Any:
    """Each demo approver signs with their key (``sign(key)``); the last outcome."""
    from legato_pay.approvals.keys import load_private_key

    outcome = None
    for name in APPROVERS:
        outcome = sign(load_private_key(keys / f"{name}.key"))
    return outcome


def run_escrow_demo(
    app: AppContext, *, tag: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Run the escrow story (see the module docstring); describe what happened."""
    from legato_pay.escrow.disputes import open_dispute, request_resolution
    from legato_pay.escrow.disputes_approvals import approve_dispute
    from legato_pay.escrow.refunds import refund_deposit
    from legato_pay.escrow.releases import request_release
    from legato_pay.escrow.releases_approvals import approve_release
    from legato_pay.escrow.releases_auto import complete_milestone

    settings, tag = app.settings, tag or uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="legato-escrow-demo-") as directory:
        keys = Path(directory)
        app_id = _setup(app, tag, keys)
        deposits = {
            investor: _deposit(app, app_id, f"demo-{investor}-{tag}", amount, tag)
            for investor, amount in DEPOSITS.items()
        }
        app.run(
            lambda s: complete_milestone(
                s,
                settings,
                app=app_id,
                milestone="MVP",
                evidence="beta shipped to 500 readers",
                actor="demo-pm",
                now=now,
            )
        )
        small, large = (
            app.run(
                partial(
                    request_release,
                    settings=settings,
                    deposit=deposit,
                    milestone="MVP",
                    key=f"demo:{tag}:release:{deposit}",
                    actor="demo-pm",
                    now=now,
                )
            )
            for deposit in deposits.values()
        )
        approval = _sign_all(
            app,
            keys,
            lambda key: app.run(
                lambda s: approve_release(
                    s, settings, large.id, key=key, name=None, actor=app.actor, now=now
                )
            ),
        )
        refund = refund_deposit(
            app,
            deposits["ben"],
            amount=REFUND,
            reason="ben scaled his stake down",
            key=f"demo:{tag}:refund",
        )
        dispute = app.run(
            lambda s: open_dispute(
                s,
                settings,
                deposit=deposits["ada"],
                reason="launch slipped a quarter",
                actor=f"demo-ada-{tag}",
                now=now,
            )
        )
        app.run(
            lambda s: request_resolution(
                s,
                settings,
                dispute.id,
                split="50/50",
                reason="settled: half each",
                actor="demo-pm",
                now=now,
            )
        )
        resolution = _sign_all(
            app,
            keys,
            lambda key: approve_dispute(app, dispute.id, key=key, name=None, now=now),
        )
    return app.run(
        lambda s: _describe(s, app_id, deposits, small, approval, refund, resolution),
        write=False,
    )


def _money(minor: int) -> dict[str, Any]:
    return {"amount": minor, "currency": CURRENCY, "display": format_amount(minor, CURRENCY)}


def _describe(
    session: Session,
    app_id: str,
    deposits: dict[str, int],
    small: Any,
    approval: Any,
    refund: Any,
    resolution: Any,
) -> dict[str, Any]:
    from legato_pay.escrow.balances import deposit_balances

    def balances(deposit: int) -> dict[str, Any]:
        figures = deposit_balances(session, deposit)
        return {"id": deposit} | {
            name: _money(figures[name])
            for name in ("deposited", "released", "refunded", "held", "available")
        }

    return {
        "app": app_id,
        "small_release": {"id": small.id, "status": small.status, "amount": _money(small.amount)},
        "large_release": {
            "id": approval.release.id,
            "status": approval.release.status,
            "approvers": list(approval.approvers),
            "amount": _money(approval.release.amount),
        },
        "refund": {"id": refund.id, "status": refund.status, "amount": _money(refund.amount)},
        "dispute": {
            "id": resolution.dispute.id,
            "status": resolution.dispute.status,
            "outcome": "split 50/50",
            "release": resolution.release_id,
            "refund": resolution.refund_id,
            "refund_status": resolution.refund.status if resolution.refund else None,
        },
        "deposits": {investor: balances(deposit) for investor, deposit in deposits.items()},
    }
