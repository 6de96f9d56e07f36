"""``reports tax`` and the data of ``tax certificate``: withholding per writer and month.

**Withheld** is the tax recorded on a writer's payouts that were paid: status ``paid`` now (a
reversed, failed or cancelled payout withheld nothing), dated by the moment it became ``paid``
(its timeline step to ``paid``, UTC), which is when the payouts run credits the tax to
``tax:withholding:<CC>:<CUR>``. Its month is that moment's month.

**Remitted**: ``tax remit`` pays a whole month of one country and currency at once (one
``tax_remittances`` row per country, period and currency). So a writer's tax withheld in month M
for country CC in currency CUR counts as remitted exactly when a remittance for (CC, M, CUR)
exists; **outstanding** = withheld - remitted. Months are labelled in SQL (a CASE over the
year's month boundaries), the same on SQLite and PostgreSQL, and everything is summed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from legato_pay.errors import InvalidInput
from legato_pay.ledger.types import as_utc
from legato_pay.payouts.tax import validate_country
from legato_pay.readers.users import get_user
from legato_pay.store.tables import PAYOUT_EVENTS, PAYOUTS, TAX_REMITTANCES


def parse_year(year: int | str) -> int:
    text = str(year)
    if not text.isascii() or not text.isdigit() or not 1970 <= int(text) <= 9998:
        raise InvalidInput(
            f"--year is a year such as 2026, not {text[:10]!r}", details={"year": text[:10]}
        )
    return int(text)


def year_bounds(year: int) -> list[datetime]:
    """The 13 month boundaries of ``year``: 1 January, 1 February, …, 1 January next year."""
    return [datetime(year + m // 12, m % 12 + 1, 1, tzinfo=UTC) for m in range(13)]


def paid_payouts(year: int) -> Any:
    """A subquery: each payout paid in ``year`` with ``paid_at`` and its month ``period``."""
    bounds = year_bounds(year)
    paid_at = (
        select(PAYOUT_EVENTS.c.payout_id, func.min(PAYOUT_EVENTS.c.created_at).label("paid_at"))
        .where(PAYOUT_EVENTS.c.to_status == "paid")
        .group_by(PAYOUT_EVENTS.c.payout_id)
        .subquery("paid_at")
    )
    period = case(
        *((paid_at.c.paid_at < bounds[m + 1], literal(f"{year}-{m + 1:02d}")) for m in range(12))
    ).label("period")
    return (
        select(PAYOUTS, paid_at.c.paid_at, period)
        .join(paid_at, paid_at.c.payout_id == PAYOUTS.c.id)
        .where(
            PAYOUTS.c.status == "paid",
            paid_at.c.paid_at >= bounds[0],
            paid_at.c.paid_at < bounds[12],
        )
        .subquery("paid")
    )


@dataclass(frozen=True, slots=True)
class TaxRow:
    writer: str | None
    period: str | None
    country: str | None
    currency: str
    rate: str | None
    payouts: int
    gross: int
    withheld: int
    remitted: int

    @property
    def outstanding(self) -> int:
        return self.withheld - self.remitted

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.writer is not None:
            data |= {"writer": self.writer, "period": self.period, "country": self.country}
        data |= {"currency": self.currency}
        if self.writer is not None:
            data["rate_percent"] = self.rate
        return data | {
            "payouts": self.payouts,
            "gross_minor": self.gross,
            "withheld_minor": self.withheld,
            "remitted_minor": self.remitted,
            "outstanding_minor": self.outstanding,
        }


@dataclass(frozen=True, slots=True)
class TaxReport:
    year: int
    writer: str | None
    country: str | None
    rows: list[TaxRow]
    totals: list[TaxRow]

    def as_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "writer": self.writer,
            "country": self.country,
            "rows": [row.as_json() for row in self.rows],
            "totals": [row.as_json() for row in self.totals],
        }


def _figures(paid: Any) -> list[Any]:
    remitted = case((TAX_REMITTANCES.c.id.is_not(None), paid.c.tax), else_=0)
    return [
        func.count(paid.c.id).label("payouts"),
        func.sum(paid.c.gross).label("gross"),
        func.sum(paid.c.tax).label("withheld"),
        func.sum(remitted).label("remitted"),
    ]


def tax_report(
    session: Session,
    *,
    year: int | str,
    writer: str | None = None,
    country: str | None = None,
) -> TaxReport:
    """Per writer, month, country, currency and rate: gross, withheld, remitted, outstanding
    (see the module docstring), with per-currency totals. USER_NOT_FOUND (5) for an unknown
    writer; VALIDATION_ERROR (3) for a bad year or country."""
    number = parse_year(year)
    if country is not None:
        validate_country(country)
    if writer is not None:
        get_user(session, writer, kind="writer")
    paid = paid_payouts(number)
    base = (
        select()
        .select_from(paid)
        .outerjoin(
            TAX_REMITTANCES,
            and_(
                TAX_REMITTANCES.c.country == paid.c.tax_country,
                TAX_REMITTANCES.c.currency == paid.c.currency,
                TAX_REMITTANCES.c.period == paid.c.period,
            ),
        )
    )
    if writer is not None:
        base = base.where(paid.c.writer_id == writer)
    if country is not None:
        base = base.where(paid.c.tax_country == country)
    keys = [paid.c.writer_id, paid.c.period, paid.c.tax_country, paid.c.currency, paid.c.tax_rate]
    rows = session.execute(
        base.add_columns(*keys, *_figures(paid)).group_by(*keys).order_by(*keys)
    ).all()
    totals = session.execute(
        base.add_columns(paid.c.currency, *_figures(paid))
        .group_by(paid.c.currency)
        .order_by(paid.c.currency)
    ).all()
    return TaxReport(
        year=number,
        writer=writer,
        country=country,
        rows=[_tax_row(r, keyed=True) for r in rows],
        totals=[_tax_row(r, keyed=False) for r in totals],
    )


def _tax_row(row: Any, *, keyed: bool) -> TaxRow:
    return TaxRow(
        writer=row.writer_id if keyed else None,
        period=row.period if keyed else None,
        country=row.tax_country if keyed else None,
        currency=row.currency,
        rate=row.tax_rate if keyed else None,
        payouts=int(row.payouts),
        gross=int(row.gross or 0),
        withheld=int(row.withheld or 0),
        remitted=int(row.remitted or 0),
    )


@dataclass(frozen=True, slots=True)
class Deduction:
    payout: int
    paid_at: datetime
    country: str | None
    currency: str
    gross: int
    rate: str
    withheld: int

    def as_json(self) -> dict[str, Any]:
        return {
            "payout": self.payout,
            "date": self.paid_at.date().isoformat(),
            "country": self.country,
            "currency": self.currency,
            "gross_minor": self.gross,
            "rate_percent": self.rate,
            "withheld_minor": self.withheld,
        }


def deductions(session: Session, *, writer: str, year: int) -> list[Deduction]:
    """Each payout of ``writer`` paid in ``year`` that had tax withheld, in order paid."""
    paid = paid_payouts(year)
    rows = session.execute(
        select(paid)
        .where(paid.c.writer_id == writer, paid.c.tax > 0)
        .order_by(paid.c.paid_at, paid.c.id)
    )
    return [
        Deduction(
            payout=row.id,
            paid_at=as_utc(row.paid_at),  # type: ignore[arg-type]
            country=row.tax_country,
            currency=row.currency,
            gross=int(row.gross),
            rate=row.tax_rate,
            withheld=int(row.tax),
        )
        for row in rows
    ]
