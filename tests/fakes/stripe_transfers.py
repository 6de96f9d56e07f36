"""A stateful fake of Stripe's Transfers API (Connect), which localstripe lacks.

It follows Stripe's documented Transfer object and the facts in GATEWAYS.md, and is talked to
by the official ``stripe`` package (``StripeClient(base_addresses={"api": fake_url})``):

* ``POST /v1/transfers`` (form-encoded like every Stripe POST: ``amount``, ``currency``,
  ``destination``, ``transfer_group``, ``metadata[...]``) → ``{id: "tr_…", object: "transfer",
  amount, amount_reversed, currency, destination, reversed, created, metadata,
  transfer_group, reversals}``. ``Idempotency-Key``: the same key with the same parameters
  answers the same object again (no second transfer); with other parameters 400
  ``idempotency_error``. A destination not added with ``add_account`` → 400
  ``resource_missing`` (param ``destination``); more than the platform's ``balance`` (when set)
  → 400 ``balance_insufficient``.
* ``GET /v1/transfers/{id}`` (404 ``resource_missing``), ``GET /v1/transfers?transfer_group=``
  (a list object, newest first).
* ``POST /v1/transfers/{id}/reversals`` (``amount`` optional: the rest) → a ``transferreversal``;
  the transfer's ``amount_reversed`` grows and ``reversed`` becomes true once it is whole.
* Events ``transfer.created`` and ``transfer.reversed`` (``evt_…``, ``type``, ``created``,
  ``data.object``) are queued in ``fake.events``; ``deliver(url, secret)`` POSTs them signed
  with ``Stripe-Signature: t=…,v1=…`` (HMAC-SHA256 of ``"{t}.{body}"``), as Stripe does.
* Bearer auth with ``sk_test_…``/``rk_test_…`` keys, else 401.

Test hooks: ``fail_next`` (error answers), ``close_gate``/``let_through``/``open_gate`` (hold
transfer requests where they arrive, for crash tests), ``delay_seconds`` (before handling),
``delay_after_seconds`` (after: the transfer exists, the caller times out),
``transfer_count(reference)`` (transfers created with that ``transfer_group``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fakes.http import serve_json
from tests.fakes.stripe_balance import FakeStripeBalance

Answer = tuple[int, dict[str, Any]]


def _error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    type: str = "invalid_request_error",
) -> Answer:
    error: dict[str, Any] = {"type": type, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return status, {"error": error}


def _form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding, ``metadata[key]=value`` nesting included."""
    parsed: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        if "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            parsed.setdefault(outer, {})[inner] = values[-1]
        else:
            parsed[key] = values[-1]
    return parsed


def sign_stripe(payload: str, secret: str, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{payload}".encode(), hashlib.sha256)
    return f"t={moment},v1={digest.hexdigest()}"


class FakeStripeTransfers:
    """Connect transfers; given a ``FakeStripeBalance`` (``balance_book``), each transfer and
    reversal also lands in the platform's balance transactions, as at Stripe."""

    def __init__(self, balance_book: FakeStripeBalance | None = None) -> None:
        self.balance_book = balance_book
        self.transfers: dict[str, dict[str, Any]] = {}
        self.accounts: set[str] = set()
        self.balance: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self.delay_seconds = 0.0
        self.delay_after_seconds = 0.0
        self.gate: threading.Semaphore | None = None
        self.waiting = 0
        self._idempotency: dict[str, tuple[dict[str, Any], Answer]] = {}
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.RLock()

    # -- test hooks -------------------------------------------------------------------------

    def close_gate(self) -> None:
        """Hold every ``POST /v1/transfers`` until ``let_through`` (the request has arrived;
        the transfer is not made yet)."""
        self.gate = threading.Semaphore(0)

    def let_through(self, count: int) -> None:
        assert self.gate is not None
        for _ in range(count):
            self.gate.release()

    def open_gate(self) -> None:
        gate, self.gate = self.gate, None
        if gate is not None:
            self.let_through_all(gate)

    @staticmethod
    def let_through_all(gate: threading.Semaphore) -> None:
        for _ in range(1000):
            gate.release()

    def add_account(self, account: str) -> None:
        with self._lock:
            self.accounts.add(account)

    def fail_next(self, status: int = 500, times: int = 1, message: str = "API error") -> None:
        with self._lock:
            self._failures.extend([(status, message)] * times)

    def transfer_count(self, reference: str) -> int:
        with self._lock:
            return sum(1 for t in self.transfers.values() if t["transfer_group"] == reference)

    def by_group(self, reference: str) -> dict[str, Any]:
        with self._lock:
            return next(t for t in self.transfers.values() if t["transfer_group"] == reference)

    def reverse(self, transfer_id: str, amount: int | None = None) -> dict[str, Any]:
        """What ``POST /v1/transfers/{id}/reversals`` does (also an API route)."""
        with self._lock:
            status, body = self._reversal(
                transfer_id, {} if amount is None else {"amount": str(amount)}
            )
            if status != 200:
                raise ValueError(body)
            return body

    def event_bodies(self) -> list[str]:
        with self._lock:
            return [json.dumps(event) for event in self.events]

    def deliver(self, url: str, secret: str, *, times: int = 1) -> list[int]:
        """POST every queued event (``times`` each: a provider's retries), signed; clears the
        queue; returns the HTTP statuses."""
        with self._lock:
            pending, self.events = self.events, []
        statuses = []
        with httpx.Client(timeout=10) as http:
            for event in pending:
                payload = json.dumps(event)
                for _ in range(times):
                    answer = http.post(
                        url,
                        content=payload.encode(),
                        headers={
                            "content-type": "application/json",
                            "stripe-signature": sign_stripe(payload, secret),
                        },
                    )
                    statuses.append(answer.status_code)
        return statuses

    # -- the API ----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        with self._lock:
            auth = headers.get("authorization", "")
            if not auth.startswith(("Bearer sk_test_", "Bearer rk_test_")):
                return _error(401, "Invalid API Key provided", type="invalid_request_error")
            if self._failures:
                status, message = self._failures.pop(0)
                return _error(status, message, type="api_error")
            if method == "POST" and path == "/v1/transfers":
                return self._create(_form(body), headers.get("idempotency-key"))
            if method == "GET" and path == "/v1/transfers":
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                return self._list(query)
            if path.startswith("/v1/transfers/"):
                rest = path.removeprefix("/v1/transfers/")
                if method == "GET" and "/" not in rest:
                    found = self.transfers.get(rest)
                    if found is None:
                        return _error(
                            404, f"No such transfer: '{rest}'", code="resource_missing", param="id"
                        )
                    return 200, dict(found)
                if method == "POST" and rest.endswith("/reversals"):
                    return self._reversal(rest.removesuffix("/reversals"), _form(body))
            return _error(404, f"Unrecognized request URL ({method}: {path})")

    def _create(self, params: dict[str, Any], key: str | None) -> Answer:
        if key is not None and key in self._idempotency:
            seen, answer = self._idempotency[key]
            if seen != params:
                return _error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    type="idempotency_error",
                )
            return answer
        answer = self._new_transfer(params)
        if key is not None:
            self._idempotency[key] = (params, answer)
        return answer

    def _new_transfer(self, params: dict[str, Any]) -> Answer:
        amount_text, currency = str(params.get("amount", "")), str(params.get("currency", ""))
        if not amount_text.isdigit() or int(amount_text) <= 0:
            return _error(400, "Invalid positive integer", param="amount")
        if len(currency) != 3 or not currency.islower():
            return _error(400, "Invalid currency", param="currency")
        destination = str(params.get("destination", ""))
        if destination not in self.accounts:
            return _error(
                400,
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
            )
        amount = int(amount_text)
        if currency in self.balance:
            if self.balance[currency] < amount:
                return _error(
                    400,
                    "You have insufficient funds in your Stripe account.",
                    code="balance_insufficient",
                )
            self.balance[currency] -= amount
        transfer_id = f"tr_{secrets.token_hex(12)}"
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": f"txn_{secrets.token_hex(12)}",
            "created": int(time.time()),
            "currency": currency,
            "description": params.get("description"),
            "destination": destination,
            "destination_payment": f"py_{secrets.token_hex(12)}",
            "livemode": False,
            "metadata": dict(params.get("metadata") or {}),
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        if self.balance_book is not None:
            self.balance_book.record_transfer(transfer)
        self._event("transfer.created", transfer)
        return 200, dict(transfer)

    def _list(self, query: dict[str, str]) -> Answer:
        group = query.get("transfer_group")
        found = [
            dict(t)
            for t in reversed(list(self.transfers.values()))  # newest first
            if group is None or t["transfer_group"] == group
        ]
        limit = int(query.get("limit", "10"))
        return 200, {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/transfers",
        }

    def _reversal(self, transfer_id: str, params: dict[str, Any]) -> Answer:
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            return _error(
                404, f"No such transfer: '{transfer_id}'", code="resource_missing", param="id"
            )
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = int(params.get("amount", left))
        if amount <= 0 or amount > left:
            return _error(400, "Amount exceeds the transfer's unreversed amount", param="amount")
        reversal = {
            "id": f"trr_{secrets.token_hex(12)}",
            "object": "transfer_reversal",
            "amount": amount,
            "currency": transfer["currency"],
            "created": int(time.time()),
            "transfer": transfer_id,
            "metadata": {},
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        transfer["reversals"]["total_count"] += 1
        if self.balance_book is not None:
            self.balance_book.record_transfer_reversal(reversal)
        self._event("transfer.reversed", transfer)
        return 200, reversal

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        self.events.append(
            {
                "id": f"evt_{secrets.token_hex(12)}",
                "object": "event",
                "api_version": "2024-06-20",
                "created": int(time.time()),
                "livemode": False,
                "type": kind,
                "data": {"object": json.loads(json.dumps(obj))},
            }
        )

    # -- serving ----------------------------------------------------------------------------

    def _answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        gate = self.gate
        if gate is not None and method == "POST" and target.startswith("/v1/transfers"):
            with self._lock:
                self.waiting += 1
            gate.acquire(timeout=60)
            with self._lock:
                self.waiting -= 1
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        answer = self.handle(method, target, headers, body)
        if self.delay_after_seconds:
            time.sleep(self.delay_after_seconds)
        return answer

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve over HTTP on a free local port in a thread; yields the base URL."""
        with serve_json(self._answer, "fake-stripe-transfers") as url:
            yield url
