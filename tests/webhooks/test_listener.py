"""The listener as operators run it: metrics summed over workers, refusals answered, counted
and logged under one code, refusals rate limited per address (valid events never), a start-up
line, a port in use as a documented error; and the paths a healthy run never takes: the batch
falling back to one event at a time, ``/readyz`` answering 503, ``webhooks replay --failed``
going on past an event that fails again."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from starlette.testclient import TestClient

from legato_pay.config import WebhookRateLimitSettings
from legato_pay.gateways.events import parse_event
from legato_pay.store.tables import EVENTS
from legato_pay.webhooks import inbox, replaying
from legato_pay.webhooks.app import Listener, create_app
from legato_pay.webhooks.metrics import Metrics
from legato_pay.webhooks.ratelimit import RefusalLimiter
from legato_pay.webhooks.serve import masked_database
from legato_pay.webhooks.signatures import sign_paystack
from tests.cli_runner import run_cli
from tests.fakes.listener import Listener as RunningListener

PAYSTACK_SECRET = "sk_test_listener_secret"
STRIPE_SECRET = "whsec_listener"


def signed_transfer(reference: str = "tr_l_1") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event": "transfer.success",
            "data": {"id": 5, "reference": reference, "status": "success", "amount": 100},
        }
    ).encode()
    return body, {"x-paystack-signature": sign_paystack(body, PAYSTACK_SECRET)}


def customer_event(event_id: str) -> tuple[Any, str]:
    body = {"id": event_id, "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    return parse_event("stripe", body), json.dumps(body)


def metric(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# -- two real workers --------------------------------------------------------------------------


def test_two_workers_sum_their_metrics_and_log_each_refusal(
    sqlite_url: str, tmp_path: Path
) -> None:
    with RunningListener(
        sqlite_url, tmp_path, workers=2, PAYSTACK_SECRET_KEY=PAYSTACK_SECRET
    ) as listener:
        refused = 0
        for attempt in range(8):  # a connection each: spread over both workers
            with httpx.Client(timeout=10) as http:
                answer = http.post(
                    listener.url("/webhooks/paystack"),
                    content=b'{"event": "x"}',
                    headers={"x-paystack-signature": f"bad{attempt}"},
                )
            assert answer.status_code == 400
            refused += 1
        body, headers = signed_transfer()
        with httpx.Client(timeout=10) as http:
            assert http.post(listener.url("/webhooks/paystack"), content=body, headers=headers)
            big = http.post(
                listener.url("/webhooks/paystack"),
                content=b"x" * 1_100_000,
                headers={"x-paystack-signature": "bad"},
            )
        assert big.status_code == 413 and big.json()["error"]["code"] == "TOO_LARGE"
        for _ in range(6):  # whichever worker answers the scrape, it shows every worker's counts
            with httpx.Client(timeout=10) as http:
                text = http.get(listener.url("/metrics")).text
            code = 'legato_webhook_rejected_total{provider="paystack",code="INVALID_SIGNATURE"}'
            assert metric(text, code) == refused, text
            too_large = 'legato_webhook_rejected_total{provider="paystack",code="TOO_LARGE"}'
            assert metric(text, too_large) == 1, text
            assert metric(text, "legato_webhook_processing_seconds_count") == 1, text
        log = listener.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    refusals = [line for line in lines if line.get("event") == "webhook_refused"]
    assert [line["code"] for line in refusals].count("INVALID_SIGNATURE") == refused
    assert [line["code"] for line in refusals].count("TOO_LARGE") == 1
    assert all(line["client"] == "127.0.0.1" and line["status"] for line in refusals)
    assert PAYSTACK_SECRET not in log
    assert "listening on http://127.0.0.1:" in log and "(2 workers)" in log


def test_a_port_in_use_is_a_config_error_not_a_uvicorn_line(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        answer = run_cli(sqlite_url, "serve-webhooks", "--port", port, "--workers", "2")
        assert answer.status == 10, answer.stderr
        assert answer.stdout == ""
        error = json.loads(answer.stderr)["error"]
        assert error["code"] == "CONFIG_ERROR"
        assert error["details"] == {
            "host": "127.0.0.1",
            "port": int(port),
            "reason": "address_in_use",
        }
        assert "already in use" in error["message"]
        table = run_cli(sqlite_url, "serve-webhooks", "--port", port, output="table")
        assert table.status == 10 and "already in use" in table.stderr
        assert "Errno" not in table.stderr and "uvicorn" not in table.stderr.lower()
    bad = run_cli(sqlite_url, "serve-webhooks", "--port", "70000")
    assert bad.status == 3 and bad.error["code"] == "VALIDATION_ERROR"
    assert run_cli(sqlite_url, "serve-webhooks", "--workers", "0").status == 3


def test_the_start_up_line_masks_the_database_password() -> None:
    masked = masked_database("postgresql+psycopg://legato:s3cret@db.example:5432/legato")
    assert masked == "postgresql+psycopg://legato:***@db.example:5432/legato"
    assert "s3cret" not in masked_database("postgresql://u:s3cret@h/d?sslmode=require")


def test_metrics_of_worker_files_in_one_directory_are_summed(tmp_path: Path) -> None:
    first, second = Metrics(tmp_path, name="a"), Metrics(tmp_path, name="b")
    for _ in range(3):
        first.reject("paystack", "INVALID_SIGNATURE")
    for _ in range(500):  # enough distinct series to grow the file past its first size
        second.reject("paystack", "INVALID_SIGNATURE")
    for index in range(2000):
        second.observe("stripe", f"type.{index}", "applied", 0.003)
    for rendered in (first.render(), second.render()):
        assert (
            metric(rendered, 'legato_webhook_rejected_total{provider="paystack",code="INVALID_')
            == 503
        )
        assert metric(rendered, "legato_webhook_processing_seconds_count") == 2000
        assert metric(rendered, 'legato_webhook_processing_seconds_bucket{le="0.005"}') == 2000
        assert metric(rendered, 'legato_webhook_processing_seconds_bucket{le="0.0025"}') == 0
    alone = Metrics()
    alone.observe("stripe", 'a"b', "applied", 10.0)
    text = alone.render()
    assert 'type="a\\"b"' in text
    assert metric(text, 'legato_webhook_processing_seconds_bucket{le="+Inf"}') == 1
    assert metric(text, 'legato_webhook_processing_seconds_bucket{le="5.0"}') == 0


# -- rate limiting ---------------------------------------------------------------------------


def limited_client(app: Any, monkeypatch: pytest.MonkeyPatch, max_refusals: int = 3) -> TestClient:
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    limit = WebhookRateLimitSettings(max_refusals=max_refusals, window_seconds=60)
    webhooks = app.settings.webhooks.model_copy(update={"rate_limit": limit})
    settings = app.settings.model_copy(update={"webhooks": webhooks})
    return TestClient(create_app(dataclasses.replace(app, settings=settings)))


def test_refusals_are_limited_per_address_and_valid_events_never(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = limited_client(app, monkeypatch)
    bad = {"x-paystack-signature": "0" * 128}
    codes = [client.post("/webhooks/paystack", content=b"{}", headers=bad) for _ in range(5)]
    assert [answer.status_code for answer in codes] == [400, 400, 400, 429, 429]
    throttled = codes[-1]
    assert throttled.json()["error"]["code"] == "RATE_LIMITED"
    retry_after = int(throttled.headers["retry-after"])
    assert 1 <= retry_after <= 20
    assert throttled.json()["error"]["details"]["retry_after_seconds"] == retry_after
    # Stripe's endpoint shares the address's bucket.
    assert client.post("/webhooks/stripe", content=b"{}").status_code == 429
    # A valid signed event from the same address is never throttled.
    body, headers = signed_transfer()
    answer = client.post("/webhooks/paystack", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    payload = json.dumps({"id": "evt_rl", "type": "customer.created", "data": {"object": {}}})
    header = stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET)
    assert (
        client.post(
            "/webhooks/stripe", content=payload.encode(), headers={"stripe-signature": header}
        ).status_code
        == 200
    )
    text = client.get("/metrics").text
    assert (
        metric(text, 'legato_webhook_rejected_total{provider="paystack",code="RATE_LIMITED"}') == 2
    )
    assert metric(text, 'legato_webhook_rejected_total{provider="stripe",code="RATE_LIMITED"}') == 1
    assert (
        metric(text, 'legato_webhook_rejected_total{provider="paystack",code="INVALID_SIGNATURE"}')
        == 3
    )


def test_the_limit_refills_over_its_window_and_is_shared_through_the_directory(
    tmp_path: Path,
) -> None:
    one = RefusalLimiter(max_refusals=2, window_seconds=10, directory=tmp_path)
    two = RefusalLimiter(max_refusals=2, window_seconds=10, directory=tmp_path)
    now = 1_000_000.0
    assert one.refused("10.0.0.1", now) is None
    assert two.refused("10.0.0.1", now) is None  # the other worker saw the first refusal
    assert one.refused("10.0.0.1", now) == 5  # a token back every 5 s
    assert two.refused("10.0.0.2", now) is None  # another address has its own bucket
    assert two.refused("10.0.0.1", now + 5) is None  # one refilled
    assert one.refused("10.0.0.1", now + 5) == 5
    off = RefusalLimiter(max_refusals=1, window_seconds=10, enabled=False)
    assert [off.refused("a", now) for _ in range(5)] == [None] * 5


# -- the paths a healthy run never takes -------------------------------------------------------


def test_readyz_answers_503_when_the_database_is_unreachable(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = TestClient(create_app(app))
    assert client.get("/readyz").status_code == 200

    def down(_engine: Any) -> None:
        raise ConnectionRefusedError("password=sk_should_not_show")

    monkeypatch.setattr("legato_pay.webhooks.app.ping", down)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "error": "ConnectionRefusedError"}
    assert client.get("/healthz").status_code == 200  # alive, not ready


def test_a_failing_batch_falls_back_to_one_event_at_a_time(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = Listener(app)
    real = inbox.handle_many

    def poisoned(session: Any, events: Any) -> Any:
        if any(event.key == "evt_poison" for event in events):
            raise RuntimeError("this event cannot be applied")
        return real(session, events)

    monkeypatch.setattr("legato_pay.webhooks.inbox.handle_many", poisoned)
    batch = [customer_event("evt_ok_1"), customer_event("evt_poison"), customer_event("evt_ok_2")]
    results = listener.apply_batch(batch)
    assert results[0] == ("ignored", False) and results[2] == ("ignored", False)
    assert isinstance(results[1], RuntimeError)
    keys = app.run(
        lambda s: [row.event_key for row in s.execute(EVENTS.select().order_by(EVENTS.c.id))],
        write=False,
    )
    assert sorted(keys) == ["evt_ok_1", "evt_ok_2"]  # the failed batch left nothing behind
    # A batch of one that fails is that event's failure.
    [alone] = listener.apply_batch([customer_event("evt_poison")])
    assert isinstance(alone, RuntimeError)


def test_replay_failed_goes_on_past_an_event_that_fails_again(app: Any, database_url: str) -> None:
    fine, fine_raw = customer_event("evt_was_down")
    app.run(lambda s: inbox.record_failure(s, fine, fine_raw, "OperationalError"))

    def broken_row(session: Any) -> None:  # a row no reader exists for: it fails every time
        session.execute(
            EVENTS.insert().values(
                provider="paypal",
                event_key="pp_1",
                event_type="PAYMENT.CAPTURE.COMPLETED",
                payload="{}",
                status="failed",
                attempts=1,
                received_at=datetime.now(UTC),
            )
        )

    app.run(broken_row)
    later, later_raw = customer_event("evt_was_down_2")
    app.run(lambda s: inbox.record_failure(s, later, later_raw, "OperationalError"))

    answer = run_cli(database_url, "webhooks", "replay", "--failed")
    assert answer.status == 6, answer.stderr
    assert answer.stdout == ""
    error = answer.error
    assert error["code"] == "REPLAY_FAILED"
    results = error["details"]["results"]
    assert [result["status"] for result in results] == ["ignored", "failed", "ignored"]
    assert results[1]["error"].startswith("VALIDATION_ERROR")
    assert error["details"]["failed"] == [results[1]["id"]]
    rows = {event["event_key"]: event for event in inbox_rows(app)}
    assert rows["evt_was_down"]["status"] == rows["evt_was_down_2"]["status"] == "ignored"
    assert rows["pp_1"]["status"] == "failed" and rows["pp_1"]["attempts"] == 2
    assert rows["pp_1"]["last_error"].startswith("VALIDATION_ERROR")

    table = run_cli(database_url, "webhooks", "replay", "--failed", output="table")
    assert table.status == 6
    assert "pp_1" not in table.stdout and "PAYMENT.CAPTURE.COMPLETED" in table.stdout
    report = replaying.replay_failed(app)
    assert [result["status"] for result in report.results] == ["failed"]


def inbox_rows(app: Any) -> list[dict[str, Any]]:
    return app.run(lambda s: inbox.list_events(s), write=False)  # type: ignore[no-any-return]


# -- the inbox commands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["webhooks", "list", "--provider", "paypal"],
        ["webhooks", "list", "--status", "nope"],
        ["webhooks", "list", "--limit", "0"],
        ["webhooks", "list", "--limit", str(2**64)],
        ["webhooks", "list", "--limit", "١٠"],
        ["webhooks", "list", "--cursor", "x"],
        ["webhooks", "show", str(2**63)],
        ["webhooks", "show", "١"],
        ["webhooks", "show", "0"],
        ["webhooks", "replay", str(2**63)],
        ["webhooks", "replay", "99999999999999999999999"],
    ],
)
def test_bad_filters_and_ids_are_validation_errors(database_url: str, args: list[str]) -> None:
    answer = run_cli(database_url, *args)
    assert answer.status == 3, answer.stderr
    assert answer.error["code"] == "VALIDATION_ERROR"


def test_webhooks_list_pages_with_a_cursor(app: Any, database_url: str) -> None:
    for index in range(5):
        event, raw = customer_event(f"evt_page_{index}")
        app.run(lambda s, e=event, r=raw: inbox.store_and_apply(s, e, r))
    first = run_cli(database_url, "webhooks", "list", "--limit", "2")
    assert [e["event_key"] for e in first.json["events"]] == ["evt_page_4", "evt_page_3"]
    cursor = first.json["next_cursor"]
    second = run_cli(database_url, "webhooks", "list", "--limit", "2", "--cursor", cursor)
    assert [e["event_key"] for e in second.json["events"]] == ["evt_page_2", "evt_page_1"]
    last = run_cli(
        database_url, "webhooks", "list", "--limit", "2", "--cursor", second.json["next_cursor"]
    )
    assert [e["event_key"] for e in last.json["events"]] == ["evt_page_0"]
    assert last.json["next_cursor"] is None
    csv = run_cli(database_url, "webhooks", "list", "--limit", "2", output="csv")
    assert f"# next_cursor={cursor}" in csv.stderr


def test_the_rate_limit_is_configured_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from legato_pay.config import load_settings
    from legato_pay.errors import ConfigError

    limit = load_settings().webhooks.rate_limit
    assert (limit.enabled, limit.max_refusals, limit.window_seconds) == (True, 20, 60)
    monkeypatch.setenv("LEGATO_WEBHOOKS__RATE_LIMIT__MAX_REFUSALS", "5")
    assert load_settings().webhooks.rate_limit.max_refusals == 5
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv("LEGATO_WEBHOOKS__RATE_LIMIT__MAX_REFUSALS", bad)
        with pytest.raises(ConfigError):
            load_settings()


def test_a_killed_listeners_state_directory_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from legato_pay.webhooks import serve

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    orphan = tmp_path / f"legato-webhooks-{dead_pid}-abc"
    orphan.mkdir()
    alive = tmp_path / f"legato-webhooks-{1}-abc"  # pid 1 is always there
    alive.mkdir()
    monkeypatch.setattr(serve.tempfile, "tempdir", str(tmp_path))
    with serve.shared_state() as directory:
        assert Path(directory).is_dir() and not orphan.exists() and alive.exists()
        assert Path(directory).name.startswith(f"legato-webhooks-{os.getpid()}-")
    assert not Path(directory).exists()
