"""The health checks and the gateways report as Prometheus gauges (text exposition format).

Series (the gateway ones cover the last ``health.metrics_window_hours``):

- ``legato_health_ok{check}`` 1 or 0; ``legato_health_check_milliseconds{check}``
- ``legato_health_inbox_oldest_unapplied_seconds``, ``legato_health_inbox_failed_events``
- ``legato_health_ledger_oldest_unsealed_seconds``, ``legato_health_ledger_last_seal_age_seconds``,
  ``legato_health_ledger_last_verify_ok``,
  ``legato_health_ledger_last_verify_age_seconds`` (absent when never measured)
- ``legato_gateway_payments{gateway, currency, status}`` status created|succeeded|failed|flagged
- ``legato_gateway_success_ratio{gateway, currency}`` (0 to 1)
- ``legato_gateway_volume_minor{gateway, currency}`` (paid amounts, minor units)
- ``legato_gateway_credit_seconds{gateway, currency, quantile}`` quantile 0.5|0.95
- ``legato_gateway_webhook_events{provider, status}`` status received|applied|failed|waiting
- ``legato_gateway_webhook_apply_seconds{provider, quantile}``
- ``legato_gateway_errors{gateway, source, code}`` source payment|webhook
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from legato_pay.health.service import HealthReport
    from legato_pay.reporting.gateways import GatewaysReport

_HELP = {
    "legato_health_ok": "1 when the health check passes, 0 when it fails.",
    "legato_health_check_milliseconds": "How long the health check (or its cached probe) took.",
    "legato_health_inbox_oldest_unapplied_seconds": "Age of the oldest webhook event not applied.",
    "legato_health_inbox_failed_events": "Webhook events that failed and wait for a replay.",
    "legato_health_ledger_oldest_unsealed_seconds": "Age of the oldest entry no seal covers.",
    "legato_health_ledger_last_seal_age_seconds": "Seconds since the last ledger seal.",
    "legato_health_ledger_last_verify_ok": "1 when the last ledger verify found no problem.",
    "legato_health_ledger_last_verify_age_seconds": "Seconds since the last ledger verify.",
    "legato_gateway_payments": "Payments created in the window, by their status now.",
    "legato_gateway_success_ratio": "Paid payments over created ones in the window.",
    "legato_gateway_volume_minor": "Paid amounts in the window, in minor units of the currency.",
    "legato_gateway_credit_seconds": "Time from a payment's creation to its credit.",
    "legato_gateway_webhook_events": "Webhook events received in the window, by status.",
    "legato_gateway_webhook_apply_seconds": "Time from receiving a webhook event to applying it.",
    "legato_gateway_errors": "Failed payments and webhook events in the window, by error code.",
}


def _esc(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(name: str, labels: dict[str, Any], value: float | int) -> str:
    inner = ",".join(f'{key}="{_esc(v)}"' for key, v in labels.items())
    number = str(value) if isinstance(value, int) else repr(float(value))
    return f"{name}{{{inner}}} {number}" if inner else f"{name} {number}"


def _block(name: str, samples: Iterable[str]) -> list[str]:
    lines = list(samples)
    if not lines:
        return []
    return [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} gauge", *lines]


def health_lines(report: HealthReport) -> list[str]:
    checks = [check.as_json() for check in report.checks]
    lines = _block(
        "legato_health_ok",
        (_sample("legato_health_ok", {"check": c["check"]}, int(c["ok"])) for c in checks),
    )
    lines += _block(
        "legato_health_check_milliseconds",
        (
            _sample("legato_health_check_milliseconds", {"check": c["check"]}, c["elapsed_ms"])
            for c in checks
        ),
    )
    facts: dict[str, Any] = {}
    for check in checks:
        facts.update({k: v for k, v in check.items() if not isinstance(v, (list, dict))})
    for name, fact in (
        ("legato_health_inbox_oldest_unapplied_seconds", "oldest_unapplied_seconds"),
        ("legato_health_inbox_failed_events", "failed_events"),
        ("legato_health_ledger_oldest_unsealed_seconds", "oldest_unsealed_seconds"),
        ("legato_health_ledger_last_seal_age_seconds", "last_seal_age_seconds"),
        ("legato_health_ledger_last_verify_ok", "last_verify_ok"),
        ("legato_health_ledger_last_verify_age_seconds", "last_verify_age_seconds"),
    ):
        value = facts.get(fact)
        if value is not None:
            lines += _block(name, [_sample(name, {}, int(value))])
    return lines


def _seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000


def gateway_lines(report: GatewaysReport) -> list[str]:
    rows = report.payments
    lines = _block(
        "legato_gateway_payments",
        (
            _sample(
                "legato_gateway_payments",
                {"gateway": r["gateway"], "currency": r["currency"], "status": status},
                r[status],
            )
            for r in rows
            for status in ("created", "succeeded", "failed", "flagged")
        ),
    )
    lines += _block(
        "legato_gateway_success_ratio",
        (
            _sample(
                "legato_gateway_success_ratio",
                {"gateway": r["gateway"], "currency": r["currency"]},
                r["succeeded"] / r["created"] if r["created"] else 0.0,
            )
            for r in rows
        ),
    )
    lines += _block(
        "legato_gateway_volume_minor",
        (
            _sample(
                "legato_gateway_volume_minor",
                {"gateway": r["gateway"], "currency": r["currency"]},
                r["volume_minor"],
            )
            for r in rows
        ),
    )
    lines += _block(
        "legato_gateway_credit_seconds",
        (
            _sample(
                "legato_gateway_credit_seconds",
                {"gateway": r["gateway"], "currency": r["currency"], "quantile": q},
                seconds,
            )
            for r in rows
            for q, key in (("0.5", "credit_p50_ms"), ("0.95", "credit_p95_ms"))
            if (seconds := _seconds(r[key])) is not None
        ),
    )
    hooks = report.webhooks
    lines += _block(
        "legato_gateway_webhook_events",
        (
            _sample(
                "legato_gateway_webhook_events", {"provider": h["provider"], "status": s}, h[key]
            )
            for h in hooks
            for s, key in (
                ("received", "events"),
                ("applied", "applied"),
                ("failed", "failed"),
                ("waiting", "waiting"),
            )
        ),
    )
    lines += _block(
        "legato_gateway_webhook_apply_seconds",
        (
            _sample(
                "legato_gateway_webhook_apply_seconds",
                {"provider": h["provider"], "quantile": q},
                seconds,
            )
            for h in hooks
            for q, key in (("0.5", "apply_p50_ms"), ("0.95", "apply_p95_ms"))
            if (seconds := _seconds(h[key])) is not None
        ),
    )
    lines += _block(
        "legato_gateway_errors",
        (
            _sample(
                "legato_gateway_errors",
                {"gateway": e["gateway"], "source": e["source"], "code": e["code"]},
                e["count"],
            )
            for e in report.errors
        ),
    )
    return lines


def render_gauges(health: HealthReport | None, gateways: GatewaysReport | None) -> str:
    lines = (health_lines(health) if health else []) + (gateway_lines(gateways) if gateways else [])
    return "\n".join(lines) + ("\n" if lines else "")
