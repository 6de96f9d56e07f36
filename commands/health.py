"""``legato-pay health``: the database, each configured gateway, the webhook inbox and the
ledger's integrity, checked at once; exit 13 UNHEALTHY naming every failing check."""

from typing import Any

from commands.output import emit, state


def _row(check: dict[str, Any]) -> dict[str, Any]:
    facts = {k: v for k, v in check.items() if k not in ("check", "ok", "elapsed_ms", "problems")}
    return {
        "check": check["check"],
        "ok": "ok" if check["ok"] else "FAIL",
        "ms": check["elapsed_ms"],
        "facts": ", ".join(f"{k}={v}" for k, v in facts.items()),
        "problems": "; ".join(f"{p['code']}: {p['message']}" for p in check["problems"]),
    }


def health() -> None:
    """Check the database (a timed query), each configured gateway (an authenticated call,
    cached for health.gateway_cache_seconds), the webhook inbox (oldest unapplied event, failed
    events) and the ledger (unsealed entries' age, the last `ledger verify`). Thresholds are
    under `health:` in the config. Exit 13 UNHEALTHY names each failing check."""
    from legato_pay.errors import Unhealthy
    from legato_pay.health import check_health

    report = check_health(state().app)
    data = report.as_json()
    emit(
        data,
        rows=[_row(check) for check in data["checks"]],
        columns=["check", "ok", "ms", "facts", "problems"],
        title="health",
    )
    if not report.ok:
        problems = [{"check": c["check"], **p} for c in data["checks"] for p in c["problems"]]
        raise Unhealthy(
            "unhealthy: " + ", ".join(report.failing),
            details={"failing": report.failing, "problems": problems},
        )
