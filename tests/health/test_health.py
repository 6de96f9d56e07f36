"""legato-pay health: each check's facts and thresholds, the gateway probe cache, the record
``ledger verify`` leaves, exit 13, ``/readyz?deep=1`` and the gauges on ``/metrics``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from legato_pay.errors import GatewayUnavailable
from legato_pay.health import check_health
from legato_pay.health.gateways import check_gateway, configured_gateways, paystack_probe
from legato_pay.ledger.types import utcnow
from legato_pay.store.tables import EVENTS
from legato_pay.webhooks.app import create_app
from tests.cli_runner import run_cli
from tests.factories import add_users, fund


def add_event(app: Any, key: str, status: str, received: datetime) -> None:
    app.run(
        lambda s: s.execute(
            EVENTS.insert().values(
                provider="paystack",
                event_key=key,
                event_type="charge.success",
                payload="{}",
                status=status,
                attempts=1,
                last_error="GATEWAY_ERROR: x" if status == "failed" else None,
                received_at=received,
            )
        )
    )


def by_name(report: Any) -> dict[str, Any]:
    return {check.name: check for check in report.checks}


def test_a_fresh_database_is_healthy(app: Any) -> None:
    report = check_health(app)
    assert report.ok and report.failing == []
    assert [c.name for c in report.checks] == [
        "database",
        "gateway:sandbox",
        "webhook_inbox",
        "ledger",
    ]
    assert by_name(report)["ledger"].facts["last_verify_ok"] is None


def test_inbox_thresholds(app: Any) -> None:
    now = utcnow()
    add_event(app, "a", "received", now - timedelta(seconds=1000))
    add_event(app, "b", "failed", now - timedelta(seconds=5))
    report = check_health(app, now=now)
    inbox = by_name(report)["webhook_inbox"]
    assert inbox.facts == {"oldest_unapplied_seconds": 1000, "failed_events": 1}
    assert [p["code"] for p in inbox.problems] == ["INBOX_BACKLOG", "INBOX_FAILED"]
    assert report.failing == ["webhook_inbox"]


def test_ledger_seal_age_and_recorded_verify(app: Any, database_url: str) -> None:
    add_users(app, r1="reader")
    fund(app, "r1", paid=100)
    later = utcnow() + timedelta(hours=49)
    ledger = by_name(check_health(app, now=later))["ledger"]
    assert [p["code"] for p in ledger.problems] == ["SEAL_STALE"]
    assert run_cli(database_url, "ledger", "seal").status == 0
    assert run_cli(database_url, "ledger", "verify").status == 0
    ledger = by_name(check_health(app))["ledger"]
    assert ledger.ok and ledger.facts["last_verify_ok"] is True
    assert ledger.facts["oldest_unsealed_seconds"] is None
    text = TestClient(create_app(app)).get("/metrics").text
    assert "legato_health_ledger_last_verify_ok 1" in text
    assert "legato_health_ledger_last_seal_age_seconds " in text
    stale = by_name(check_health(app, now=utcnow() + timedelta(hours=169)))["ledger"]
    assert [p["code"] for p in stale.problems] == ["VERIFY_STALE"]


def test_gateway_probe_is_cached(app: Any) -> None:
    calls: list[str] = []

    def failing(_app: Any, name: str) -> dict[str, Any]:
        calls.append(name)
        raise GatewayUnavailable("Paystack refused the secret key")

    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    first = check_gateway(app, "paystack", now, failing)
    again = check_gateway(app, "paystack", now + timedelta(seconds=59), failing)
    later = check_gateway(app, "paystack", now + timedelta(seconds=61), failing)
    assert calls == ["paystack", "paystack"]  # the second check came from the cache
    assert first.problems == [
        {"code": "GATEWAY_UNAVAILABLE", "message": "paystack: Paystack refused the secret key"}
    ]
    assert again.facts["cached"] is True and later.facts["cached"] is False


def test_paystack_probe_calls_balance(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path} {request.headers['authorization']}")
        return httpx.Response(
            200, json={"status": True, "message": "ok", "data": [{"currency": "NGN", "balance": 5}]}
        )

    monkeypatch.setenv("PAYSTACK_SECRET_KEY", "sk_test_probe")
    facts = paystack_probe(app, transport=httpx.MockTransport(answer))
    assert facts == {"balances": ["NGN"]} and seen == ["GET /balance Bearer sk_test_probe"]


def test_configured_gateways(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert configured_gateways(app) == ["sandbox"]
    auto = app.settings.gateways.model_copy(update={"default": "auto"})
    monkeypatch.setattr(app, "settings", app.settings.model_copy(update={"gateways": auto}))
    assert configured_gateways(app) == ["paystack", "sandbox", "stripe"]


def test_cli_exit_13_names_the_failing_checks(app: Any, database_url: str) -> None:
    assert run_cli(database_url, "health").json["ok"] is True
    add_event(app, "b", "failed", utcnow())
    result = run_cli(
        database_url, "health", LEGATO_HEALTH__GATEWAYS="[sandbox, stripe]", STRIPE_SECRET_KEY=""
    )
    assert result.status == 13
    assert result.error["code"] == "UNHEALTHY"
    assert result.error["details"]["failing"] == ["gateway:stripe", "webhook_inbox"]
    assert result.json["checks"][2]["problems"][0]["code"] == "CONFIG_ERROR"
    table = run_cli(database_url, "health", output="table")
    assert table.status == 13 and "INBOX_FAILED" in table.stdout


def test_listener_deep_readiness_and_gauges(app: Any) -> None:
    client = TestClient(create_app(app))
    assert client.get("/readyz?deep=1").json()["ok"] is True
    text = client.get("/metrics").text
    assert 'legato_health_ok{check="database"} 1' in text
    assert "legato_health_inbox_failed_events 0" in text
    add_event(app, "b", "failed", utcnow())
    assert client.get("/readyz?deep=1").status_code == 200  # cached for metrics_cache_seconds
    fresh = TestClient(create_app(app))
    answer = fresh.get("/readyz?deep=1")
    assert answer.status_code == 503 and answer.json()["failing"] == ["webhook_inbox"]
    assert client.get("/readyz").json() == {"ok": True}  # the plain one stays cheap
    assert (
        'legato_gateway_webhook_events{provider="paystack",status="failed"} 1'
        in fresh.get("/metrics").text
    )
