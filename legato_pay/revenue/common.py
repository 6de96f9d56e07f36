"""Periods, streams and models as the edge names them, and allocation that says who got the
remainder units. Pure: no database here."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from fractions import Fraction
from typing import NamedTuple

from legato_pay.errors import InvalidInput
from legato_pay.money import allocate_with_floors

_PERIOD = re.compile(r"(\d{4})-(\d{2})", re.ASCII)

#: Streams a run covers: the pool, and the per-transaction streams it trues up.
POOL_STREAM = "subscription"
TRUEUP_STREAMS = ("content", "tips", "licensing", "ads")
STREAMS = (POOL_STREAM, *TRUEUP_STREAMS)
RECEIPT_STREAMS = ("licensing", "ads")
MODELS = ("pro-rata", "user-centric")


def parse_period(value: str) -> str:
    """``YYYY-MM`` (a real month), else ``VALIDATION_ERROR`` naming the field."""
    match = _PERIOD.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise InvalidInput(
            "--period must be a month as YYYY-MM, e.g. 2026-01",
            details={"period": str(value)[:40]},
            code="INVALID_PERIOD",
        )
    return f"{match.group(1)}-{match.group(2)}"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """The period's first instant and the first instant after it, UTC."""
    year, month = int(period[:4]), int(period[5:])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def next_period(period: str) -> str:
    return period_bounds(period)[1].strftime("%Y-%m")


def parse_choice(value: str, choices: Sequence[str], field: str) -> str:
    name = value.strip().lower() if isinstance(value, str) else ""
    if name not in choices:
        raise InvalidInput(
            f"{field} must be one of {', '.join(choices)}",
            details={field: str(value)[:40], "accepted": list(choices)},
        )
    return name


def parse_streams(value: str) -> list[str]:
    """``--stream``: one stream or ``all`` (every stream, pool first)."""
    name = parse_choice(value, (*STREAMS, "all"), "--stream")
    return list(STREAMS) if name == "all" else [name]


class Part(NamedTuple):
    """One recipient's part of an allocation: the floor of its exact share plus remainder.
    (A named tuple: a run makes one per writer, and it is cheaper to make than a dataclass.)"""

    amount: int
    remainder_units: int
    share: Fraction  # exact share of the total (weight / sum of weights)


def allocate_parts(total: int, weights: Sequence[int]) -> list[Part]:
    """``money.allocate`` (largest remainder), telling which parts got a remainder unit."""
    amounts, floors = allocate_with_floors(total, weights)
    weight_sum = sum(weights)
    return [
        Part(amount, amount - floor, Fraction(weight, weight_sum))
        for amount, floor, weight in zip(amounts, floors, weights, strict=True)
    ]


def share_text(share: Fraction) -> str:
    """A share as a 12-digit decimal fraction for display ("0.333333333333")."""
    scaled = share.numerator * 10**12 // share.denominator
    whole, fraction = divmod(scaled, 10**12)
    return f"{whole}.{fraction:012d}"


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: for the stretches of a run that make an object or
    more per writer (its lines, legs, accounts). Each collection of the oldest generation walks
    every object the process holds, the run's basis included, and with 10,000 writers they cost
    about 0.1 s; what these stretches make is freed by reference counting anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
