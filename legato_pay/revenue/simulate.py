"""``revenue simulate``: the pool under both models, side by side per writer, writing nothing.

It reads exactly what a run of the period would (the same basis, pool balances, caps and
policy), so its pro-rata column is what ``revenue run --model pro-rata`` would post now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from legato_pay.config import Settings
from legato_pay.money import format_amount
from legato_pay.revenue.common import POOL_STREAM, parse_period
from legato_pay.revenue.plan import plan_run


@dataclass(frozen=True, slots=True)
class Comparison:
    writer_id: str
    currency: str
    pro_rata: int
    user_centric: int

    @property
    def difference(self) -> int:
        return self.user_centric - self.pro_rata

    def as_json(self) -> dict[str, Any]:
        def money(minor: int) -> dict[str, Any]:
            return {
                "amount": minor,
                "currency": self.currency,
                "display": format_amount(minor, self.currency),
            }

        return {
            "writer": self.writer_id,
            "currency": self.currency,
            "pro_rata": money(self.pro_rata),
            "user_centric": money(self.user_centric),
            "difference": money(self.difference),
            "pro_rata_minor": self.pro_rata,
            "user_centric_minor": self.user_centric,
            "difference_minor": self.difference,
        }


def simulate(session: Session, settings: Settings, period: str) -> dict[str, Any]:
    """Per writer and currency: the amount under each model and the difference (user-centric
    minus pro-rata); and the share of writers better off under each."""
    month = parse_period(period)
    plans = {
        model: plan_run(session, settings, period=month, stream=POOL_STREAM, model=model)
        for model in ("pro-rata", "user-centric")
    }
    amounts: dict[str, dict[tuple[str, str], int]] = {
        model: {(line.writer_id, line.currency): line.amount for line in plan.lines}
        for model, plan in plans.items()
    }
    keys = sorted(set(amounts["pro-rata"]) | set(amounts["user-centric"]))
    rows = [
        Comparison(
            writer,
            currency,
            amounts["pro-rata"].get((writer, currency), 0),
            amounts["user-centric"].get((writer, currency), 0),
        )
        for writer, currency in keys
    ]
    count = len(rows)
    better_uc = sum(1 for row in rows if row.difference > 0)
    better_pr = sum(1 for row in rows if row.difference < 0)
    return {
        "period": month,
        "writers": [row.as_json() for row in rows],
        "summary": {
            "writers": count,
            "better_off_pro_rata": better_pr,
            "better_off_user_centric": better_uc,
            "same": count - better_pr - better_uc,
            "better_off_pro_rata_percent": _percent(better_pr, count),
            "better_off_user_centric_percent": _percent(better_uc, count),
        },
        "totals": plans["pro-rata"].totals(),
    }


def _percent(part: int, whole: int) -> str:
    if not whole:
        return "0.0"
    tenths = (part * 1000 + whole // 2) // whole
    return f"{tenths // 10}.{tenths % 10}"
