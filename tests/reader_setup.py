"""Factories for the reader-side tests: users, funded wallets, content, and a snapshot of
everything a failed command must leave untouched."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.ledger import list_accounts, post_entries, transfer, verify_ledger
from legato_pay.ledger.queries import account_totals
from legato_pay.ledger.types import balance_from_totals
from legato_pay.readers.coins import WalletBalance, wallet_balance
from legato_pay.readers.users import add_user
from legato_pay.store.models.readers import (
    ContentItem,
    ContentUnlock,
    Engagement,
    SandboxPayment,
    Subscription,
)
from legato_pay.store.tables import ENTRIES
from tests.conftest import ROOT, cli_env

_TABLES = {
    "content": ContentItem.__table__,  # type: ignore[attr-defined]
    "unlocks": ContentUnlock.__table__,  # type: ignore[attr-defined]
    "subscriptions": Subscription.__table__,  # type: ignore[attr-defined]
    "engagement": Engagement.__table__,  # type: ignore[attr-defined]
    "sandbox_payments": SandboxPayment.__table__,  # type: ignore[attr-defined]
    "entries": ENTRIES,
}


def make_users(app: Any, *user_ids: str, kind: str = "reader") -> None:
    app.run(lambda s: [add_user(s, user_id, kind=kind) for user_id in user_ids])


def fund(app: Any, user_id: str, *, paid: int = 0, bonus: int = 0) -> None:
    """Issue coins straight into a reader's wallets (what a purchase would do)."""

    def work(session: Any) -> None:
        chart.open_wallets(session, user_id)
        chart.open_system(session, chart.COIN_ISSUANCE, chart.COIN)
        specs = []
        if paid:
            specs.append(transfer(chart.COIN_ISSUANCE, chart.wallet_paid(user_id), paid, "COIN"))
        if bonus:
            specs.append(transfer(chart.COIN_ISSUANCE, chart.wallet_bonus(user_id), bonus, "COIN"))
        post_entries(session, specs, actor="test")

    app.run(work)


def add_item(
    app: Any,
    content_id: str,
    *,
    writer: str = "w1",
    content_type: str = "chapter",
    price: int | str | None = None,
    tier: str | None = None,
) -> Any:
    from legato_pay.readers.content import add_content

    return app.run(
        lambda s: add_content(
            s,
            app.settings,
            content_id,
            writer_id=writer,
            content_type=content_type,
            price=price,
            tier=tier,
        )[0]
    )


def wallet(app: Any, user_id: str) -> WalletBalance:
    return app.run(lambda s: wallet_balance(s, user_id), write=False)  # type: ignore[no-any-return]


def balance(app: Any, code: str) -> Any:
    from legato_pay.ledger import get_balance

    return app.run(lambda s: get_balance(s, code), write=False)


def snapshot(app: Any) -> dict[str, Any]:
    """Every account's totals and the row count of every reader-side table."""

    def work(session: Any) -> dict[str, Any]:
        balances = {
            account.code: balance_from_totals(account, account_totals(session, account)).as_json()
            for account in list_accounts(session, limit=100000)
        }
        counts = {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in _TABLES.items()
        }
        return {"balances": balances, "counts": counts}

    return app.run(work, write=False)  # type: ignore[no-any-return]


def assert_ledger_ok(app: Any) -> None:
    report = app.run(lambda s: verify_ledger(s), write=False)
    assert report.ok, report.problems


def run_parallel(database_url: str, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    """Start every command as its own ``legato-pay`` process at once; wait for all of them."""
    env = cli_env(database_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "commands.main", "--output", "json", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for args in commands
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append((process.returncode, out, err))
    return results
