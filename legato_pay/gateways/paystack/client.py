"""A thin typed httpx client for the Paystack endpoints the toolkit uses.

``pypaystack2`` hard-codes its base URL and cannot take an injected transport, so this is our
own: Bearer auth, the ``{"status", "message", "data"}`` envelope, timeouts, and retries only
where a replay cannot move money twice:

* any call, when the connection failed before the request was sent (connect errors/timeouts);
* GETs (verify), also after read timeouts, 429 and 5xx: they change nothing;
* ``initialize_transaction`` and ``initiate_transfer``, likewise: each carries a unique
  reference and Paystack refuses a reused one (``duplicate_reference``), so a replay of a
  request that did land is refused rather than repeated. The gateway turns that refusal into
  "look it up" (transfers) or ``AlreadyExists`` (payments: verify the reference);
* never ``create_refund``, ``create_transfer_recipient`` or ``finalize_transfer`` once sent:
  they carry no reference Paystack deduplicates on.

``resolve_account`` sends the account number as a query parameter, never in the path: errors
and our logs name the path only, and a filter on httpx's own request log masks the parameter,
so no account number reaches a log line.

The secret key lives only in the client's default headers: errors and logs carry the method,
path, HTTP status and Paystack's message, never a header.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import quote

import httpx

from legato_pay.errors import AlreadyExists, GatewayError, GatewayUnavailable, NotFound
from legato_pay.gateways.base import provider_error_details
from legato_pay.gateways.keys import redact

log = logging.getLogger(__name__)

PROVIDER = "paystack"
SECRET_KEY_ENV = "PAYSTACK_SECRET_KEY"
DEFAULT_BASE_URL = "https://api.paystack.co"
#: The payment channels a Paystack checkout can offer (``channels`` of transaction/initialize);
#: what a given account really offers depends on its country and settings.
CHANNELS = ("card", "bank", "bank_transfer", "ussd", "qr", "mobile_money", "eft", "apple_pay")

_ACCOUNT_PARAM = re.compile(r"(account_number=)[^&\s\"']*")


class _MaskAccountNumbers(logging.Filter):
    """httpx logs each request's full URL at INFO: mask ``account_number`` in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "account_number=" in message:
            record.msg, record.args = _ACCOUNT_PARAM.sub(r"\1****", message), None
        return True


logging.getLogger("httpx").addFilter(_MaskAccountNumbers())

#: Raised before a byte left: replaying cannot duplicate anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class InitializeData(TypedDict):
    authorization_url: str
    access_code: str
    reference: str


class ResolvedAccount(TypedDict):
    account_name: str
    bank_id: int | None


class PaystackClient:
    """One method per Paystack endpoint the toolkit uses; each returns the envelope's ``data``."""

    def __init__(
        self,
        secret_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10,
        max_retries: int = 2,
        backoff_seconds: float = 0.25,
    ) -> None:
        self._secret = secret_key
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"Authorization": f"Bearer {secret_key}", "Accept": "application/json"},
        )
        self._close = weakref.finalize(self, self._http.close)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> PaystackClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- endpoints ------------------------------------------------------------------------------

    def initialize_transaction(
        self,
        *,
        email: str,
        amount: int,
        reference: str,
        currency: str | None = None,
        callback_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        channels: Sequence[str] = (),
    ) -> InitializeData:
        """Open a hosted checkout; ``channels`` restricts what the payer is offered."""
        body: dict[str, Any] = {"email": email, "amount": amount, "reference": reference}
        if currency:
            body["currency"] = currency
        if callback_url:
            body["callback_url"] = callback_url
        if channels:
            body["channels"] = list(channels)
        if metadata:
            body["metadata"] = dict(metadata)
        data = self._request("POST", "/transaction/initialize", body, replay_safe=True)
        return InitializeData(
            authorization_url=data["authorization_url"],
            access_code=data.get("access_code", ""),
            reference=data.get("reference", reference),
        )

    def verify_transaction(self, reference: str) -> dict[str, Any]:
        return self._request("GET", f"/transaction/verify/{quote(reference, safe='')}")

    def create_refund(
        self,
        *,
        transaction: str,
        amount: int | None = None,
        currency: str | None = None,
        customer_note: str | None = None,
        merchant_note: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "transaction": transaction,
            "amount": amount,
            "currency": currency,
            "customer_note": customer_note,
            "merchant_note": merchant_note,
        }
        return self._request("POST", "/refund", {k: v for k, v in body.items() if v is not None})

    def list_refunds(self, *, transaction: str) -> list[dict[str, Any]]:
        """``GET /refund?transaction=…``: the refunds of one transaction (id or reference)."""
        data = self._request("GET", "/refund", params={"transaction": transaction})
        listed = data.get("value", [])
        return [item for item in listed if isinstance(item, dict)]

    def resolve_account(self, *, account_number: str, bank_code: str) -> ResolvedAccount:
        """``GET /bank/resolve``: the name the bank holds for a NUBAN account number."""
        data = self._request(
            "GET",
            "/bank/resolve",
            params={"account_number": account_number, "bank_code": bank_code},
        )
        name = data.get("account_name")
        if not isinstance(name, str) or not name.strip():
            raise GatewayError(
                "Paystack resolved the account without a name",
                details=provider_error_details(PROVIDER, method="GET", path="/bank/resolve"),
            )
        return ResolvedAccount(account_name=name.strip(), bank_id=data.get("bank_id"))

    def create_transfer_recipient(
        self,
        *,
        type: str,
        name: str,
        account_number: str,
        bank_code: str,
        currency: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "type": type,
            "name": name,
            "account_number": account_number,
            "bank_code": bank_code,
        }
        if currency:
            body["currency"] = currency
        return self._request("POST", "/transferrecipient", body)

    def initiate_transfer(
        self,
        *,
        amount: int,
        recipient: str,
        reference: str,
        reason: str,
        currency: str,
        source: str = "balance",
    ) -> dict[str, Any]:
        body = {
            "source": source,
            "amount": amount,
            "recipient": recipient,
            "reference": reference,
            "reason": reason,
            "currency": currency,
        }
        return self._request("POST", "/transfer", body, replay_safe=True)

    def initiate_bulk_transfer(
        self, *, currency: str, transfers: Sequence[Mapping[str, Any]], source: str = "balance"
    ) -> list[dict[str, Any]]:
        """``POST /transfer/bulk`` (transfer OTP disabled only): one entry per transfer,
        ``{reference, recipient, amount, transfer_code, currency, status}``. Replay-safe like
        ``initiate_transfer``: every transfer carries its own unique reference."""
        body = {"currency": currency, "source": source, "transfers": [dict(t) for t in transfers]}
        data = self._request("POST", "/transfer/bulk", body, replay_safe=True)
        listed = data.get("value")  # ``_unwrap`` wraps a list ``data`` as {"value": [...]}
        return (
            [entry for entry in listed if isinstance(entry, dict)]
            if isinstance(listed, list)
            else []
        )

    def finalize_transfer(self, *, transfer_code: str, otp: str) -> dict[str, Any]:
        body = {"transfer_code": transfer_code, "otp": otp}
        return self._request("POST", "/transfer/finalize_transfer", body)

    def verify_transfer(self, reference: str) -> dict[str, Any]:
        return self._request("GET", f"/transfer/verify/{quote(reference, safe='')}")

    def balance(self) -> list[dict[str, Any]]:
        """``GET /balance``: one ``{currency, balance}`` per currency (balance in the subunit).
        A cheap authenticated GET (health probes), retried like verify."""
        data: Any = self._request("GET", "/balance")
        entries = data.get("value") if isinstance(data, dict) else None  # a list comes wrapped
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    # -- lists (reconciliation) ------------------------------------------------------------------

    def list_page(
        self, path: str, params: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of a list endpoint (``/transaction``, ``/refund``, ``/transfer``): its items
        and ``meta`` (``{total, perPage, page, pageCount}``). A GET: retried like verify."""
        data = self._request("GET", path, params=params)
        items, meta = data.get("value"), data.get("meta")
        return (
            [item for item in items if isinstance(item, dict)] if isinstance(items, list) else [],
            meta if isinstance(meta, dict) else {},
        )

    # -- transport ------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        replay_safe: bool | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One call with the retry policy of the module docstring; returns ``data``."""
        safe = method == "GET" if replay_safe is None else replay_safe
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    method, path, json=body, params=dict(params) if params else None
                )
            except httpx.TransportError as exc:
                retry = attempt <= self.max_retries and (safe or isinstance(exc, _NOT_SENT))
                log.warning(
                    "paystack %s %s: %s (attempt %d)%s",
                    method,
                    path,
                    type(exc).__name__,
                    attempt,
                    ", retrying" if retry else "",
                )
                if retry:
                    self._pause(attempt, None)
                    continue
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
                raise GatewayUnavailable(
                    f"Paystack {kind} on {method} {path}: {type(exc).__name__}",
                    details=provider_error_details(
                        PROVIDER,
                        path=path,
                        method=method,
                        attempts=attempt,
                        error=type(exc).__name__,
                    ),
                ) from None
            status = response.status_code
            log.info("paystack %s %s -> %d (attempt %d)", method, path, status, attempt)
            if (status == 429 or status >= 500) and safe and attempt <= self.max_retries:
                self._pause(attempt, response.headers.get("retry-after"))
                continue
            return self._unwrap(response, method, path, attempt)

    def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.backoff_seconds * 2 ** (attempt - 1), 5.0)
        if retry_after and re.fullmatch(r"[0-9]{1,6}", retry_after, flags=re.ASCII):
            delay = min(max(delay, int(retry_after)), 5.0)
        if delay > 0:
            time.sleep(delay)

    def _unwrap(
        self, response: httpx.Response, method: str, path: str, attempts: int
    ) -> dict[str, Any]:
        status = response.status_code
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            envelope = {}
        message = redact(str(envelope.get("message") or response.reason_phrase), self._secret)
        details = provider_error_details(
            PROVIDER,
            http_status=status,
            request_id=response.headers.get("x-request-id"),
            method=method,
            path=path,
            attempts=attempts,
            paystack_code=envelope.get("code"),
            error_type=envelope.get("type"),
        )
        if 200 <= status < 300 and envelope.get("status") is True:
            data = envelope.get("data")
            # A list answer's items come back under "value", with the envelope's paging "meta".
            return data if isinstance(data, dict) else {"value": data, "meta": envelope.get("meta")}
        if status == 401:
            raise GatewayUnavailable(
                f"Paystack refused the secret key: check {SECRET_KEY_ENV}", details=details
            )
        if status == 429 or status >= 500:
            raise GatewayUnavailable(
                f"Paystack is unavailable ({status}) on {method} {path}: {message}", details=details
            )
        if envelope.get("code") == "duplicate_reference":
            raise AlreadyExists(
                f"Paystack already has this reference ({method} {path}): {message}",
                details=details,
            )
        if status == 404 or str(envelope.get("code", "")).endswith("_not_found"):
            raise NotFound(f"Paystack found nothing at {path}: {message}", details=details)
        if 200 <= status < 300:
            raise GatewayError(
                f"Paystack answered {status} without data: {message}", details=details
            )
        raise GatewayError(f"Paystack refused {method} {path}: {message}", details=details)
