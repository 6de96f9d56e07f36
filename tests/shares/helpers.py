"""Shared set-up for the shares tests: an owner, investors and an app, through the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from legato_pay.errors import AccountNotFound
from legato_pay.ledger import get_balance
from legato_pay.shares.apps import add_app
from legato_pay.shares.register import issue_shares, share_register, transfer_shares
from legato_pay.store.tables import APPS, DISTRIBUTIONS, ENTRIES, HOLDINGS, MOVEMENTS
from tests.factories import add_users


def make_app(app: Any, app_id: str = "quill", *investors: str) -> None:
    """Owner ``olga`` (a writer), the investors, and the app."""
    add_users(app, olga="writer", **dict.fromkeys(investors, "investor"))
    app.run(lambda s: add_app(s, app_id, name=app_id.title(), owner="olga"))


def issue(
    app: Any, investor: str, units: int, *, at: datetime | None = None, app_id: str = "quill"
) -> None:
    app.run(
        lambda s: issue_shares(
            s, actor="test", app_id=app_id, to_investor=investor, units=units, now=at
        )
    )


def move(
    app: Any, seller: str, buyer: str, units: int, *, at: datetime | None = None, **kw: Any
) -> Any:
    return app.run(
        lambda s: transfer_shares(
            s,
            actor="test",
            app_id=kw.pop("app_id", "quill"),
            from_investor=seller,
            to_investor=buyer,
            units=units,
            now=at,
            **kw,
        )
    )


def holdings(app: Any, app_id: str = "quill", as_of: datetime | None = None) -> dict[str, int]:
    view = app.run(lambda s: share_register(s, app_id, as_of=as_of), write=False)
    return {holder.investor: holder.units for holder in view.holders}


def posted(app: Any, code: str) -> int:
    """An account's posted balance; 0 for an account never opened (nothing was paid into it)."""
    try:
        return app.run(lambda s: get_balance(s, code).posted, write=False)  # type: ignore[no-any-return]
    except AccountNotFound:
        return 0


def counts(app: Any) -> dict[str, int]:
    """Rows of everything a shares command could write: to prove "changes nothing"."""
    from sqlalchemy import func, select

    def work(session: Any) -> dict[str, int]:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (APPS, MOVEMENTS, DISTRIBUTIONS, ENTRIES)
        } | {
            "units": session.execute(
                select(func.coalesce(func.sum(HOLDINGS.c.units), 0))
            ).scalar_one()
        }

    return app.run(work, write=False)  # type: ignore[no-any-return]
