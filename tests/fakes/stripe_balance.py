"""A small fake of Stripe's balance transactions API, for reconciliation tests.

localstripe keeps balance transactions only under the old path (``/v1/balance/history``),
refuses ``created[…]`` filters and ``expand``, and never charges a fee, so the reconciliation
tests use this instead. It follows Stripe's documented object: ``id`` ``txn_…``, ``object``
``balance_transaction``, ``amount`` (negative when money leaves the balance), ``fee``, ``net``
(= amount − fee), ``currency`` (lowercase), ``type`` (``charge``, ``refund``, ``transfer``,
``payout``, ``transfer_refund``, ``stripe_fee`` …), ``reporting_category``, ``source`` (the id, or the object with
``expand[]=data.source``), ``created`` (Unix seconds), ``available_on``, ``status``
(``available``/``pending``), ``fee_details``.

``GET /v1/balance_transactions`` lists newest first with ``created[gt|gte|lt|lte]``,
``limit`` (1–100, default 10), ``starting_after``/``ending_before`` and ``has_more``; a missing
or non-``sk_`` bearer key is 401. Set-up: ``add_charge``, ``add_refund``, ``add_transfer``,
``add_payout``; ``FakeStripeTransfers(balance=…)`` records its transfers and reversals here. Serve with ``with fake.serve() as base_url`` (``StripeClient(…,
base_addresses={"api": base_url})``).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, Any]]


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Answer:
    return status, {"error": {"type": kind, "message": message}}


class FakeStripeBalance:
    """One Stripe account's balance transactions and the objects they come from."""

    def __init__(self) -> None:
        self.transactions: list[dict[str, Any]] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self._clock = itertools.count()
        self._lock = threading.RLock()

    # -- set-up ---------------------------------------------------------------------------------

    def _add(
        self,
        kind: str,
        amount: int,
        currency: str,
        source: dict[str, Any] | None,
        fee: int,
        created: int | None,
    ) -> dict[str, Any]:
        when = created if created is not None else int(time.time())
        txn = {
            "id": _id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": when + 2 * 86400,
            "created": when,
            "currency": currency.lower(),
            "description": None,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": (
                [{"amount": fee, "currency": currency.lower(), "type": "stripe_fee"}] if fee else []
            ),
            "net": amount - fee,
            "reporting_category": kind,
            "source": source["id"] if source else None,
            "status": "available",
            "type": kind,
            "_order": next(self._clock),
        }
        with self._lock:
            if source:
                self.objects[source["id"]] = source
            self.transactions.append(txn)
        return txn

    def add_charge(
        self,
        amount: int,
        currency: str = "usd",
        *,
        payment_intent: str | None = None,
        reference: str | None = None,
        fee: int | None = None,
        created: int | None = None,
        refunded: bool = False,
    ) -> dict[str, Any]:
        charge = {
            "id": _id("ch"),
            "object": "charge",
            "amount": amount,
            "currency": currency.lower(),
            "payment_intent": payment_intent or _id("pi"),
            "metadata": {"reference": reference} if reference else {},
            "refunded": refunded,
            "status": "succeeded",
        }
        fee = amount * 29 // 1000 + 30 if fee is None else fee
        return self._add("charge", amount, currency, charge, fee, created)

    def add_refund(
        self,
        charge_txn: Mapping[str, Any],
        amount: int | None = None,
        *,
        created: int | None = None,
    ) -> dict[str, Any]:
        charge = self.objects[str(charge_txn["source"])]
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount or charge["amount"],
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "metadata": {},
            "status": "succeeded",
        }
        return self._add("refund", -refund["amount"], charge["currency"], refund, 0, created)

    def add_transfer(
        self,
        amount: int,
        currency: str = "usd",
        *,
        reference: str | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        transfer = {
            "id": _id("tr"),
            "object": "transfer",
            "amount": amount,
            "currency": currency.lower(),
            "destination": _id("acct"),
            "metadata": {"reference": reference} if reference else {},
            "reversed": False,
        }
        return self._add("transfer", -amount, currency, transfer, 0, created)

    def record_transfer(self, transfer: dict[str, Any]) -> dict[str, Any]:
        """The balance transaction of a transfer made through ``FakeStripeTransfers`` (its live
        object as ``source``, so a later reversal shows as ``reversed``)."""
        return self._add(
            "transfer", -int(transfer["amount"]), str(transfer["currency"]), transfer, 0, None
        )

    def record_transfer_reversal(self, reversal: dict[str, Any]) -> dict[str, Any]:
        """A transfer reversal's balance transaction (type ``transfer_refund``, money back)."""
        return self._add(
            "transfer_refund", int(reversal["amount"]), str(reversal["currency"]), reversal, 0, None
        )

    def add_payout(
        self, amount: int, currency: str = "usd", *, created: int | None = None
    ) -> dict[str, Any]:
        payout = {"id": _id("po"), "object": "payout", "amount": amount, "status": "paid"}
        return self._add("payout", -amount, currency, payout, 0, created)

    # -- the API --------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Answer:
        parts = urlsplit(target)
        with self._lock:
            self.requests.append(target)
            auth = headers.get("authorization", "")
            if not auth.startswith("Bearer sk_"):
                return _error(401, "Invalid API Key provided")
            if method != "GET" or parts.path != "/v1/balance_transactions":
                return _error(404, f"Unrecognized request URL ({method}: {parts.path})")
            return self._list(parse_qs(parts.query))

    def _list(self, query: Mapping[str, list[str]]) -> Answer:
        def one(name: str) -> str | None:
            return (query.get(name) or [None])[0]

        try:
            limit = int(one("limit") or 10)
            bounds = {
                op: int(v) for op in ("gt", "gte", "lt", "lte") if (v := one(f"created[{op}]"))
            }
        except ValueError:
            return _error(400, "Invalid integer")
        if not 1 <= limit <= 100:
            return _error(400, "Invalid limit: must be between 1 and 100")
        expand = {v for k, vs in query.items() if k.startswith("expand[") for v in vs}
        rows = sorted(self.transactions, key=lambda t: (t["created"], t["_order"]), reverse=True)
        checks = {
            "gt": lambda c, v: c > v,
            "gte": lambda c, v: c >= v,
            "lt": lambda c, v: c < v,
            "lte": lambda c, v: c <= v,
        }
        rows = [t for t in rows if all(checks[op](t["created"], v) for op, v in bounds.items())]
        after, before = one("starting_after"), one("ending_before")
        ids = [t["id"] for t in rows]
        if after is not None:
            if after not in ids:
                return _error(400, f"No such balance transaction: '{after}'")
            rows = rows[ids.index(after) + 1 :]
        elif before is not None:
            if before not in ids:
                return _error(400, f"No such balance transaction: '{before}'")
            rows = rows[: ids.index(before)][-limit:]
        page = rows[:limit]
        data = [self._view(t, "data.source" in expand) for t in page]
        return 200, {
            "object": "list",
            "data": data,
            "has_more": len(rows) > limit,
            "url": "/v1/balance_transactions",
        }

    def _view(self, txn: Mapping[str, Any], expand_source: bool) -> dict[str, Any]:
        view = {k: v for k, v in txn.items() if not k.startswith("_")}
        if expand_source and view["source"]:
            view["source"] = dict(self.objects[view["source"]])
        return view

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve over HTTP on a free local port in a thread; yields the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _dispatch(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = fake.handle(self.command, self.path, headers)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", _id("req"))
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _dispatch

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
