"""A demo step the lead can call last: send the approved sandbox payouts.

``send_sandbox_payouts`` runs ``payouts run --gateway sandbox`` through the same service as
the CLI (nothing real is paid: the sandbox pays at once) and describes what it did. A second
demo finds nothing approved left and says so (``sent: 0``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from legato_pay.context import AppContext
from legato_pay.money import format_amount


def send_sandbox_payouts(app: AppContext, *, now: datetime | None = None) -> dict[str, Any]:
    """Send every approved sandbox payout; ``{"sent", "by_status", "paid"}``."""
    from legato_pay.payouts.sending import run_payouts

    report = run_payouts(app, gateway="sandbox", now=now)
    paid = report.totals().get("paid", {})
    return {
        "sent": len(report.lines),
        "by_status": {
            status: sum(slot["count"] for slot in by_currency.values())
            for status, by_currency in report.totals().items()
        },
        "paid": {
            currency: {
                "count": slot["count"],
                "net": format_amount(slot["net_minor"], currency),
            }
            for currency, slot in sorted(paid.items())
        },
    }
