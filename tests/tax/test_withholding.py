"""Withholding arithmetic and tax profiles: exact integer tax, half-up rounding, the Nigerian
table (5 % individual, 10 % corporate, doubled without a TIN), TIN formats, on both databases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato_pay.config import load_settings
from legato_pay.errors import ConfigError, InvalidInput, NotFound
from legato_pay.payouts.tax import (
    get_tax_profile,
    list_tax_profiles,
    set_tax_profile,
    withhold,
    withholding_for,
)
from tests.factories import add_users

RATES = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)


@given(gross=st.integers(min_value=0, max_value=10**15), rate=RATES)
def test_gross_is_net_plus_tax_and_tax_is_rounded_half_up(gross: int, rate: Decimal) -> None:
    tax = withhold(gross, rate)
    net = gross - tax
    assert gross == net + tax
    assert 0 <= tax <= gross
    exact = Decimal(gross) * rate / 100
    assert abs(Decimal(tax) - exact) <= Decimal("0.5")
    if exact - int(exact) == Decimal("0.5"):
        assert tax == int(exact) + 1  # a half rounds up


@pytest.mark.parametrize(
    ("gross", "rate", "tax"),
    [(100000, "5", 5000), (10, "5", 1), (9, "5", 0), (30, "5", 2), (1, "50", 1), (3, "7.5", 0)],
)
def test_worked_amounts(gross: int, rate: str, tax: int) -> None:
    # 10 x 5 % = 0.5 -> 1 (half up); 9 x 5 % = 0.45 -> 0; 30 x 5 % = 1.5 -> 2
    assert withhold(gross, Decimal(rate)) == tax


@pytest.mark.parametrize("gross", [-1, True, 1.5])
def test_bad_gross_is_refused(gross: Any) -> None:
    with pytest.raises(InvalidInput):
        withhold(gross, Decimal(5))


def test_config_refuses_a_bad_withholding_table() -> None:
    with pytest.raises(ConfigError, match=r"tax\.withholding"):
        load_settings(overrides={"tax": {"withholding": {"ng": {"individual": "5"}}}})
    with pytest.raises(ConfigError, match="exceeds 100"):
        load_settings(
            overrides={"tax": {"withholding": {"GH": {"corporate": "60", "no_tin_multiplier": 2}}}}
        )
    with pytest.raises(ConfigError):
        load_settings(overrides={"tax": {"withholding": {"GH": {"tin_pattern": "("}}}})


@pytest.mark.parametrize(
    ("payee_type", "tin", "gross", "rate", "tax"),
    [
        ("individual", "12345678-0001", 1_000_000, "5", 50_000),
        ("individual", None, 1_000_000, "10", 100_000),
        ("corporate", "1234567890", 1_000_000, "10", 100_000),
        ("corporate", None, 1_000_001, "20", 200_000),
    ],
)
def test_nigerian_rates_by_profile(
    app: Any, payee_type: str, tin: str | None, gross: int, rate: str, tax: int
) -> None:
    add_users(app, wendy="writer")
    settings = app.settings
    app.run(
        lambda s: set_tax_profile(
            s, settings, writer="wendy", country="NG", payee_type=payee_type, tin=tin, actor="t"
        )
    )
    found = app.run(lambda s: withholding_for(s, settings, "wendy", gross, "NGN"), write=False)
    assert found == (tax, Decimal(rate), "NG")


def test_no_profile_or_unconfigured_country_withholds_nothing(app: Any) -> None:
    add_users(app, wendy="writer", gus="writer")
    settings = app.settings
    assert app.run(lambda s: withholding_for(s, settings, "wendy", 5000, "USD")) == (
        0,
        Decimal(0),
        None,
    )
    app.run(
        lambda s: set_tax_profile(
            s, settings, writer="gus", country="GH", payee_type="individual", tin=None, actor="t"
        )
    )
    assert app.run(lambda s: withholding_for(s, settings, "gus", 5000, "USD")) == (
        0,
        Decimal(0),
        "GH",
    )


def test_profiles_replace_show_and_list(app: Any) -> None:
    add_users(app, wendy="writer", vera="writer", rita="reader")
    settings = app.settings

    def set_profile(writer: str, **kw: Any) -> Any:
        return app.run(lambda s: set_tax_profile(s, settings, writer=writer, actor="t", **kw))

    set_profile("wendy", country="NG", payee_type="individual", tin=None)
    set_profile("wendy", country="NG", payee_type="corporate", tin="12345678-0001")
    set_profile("vera", country="GH", payee_type="individual", tin="GHA-1")
    shown = app.run(lambda s: get_tax_profile(s, settings, "wendy"), write=False)
    assert (shown.payee_type, shown.tin, shown.rate) == ("corporate", "12345678-0001", Decimal(10))
    listed = app.run(lambda s: list_tax_profiles(s, settings, country="NG"), write=False)
    assert [view.writer for view in listed] == ["wendy"]
    assert len(app.run(lambda s: list_tax_profiles(s, settings), write=False)) == 2

    for bad in (
        {"country": "NG", "payee_type": "individual", "tin": "1234"},  # bad TIN format
        {"country": "NG", "payee_type": "individual", "tin": "12345678-0001\n"},
        {"country": "NG", "payee_type": "individual", "tin": "١٢٣٤٥٦٧٨-٠٠٠١"},  # non-ASCII digits
        {"country": "Nigeria", "payee_type": "individual", "tin": None},
        {"country": "NG", "payee_type": "person", "tin": None},
    ):
        with pytest.raises(InvalidInput):
            set_profile("wendy", **bad)
    with pytest.raises(InvalidInput):  # a reader is not a writer
        set_profile("rita", country="NG", payee_type="individual", tin=None)
    with pytest.raises(NotFound) as caught:
        set_profile("nobody", country="NG", payee_type="individual", tin=None)
    assert caught.value.code == "USER_NOT_FOUND"
    with pytest.raises(NotFound) as caught:
        app.run(lambda s: get_tax_profile(s, settings, "rita"))
    assert caught.value.code == "TAX_PROFILE_NOT_FOUND"
    shown = app.run(lambda s: get_tax_profile(s, settings, "wendy"), write=False)
    assert shown.tin == "12345678-0001"  # the refusals changed nothing
