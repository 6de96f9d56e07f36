"""Fee tiers and the payout split: exact arithmetic, gross = net + fee + tax always."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato_pay.config import load_settings
from legato_pay.payouts.fees import breakdown, payout_fee

SETTINGS = load_settings().payouts


@pytest.mark.parametrize(
    ("gross", "fee"),
    [
        (10_000, 1_000),  # NGN 100.00: NGN 10
        (500_000, 1_000),  # NGN 5,000.00: still NGN 10 (inclusive)
        (500_001, 2_500),  # NGN 5,000.01: NGN 25
        (5_000_000, 2_500),  # NGN 50,000.00: NGN 25
        (5_000_001, 5_000),  # NGN 50,000.01: NGN 50
        (10**12, 5_000),
    ],
)
def test_paystack_ngn_bank_tiers(gross: int, fee: int) -> None:
    assert payout_fee(SETTINGS, "bank", "NGN", gross) == fee


def test_no_tiers_no_fee() -> None:
    assert payout_fee(SETTINGS, "sandbox", "NGN", 10**9) == 0
    assert payout_fee(SETTINGS, "stripe", "USD", 10**9) == 0
    assert payout_fee(SETTINGS, "bank", "USD", 10**9) == 0


@given(
    gross=st.integers(min_value=1, max_value=10**15),
    tax_permille=st.integers(min_value=0, max_value=200),
    kind=st.sampled_from(["bank", "stripe", "sandbox"]),
)
def test_gross_is_net_plus_fee_plus_tax(gross: int, tax_permille: int, kind: str) -> None:
    fee = payout_fee(SETTINGS, kind, "NGN", gross)
    tax = gross * tax_permille // 1000
    split = breakdown(gross, fee, tax)
    assert split.gross == split.net + split.fee + split.tax
    assert split.fee in (0, 1_000, 2_500, 5_000)


def test_tiers_must_end_unbounded_and_ascend() -> None:
    from legato_pay.config import PayoutSettings

    with pytest.raises(ValueError, match="up_to: null"):
        PayoutSettings(fees={"bank": {"NGN": [{"up_to": 10, "fee": 1}]}})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="ascending"):
        PayoutSettings(
            fees={
                "bank": {
                    "NGN": [
                        {"up_to": 10, "fee": 1},
                        {"up_to": 5, "fee": 2},  # type: ignore[dict-item]
                        {"up_to": None, "fee": 3},
                    ]
                }
            }
        )
