"""Shared set-up for the withholding-tax tests: withheld tax posted as the payouts engine would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from legato_pay import chart
from legato_pay.errors import AccountNotFound
from legato_pay.ledger import EntrySpec, LegSpec, get_balance, post_entries


def post_withholding(
    app: Any, amount: int, at: datetime, *, currency: str = "NGN", country: str = "NG"
) -> None:
    """Tax withheld from a payout at ``at``: the payout's cash side (a gateway) against the
    liability (only the tax leg matters here)."""
    liability = chart.tax_withholding(country, currency)
    source = chart.gateway_cash("sandbox", currency)

    def work(session: Any) -> None:
        chart.open_accounts(
            session,
            [
                chart.tax_withholding_account(country, currency),
                chart.system_account(source, currency, debit_normal=True),
            ],
        )
        spec = EntrySpec(
            legs=(
                LegSpec(source, "debit", amount, currency),
                LegSpec(liability, "credit", amount, currency),
            ),
            effective_at=at,
        )
        post_entries(session, [spec], actor="payouts", now=at)

    app.run(work)


def posted(app: Any, code: str) -> int:
    try:
        return app.run(lambda s: get_balance(s, code).posted, write=False)  # type: ignore[no-any-return]
    except AccountNotFound:
        return 0


def set_profile(
    app: Any, writer: str, *, payee_type: str = "individual", tin: str | None = None
) -> None:
    """A Nigerian tax profile for ``writer`` (``tin`` None: the no-TIN rate)."""
    from legato_pay.payouts.tax import set_tax_profile

    settings = app.settings
    app.run(
        lambda s: set_tax_profile(
            s, settings, writer=writer, country="NG", payee_type=payee_type, tin=tin, actor="ops"
        )
    )
