"""The accounts revenue runs and receipts open are the chart's: reserved, with the rule's shape."""

from __future__ import annotations

import pytest

from legato_pay import chart
from legato_pay.ledger import AccountRequest

REQUESTS = [
    chart.system_account(chart.revenue_receipts("licensing", "USD"), "USD", debit_normal=True),
    chart.system_account(chart.revenue_receipts("ads", "NGN"), "NGN", debit_normal=True),
    chart.system_account(chart.platform_revenue("licensing", "USD"), "USD"),
    chart.system_account(chart.platform_revenue("subscription", "USD"), "USD"),
    chart.system_account(chart.subscription_pool("2026-02", "USD"), "USD"),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r.code)
def test_revenue_accounts_are_reserved_with_the_shape_the_services_open(
    request_: AccountRequest,
) -> None:
    assert chart.reserved_namespace(request_.code) == "platform:" or request_.code.startswith(
        "subscriptions:pool:"
    )
    assert chart.expected_account(request_.code) == request_


def test_receipts_of_an_unknown_stream_have_no_rule() -> None:
    assert chart.expected_account("platform:receipts:royalties:USD") is None
