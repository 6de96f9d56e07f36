"""Account names for the books: valid in beancount and hledger, one per code, by the chart."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from legato_pay import chart
from legato_pay.ledger.export.names import BOOK_RULES, ROOTS, book_account, component

#: beancount's account grammar, ASCII part (what the names use): a root, then components that
#: start with a capital or digit and hold letters, digits and hyphens.
BEANCOUNT_NAME = re.compile(r"(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]*)+")

HOSTILE = [
    "",
    " ",
    "a b",
    "a:b",
    'quote"d',
    "it's",
    "Zoë",
    "日本",
    "tab\there",
    "new\nline",
    "semi;colon",
    "--",
    "-lead",
    "x" * 300,
    "\ud800",
]


def test_each_family_of_the_chart_has_a_name_in_the_books() -> None:
    """A family added to the chart without a name here would fall to Other: caught now.
    (Escrow's families, whose chart rules land beside this, are all claimed by the books'
    ``escrow:`` rule.)"""
    patterns = {pattern.pattern for pattern, _ in BOOK_RULES}
    missing = [
        p.pattern
        for p, _ in chart._RULES
        if p.pattern not in patterns and not p.pattern.startswith("escrow:")
    ]
    assert missing == []
    assert book_account("escrow:dep-1:USD", "credit").name == "Liabilities:Escrow:Dep-1:USD"


def test_the_chart_families_map_to_their_meaning() -> None:
    expected = {
        "gateway:stripe:USD": "Assets:Gateway:Stripe:USD",
        "platform:receipts:ads:USD": "Assets:Receipts:Ads:USD",
        "platform:cash:tax:NGN": "Assets:Cash:Tax:NGN",
        "user:alice:coins:paid": "Liabilities:Coins:Alice:Paid",
        "user:42:coins:bonus": "Liabilities:Coins:42:Bonus",
        "platform:coin_sales:CAD": "Liabilities:CoinSales:CAD",
        "platform:coin_value:USD": "Liabilities:CoinValue:USD",
        "writer:demo-writer-1:earnings:USD": "Liabilities:Writers:Demo-writer-1:Earnings:USD",
        "investor:ivy:earnings:USD": "Liabilities:Investors:Ivy:Earnings:USD",
        "subscriptions:pool:2026-01:USD": "Liabilities:SubscriptionPools:2026-01:USD",
        "app:novel:funds:USD": "Liabilities:Apps:Novel:Funds:USD",
        "tax:withholding:NG:NGN": "Liabilities:TaxWithholding:NG:NGN",
        "payouts:in_flight:NGN": "Liabilities:PayoutsInFlight:NGN",
        "escrow:17:USD": "Liabilities:Escrow:17:USD",
        "platform:revenue:content:USD": "Income:Revenue:Content:USD",
        "platform:refund_losses:NGN": "Expenses:RefundLosses:NGN",
        "platform:coins:issuance": "Equity:Coins:Issuance",
        "platform:coins:redeemed": "Equity:Coins:Redeemed",
        "world:COIN": "Equity:World:COIN",
    }
    assert {code: book_account(code, "credit").name for code in expected} == expected


def test_an_account_no_family_claims_goes_by_its_normal_side() -> None:
    assert book_account("ops:float", "debit").name.startswith("Assets:Other:Ops-float--")
    assert book_account("ops:float", "credit").name.startswith("Liabilities:Other:Ops-float--")
    assert book_account("reserve", "credit").name == "Liabilities:Other:Reserve"
    assert book_account("ops:float", "debit").root == "Assets"


def test_hostile_parts_still_give_valid_names() -> None:
    for part in HOSTILE:
        for code in (f"user:{part}:coins:paid", f"writer:{part}:earnings:USD", part):
            name = book_account(code, "debit").name
            assert BEANCOUNT_NAME.fullmatch(name), (code, name)
            assert name.split(":")[0] in ROOTS


@given(st.text(max_size=30), st.text(max_size=30))
def test_distinct_parts_give_distinct_components(left: str, right: str) -> None:
    assert re.fullmatch(r"[A-Z0-9][A-Za-z0-9-]*", component(left))
    if left != right:
        assert component(left) != component(right)


def test_the_three_shapes_of_a_component_never_meet() -> None:
    # lower-case runs are capitalised, capitals stay, anything else is hashed after "--"
    assert [component(p) for p in ("alice", "a-b", "USD", "Alice", "a--b", "u")] == [
        "Alice",
        "A-b",
        "USD",
        f"Alice--{component('Alice').split('--')[1]}",
        f"A-b--{component('a--b').split('--')[1]}",
        "U",
    ]
    assert component("U") != component("u") and component("a-b") != component("A-b")
