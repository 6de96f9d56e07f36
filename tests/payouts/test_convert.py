"""``payouts request --convert-to``: paid in another currency at the newest fresh rate, half-even
once, gross = net + fee + tax in the payout currency, one pending entry balanced per currency;
a stale or missing rate refuses and changes nothing; cancelling gives the source money back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato_pay import chart
from legato_pay.config import PayoutSettings
from legato_pay.errors import IdempotencyConflict, InvalidInput, LegatoError
from legato_pay.ledger import get_balance, get_entry
from legato_pay.ledger.types import utcnow
from legato_pay.payouts.conversion import convert_exact, round_half_even
from legato_pay.payouts.fees import breakdown, payout_fee
from legato_pay.payouts.requests import request_payout
from legato_pay.payouts.status import cancel_payout
from legato_pay.payouts.tax import withhold
from legato_pay.payouts.views import approval_content
from legato_pay.readers.fx import set_rate
from tests.factories import add_users, assert_ledger_ok
from tests.payouts.helpers import available, counts, earn, in_flight_pending, sandbox_method
from tests.tax.helpers import set_profile


def _rate(app: Any, base: str, quote: str, rate: str, age: timedelta = timedelta(0)) -> int:
    settings = app.settings
    when = utcnow() - age
    return app.run(  # type: ignore[no-any-return]
        lambda s: set_rate(s, settings, base, quote, rate, as_of=when, now=utcnow()).id
    )


def _writer(app: Any) -> None:
    """wendy: 100.00 USD of released earnings, a sandbox NGN method, NG individual with TIN."""
    add_users(app, wendy="writer")
    earn(app, "wendy", "USD", posted=10_000)
    sandbox_method(app, "wendy", "NGN")
    set_profile(app, "wendy", tin="12345678-0001")


def _request(app: Any, **kw: Any) -> Any:
    kw.setdefault("currency", "USD")
    kw.setdefault("convert_to", "NGN")
    return app.run(lambda s: request_payout(s, app.settings, actor="ops", writer="wendy", **kw))


def _balance(app: Any, code: str) -> Any:
    return app.run(lambda s: get_balance(s, code), write=False)


def test_converted_at_a_fresh_rate(app: Any) -> None:
    _writer(app)
    rate_id = _rate(app, "USD", "NGN", "1550.25")

    payout = _request(app, amount="100.00", key="w-conv-1")

    # 100.00 USD x 1550.25 = 155,025.00 NGN; tax 5 % = 7,751.25; sandbox: no fee
    assert (payout.currency, payout.gross, payout.fee, payout.tax, payout.net) == (
        "NGN",
        15_502_500,
        0,
        775_125,
        14_727_375,
    )
    conversion = payout.as_json()["conversion"]
    assert conversion["from"] == "USD" and conversion["source_gross_minor"] == 10_000
    assert (conversion["rate"], conversion["rate_id"]) == ("1550.25", rate_id)
    assert available(app, "wendy", "USD") == 0
    assert in_flight_pending(app, "NGN") == 15_502_500
    assert _balance(app, chart.platform_fx("USD")).pending == 10_000
    assert _balance(app, chart.platform_fx("NGN")).pending == -15_502_500
    legs = app.run(lambda s: get_entry(s, payout.entry_id), write=False).legs
    assert sorted((leg.account, leg.side, leg.pending_amount) for leg in legs) == [
        ("payouts:in_flight:NGN", "credit", 15_502_500),
        ("platform:fx:NGN", "debit", 15_502_500),
        ("platform:fx:USD", "credit", 10_000),
        ("writer:wendy:earnings:USD", "debit", 10_000),
    ]  # balanced per currency
    content: Any = approval_content(payout)
    assert content["source"] == "writer:wendy:earnings:USD"
    assert content["conversion"]["rate"] == "1550.25"

    again = _request(app, amount="100.00", key="w-conv-1")
    assert again.replayed and again.id == payout.id
    with pytest.raises(IdempotencyConflict):
        _request(app, amount="90.00", key="w-conv-1")

    app.run(lambda s: cancel_payout(s, payout.id, actor="ops"))
    assert available(app, "wendy", "USD") == 10_000  # the source money is back
    assert in_flight_pending(app, "NGN") == 0
    assert_ledger_ok(app)


def test_inverse_pair_is_divided_and_rounded_half_even(app: Any) -> None:
    add_users(app, wendy="writer")
    earn(app, "wendy", "NGN", posted=5_000_000)
    sandbox_method(app, "wendy", "USD")
    _rate(app, "USD", "NGN", "1600")  # only USD->NGN is known: NGN->USD divides by it

    payout = _request(app, currency="NGN", convert_to="USD", amount="20040.00")

    # 2,004,000 kobo / 1600 = 1252.5 cents -> 1252 (half-even)
    assert (payout.currency, payout.gross, payout.net) == ("USD", 1_252, 1_252)
    assert payout.conversion.rate == "1/1600"
    assert available(app, "wendy", "NGN") == 5_000_000 - 2_004_000


def test_stale_or_missing_rate_refuses_and_changes_nothing(app: Any) -> None:
    _writer(app)
    before = counts(app)
    with pytest.raises(LegatoError) as missing:
        _request(app, amount="50.00")
    assert missing.value.code == "NO_RATE"
    _rate(app, "USD", "NGN", "1500", age=timedelta(hours=30))  # max_age_hours: 24
    before = counts(app)
    with pytest.raises(LegatoError) as stale:
        _request(app, amount="50.00")
    assert stale.value.code == "STALE_RATE" and stale.value.exit_status == 3
    assert counts(app) == before
    assert available(app, "wendy", "USD") == 10_000
    with pytest.raises(InvalidInput):
        _request(app, amount="50.00", convert_to="USD")  # the earnings' own currency
    with pytest.raises(LegatoError) as unknown:
        _request(app, amount="50.00", convert_to="EUR")
    assert unknown.value.code == "INVALID_CURRENCY"
    assert counts(app) == before


def test_round_half_even_is_exact() -> None:
    assert [round_half_even(Fraction(n, 2)) for n in (1, 3, 5, -1)] == [0, 2, 2, 0]
    assert convert_exact(2_400, "NGN", "USD", "1/1600") == 2  # 1.5 -> 2
    assert convert_exact(4_000, "NGN", "USD", "1/1600") == 2  # 2.5 -> 2
    assert convert_exact(1, "USD", "NGN", "0.5") == 0  # 0.5 -> 0
    assert convert_exact(3, "USD", "NGN", "0.5") == 2  # 1.5 -> 2


TIERS = PayoutSettings(
    fees={"bank": {"NGN": [{"up_to": 500_000, "fee": 1_000}, {"up_to": None, "fee": 5_000}]}}  # type: ignore[dict-item]
)


@given(
    source=st.integers(min_value=1, max_value=10**12),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("5000"), places=4),
    inverse=st.booleans(),
    tax_rate=st.sampled_from(["0", "5", "7.5", "10", "20"]),
    kind=st.sampled_from(["bank", "sandbox"]),
)
def test_gross_is_net_plus_fee_plus_tax_after_conversion(
    source: int, rate: Decimal, inverse: bool, tax_rate: str, kind: str
) -> None:
    text = f"1/{rate}" if inverse else str(rate)
    gross = convert_exact(source, "USD", "NGN", text)
    exact = Fraction(source) * (1 / Fraction(str(rate)) if inverse else Fraction(str(rate)))
    assert abs(gross - exact) <= Fraction(1, 2)  # rounded once
    if gross <= 0:
        return
    fee = payout_fee(TIERS, kind, "NGN", gross)
    tax = withhold(gross, Decimal(tax_rate))
    if fee + tax >= gross:
        return  # refused as AMOUNT_TOO_SMALL
    split = breakdown(gross, fee, tax)
    assert split.gross == split.net + split.fee + split.tax and split.net > 0


def test_cli_stale_rate_is_exit_3_with_the_json_error(sqlite_url: str) -> None:
    from legato_pay.context import AppContext
    from tests.cli_runner import run_cli
    from tests.payouts.helpers import KEY

    app = AppContext.create(database_url=sqlite_url, actor="t")
    _writer(app)
    _rate(app, "USD", "NGN", "1500", age=timedelta(hours=25))
    args = ["payouts", "request", "--writer", "wendy", "--currency", "USD", "--amount", "50.00"]
    refused = run_cli(sqlite_url, *args, "--convert-to", "NGN", LEGATO_ENCRYPTION_KEY=KEY)
    assert (refused.status, refused.error["code"], refused.stdout) == (3, "STALE_RATE", "")
    _rate(app, "USD", "NGN", "1500")
    made = run_cli(sqlite_url, *args, "--convert-to", "ngn", LEGATO_ENCRYPTION_KEY=KEY)
    assert made.status == 0, made.stderr
    assert (made.json["gross"]["display"], made.json["conversion"]["rate"]) == (
        "75,000.00 NGN",
        "1500",
    )
