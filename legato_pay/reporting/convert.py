"""Converting a report's figures to a reporting currency at RECORDED rates.

Each bucket (a month by default) is converted at the rate in force at the bucket's end: the
newest ``fx_rates`` row for the pair whose ``as_of`` is before the bucket's end (the first moment
after it), or before the window's end when that comes first. A row ``FROM→TO`` is used as it is
(``amount × rate``); failing that, the newest ``TO→FROM`` row is inverted (``amount ÷ rate``).
The arithmetic is Decimal, exact to 60 digits, rounded half-even once per cell to the minor unit
of the reporting currency; the rate used (id, pair, rate, as_of, source) is returned beside the
figures, and a pair with no recorded rate leaves the bucket's converted figures null.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from legato_pay.ledger.types import as_utc
from legato_pay.money import currency_exponent
from legato_pay.store.tables import RATES


@dataclass(frozen=True, slots=True)
class UsedRate:
    """The recorded rate a bucket's figures in ``source`` were converted with."""

    bucket: str
    source: str
    target: str
    rate_id: int
    base: str
    quote: str
    rate: str
    as_of: datetime
    inverted: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.bucket,
            "from": self.source,
            "to": self.target,
            "rate_id": self.rate_id,
            "pair": f"{self.base}/{self.quote}",
            "rate": self.rate,
            "inverted": self.inverted,
            "as_of": self.as_of.isoformat(),
        }

    def convert(self, minor: int) -> int:
        return convert_minor(minor, self.source, self.target, self.rate, inverted=self.inverted)


def convert_minor(minor: int, source: str, target: str, rate: str, *, inverted: bool) -> int:
    """``minor`` units of ``source`` in ``target`` minor units: × rate (÷ when ``inverted``),
    Decimal throughout, half-even once at the end."""
    with localcontext() as context:
        context.prec = 60
        shift = Decimal(10) ** (currency_exponent(target) - currency_exponent(source))
        value = Decimal(minor) * shift
        exact = value / Decimal(rate) if inverted else value * Decimal(rate)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def bucket_end(label: str, by: str | None, window_end: datetime | None) -> datetime | None:
    """The first moment after the bucket labelled ``label`` (clipped to the window's end)."""
    end: datetime | None
    if by == "month":
        year, month = (int(part) for part in label.split("-"))
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    elif by == "day":
        end = datetime.strptime(label, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    elif by == "week":
        monday = datetime.strptime(label + "-1", "%G-W%V-%u").replace(tzinfo=UTC)
        end = monday + timedelta(days=7)
    else:
        end = None
    if window_end is not None and (end is None or window_end < end):
        return window_end
    return end


@dataclass
class RateBook:
    """Every recorded rate of one pair (both directions) up to a moment, read in one query,
    answering "the rate in force before T" for each bucket without another round trip."""

    source: str
    target: str
    direct: list[Any]  # source→target rows, oldest first
    inverse: list[Any]  # target→source rows, oldest first

    @classmethod
    def load(cls, session: Session, source: str, target: str, until: datetime | None) -> RateBook:
        pair = or_(
            and_(RATES.c.base == source, RATES.c.quote == target),
            and_(RATES.c.base == target, RATES.c.quote == source),
        )
        query = select(RATES).where(pair)
        if until is not None:
            query = query.where(RATES.c.as_of < until)
        rows = session.execute(query.order_by(RATES.c.as_of, RATES.c.id)).all()
        return cls(
            source,
            target,
            [row for row in rows if row.base == source],
            [row for row in rows if row.base == target],
        )

    def in_force(self, bucket: str, before: datetime | None) -> UsedRate | None:
        """The newest direct row before ``before`` (the newest of all when None), else the
        newest inverse one; None when neither was recorded by then."""
        row = _newest_before(self.direct, before) or _newest_before(self.inverse, before)
        if row is None:
            return None
        return UsedRate(
            bucket=bucket,
            source=self.source,
            target=self.target,
            rate_id=int(row.id),
            base=row.base,
            quote=row.quote,
            rate=row.rate,
            as_of=as_utc(row.as_of),  # type: ignore[arg-type]
            inverted=row.base != self.source,
        )


def _newest_before(rows: list[Any], before: datetime | None) -> Any:
    if before is None:
        return rows[-1] if rows else None
    times: list[datetime] = [as_utc(row.as_of) for row in rows]  # type: ignore[misc]
    index = bisect_left(times, before)  # rows[:index] are strictly before ``before``
    return rows[index - 1] if index else None
