"""The escrow demo: one app funded by two investors, a completed milestone, a small release
posted at once, a large one needing two signed approvals, and a dispute resolved by a split.

``run_escrow_demo(app)`` is what the demo command calls; each run makes its own app, users and
approver keys (a temporary directory, deleted afterwards), so it can run again on the same
database. Deposits come from ``deposit_shortcut`` — the place to swap in escrow-in's
real sandbox deposit and confirmation (``escrow deposit`` + ``escrow confirm``) at merge, and
to add its partial refund step (``escrow refund --amount``).
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
#: Investor -> deposit (minor units): one small, one above the default release threshold.
DEPOSITS = {"ada": 500_000, "ben": 4_000_000}
MILESTONES = (("MVP", "30"), ("Launch", "70"))
APPROVERS = ("carol", "dave")


def deposit_shortcut(
    session: Session,
    *,
    app_id: str,
    investor: str,
    amount: int,
    currency: str,
    actor: str,
    confirmed: bool = True,
) -> int:
    """A deposit without a gateway round trip: its row and, when ``confirmed``, the entry
    ``gateway:sandbox:<CUR>`` -> ``escrow:<id>:<CUR>`` a sandbox confirmation posts (a
    ``pending`` row otherwise). Also escrow-out's tests' shortcut (``tests/escrow/funded.py``).
    TODO(escrow-in merge): replace with escrow-in's sandbox deposit + confirm."""
    from sqlalchemy import insert, update

    from legato_pay import chart
    from legato_pay.escrow.timeline import record_escrow_event
    from legato_pay.idempotency import request_hash
    from legato_pay.ledger import post_entries, transfer
    from legato_pay.ledger.types import utcnow
    from legato_pay.store.tables import ESCROW_DEPOSITS

    now = utcnow()
    deposit_id = session.execute(
        insert(ESCROW_DEPOSITS)
        .values(
            app_id=app_id,
            investor_id=investor,
            currency=currency,
            amount=amount,
            gateway="sandbox",
            reference=f"demo-{uuid.uuid4().hex}",
            status="confirmed" if confirmed else "pending",
            request_hash=request_hash({"app": app_id, "investor": investor, "amount": amount}),
            actor=actor,
            created_at=now,
            confirmed_at=now if confirmed else None,
            updated_at=now,
        )
        .returning(ESCROW_DEPOSITS.c.id)
    ).scalar_one()
    if not confirmed:
        return int(deposit_id)
    escrow = chart.escrow_account(deposit_id, currency)
    clearing = chart.system_account(
        chart.gateway_cash("sandbox", currency), currency, debit_normal=True
    )
    chart.open_accounts(session, [escrow, clearing])
    entry = post_entries(
        session,
        [transfer(clearing.code, escrow.code, amount, currency, reason="escrow deposit")],
        actor=actor,
        now=now,
    )[0]
    session.execute(
        update(ESCROW_DEPOSITS).where(ESCROW_DEPOSITS.c.id == deposit_id).values(entry_id=entry.id)
    )
    record_escrow_event(
        session, int(deposit_id), "deposit_confirmed", actor, amount=amount, now=now
    )
    return int(deposit_id)


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
    """Each demo approver signs with their key (``sign(session, key=, actor=)``); the last
    outcome."""
    from legato_pay.approvals.keys import load_private_key

    outcome = None
    for name in APPROVERS:
        key = load_private_key(keys / f"{name}.key")
        outcome = app.run(partial(sign, key=key, actor=f"demo-{name}"))
    return outcome


def run_escrow_demo(app: AppContext, *, now: datetime | None = None) -> dict[str, Any]:
    """Run the escrow story (see the module docstring); describe what happened."""
    from legato_pay.escrow.disputes import open_dispute, request_resolution
    from legato_pay.escrow.disputes_approvals import approve_resolution
    from legato_pay.escrow.releases import request_release
    from legato_pay.escrow.releases_approvals import approve_release
    from legato_pay.escrow.releases_auto import complete_milestone

    settings, tag = app.settings, uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="legato-escrow-demo-") as directory:
        keys = Path(directory)
        app_id = _setup(app, tag, keys)
        deposits = {
            investor: app.run(
                partial(
                    deposit_shortcut,
                    app_id=app_id,
                    investor=f"demo-{investor}-{tag}",
                    amount=amount,
                    currency=CURRENCY,
                    actor=app.actor,
                )
            )
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
            lambda s, key, actor: approve_release(
                s, settings, large.id, key=key, name=None, actor=actor, now=now
            ),
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
            lambda s, key, actor: approve_resolution(
                s, settings, dispute.id, key=key, name=None, actor=actor, now=now
            ),
        )
    return app.run(
        lambda s: _describe(s, app_id, deposits, small, approval, resolution), write=False
    )


def _describe(
    session: Session,
    app_id: str,
    deposits: dict[str, int],
    small: Any,
    approval: Any,
    resolution: Any,
) -> dict[str, Any]:
    from legato_pay.escrow.balances import deposit_balances

    return {
        "app": app_id,
        "small_release": {
            "id": small.id,
            "status": small.status,
            "amount": format_amount(small.amount, small.currency),
        },
        "large_release": {
            "id": approval.release.id,
            "status": approval.release.status,
            "approvers": list(approval.approvers),
            "amount": format_amount(approval.release.amount, CURRENCY),
        },
        "dispute": {
            "id": resolution.dispute.id,
            "status": resolution.dispute.status,
            "outcome": "split 50/50",
            "release": resolution.release_id,
            "refund": resolution.refund_id,
        },
        "deposits": {
            investor: {"id": deposit} | deposit_balances(session, deposit)
            for investor, deposit in deposits.items()
        },
    }
