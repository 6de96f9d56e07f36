"""Money: strict parsing, formatting, exact allocation and half-even conversion."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato_pay.errors import InvalidAmount, InvalidCurrency
from legato_pay.money import (
    MAX_MINOR_UNITS,
    Money,
    allocate,
    allocate_by_percent,
    convert,
    format_amount,
    normalize_currency,
    parse_amount,
    parse_minor_units,
    to_decimal_string,
)

# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        (" 12.50 ", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "USD", 1),
        ("+3", "USD", 300),
        ("12.340", "USD", 1234),  # trailing zeros beyond the exponent lose nothing
        ("12", "usd", 1200),
        ("1500", "NGN", 150000),
        ("12", "JPY", 12),
        ("250", "COIN", 250),
        ("10000000000000.00", "USD", MAX_MINOR_UNITS),
    ],
)
def test_parse_amount_accepts_exact_plain_decimals(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.345", "USD"),  # a fraction of a cent
        ("1e3", "USD"),
        ("1E3", "USD"),
        ("NaN", "USD"),
        ("nan", "USD"),
        ("inf", "USD"),
        ("-inf", "USD"),
        ("Infinity", "USD"),
        ("", "USD"),
        ("   ", "USD"),
        ("1,000", "USD"),
        ("12.50 USD", "USD"),
        ("$12", "USD"),
        (".5", "USD"),
        ("5.", "USD"),
        ("--5", "USD"),
        ("0x10", "USD"),
        ("1_000", "USD"),
        ("١٢", "USD"),  # Arabic-Indic digits
        ("１２", "USD"),  # fullwidth digits
        ("12.5", "JPY"),
        ("2.5", "COIN"),
        ("10000000000000.01", "USD"),  # one cent past the bound
        ("1" * 30, "USD"),
        ("9" * 19, "COIN"),
    ],
)
def test_parse_amount_refuses_anything_lossy_or_odd(text: str, currency: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(text, currency)
    assert caught.value.code == "INVALID_AMOUNT"
    assert caught.value.exit_status == 3


def test_too_many_decimals_names_the_currency_exponent() -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount("12.345", "USD")
    assert caught.value.details == {"value": "12.345", "currency": "USD", "exponent": 2}


def test_positive_refuses_zero_and_negatives_but_signed_parsing_allows_them() -> None:
    for text in ("-0.01", "0", "0.00", "-5"):
        with pytest.raises(InvalidAmount):
            parse_amount(text, "USD", positive=True)
    assert parse_amount("-0.01", "USD", positive=False) == -1
    assert parse_amount("0", "USD", positive=False) == 0
    assert parse_amount("-0", "USD", positive=False) == 0
    assert Money.parse("-12.5", "usd", positive=False) == Money(-1250, "USD")


def test_parse_amount_refuses_float_and_unknown_currency() -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(12.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        parse_amount(True, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidCurrency) as caught:
        parse_amount("1", "XYZ")
    assert caught.value.details["currency"] == "XYZ"
    assert "USD" in caught.value.details["known"]


def test_normalize_currency() -> None:
    assert normalize_currency(" ngn ") == "NGN"
    assert normalize_currency("coin") == "COIN"
    for bad in ("", "US", "DOLLARS", "usd1"):
        with pytest.raises(InvalidCurrency):
            normalize_currency(bad)


@pytest.mark.parametrize(
    ("value", "expected"), [("250", 250), (" 7 ", 7), (12, 12), ("+3", 3), ("007", 7)]
)
def test_parse_minor_units_accepts_whole_numbers(value: object, expected: int) -> None:
    assert parse_minor_units(value) == expected


@pytest.mark.parametrize("value", ["2.5", 2.0, True, "", "1e3", "0", "-1", "١٢", "1" * 19])
def test_parse_minor_units_refuses_the_rest(value: object) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_minor_units(value, field="coins")
    assert "coins" in caught.value.message


def test_parse_minor_units_signed() -> None:
    assert parse_minor_units("-4", positive=False) == -4
    with pytest.raises(InvalidAmount):
        parse_minor_units(str(MAX_MINOR_UNITS + 1), positive=False)


# --- the Money value -----------------------------------------------------------------------


def test_money_refuses_float_bool_and_unknown_currency() -> None:
    with pytest.raises(InvalidAmount):
        Money(12.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(12.0, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True, "USD")
    with pytest.raises(InvalidAmount):
        Money("12", "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidCurrency):
        Money(1, "XYZ")
    with pytest.raises(InvalidAmount):
        Money(MAX_MINOR_UNITS + 1, "USD")
    assert Money(-MAX_MINOR_UNITS, "USD").minor == -MAX_MINOR_UNITS


def test_money_arithmetic_stays_within_one_currency() -> None:
    assert Money(150, "USD") + Money(25, "USD") == Money(175, "USD")
    assert Money(150, "USD") - Money(200, "USD") == Money(-50, "USD")
    assert -Money(5, "NGN") == Money(-5, "NGN")
    with pytest.raises(InvalidCurrency) as caught:
        Money(1, "USD") + Money(1, "CAD")
    assert caught.value.details == {"left": "USD", "right": "CAD"}
    with pytest.raises(InvalidCurrency):
        Money(1, "USD") - Money(1, "NGN")


def test_money_is_immutable_and_hashable() -> None:
    money = Money(100, "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.minor = 5  # type: ignore[misc]
    assert {money, Money(100, "USD")} == {Money(100, "USD")}


def test_money_json_and_display() -> None:
    assert Money(123456, "USD").as_json() == {
        "amount": 123456,
        "currency": "USD",
        "display": "1,234.56 USD",
    }
    assert Money(1000, "USD").allocate([70, 30]) == [Money(700, "USD"), Money(300, "USD")]


# --- formatting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "USD", "12.50 USD"),
        (5, "USD", "0.05 USD"),
        (-5, "USD", "-0.05 USD"),
        (0, "USD", "0.00 USD"),
        (123456789, "NGN", "1,234,567.89 NGN"),
        (1500, "JPY", "1,500 JPY"),
        (7, "COIN", "7 COIN"),
        (-1234567, "COIN", "-1,234,567 COIN"),
    ],
)
def test_format_amount(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text


def test_to_decimal_string() -> None:
    assert to_decimal_string(1250, "USD") == "12.50"
    assert to_decimal_string(-5, "USD") == "-0.05"
    assert to_decimal_string(0, "USD") == "0.00"
    assert to_decimal_string(42, "COIN") == "42"


currencies = st.sampled_from(["USD", "NGN", "JPY", "COIN"])


@given(st.integers(-MAX_MINOR_UNITS, MAX_MINOR_UNITS), currencies)
def test_decimal_string_round_trips_through_the_parser(minor: int, currency: str) -> None:
    assert parse_amount(to_decimal_string(minor, currency), currency, positive=False) == minor


# --- allocation ----------------------------------------------------------------------------

weights_strategy = st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(
    lambda w: sum(w) > 0
)


@given(st.integers(-(10**12), 10**12), weights_strategy)
def test_allocate_sums_to_the_whole_and_stays_within_a_unit_of_each_share(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total * weight, weight_sum)
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0
    assert allocate(total, weights) == parts  # deterministic


@given(st.integers(0, 10**12), weights_strategy)
def test_allocate_gives_leftovers_to_the_largest_remainders(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    weight_sum = sum(weights)
    remainders = [Fraction(total * w, weight_sum) % 1 for w in weights]
    floors = [total * w // weight_sum for w in weights]
    bumped = [i for i, (p, f) in enumerate(zip(parts, floors, strict=True)) if p > f]
    kept = [i for i, (p, f) in enumerate(zip(parts, floors, strict=True)) if p == f]
    for i in bumped:
        for j in kept:
            # a larger remainder always wins; on a tie the earlier index does
            assert remainders[i] > remainders[j] or (remainders[i] == remainders[j] and i < j)


@given(st.integers(1, 10**12), weights_strategy)
def test_negative_totals_split_symmetrically(total: int, weights: list[int]) -> None:
    assert allocate(-total, weights) == [-part for part in allocate(total, weights)]


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (1, [1, 1, 1], [1, 0, 0]),
        (2, [1, 1, 1], [1, 1, 0]),
        (-1, [1, 1], [-1, 0]),
        (-100, [1, 1, 1], [-34, -33, -33]),
        (5, [0, 1, 1], [0, 3, 2]),
        (10, [3, 7], [3, 7]),
        (0, [5, 5], [0, 0]),
        (999, [70, 30], [699, 300]),
    ],
)
def test_allocate_worked_examples(total: int, weights: list[int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts


@pytest.mark.parametrize("weights", [[], [0, 0], [-1, 2], [1.5, 1], [True, 1]])
def test_allocate_refuses_bad_weights(weights: list[object]) -> None:
    with pytest.raises(InvalidAmount):
        allocate(100, weights)  # type: ignore[arg-type]


def test_allocate_by_percent() -> None:
    assert allocate_by_percent(1000, ["70", "30"]) == [700, 300]
    assert allocate_by_percent(999, ["70", "30"]) == [699, 300]
    assert allocate_by_percent(1, ["50", "50"]) == [1, 0]
    assert allocate_by_percent(1000, ["12.5", "87.5"]) == [125, 875]
    assert allocate_by_percent(1000, [100]) == [1000]
    assert allocate_by_percent(10, ["33.3333", "33.3333", "33.3334"]) == [3, 3, 4]


@given(st.integers(-(10**12), 10**12), st.integers(0, 100))
def test_allocate_by_percent_always_adds_up(total: int, writer: int) -> None:
    parts = allocate_by_percent(total, [str(writer), str(100 - writer)])
    assert sum(parts) == total
    assert abs(parts[0] - Fraction(total * writer, 100)) < 1


@pytest.mark.parametrize(
    "percents",
    [["70", "20"], ["70", "40"], ["abc", "100"], ["NaN", "100"], ["-10", "110"], [70.0, 30.0]],
)
def test_allocate_by_percent_refuses_bad_percentages(percents: list[object]) -> None:
    with pytest.raises(InvalidAmount):
        allocate_by_percent(1000, percents)  # type: ignore[arg-type]


# --- conversion ----------------------------------------------------------------------------


def test_convert_uses_the_exponents_of_both_currencies() -> None:
    assert convert(100, "USD", "NGN", "1500.25") == 150025  # $1.00 -> NGN 1,500.25
    assert convert(1000, "USD", "JPY", "150") == 1500  # $10.00 -> JPY 1,500
    assert convert(1500, "JPY", "USD", "0.0066") == 990  # JPY 1,500 -> $9.90
    assert convert(7, "COIN", "USD", "0.01") == 7  # 7 coins at $0.01 -> 7 cents
    assert convert(7, "COIN", "USD", "0.005") == 4  # 3.5 cents -> 4 (half-even)
    assert convert(5, "COIN", "USD", "0.001") == 0  # 0.5 cents -> 0 (half-even)


@pytest.mark.parametrize(
    ("minor", "rate", "expected"),
    [
        (1, "150", 2),  # 1.5 -> 2
        (1, "250", 2),  # 2.5 -> 2
        (1, "350", 4),  # 3.5 -> 4
        (1, "251", 3),  # 2.51 -> 3
        (-1, "250", -2),  # -2.5 -> -2
        (-1, "350", -4),
    ],
)
def test_convert_rounds_half_even_once(minor: int, rate: str, expected: int) -> None:
    assert convert(minor, "USD", "JPY", rate) == expected


@pytest.mark.parametrize("rate", ["0", "-1", "NaN", "inf", "abc", "", 1.5])
def test_convert_refuses_bad_rates(rate: object) -> None:
    with pytest.raises(InvalidAmount):
        convert(100, "USD", "NGN", rate)  # type: ignore[arg-type]


def test_convert_refuses_float_amounts_and_unknown_currencies() -> None:
    with pytest.raises(InvalidAmount):
        convert(1.5, "USD", "NGN", "1500")  # type: ignore[arg-type]
    with pytest.raises(InvalidCurrency):
        convert(100, "USD", "XYZ", "2")
