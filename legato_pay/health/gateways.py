"""Gateway probes: one cheap authenticated call per gateway, cached in ``health_records``.

- ``sandbox``: always ok (it is this database).
- ``paystack``: ``GET /balance`` with the secret key (``PAYSTACK_SECRET_KEY``).
- ``stripe``: ``balance.retrieve`` (``STRIPE_SECRET_KEY``).

A probe's answer is kept under ``gateway:<name>`` and reused while younger than
``health.gateway_cache_seconds``, so readiness checks and scrapes never call a gateway each
time. A missing key is CONFIG_ERROR, a refused key or an unreachable API its gateway error
code: the check fails naming it (never the key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from legato_pay.errors import LegatoError
from legato_pay.health.checks import Check
from legato_pay.health.records import Record, read_record, write_record

if TYPE_CHECKING:
    import httpx

    from legato_pay.context import AppContext

#: A probe makes its call and returns facts, or raises a LegatoError.
Probe = Callable[["AppContext", str], dict[str, Any]]


def configured_gateways(app: AppContext) -> list[str]:
    """``health.gateways`` if set; else the default gateway, or with ``auto`` every gateway
    ``by_currency`` names (and the sandbox for currencies it does not)."""
    if app.settings.health.gateways is not None:
        return list(dict.fromkeys(app.settings.health.gateways))
    settings = app.settings.gateways
    if settings.default != "auto":
        return [settings.default]
    return sorted(set(settings.by_currency.values()) | {"sandbox"})


def paystack_probe(app: AppContext, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    from legato_pay.gateways.paystack.gateway import PaystackGateway

    with PaystackGateway.from_env(app.settings.gateways, transport=transport) as gateway:
        entries = gateway.client.balance()
    return {"balances": sorted({str(entry.get("currency")) for entry in entries})}


def stripe_probe(app: AppContext) -> dict[str, Any]:
    from legato_pay.gateways.stripe.gateway import StripeGateway

    with StripeGateway.from_env(app.settings.gateways) as gateway:
        found = gateway.balance().get("available")
    entries = found if isinstance(found, list) else []
    return {"balances": sorted({str(e.get("currency")) for e in entries if isinstance(e, dict)})}


def probe_gateway(app: AppContext, name: str) -> dict[str, Any]:
    """The real probe for ``name`` (see the module docstring)."""
    if name == "sandbox":
        return {}
    if name == "paystack":
        return paystack_probe(app)
    return stripe_probe(app)


def check_gateway(app: AppContext, name: str, now: datetime, probe: Probe = probe_gateway) -> Check:
    """The cached outcome for ``name`` if fresh, else a new probe (recorded for the next)."""
    key = f"gateway:{name}"
    ttl = timedelta(seconds=app.settings.health.gateway_cache_seconds)
    cached = app.run(lambda s: read_record(s, key), write=False)
    if cached is not None and now - cached.checked_at < ttl:
        return _as_check(name, cached, now, cached=True)
    started = time.perf_counter()
    try:
        facts, ok = probe(app, name), True
    except LegatoError as error:
        facts, ok = {"code": error.code, "message": error.message}, False
    elapsed = round((time.perf_counter() - started) * 1000)
    record = Record(key, ok, facts, elapsed, now)
    app.run(lambda s: write_record(s, record))
    return _as_check(name, record, now, cached=False)


def _as_check(name: str, record: Record, now: datetime, *, cached: bool) -> Check:
    facts = {k: v for k, v in record.detail.items() if k not in ("code", "message")}
    check = Check(
        f"gateway:{name}",
        {
            **facts,
            "cached": cached,
            "probed_seconds_ago": int((now - record.checked_at).total_seconds()),
        },
        elapsed_ms=record.elapsed_ms,
    )
    if not record.ok:
        code = str(record.detail.get("code") or "GATEWAY_UNAVAILABLE")
        check.fail(code, f"{name}: {record.detail.get('message') or 'the probe failed'}")
    return check
