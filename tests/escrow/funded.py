"""TEST SHORTCUT for escrow-out's tests until escrow-in's deposit path is on this branch: a
confirmed deposit made by ``legato_pay.demo.escrow.deposit_shortcut`` (its row, status
``confirmed``, and ``gateway:sandbox:<CUR>`` -> ``escrow:<id>:<CUR>`` through the ledger, as a
sandbox confirmation would). The lead swaps ``confirmed_deposit`` for escrow-in's
``tests/escrow/deposit_factory.py`` (a real sandbox deposit) at merge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from legato_pay.approvals import add_approver, keygen, read_public_key
from legato_pay.demo.escrow import deposit_shortcut
from legato_pay.readers.users import add_user
from legato_pay.shares.apps import add_app
from legato_pay.store.tables import (
    ENTRIES,
    ESCROW_DISPUTES,
    ESCROW_EVENTS,
    ESCROW_MILESTONES,
    ESCROW_REFUNDS,
    ESCROW_RELEASES,
)


def make_app(app: Any, app_id: str = "tales", owner: str = "olga", *investors: str) -> None:
    """The owner (a writer), the app, and investors (``ivan`` by default)."""

    def work(session: Any) -> None:
        add_user(session, owner, kind="writer")
        add_app(session, app_id, name=f"{app_id} app", owner=owner)
        for investor in investors or ("ivan",):
            add_user(session, investor, kind="investor")

    app.run(work)


def confirmed_deposit(
    app: Any,
    *,
    app_id: str = "tales",
    investor: str = "ivan",
    amount: int = 100_000,
    currency: str = "USD",
    status: str = "confirmed",
) -> int:
    return app.run(  # type: ignore[no-any-return]
        lambda s: deposit_shortcut(
            s,
            app_id=app_id,
            investor=investor,
            amount=amount,
            currency=currency,
            actor="test",
            confirmed=status == "confirmed",
        )
    )


class Keys:
    """Approver key files by name; ``approvers`` are on ``app:<app_id>``'s list."""

    def __init__(
        self,
        app: Any,
        root: Path,
        app_id: str = "tales",
        approvers: tuple[str, ...] = ("carol", "dave", "erin"),
    ) -> None:
        self.root = root
        for name in (*approvers, "mallory"):
            keygen(root / f"{name}.key")
        for name in approvers:
            public = read_public_key(root / f"{name}.key.pub")
            app.run(
                lambda s, n=name, k=public: add_approver(
                    s, scope=f"app:{app_id}", name=n, public_key=k, actor="admin"
                )
            )

    def __getitem__(self, name: str) -> str:
        return str(self.root / f"{name}.key")

    def key(self, name: str) -> Any:
        from legato_pay.approvals.keys import load_private_key

        return load_private_key(self[name])


def counts(app: Any) -> dict[str, int]:
    """Rows of everything an escrow command could write: to prove "changes nothing"."""

    def work(session: Any) -> dict[str, int]:
        tables = (
            ESCROW_MILESTONES,
            ESCROW_RELEASES,
            ESCROW_REFUNDS,
            ESCROW_DISPUTES,
            ESCROW_EVENTS,
            ENTRIES,
        )
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }

    return app.run(work, write=False)  # type: ignore[no-any-return]
