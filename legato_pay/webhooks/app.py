"""The ASGI app behind ``legato-pay serve-webhooks`` (Starlette under uvicorn).

Verify the signature over the raw body, then store and apply the event in one transaction, and
only then answer 2xx (events arriving together share that transaction: ``batching``). A bad or missing signature is 400 ``INVALID_SIGNATURE`` and stores
nothing; a body over the size limit is 413. Listeners are stateless: run as many as needed
against one PostgreSQL database.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from legato_pay.context import AppContext
from legato_pay.errors import InvalidInput, InvalidSignature, LegatoError
from legato_pay.webhooks import inbox
from legato_pay.webhooks.batching import GroupCommitter
from legato_pay.webhooks.metrics import Metrics
from legato_pay.webhooks.signatures import verify_paystack, verify_stripe

log = logging.getLogger("legato_pay.webhooks")


def _log(**fields: Any) -> None:
    log.info(json.dumps({"ts": time.time(), **fields}, separators=(",", ":")))


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": {}}}, status)


Delivery = tuple[inbox.ParsedEvent, str]  # the event and its raw body


class TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(context: AppContext | None = None) -> Starlette:
    """Build the app; with no context, settings come from the environment (uvicorn workers)."""
    app_context = context or AppContext.create(actor=os.environ.get("LEGATO_ACTOR") or "webhooks")
    settings = app_context.settings.webhooks
    metrics = Metrics()

    def secret_for(provider: str) -> str | None:
        name = "STRIPE_WEBHOOK_SECRET" if provider == "stripe" else "PAYSTACK_SECRET_KEY"
        return os.environ.get(name) or None

    def verify(
        provider: str, body: bytes, signature: str | None
    ) -> inbox.ParsedEvent | tuple[int, dict[str, Any]]:
        """The event, or the refusal to answer with (nothing is stored for a refusal)."""
        secret = secret_for(provider)
        if secret is None:
            metrics.reject(provider, "NOT_CONFIGURED")
            return 503, {
                "error": {
                    "code": "GATEWAY_UNAVAILABLE",
                    "message": f"{provider} webhooks are not configured",
                    "details": {},
                }
            }
        try:
            if provider == "stripe":
                data = verify_stripe(body, signature, secret, settings.stripe_tolerance_seconds)
                return inbox.parse_stripe(data)
            return inbox.parse_paystack(verify_paystack(body, signature, secret))
        except (InvalidSignature, InvalidInput) as error:
            metrics.reject(provider, error.code)
            _log(event="webhook_rejected", provider=provider, code=error.code)
            return 400, {
                "error": {
                    "code": "INVALID_SIGNATURE"
                    if isinstance(error, InvalidSignature)
                    else error.code,
                    "message": error.message,
                    "details": {},
                }
            }

    def apply_batch(deliveries: Sequence[Delivery]) -> list[tuple[str, bool] | Exception]:
        """One transaction for the batch; if it fails, each event alone, so one bad event
        cannot hold back the others (the failed batch left nothing behind)."""
        try:
            return list(app_context.run(lambda s: inbox.store_and_apply_many(s, deliveries)))
        except Exception as error:
            if len(deliveries) == 1:
                return [error]
        results: list[tuple[str, bool] | Exception] = []
        for event, raw in deliveries:
            try:
                results.append(app_context.run(lambda s: inbox.store_and_apply(s, event, raw)))  # noqa: B023 - called at once
            except Exception as error:
                results.append(error)
        return results

    committer: GroupCommitter[Delivery, tuple[str, bool] | Exception] = GroupCommitter(
        apply_batch,
        max_batch=settings.max_batch_events,
        max_in_flight=settings.concurrent_batches,
        linger=settings.batch_linger_ms / 1000,
    )

    def keep_failure(event: inbox.ParsedEvent, raw: str, error: Exception) -> str:
        """Keep an event whose handler failed for replay; the provider retries it too."""
        message = inbox.error_text(error)
        try:
            app_context.run(lambda s: inbox.record_failure(s, event, raw, message))
        except Exception as inner:  # database down: nothing stored, provider retries
            message += f"; not stored: {type(inner).__name__}"
        return message

    async def process(provider: str, body: bytes, signature: str | None) -> JSONResponse:
        started = time.perf_counter()
        verified = verify(provider, body, signature)
        if isinstance(verified, tuple):
            return JSONResponse(verified[1], verified[0])
        event, raw = verified, body.decode("utf-8")
        result = await committer.submit((event, raw))
        elapsed = time.perf_counter() - started
        if isinstance(result, Exception):
            message = await run_in_threadpool(keep_failure, event, raw, result)
            metrics.observe(provider, event.type, "failed", elapsed)
            _log(
                event="webhook_failed",
                provider=provider,
                type=event.type,
                key=event.key,
                error=message,
            )
            code = getattr(result, "code", "INTERNAL_ERROR")
            return JSONResponse({"error": {"code": code, "message": message, "details": {}}}, 500)
        status, duplicate = result
        outcome = "duplicate" if duplicate else status
        metrics.observe(provider, event.type, outcome, elapsed)
        _log(
            event="webhook",
            provider=provider,
            type=event.type,
            key=event.key,
            outcome=outcome,
            ms=round(elapsed * 1000, 2),
        )
        return JSONResponse({"received": True, "status": status, "duplicate": duplicate}, 200)

    async def receive(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in ("stripe", "paystack"):
            return _error(404, "NOT_FOUND", f"no webhook endpoint for {provider}")
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except TooLarge:
            metrics.reject(provider, "TOO_LARGE")
            return _error(413, "VALIDATION_ERROR", "request body is too large")
        header = "stripe-signature" if provider == "stripe" else "x-paystack-signature"
        return await process(provider, body, request.headers.get(header))

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(_: Request) -> Response:
        from legato_pay.store.engine import ping

        try:
            await run_in_threadpool(lambda: ping(app_context.engine))
        except (LegatoError, Exception) as error:
            return JSONResponse({"ok": False, "error": type(error).__name__}, 503)
        return JSONResponse({"ok": True})

    async def metrics_endpoint(_: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    app = Starlette(
        routes=[
            Route("/webhooks/{provider}", receive, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ]
    )
    app.state.context = app_context
    app.state.metrics = metrics
    return app


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def create_app_from_env() -> Starlette:
    """uvicorn factory for worker processes: everything comes from LEGATO_* variables."""
    configure_logging()
    # Each batch is handed from the event loop to a database thread and back. Under load the
    # loop always wants the GIL, and with the default 5 ms switch interval the thread holding
    # a committed batch would wait that long for it; 0.5 ms keeps answers flowing.
    sys.setswitchinterval(0.0005)
    return create_app()
