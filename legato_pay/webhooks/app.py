"""The ASGI app behind ``legato-pay serve-webhooks`` (Starlette under uvicorn).

Verify the signature over the raw body, then store and apply the event in one transaction, and
only then answer 2xx (events arriving together share that transaction: ``batching``). A signed
body that is not a usable event (not JSON, fields of the wrong shape) is stored ``flagged`` and
answered 200, so the provider stops retrying it.

Refusals store nothing, are counted in ``/metrics`` under the same code as the answer, and are
logged as one JSON line each (``webhook_refused``: provider, status, code, client address,
reason; never a secret or a body): 400 ``INVALID_SIGNATURE``, 413 ``TOO_LARGE``, 404
``NOT_FOUND``, 503 ``GATEWAY_UNAVAILABLE`` (no secret configured), and 429 ``RATE_LIMITED``
with ``Retry-After`` once an address has too many refusals (``ratelimit``). Listeners are
stateless: run as many as needed against one PostgreSQL database.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from legato_pay.context import AppContext
from legato_pay.errors import InvalidSignature
from legato_pay.gateways.events import read_event, stored_payload
from legato_pay.store.engine import normalize_url, ping
from legato_pay.webhooks import inbox
from legato_pay.webhooks.batching import GroupCommitter
from legato_pay.webhooks.events import ParsedEvent
from legato_pay.webhooks.metrics import STATE_DIR_ENV, Metrics, OpsGauges
from legato_pay.webhooks.ratelimit import RefusalLimiter
from legato_pay.webhooks.signatures import verify_paystack, verify_stripe

log = logging.getLogger("legato_pay.webhooks")


def _log(**fields: Any) -> None:
    log.info(json.dumps({"ts": time.time(), **fields}, separators=(",", ":")))


def _error_document(
    code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


Delivery = tuple[ParsedEvent, str]  # the event and its raw body
Applied = tuple[str, bool] | Exception  # (status, duplicate), or why it failed
Answer = tuple[int, dict[str, Any]]  # HTTP status and JSON document
PROVIDERS = ("stripe", "paystack")
SIGNATURE_HEADERS = {"stripe": "stripe-signature", "paystack": "x-paystack-signature"}
WEBHOOK_PREFIX = "/webhooks/"
_WANTED_HEADERS = {
    provider: {name.encode(): name for name in ("content-length", SIGNATURE_HEADERS[provider])}
    for provider in PROVIDERS
}


class TooLarge(Exception):
    pass


_DIGITS = re.compile(r"[0-9]{1,30}", re.ASCII)


async def _read_body(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    if declared is not None and _DIGITS.fullmatch(declared) and int(declared) > limit:
        raise TooLarge
    parts = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)


class WebhookApp(Starlette):
    """Starlette, with a short way in for the one hot route: ``POST /webhooks/{provider}`` is
    answered straight from the ASGI messages (no middleware stack, router, request or response
    objects: about a sixth of the listener's time per event under load). Its answers are the
    same as the route's, which serves anything else that reaches it."""

    def __init__(
        self,
        deliver: Callable[[str, AsyncIterator[bytes], Mapping[str, str], str], Awaitable[Answer]],
        **starlette: Any,
    ) -> None:
        super().__init__(**starlette)
        self.deliver = deliver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(WEBHOOK_PREFIX)
            or path[len(WEBHOOK_PREFIX) :] not in PROVIDERS
        ):
            await super().__call__(scope, receive, send)
            return
        try:
            provider = path[len(WEBHOOK_PREFIX) :]
            client = scope.get("client")
            status, document = await self.deliver(
                provider,
                _body_chunks(receive),
                _wanted_headers(scope["headers"], provider),
                str(client[0]) if client else "unknown",
            )
        except ClientDisconnect:
            return
        except Exception:
            log.exception("webhook request failed")
            status, document = 500, _error_document("INTERNAL_ERROR", "internal error")
        body, headers = _encoded(document)
        if status == 429:
            headers = headers + [
                (k.encode(), v.encode()) for k, v in _extra_headers(status, document)
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


#: The answers to applied deliveries, encoded once: a handful of (status, duplicate) pairs
#: make up nearly every response, so their bytes and headers need not be built per request.
_APPLIED_ANSWERS: dict[tuple[Any, Any], tuple[bytes, list[tuple[bytes, bytes]]]] = {}
_APPLIED_KEYS = {"received", "status", "duplicate"}


def _encoded(document: dict[str, Any]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The JSON body and response headers for ``document`` (cached for applied answers)."""
    if document.keys() == _APPLIED_KEYS and document["received"] is True:
        key = (document["status"], document["duplicate"])
        cached = _APPLIED_ANSWERS.get(key)
        if cached is None:
            cached = _APPLIED_ANSWERS[key] = _encode(document)
        return cached
    return _encode(document)


def _encode(document: dict[str, Any]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return body, headers


def _extra_headers(status: int, document: dict[str, Any]) -> list[tuple[str, str]]:
    """``Retry-After`` on a 429 (its seconds are also in the error's details)."""
    if status != 429:
        return []
    return [("retry-after", str(document["error"]["details"]["retry_after_seconds"]))]


def _wanted_headers(raw: Iterable[tuple[bytes, bytes]], provider: str) -> dict[str, str]:
    """The two headers a delivery reads (length, signature), first occurrence of each, as
    Starlette's ``Headers.get`` would give them: one pass over the ASGI headers (lower-case
    names) instead of a ``Headers`` object and a scan per lookup."""
    wanted = _WANTED_HEADERS[provider]
    found: dict[str, str] = {}
    for key, value in raw:
        name = wanted.get(key)
        if name is not None and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def secret_for(provider: str) -> str | None:
    """The provider's webhook signing secret from the environment (never logged)."""
    name = "STRIPE_WEBHOOK_SECRET" if provider == "stripe" else "PAYSTACK_SECRET_KEY"
    return os.environ.get(name) or None


class Listener:
    """One listener process: its settings, metrics and group committer, and the steps of a
    delivery (read the body, verify, store and apply with others, answer)."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.settings = context.settings.webhooks
        shared = os.environ.get(STATE_DIR_ENV) or None
        self.metrics = Metrics(shared)
        self.gauges = OpsGauges(context)
        limit = self.settings.rate_limit
        self.limiter = RefusalLimiter(
            max_refusals=limit.max_refusals,
            window_seconds=limit.window_seconds,
            enabled=limit.enabled,
            directory=shared,
        )
        self.committer: GroupCommitter[Delivery, Applied] = GroupCommitter(
            self.apply_batch,
            max_batch=self.settings.max_batch_events,
            # SQLite has one writer: a second batch would only wait for the first's lock.
            max_in_flight=self.settings.concurrent_batches if self._postgres() else 1,
            linger=self.settings.batch_linger_ms / 1000,
        )

    def _postgres(self) -> bool:
        """From the URL: the engine (and its schema check) waits for the first request."""
        return normalize_url(self.context.database_url).startswith("postgresql")

    async def deliver(
        self,
        provider: str,
        chunks: AsyncIterator[bytes],
        headers: Mapping[str, str],
        client: str = "unknown",
    ) -> Answer:
        """One POST to /webhooks/{provider}, from the Starlette route or the fast path."""
        if provider not in PROVIDERS:
            return self.refuse(
                "unknown", client, 404, "NOT_FOUND", "no webhook endpoint for this provider"
            )
        try:
            body = await _read_body(
                chunks, headers.get("content-length"), self.settings.max_body_bytes
            )
        except TooLarge:
            limit = self.settings.max_body_bytes
            return self.refuse(
                provider, client, 413, "TOO_LARGE", f"request body is over {limit} bytes"
            )
        return await self.process(provider, body, headers.get(SIGNATURE_HEADERS[provider]), client)

    async def process(
        self, provider: str, body: bytes, signature: str | None, client: str = "unknown"
    ) -> Answer:
        """Verify, store and apply one delivery; the status and JSON document to answer."""
        started = time.perf_counter()
        verified = self.verify(provider, body, signature, client)
        if isinstance(verified, tuple):
            return verified
        event, raw = verified, stored_payload(body)
        result = await self.committer.submit((event, raw))
        elapsed = time.perf_counter() - started
        if isinstance(result, Exception):
            return await self.answer_failure(event, raw, result, elapsed)
        return self.answer_applied(event, result, elapsed)

    def verify(
        self, provider: str, body: bytes, signature: str | None, client: str = "unknown"
    ) -> ParsedEvent | Answer:
        """The event (a malformed one carries its ``problem``), or the refusal to answer with
        (nothing is stored for a refusal)."""
        secret = secret_for(provider)
        if secret is None:
            return self.refuse(
                provider,
                client,
                503,
                "GATEWAY_UNAVAILABLE",
                f"{provider} webhooks are not configured",
                counted=False,
            )
        try:
            if provider == "stripe":
                verify_stripe(body, signature, secret, self.settings.stripe_tolerance_seconds)
            else:
                verify_paystack(body, signature, secret)
        except InvalidSignature as error:
            return self.refuse(provider, client, 400, error.code, error.message)
        return read_event(provider, body)

    def refuse(
        self,
        provider: str,
        client: str,
        status: int,
        code: str,
        message: str,
        *,
        counted: bool = True,
    ) -> Answer:
        """Answer a refused request: counted against its address (429 once over the limit),
        in the metrics under the code answered, and in one log line."""
        details: dict[str, Any] = {}
        retry_after = self.limiter.refused(client) if counted else None
        if retry_after is not None:
            status, code = 429, "RATE_LIMITED"
            message = f"too many refused requests from this address; retry in {retry_after} s"
            details = {"retry_after_seconds": retry_after}
        self.metrics.reject(provider, code)
        _log(
            event="webhook_refused",
            provider=provider,
            status=status,
            code=code,
            client=client,
            reason=message,
        )
        return status, _error_document(code, message, details)

    def apply_batch(self, deliveries: Sequence[Delivery]) -> list[Applied]:
        """One transaction for the batch; if it fails, each event alone, so one bad event
        cannot hold back the others (the failed batch left nothing behind)."""
        try:
            return list(self.context.run(lambda s: inbox.store_and_apply_many(s, deliveries)))
        except Exception as error:
            if len(deliveries) == 1:
                return [error]
        return [self.apply_one(event, raw) for event, raw in deliveries]

    def apply_one(self, event: ParsedEvent, raw: str) -> Applied:
        try:
            return self.context.run(lambda s: inbox.store_and_apply(s, event, raw))
        except Exception as error:
            return error

    async def answer_failure(
        self, event: ParsedEvent, raw: str, error: Exception, elapsed: float
    ) -> Answer:
        """Keep the failed event for replay (the provider retries it too) and answer 500."""
        message = await run_in_threadpool(self.keep_failure, event, raw, error)
        self.metrics.observe(event.provider, event.type, "failed", elapsed)
        _log(
            event="webhook_failed",
            provider=event.provider,
            type=event.type,
            key=event.key,
            error=message,
        )
        code = getattr(error, "code", "INTERNAL_ERROR")
        return 500, _error_document(code, message)

    def keep_failure(self, event: ParsedEvent, raw: str, error: Exception) -> str:
        message = inbox.error_text(error)
        try:
            self.context.run(lambda s: inbox.record_failure(s, event, raw, message))
        except Exception as inner:  # database down: nothing stored, provider retries
            message += f"; not stored: {type(inner).__name__}"
        return message

    def answer_applied(
        self, event: ParsedEvent, result: tuple[str, bool], elapsed: float
    ) -> Answer:
        status, duplicate = result
        outcome = "duplicate" if duplicate else status
        self.metrics.observe(event.provider, event.type, outcome, elapsed)
        _log(
            event="webhook",
            provider=event.provider,
            type=event.type,
            key=event.key,
            outcome=outcome,
            ms=round(elapsed * 1000, 2),
        )
        return 200, {"received": True, "status": status, "duplicate": duplicate}


def routes(listener: Listener) -> list[Route]:
    """The listener's endpoints: webhooks, health, readiness and metrics."""

    async def receive(request: Request) -> Response:
        status, document = await listener.deliver(
            request.path_params["provider"],
            request.stream(),
            request.headers,
            request.client.host if request.client else "unknown",
        )
        return JSONResponse(document, status, headers=dict(_extra_headers(status, document)))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        if request.query_params.get("deep") in ("1", "true"):
            return await deep_readyz()
        try:
            await run_in_threadpool(lambda: ping(listener.context.engine))
        except Exception as error:
            return JSONResponse({"ok": False, "error": type(error).__name__}, 503)
        return JSONResponse({"ok": True})

    async def deep_readyz() -> Response:
        """Every health check (cached: ``OpsGauges``); 503 naming the failing ones."""
        try:
            report = await run_in_threadpool(listener.gauges.health)
        except Exception as error:
            return JSONResponse({"ok": False, "error": type(error).__name__}, 503)
        return JSONResponse(report.as_json(), 200 if report.ok else 503)

    async def metrics_endpoint(_: Request) -> Response:
        try:
            gauges = await run_in_threadpool(listener.gauges.render)
        except Exception as error:  # the counters are still worth a scrape
            _log(event="gauges_failed", error=type(error).__name__)
            gauges = ""
        return PlainTextResponse(
            listener.metrics.render() + gauges, media_type="text/plain; version=0.0.4"
        )

    return [
        Route("/webhooks/{provider}", receive, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]


def create_app(context: AppContext | None = None) -> WebhookApp:
    """Build the app; with no context, settings come from the environment (uvicorn workers)."""
    listener = Listener(
        context or AppContext.create(actor=os.environ.get("LEGATO_ACTOR") or "webhooks")
    )
    app = WebhookApp(listener.deliver, routes=routes(listener))
    app.state.context = listener.context
    app.state.metrics = listener.metrics
    return app


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def create_app_from_env() -> WebhookApp:
    """uvicorn factory for worker processes: everything comes from LEGATO_* variables."""
    configure_logging()
    # Each batch is handed from the event loop to a database thread and back. Under load the
    # loop always wants the GIL, and with the default 5 ms switch interval the thread holding
    # a committed batch would wait that long for it; 0.5 ms keeps answers flowing.
    sys.setswitchinterval(0.0005)
    return create_app()
