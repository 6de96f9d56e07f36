"""``reports coins``: coins outstanding as a liability, and breakage.

From the ledger: every reader wallet (``user:<u>:coins:paid`` / ``user:<u>:coins:bonus``), its
posted credits − debits from every leg before the report's moment (the window's end, or now).
Outstanding coins are valued at ``coins.value_minor`` minor units of ``coins.value_currency``
each (the value a redemption would move to writers and the platform). A reader whose wallets
(either bucket) have had no leg for ``reports.breakage_inactive_days`` before that moment is
inactive: its coins are breakage, the part of the liability unlikely ever to be redeemed.
Grouped in SQL twice: per reader (balance, last movement), then per bucket and activity.

``currency`` (``--currency``) filters the money figures: coins are valued only in
``coins.value_currency``, so that currency gives the full report and any other (configured)
currency an empty one (no rows, zero totals in that currency): nothing is owed in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.ledger.types import utcnow
from legato_pay.reporting.result import ReportResult
from legato_pay.reporting.sums import total
from legato_pay.store.tables import ACCOUNTS, LEGS

BUCKETS = ("paid", "bonus")
COLUMNS = [
    "bucket",
    "readers",
    "coins",
    "value_minor",
    "currency",
    "inactive_readers",
    "breakage_coins",
    "breakage_value_minor",
]


@dataclass(frozen=True, slots=True)
class CoinsReport:
    at: datetime
    cutoff: datetime
    inactive_days: int
    value_minor: int
    currency: str
    rows: list[dict[str, Any]]

    def totals(self) -> dict[str, Any]:
        names = ("coins", "value_minor", "breakage_coins", "breakage_value_minor")
        return {
            "currency": self.currency,
            **{name: sum(row[name] for row in self.rows) for name in names},
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "inactive_since": self.cutoff.isoformat(),
            "breakage_inactive_days": self.inactive_days,
            "coin_value_minor": self.value_minor,
            "currency": self.currency,
            "rows": self.rows,
            "totals": self.totals(),
        }

    def result(self) -> ReportResult:
        return ReportResult(
            title=f"coins outstanding at {self.at.isoformat()}",
            columns=COLUMNS,
            rows=self.rows,
            totals=self.totals(),
            series=None,
            money_columns=["value_minor", "breakage_value_minor"],
        )


def coins_report(
    settings: Settings, session: Session, *, at: datetime | None, currency: str | None = None
) -> CoinsReport:
    """Outstanding and breakage coins per bucket at ``at`` (now when None); ``currency`` other
    than the coins' value currency: no rows (see the module docstring)."""
    moment = at or utcnow()
    days = settings.reports.breakage_inactive_days
    cutoff = moment - timedelta(days=days)
    value, valued_in = settings.coins.value_minor, settings.coins.value_currency
    if currency is not None and currency != valued_in:
        return CoinsReport(moment, cutoff, days, value, currency, [])
    return CoinsReport(
        moment, cutoff, days, value, valued_in, _rows(session, moment, cutoff, value, valued_in)
    )


def _rows(
    session: Session, moment: datetime, cutoff: datetime, value: int, currency: str
) -> list[dict[str, Any]]:
    """One row per bucket: readers, coins, their value, and the inactive part (breakage)."""
    found = {
        (bucket, inactive): (wallets, coins)
        for bucket, inactive, wallets, coins in _sums(session, moment, cutoff)
    }
    rows = []
    for bucket in BUCKETS:
        active_wallets, active = found.get((bucket, False), (0, 0))
        idle_wallets, idle = found.get((bucket, True), (0, 0))
        rows.append(
            {
                "bucket": bucket,
                "readers": active_wallets + idle_wallets,
                "coins": active + idle,
                "value_minor": (active + idle) * value,
                "currency": currency,
                "inactive_readers": idle_wallets,
                "breakage_coins": idle,
                "breakage_value_minor": idle * value,
            }
        )
    return rows


def _sums(session: Session, moment: datetime, cutoff: datetime) -> list[tuple[str, bool, int, int]]:
    """``(bucket, inactive, readers holding coins, coins)``: per reader first (both wallets,
    last movement), then per bucket and activity."""
    signed = case((LEGS.c.is_debit, -LEGS.c.amount), else_=LEGS.c.amount)
    is_paid = ACCOUNTS.c.code.endswith(":coins:paid")
    owner = func.replace(
        func.replace(ACCOUNTS.c.code, ":coins:paid", ""), ":coins:bonus", ""
    ).label(
        "owner"
    )  # grouped by its label: the select's bound strings would differ from GROUP BY's
    per_reader = (
        select(
            owner,
            total(case((is_paid, signed), else_=0)).label("paid"),
            total(case((is_paid, 0), else_=signed)).label("bonus"),
            func.max(LEGS.c.created_at).label("last"),
        )
        .select_from(LEGS.join(ACCOUNTS, ACCOUNTS.c.id == LEGS.c.account_id))
        .where(ACCOUNTS.c.code.like("user:%:coins:%"), LEGS.c.created_at < moment)
        .group_by(owner)
        .subquery()
    )
    inactive = case((per_reader.c.last < cutoff, 1), else_=0).label("inactive")
    query = select(
        inactive,
        total(case((per_reader.c.paid != 0, 1), else_=0)),
        total(per_reader.c.paid),
        total(case((per_reader.c.bonus != 0, 1), else_=0)),
        total(per_reader.c.bonus),
    ).group_by(inactive)
    out = []
    for idle, paid_readers, paid, bonus_readers, bonus in session.execute(query):
        out.append(("paid", bool(idle), int(paid_readers), int(paid)))
        out.append(("bonus", bool(idle), int(bonus_readers), int(bonus)))
    return out
