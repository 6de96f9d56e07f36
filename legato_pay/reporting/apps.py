"""``reports apps``: each app's revenue distributed to its investors, per month and currency.

Read from ``app_distributions`` and their lines (``shares.distributions``), summed in SQL. A
distribution belongs to the month of its **record date** (UTC): the period whose revenue it
shares out, whenever it was run. ``investors`` counts the distinct investors paid a line in
that app, month and currency (an investor in two distributions of the month counts once).
Totals are per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legato_pay.reporting.tax import parse_year, year_bounds
from legato_pay.shares.apps import require_app
from legato_pay.store.dialect import is_postgres
from legato_pay.store.tables import DISTRIBUTION_LINES, DISTRIBUTIONS


def month_of(session: Session, column: Any) -> Any:
    """``YYYY-MM`` of a UTC time column, in SQL (SQLite keeps times as UTC text)."""
    if is_postgres(session):
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.substr(column, 1, 7)


@dataclass(frozen=True, slots=True)
class AppMonth:
    app: str | None
    period: str | None
    currency: str
    distributions: int
    amount: int
    investors: int

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.app is not None:
            data |= {"app": self.app, "period": self.period}
        return data | {
            "currency": self.currency,
            "distributions": self.distributions,
            "amount_minor": self.amount,
            "investors": self.investors,
        }


@dataclass(frozen=True, slots=True)
class AppsReport:
    app: str | None
    year: int | None
    rows: list[AppMonth]
    totals: list[AppMonth]

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "year": self.year,
            "rows": [row.as_json() for row in self.rows],
            "totals": [row.as_json() for row in self.totals],
        }


def apps_report(
    session: Session, *, app: str | None = None, year: int | str | None = None
) -> AppsReport:
    """Distributions per app, month and currency: how many, the amount, investors paid.
    APP_NOT_FOUND (5) for an unknown app, VALIDATION_ERROR (3) for a bad year."""
    number = parse_year(year) if year is not None else None
    if app is not None:
        require_app(session, app)
    period = month_of(session, DISTRIBUTIONS.c.record_date).label("period")
    filters = []
    if app is not None:
        filters.append(DISTRIBUTIONS.c.app_id == app)
    if number is not None:
        bounds = year_bounds(number)
        filters += [
            DISTRIBUTIONS.c.record_date >= bounds[0],
            DISTRIBUTIONS.c.record_date < bounds[12],
        ]
    keys = [DISTRIBUTIONS.c.app_id, period, DISTRIBUTIONS.c.currency]
    sums = (
        select(
            *keys,
            func.count().label("distributions"),
            func.sum(DISTRIBUTIONS.c.amount).label("amount"),
        )
        .where(*filters)
        .group_by(*keys)
        .subquery("sums")
    )
    investors = (
        select(
            *keys, func.count(func.distinct(DISTRIBUTION_LINES.c.investor_id)).label("investors")
        )
        .join(DISTRIBUTION_LINES, DISTRIBUTION_LINES.c.distribution_id == DISTRIBUTIONS.c.id)
        .where(*filters, DISTRIBUTION_LINES.c.amount > 0)
        .group_by(*keys)
        .subquery("investors")
    )
    rows = session.execute(
        select(sums, func.coalesce(investors.c.investors, 0).label("investors"))
        .outerjoin(
            investors,
            (investors.c.app_id == sums.c.app_id)
            & (investors.c.period == sums.c.period)
            & (investors.c.currency == sums.c.currency),
        )
        .order_by(sums.c.app_id, sums.c.period, sums.c.currency)
    ).all()
    totals = session.execute(
        select(
            DISTRIBUTIONS.c.currency,
            func.count().label("distributions"),
            func.sum(DISTRIBUTIONS.c.amount).label("amount"),
        )
        .where(*filters)
        .group_by(DISTRIBUTIONS.c.currency)
        .order_by(DISTRIBUTIONS.c.currency)
    ).all()
    investors_by_currency = session.execute(
        select(
            DISTRIBUTIONS.c.currency,
            func.count(func.distinct(DISTRIBUTION_LINES.c.investor_id)).label("investors"),
        )
        .join(DISTRIBUTION_LINES, DISTRIBUTION_LINES.c.distribution_id == DISTRIBUTIONS.c.id)
        .where(*filters, DISTRIBUTION_LINES.c.amount > 0)
        .group_by(DISTRIBUTIONS.c.currency)
    ).all()
    total_investors = {row.currency: int(row.investors) for row in investors_by_currency}
    return AppsReport(
        app=app,
        year=number,
        rows=[
            AppMonth(
                r.app_id,
                r.period,
                r.currency,
                int(r.distributions),
                int(r.amount),
                int(r.investors),
            )
            for r in rows
        ],
        totals=[
            AppMonth(
                None,
                None,
                t.currency,
                int(t.distributions),
                int(t.amount),
                int(total_investors.get(t.currency, 0)),
            )
            for t in totals
        ],
    )
