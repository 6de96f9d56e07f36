"""Set-up shared by the escrow tests of milestones, releases and disputes: app ``tales`` with a
completed milestone and a deposit confirmed through the sandbox
(``deposit_factory.confirmed_deposit``), approver keys, and the reads the tests make."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

from legato_pay import chart
from legato_pay.config import load_settings
from legato_pay.errors import AccountNotFound
from legato_pay.escrow.balances import deposit_balances
from legato_pay.escrow.milestones import add_milestone
from legato_pay.escrow.releases import ReleaseView, request_release
from legato_pay.escrow.releases_approvals import ReleaseApproval, approve_release
from legato_pay.escrow.releases_auto import complete_milestone
from legato_pay.ledger import get_balance
from tests.escrow.deposit_factory import Keys, confirmed_deposit, make_app, pending_deposit

#: USD 50,000: above the default release threshold of USD 10,000.
BIG = 5_000_000


def with_flags(app: Any, **features: bool) -> Any:
    """The same database with feature flags overridden."""
    settings = load_settings(overrides={"features": features})
    return dataclasses.replace(app, settings=settings)


def milestone(app: Any, name: str = "beta", percent: str = "40", *, complete: bool = True) -> Any:
    view = app.run(lambda s: add_milestone(s, app="tales", name=name, percent=percent, actor="pm"))
    if complete:
        app.run(
            lambda s: complete_milestone(
                s, app.settings, app="tales", milestone=name, evidence="done", actor="pm"
            )
        )
    return view


_KEYS = itertools.count(1)


def tales_deposit(app: Any, amount: int = 100_000, *, confirmed: bool = True) -> int:
    """ivan's deposit of ``amount`` USD minor units into ``tales``, through the sandbox:
    confirmed (``escrow deposit`` + ``escrow confirm``) or left pending."""
    major, key = f"{amount // 100}.{amount % 100:02d}", f"tales-{next(_KEYS)}"
    make = confirmed_deposit if confirmed else pending_deposit
    return make(app, amount=major, key=key, app_id="tales", investor="ivan").id


def funded_app(app: Any, amount: int = 100_000, percent: str = "40") -> int:
    """App ``tales`` owned by olga, a completed milestone ``beta``, one confirmed deposit."""
    make_app(app)
    milestone(app, "beta", percent)
    return tales_deposit(app, amount)


def keys(app: Any, root: Path) -> Keys:
    return Keys(app, root)


def release(
    app: Any,
    deposit: int,
    *,
    actor: str = "maker",
    now: datetime | None = None,
    **options: Any,
) -> ReleaseView:
    return app.run(  # type: ignore[no-any-return]
        lambda s: request_release(
            s,
            app.settings,
            deposit=deposit,
            milestone=options.pop("milestone", "beta"),
            actor=actor,
            now=now,
            **options,
        )
    )


def approve(
    app: Any, release_id: int, keyring: Keys, who: str, *, actor: str = "ops", **kw: Any
) -> ReleaseApproval:
    key = keyring.key(who)
    return app.run(  # type: ignore[no-any-return]
        lambda s: approve_release(
            s, app.settings, release_id, key=key, name=None, actor=actor, **kw
        )
    )


def balances(app: Any, deposit: int) -> dict[str, Any]:
    return app.run(lambda s: deposit_balances(s, deposit), write=False)  # type: ignore[no-any-return]


def app_funds(app: Any, currency: str = "USD", app_id: str = "tales") -> int:
    try:
        return app.run(  # type: ignore[no-any-return]
            lambda s: get_balance(s, chart.app_funds(app_id, currency)).posted, write=False
        )
    except AccountNotFound:
        return 0
