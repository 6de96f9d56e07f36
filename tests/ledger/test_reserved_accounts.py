"""The services' namespaces: an operator cannot open accounts there, the chart's rules say what
shape each code is opened with, and ``verify`` reports an existing row of another shape (one
opened before the refusal existed) instead of letting it block a service forever."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay import chart, ledger
from legato_pay.errors import AccountNotFound, InvalidInput
from legato_pay.ledger import AccountRequest
from legato_pay.ledger.accounts import validate_code

#: Every kind of account the services open, as they ask for it.
SERVICE_REQUESTS = [
    *chart.wallet_accounts("dave"),
    chart.writer_earnings_account("wendy", "USD"),
    chart.system_account(chart.COIN_ISSUANCE, chart.COIN),
    chart.system_account(chart.COINS_REDEEMED, chart.COIN),
    chart.system_account(chart.gateway_cash("stripe", "USD"), "USD", debit_normal=True),
    chart.system_account(chart.coin_sales("NGN"), "NGN"),
    chart.system_account(chart.coin_value("USD"), "USD"),
    chart.system_account(chart.platform_revenue("content", "USD"), "USD"),
    chart.system_account(chart.refund_losses("USD"), "USD", debit_normal=True),
    chart.system_account(chart.subscription_pool("2026-11", "EUR"), "EUR"),
]


@pytest.mark.parametrize("request_", SERVICE_REQUESTS, ids=lambda r: r.code)
def test_the_rules_give_the_shape_each_service_opens(request_: AccountRequest) -> None:
    assert chart.reserved_namespace(request_.code) is not None
    assert chart.expected_account(request_.code) == request_


def test_the_world_is_expected_as_the_ledger_opens_it(app: Any) -> None:
    world = app.run(lambda s: ledger.get_account(s, "world:GBP"))  # opened on first use
    expected = chart.expected_account("world:GBP")
    assert expected is not None
    assert (world.currency, world.hot, world.no_overdraft, world.normal_side) == (
        expected.currency,
        expected.hot,
        expected.no_overdraft,
        expected.normal_side,
    )


@pytest.mark.parametrize("code", ["ops:float", "savings:42", "users:1", "worldwide:USD"])
def test_codes_outside_the_namespaces_have_no_rule(code: str) -> None:
    assert chart.reserved_namespace(code) is None
    assert chart.expected_account(code) is None


@pytest.mark.parametrize(
    "code",
    [
        "user:dave:coins:paid",
        "user:42:wallet",
        "writer:w:earnings:USD",
        "platform:anything",
        "gateway:stripe:USD",
        "subscriptions:pool:2026-11:USD",
        "world:EUR",
        "escrow:deal-1",
        "app:a1:fees:USD",
        "investor:i1:USD",
    ],
)
def test_an_operator_cannot_open_a_reserved_code(app: Any, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        app.run(lambda s: chart.open_operator_account(s, code, "USD"))
    error = refused.value
    assert (error.code, error.exit_status) == ("RESERVED_ACCOUNT", 3)
    namespace = chart.reserved_namespace(code)
    assert error.details == {"code": code, "namespace": namespace}
    assert f"{namespace}*" in error.message and "services" in error.message
    assert app.run(lambda s: ledger.list_accounts(s), write=False) == []


def test_an_operator_opens_other_codes_and_services_still_open_theirs(app: Any) -> None:
    opened = app.run(lambda s: chart.open_operator_account(s, "ops:float", "USD", hot=True))
    assert (opened.code, opened.hot) == ("ops:float", True)
    paid, bonus = app.run(lambda s: chart.open_wallets(s, "dave"))
    assert {(a.currency, a.no_overdraft) for a in (paid, bonus)} == {("COIN", True)}
    report = app.run(
        lambda s: ledger.verify_ledger(s, expected_account=chart.expected_account), write=False
    )
    assert report.ok, report.problems


def test_verify_reports_reserved_accounts_of_another_shape(app: Any) -> None:
    """Rows an operator could open before: each blocks a service; verify names each."""

    def open_bad_rows(session: Any) -> None:
        ledger.open_account(session, "user:dave:coins:paid", "USD")  # COIN, no overdraft
        ledger.open_account(session, "world:EUR", "USD", hot=True)  # EUR
        ledger.open_account(session, "writer:w:earnings:USD", "USD")  # no overdraft cleared
        ledger.open_account(session, "gateway:stripe:USD", "USD", hot=True)  # credit side
        ledger.open_account(session, "platform:coin_sales:USD", "USD")  # not hot
        ledger.open_account(session, "user:dave:wallet", "USD")  # no rule: not reported
        chart.open_wallets(session, "erin")  # right: not reported

    app.run(open_bad_rows)
    report = app.run(
        lambda s: ledger.verify_ledger(s, expected_account=chart.expected_account), write=False
    )
    reserved = {p["details"]["account"]: p for p in report.problems}
    assert {p["code"] for p in report.problems} == {"RESERVED_ACCOUNT"}
    assert sorted(reserved) == [
        "gateway:stripe:USD",
        "platform:coin_sales:USD",
        "user:dave:coins:paid",
        "world:EUR",
        "writer:w:earnings:USD",
    ]
    assert reserved["world:EUR"]["details"]["found"]["currency"] == "USD"
    assert reserved["world:EUR"]["details"]["expected"]["currency"] == "EUR"
    assert reserved["writer:w:earnings:USD"]["details"]["expected"]["no_overdraft"] is True
    assert reserved["gateway:stripe:USD"]["details"]["expected"]["normal_side"] == "debit"
    # without the chart's rules the ledger alone has nothing to say about them
    assert app.run(ledger.verify_ledger, write=False).ok


@pytest.mark.parametrize("code", ["wallet\n", "wallet\r", "wal let", "wället", "ｗallet", ""])
def test_account_codes_are_whole_ascii_strings(code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_code(code)
    assert refused.value.code == "INVALID_ACCOUNT_CODE"


def test_looking_up_an_impossible_code_is_not_found_before_the_database(app: Any) -> None:
    for code in ("wallet\n", "a\x00b", "x" * 500):
        with pytest.raises(AccountNotFound):
            app.run(lambda s, code=code: ledger.get_balance(s, code), write=False)
