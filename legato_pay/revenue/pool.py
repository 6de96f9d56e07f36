"""Splitting one currency's subscription pool: pure arithmetic over a ``Basis``.

The pool is split writers/platform by ``revenue.subscription`` (largest remainder), then the
writers' part among writers by one largest-remainder allocation over their weights:

- **pro-rata**: a writer's weight is their minutes (of this currency's subscribers);
- **user-centric**: a writer's weight is Σ over subscribers of fee × (minutes on the writer ÷
  the subscriber's minutes); subscribers with no minutes add their fees by the pro-rata split.
  The weights are exact integers (scaled by the lcm of the subscribers' minute totals) while that
  lcm stays under 10^40; past it they are scaled by 10^40 and floored (off by < 10^-30 of a
  unit). Either way the parts add up to the pool exactly.

Ties between equal remainders go to the writer whose id sorts first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from legato_pay.money import allocate_by_percent
from legato_pay.revenue.basis import Basis
from legato_pay.revenue.common import allocate_parts, gc_paused

EXACT_SCALE_LIMIT = 10**40


class Line(NamedTuple):
    """One writer's line: a pool share (basis: minutes) or a true-up (basis: period value).
    (A named tuple: a run makes one per writer, and it is cheaper to make than a dataclass.)"""

    writer_id: str
    currency: str
    kind: str  # share | adjustment | deferred
    basis_minutes: int
    basis_value: int
    paid_before: int
    share: Fraction
    amount: int
    remainder_units: int


@dataclass(slots=True)
class PoolSplit:
    """What a run does with one currency's pool."""

    currency: str
    pool: int
    writers: int = 0
    platform: int = 0
    carried: int = 0  # into the next period's pool (no engagement, policy "carry")
    unengaged: bool = False
    lines: list[Line] = field(default_factory=list)


def weights(basis: Basis, model: str) -> tuple[list[str], list[int]]:
    """Writers (sorted by id) and their integer weights under ``model``."""
    writers = sorted(basis.minutes)
    if model == "pro-rata":
        return writers, [basis.minutes[w] for w in writers]
    total_minutes = sum(basis.minutes.values())
    totals = {d for per in basis.by_total.values() for d in per}
    if basis.unengaged_fees:
        totals.add(total_minutes)
    scale = math.lcm(*totals) if totals else 1
    if scale > EXACT_SCALE_LIMIT:
        scale = EXACT_SCALE_LIMIT
    result = []
    for writer in writers:
        weight = sum((s * scale) // d for d, s in basis.by_total.get(writer, {}).items())
        weight += (basis.unengaged_fees * basis.minutes[writer] * scale) // total_minutes
        result.append(weight)
    return writers, result


def split_pool(
    basis: Basis, pool: int, *, model: str, percents: tuple[str, str], no_engagement: str
) -> PoolSplit:
    """The pool's split: lines per writer with their remainder units, or the no-engagement
    policy (carry into the next pool, or all to the platform)."""
    split = PoolSplit(basis.currency, pool)
    if pool <= 0:
        return split
    writers, weight_list = weights(basis, model)
    if not writers or not any(weight_list):
        split.unengaged = True
        if no_engagement == "carry":
            split.carried = pool
        else:
            split.platform = pool
        return split
    split.writers, split.platform = allocate_by_percent(pool, list(percents))
    if split.writers == 0:
        return split
    currency, minutes = basis.currency, basis.minutes
    with gc_paused():
        split.lines = [
            Line(writer, currency, "share", minutes[writer], 0, 0, share, amount, remainder_units)
            for writer, (amount, remainder_units, share) in zip(
                writers, allocate_parts(split.writers, weight_list), strict=True
            )
        ]
    return split
