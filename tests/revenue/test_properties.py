"""Properties of the pool split: every allocation adds up exactly, each writer is within one
minor unit of the exact rational share, and the two models agree when every subscriber pays
the same fee with the same minutes profile."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legato_pay.revenue.basis import Basis
from legato_pay.revenue.common import allocate_parts
from legato_pay.revenue.pool import split_pool
from legato_pay.revenue.runs import run_revenue
from tests.factories import make_users
from tests.revenue.helpers import AFTER, PERIOD, amounts, read, subscribe, writers_with_content

WRITERS = ["a", "b", "c", "d", "e"]
PERCENTS = ("65", "35")

subscribers = st.lists(
    st.tuples(
        st.integers(1, 10**7),  # fee
        st.dictionaries(st.sampled_from(WRITERS), st.integers(1, 44640), max_size=5),  # minutes
    ),
    min_size=1,
    max_size=12,
)


def basis_of(data: list[tuple[int, dict[str, int]]]) -> Basis:
    """The basis the SQL builds, built the plain way from (fee, minutes per writer) rows."""
    basis = Basis("USD")
    for fee, minutes in data:
        basis.fees += fee
        basis.subscribers += 1
        total = sum(minutes.values())
        if not total:
            basis.unengaged_fees += fee
        for writer, m in minutes.items():
            basis.minutes[writer] = basis.minutes.get(writer, 0) + m
            per = basis.by_total.setdefault(writer, {})
            per[total] = per.get(total, 0) + fee * m
    return basis


def exact_weights(data: list[tuple[int, dict[str, int]]], model: str) -> dict[str, Fraction]:
    """The model's definition, in rationals."""
    minutes: dict[str, int] = {}
    for _, per in data:
        for writer, m in per.items():
            minutes[writer] = minutes.get(writer, 0) + m
    if model == "pro-rata":
        return {w: Fraction(m) for w, m in minutes.items()}
    grand = sum(minutes.values())
    weights = {w: Fraction(0) for w in minutes}
    for fee, per in data:
        total = sum(per.values())
        if not total:
            for writer, m in minutes.items():  # no minutes: the fee follows the pro-rata split
                weights[writer] += Fraction(fee * m, grand)
        for writer, m in per.items():
            weights[writer] += Fraction(fee * m, total)
    return weights


@given(total=st.integers(-(10**12), 10**12), weights=st.lists(st.integers(0, 10**6), min_size=1))
def test_every_allocation_adds_up_and_names_its_remainder_units(
    total: int, weights: list[int]
) -> None:
    if not any(weights):
        weights = [*weights, 1]
    parts = allocate_parts(abs(total), weights)
    assert sum(part.amount for part in parts) == abs(total)
    assert all(part.remainder_units in (0, 1) for part in parts)
    floors = sum(abs(total) * w // sum(weights) for w in weights)
    assert sum(part.remainder_units for part in parts) == abs(total) - floors


@settings(max_examples=300, deadline=None)
@given(
    data=subscribers,
    pool=st.integers(0, 10**9),
    model=st.sampled_from(["pro-rata", "user-centric"]),
)
def test_the_pool_adds_up_and_each_writer_is_within_a_unit_of_exact(
    data: list[tuple[int, dict[str, int]]], pool: int, model: str
) -> None:
    split = split_pool(basis_of(data), pool, model=model, percents=PERCENTS, no_engagement="carry")
    paid = sum(line.amount for line in split.lines)
    assert paid + split.platform + split.carried == pool
    if split.unengaged:
        assert split.carried == pool and not split.lines
        return
    assert paid == split.writers
    weights = exact_weights(data, model)
    weight_sum = sum(weights.values())
    for line in split.lines:
        exact = split.writers * weights[line.writer_id] / weight_sum
        assert abs(line.amount - exact) < 1
        if model == "pro-rata":  # (user-centric weights may be scaled: the floor is theirs)
            assert line.remainder_units == line.amount - exact.numerator // exact.denominator
        assert line.remainder_units in (0, 1)


@settings(max_examples=300, deadline=None)
@given(
    fee=st.integers(1, 10**6),
    profile=st.dictionaries(st.sampled_from(WRITERS), st.integers(1, 5000), min_size=1),
    count=st.integers(1, 20),
    pool_extra=st.integers(0, 10**5),
)
def test_the_models_agree_when_every_subscriber_pays_and_reads_alike(
    fee: int, profile: dict[str, int], count: int, pool_extra: int
) -> None:
    basis = basis_of([(fee, dict(profile))] * count)
    pool = fee * count + pool_extra  # a carried-in remainder changes nothing either
    results = {
        model: split_pool(basis, pool, model=model, percents=PERCENTS, no_engagement="carry")
        for model in ("pro-rata", "user-centric")
    }
    assert [(line.writer_id, line.amount) for line in results["pro-rata"].lines] == [
        (line.writer_id, line.amount) for line in results["user-centric"].lines
    ]


@pytest.mark.parametrize("fee", [499, 1999])
def test_the_models_agree_on_a_stored_period_too(app: Any, fee: int) -> None:
    """The same through the SQL basis: five subscribers, one fee, one reading profile."""
    writers_with_content(app, "a", "b", "c")
    readers = [f"r{i}" for i in range(5)]
    make_users(app, *readers)
    for reader in readers:
        subscribe(app, reader, fee)
        read(app, (reader, "a", 7), (reader, "b", 11), (reader, "c", 13))
    [dry] = run_revenue(app, period=PERIOD, model="user-centric", dry_run=True, now=AFTER)
    [ran] = run_revenue(app, period=PERIOD, model="pro-rata", now=AFTER)
    assert {line.writer_id: line.amount for line in dry.lines} == amounts(ran, app)
    assert sum(amounts(ran, app).values()) == ran.totals["USD"]["writers"]
