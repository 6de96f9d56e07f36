"""``open_accounts``: new and existing accounts in one call (on PostgreSQL one statement that
also takes the journal lock)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from legato_pay import chart
from legato_pay.errors import AlreadyExists
from legato_pay.ledger import AccountRequest
from legato_pay.ledger.accounts import clear_account_cache
from legato_pay.store.dialect import is_postgres
from legato_pay.store.locks import JOURNAL


def test_new_and_existing_accounts_come_back_together(app: Any) -> None:
    existing = app.run(lambda s: chart.open_accounts(s, chart.wallet_accounts("old-reader")))
    clear_account_cache()  # known to the database only, as to a new listener process
    wanted = [*chart.wallet_accounts("old-reader"), *chart.wallet_accounts("new-reader")]

    def work(session: Any) -> tuple[dict[str, Any], int]:
        found = chart.open_accounts(session, wanted)
        held = 1
        if is_postgres(session):
            held = session.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND pid = pg_backend_pid() AND mode = 'ShareLock' AND objid = :key"
                ),
                {"key": JOURNAL},
            ).scalar_one()
        return found, held

    found, held = app.run(work)
    assert sorted(found) == sorted(request.code for request in wanted)
    for code, account in existing.items():
        assert found[code].id == account.id
    new_ids = {found[request.code].id for request in chart.wallet_accounts("new-reader")}
    assert len(new_ids) == 2 and not new_ids & {a.id for a in existing.values()}
    assert held == 1  # the seal's watermark covers the accounts opened


def test_an_existing_account_of_another_shape_is_refused(app: Any) -> None:
    app.run(lambda s: chart.open_accounts(s, [AccountRequest("shop:till", "USD")]))
    clear_account_cache()
    with pytest.raises(AlreadyExists):
        app.run(
            lambda s: chart.open_accounts(
                s, [AccountRequest("shop:till", "USD", no_overdraft=True)]
            )
        )
