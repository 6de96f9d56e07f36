"""Exchange rates: exact decimal strings, freshness, fetching from a local fake provider, CLI."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from legato_pay.errors import (
    ConfigError,
    GatewayError,
    InvalidAmount,
    InvalidCurrency,
    InvalidInput,
)
from legato_pay.ledger.types import utcnow
from legato_pay.readers import fx
from tests.cli_runner import run_cli


class FakeProvider:
    """A rate provider on 127.0.0.1: serves ``body`` with ``status`` and counts requests."""

    def __init__(self) -> None:
        self.body = "{}"
        self.status = 200
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests.append(self.path)
                payload = provider.body.encode()
                self.send_response(provider.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/latest?app_id=secret-key"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, document: Any, status: int = 200) -> None:
        self.body = document if isinstance(document, str) else json.dumps(document)
        self.status = status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/latest"


def rate_rows(app: Any) -> list[fx.RateView]:
    return app.run(lambda s: fx.list_rates(s, history=True), write=False)


# -- parsing and storage ---------------------------------------------------------------------


def test_rates_are_exact_positive_decimal_strings() -> None:
    assert fx.parse_rate("1550.250") == "1550.25"
    assert fx.parse_rate(" 1.37 ") == "1.37"
    assert fx.parse_rate("0.000000000000000001") == "0.000000000000000001"
    assert fx.parse_rate("123456789012345678.5") == "123456789012345678.5"
    for bad in ("0", "0.0", "-1.5", "1e3", "abc", "", "1,5", "NaN", "Infinity", "١٢"):
        with pytest.raises(InvalidAmount):
            fx.parse_rate(bad)
    with pytest.raises(InvalidAmount):
        fx.parse_rate(1.37)


def test_set_list_and_freshness(app: Any) -> None:
    settings = app.settings
    with pytest.raises(InvalidInput) as caught:
        app.run(lambda s: fx.rate_for(s, settings, "USD", "NGN"))
    assert caught.value.code == "NO_RATE"

    older = app.run(
        lambda s: fx.set_rate(
            s, settings, "usd", "ngn", "1500", as_of=utcnow() - timedelta(hours=30), source="bank"
        )
    )
    assert (older.base, older.quote, older.rate, older.source) == ("USD", "NGN", "1500", "bank")
    with pytest.raises(InvalidInput) as caught:
        app.run(lambda s: fx.rate_for(s, settings, "USD", "NGN"))
    assert caught.value.code == "STALE_RATE"
    assert caught.value.details["rate_id"] == older.id
    assert caught.value.details["age_seconds"] >= 30 * 3600

    fresh = app.run(lambda s: fx.set_rate(s, settings, "USD", "NGN", "1550.25"))
    assert app.run(lambda s: fx.rate_for(s, settings, "USD", "NGN")).id == fresh.id
    # An observation recorded later but older by as_of does not displace the newer one.
    app.run(
        lambda s: fx.set_rate(
            s, settings, "USD", "NGN", "1400", as_of=utcnow() - timedelta(hours=1)
        )
    )
    assert app.run(lambda s: fx.rate_for(s, settings, "USD", "NGN")).rate == "1550.25"
    app.run(lambda s: fx.set_rate(s, settings, "USD", "CAD", "1.37"))

    latest = app.run(lambda s: fx.list_rates(s), write=False)
    assert [(r.base, r.quote, r.rate) for r in latest] == [
        ("USD", "CAD", "1.37"),
        ("USD", "NGN", "1550.25"),
    ]
    assert len(rate_rows(app)) == 4
    listed = latest[1].as_json(settings)
    assert listed["stale"] is False and isinstance(listed["age_seconds"], int)


@pytest.mark.parametrize(
    ("base", "quote", "rate", "as_of", "error", "code"),
    [
        ("USD", "EUR", "0.9", None, InvalidCurrency, "INVALID_CURRENCY"),
        ("USD", "XYZ", "0.9", None, InvalidCurrency, "INVALID_CURRENCY"),
        ("USD", "COIN", "100", None, InvalidCurrency, "INVALID_CURRENCY"),
        ("USD", "USD", "1", None, InvalidInput, "VALIDATION_ERROR"),
        ("USD", "NGN", "-1550", None, InvalidAmount, "INVALID_AMOUNT"),
        ("USD", "NGN", "0", None, InvalidAmount, "INVALID_AMOUNT"),
        ("USD", "NGN", "1550", "yesterday", InvalidInput, "INVALID_TIME"),
        ("USD", "NGN", "1550", "2999-01-01T00:00:00Z", InvalidInput, "INVALID_TIME"),
        # Its UTC lies before year 1: an overflow, not an internal error.
        ("USD", "NGN", "1550", "0001-01-01T00:00:00+14:00", InvalidInput, "INVALID_TIME"),
        ("USD", "NGN", "1550\n", None, InvalidAmount, "INVALID_AMOUNT"),
        ("USD", "NGN", "١٥٥٠", None, InvalidAmount, "INVALID_AMOUNT"),
    ],
)
def test_set_rate_refuses_bad_input(
    app: Any, base: str, quote: str, rate: str, as_of: str | None, error: type, code: str
) -> None:
    with pytest.raises(error) as caught:
        app.run(lambda s: fx.set_rate(s, app.settings, base, quote, rate, as_of=as_of))
    assert caught.value.code == code
    assert rate_rows(app) == []


# -- fetching --------------------------------------------------------------------------------


def test_fetch_stores_configured_quotes_exactly_once(app: Any, provider: FakeProvider) -> None:
    # Numbers in the document are read as their exact text: 1.37 stays "1.37", never a float.
    provider.serve(
        '{"base": "USD", "as_of": "2026-01-31T12:00:00Z",'
        ' "rates": {"NGN": "1550.25", "CAD": 1.37, "EUR": "0.92", "BTC": "0.00001", "USD": "1"}}'
    )
    result = fx.fetch_rates(app, url=provider.url)
    assert [(r.quote, r.rate) for r in result.stored] == [("CAD", "1.37"), ("NGN", "1550.25")]
    assert result.skipped == ["BTC", "EUR", "USD"]
    assert result.stored[0].source == "fetch:127.0.0.1"
    assert result.stored[0].as_of.isoformat() == "2026-01-31T12:00:00+00:00"
    assert provider.requests == ["/latest?app_id=secret-key"]

    again = fx.fetch_rates(app, url=provider.url)
    assert (again.stored, again.unchanged) == ([], ["CAD", "NGN"])
    assert len(rate_rows(app)) == 2
    # A fetched rate older than max_age_hours is kept as history but refused for conversion.
    with pytest.raises(InvalidInput) as caught:
        app.run(lambda s: fx.rate_for(s, app.settings, "USD", "NGN"))
    assert caught.value.code == "STALE_RATE"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 200),
        ('{"base": "USD"}', 200),
        ('{"base": "USD", "rates": {"NGN": "-3"}}', 200),
        ('{"base": "USD", "rates": {"NGN": true}}', 200),
        ('{"base": "USD", "rates": {"NGN": "1e3"}}', 200),
        ('{"base": "USD", "rates": {"NGN": 1e3}}', 200),
        ('{"base": "USD", "rates": {"NGN": "1550"}, "as_of": "2999-01-01T00:00:00Z"}', 200),
        ('{"base": "USD", "rates": {"NGN": "1550"}}', 500),
        ('{"base": "EUR", "rates": {"NGN": "1550"}}', 200),
    ],
)
def test_fetch_refuses_bad_responses_and_stores_nothing(
    app: Any, provider: FakeProvider, body: str, status: int
) -> None:
    provider.serve(body, status)
    with pytest.raises(GatewayError) as caught:
        fx.fetch_rates(app, url=provider.url)
    assert caught.value.code == "RATE_PROVIDER_ERROR"
    assert "secret-key" not in json.dumps(caught.value.details)  # never leak the provider key
    assert rate_rows(app) == []


def test_fetch_reads_a_bounded_body(app: Any, provider: FakeProvider) -> None:
    padding = " " * (fx.MAX_PROVIDER_BYTES + 1)
    provider.serve('{"base": "USD", "rates": {"NGN": "1601"}}' + padding)
    with pytest.raises(GatewayError) as caught:
        fx.fetch_rates(app, url=provider.url)
    assert caught.value.code == "RATE_PROVIDER_ERROR" and "larger" in caught.value.message
    assert rate_rows(app) == []


def test_fetch_needs_a_reachable_configured_provider(app: Any) -> None:
    with pytest.raises(ConfigError):
        fx.fetch_rates(app)
    with pytest.raises(GatewayError) as caught:
        fx.fetch_rates(app, url=closed_port_url())
    assert (caught.value.code, caught.value.exit_status) == ("RATE_PROVIDER_UNAVAILABLE", 7)


# -- command line ----------------------------------------------------------------------------


def test_rates_cli(database_url: str, provider: FakeProvider) -> None:
    stored = run_cli(database_url, "rates", "set", "USD", "NGN", "1550.250", "--source", "desk")
    assert stored.status == 0, stored.stderr
    assert {k: stored.json[k] for k in ("base", "quote", "rate", "source", "stale")} == {
        "base": "USD",
        "quote": "NGN",
        "rate": "1550.25",
        "source": "desk",
        "stale": False,
    }
    provider.serve({"base": "USD", "rates": {"CAD": "1.3712", "NGN": "1601"}})
    fetched = run_cli(database_url, "rates", "fetch", LEGATO_RATES__PROVIDER_URL=provider.url)
    assert fetched.status == 0, fetched.stderr
    assert [(r["quote"], r["rate"]) for r in fetched.json["stored"]] == [
        ("CAD", "1.3712"),
        ("NGN", "1601"),
    ]
    listed = run_cli(database_url, "rates", "list")
    assert listed.status == 0, listed.stderr
    assert [(r["quote"], r["rate"], r["source"]) for r in listed.json] == [
        ("CAD", "1.3712", "fetch:127.0.0.1"),
        ("NGN", "1601", "fetch:127.0.0.1"),
    ]
    history = run_cli(database_url, "rates", "list", "--history", "--quote", "NGN")
    assert [r["rate"] for r in history.json] == ["1601", "1550.25"]


@pytest.mark.parametrize(
    ("args", "env", "status", "code"),
    [
        (["set", "USD", "NGN", "--", "-5"], {}, 3, "INVALID_AMOUNT"),
        (["set", "USD", "NGN", "1.5e3"], {}, 3, "INVALID_AMOUNT"),
        (["set", "USD", "XYZ", "5"], {}, 3, "INVALID_CURRENCY"),
        (["set", "USD", "NGN", "5", "--as-of", "9999-12-31T23:59:59-14:00"], {}, 3, "INVALID_TIME"),
        (["set", "USD", "NGN", "5", "--source", "desk\nfake"], {}, 3, "VALIDATION_ERROR"),
        (["fetch"], {}, 10, "CONFIG_ERROR"),
        (["fetch", "--url", "closed"], {}, 7, "RATE_PROVIDER_UNAVAILABLE"),
        (["fetch", "--url", "http://[::1"], {}, 3, "VALIDATION_ERROR"),
        (["fetch", "--url", "http://127.0.0.1:99999/x"], {}, 3, "VALIDATION_ERROR"),
        (["fetch", "--url", "ftp://example.invalid/x"], {}, 3, "VALIDATION_ERROR"),
        (["fetch", "--url", "http:///nohost"], {}, 3, "VALIDATION_ERROR"),
        (["fetch", "--url", "http://exa\nmple.invalid/"], {}, 3, "VALIDATION_ERROR"),
    ],
)
def test_rates_cli_bad_input(
    database_url: str, args: list[str], env: dict[str, str], status: int, code: str
) -> None:
    args = [closed_port_url() if arg == "closed" else arg for arg in args]
    result = run_cli(database_url, "rates", *args, **env)
    assert result.status == status, result.stderr
    assert result.error["code"] == code
    assert result.stdout == ""
    from legato_pay.context import AppContext

    assert rate_rows(AppContext.create(database_url=database_url, actor="test")) == []
