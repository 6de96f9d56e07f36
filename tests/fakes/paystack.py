"""A stateful fake of the Paystack API, answering the way GATEWAYS.md says Paystack does.

Use it over real HTTP (``with fake.serve() as base_url``) or in-process
(``httpx.Client(transport=fake.transport())``). What it models:

* ``POST /transaction/initialize`` → an ``abandoned`` transaction (Paystack's word for
  initialized and not paid yet: still payable), ``authorization_url``; a reused
  reference → 400 ``duplicate_reference``. ``GET /transaction/verify/{ref}`` answers 200 for
  failed payments too (read ``data.status``); unknown → 400 ``transaction_not_found``.
* ``GET /refund?transaction=`` lists a transaction's refunds.
* ``POST /refund`` → ``pending`` refund (only of a paid transaction, at most what is left;
  a refund set to ``failed`` no longer counts). ``refund_event`` gives its ``refund.*`` webhook.
* ``GET /bank/resolve?account_number=&bank_code=`` → ``{account_number, account_name,
  bank_id}`` for an account registered with ``fake.add_bank_account``; otherwise 422 "Could
  not resolve account name" (Paystack's Resolve Account answer for an unknown account).
* ``POST /transferrecipient`` → 201 ``RCP_…`` (the same account gets the same code back), with
  the documented fields (``active``, ``domain``, ``integration``, ``is_deleted``, ``details``
  with ``bank_name``); a ``nuban`` for a registered account takes the bank's name for it.
* ``POST /transfer`` → ``pending`` (or ``otp`` when ``fake.otp_required``), ``TRF_…``;
  ``POST /transfer/finalize_transfer`` with ``fake.otp_code``; ``GET /transfer/verify/{ref}``.
  A reused transfer reference → 400 ``duplicate_reference`` (an assumption: GATEWAYS.md only
  says transfer references are unique; the client must not pay twice either way).
* ``POST /transfer/bulk`` ``{currency, source, transfers: [{amount, reference, reason,
  recipient}]}`` → one ``{reference, recipient, amount, transfer_code, currency, status:
  "received"}`` per transfer; refused whole (400) while ``otp_required`` (bulk transfers need
  transfer OTP disabled), for more than 100 transfers, or any invalid or reused reference.
  ``fake.transfers_made`` lists every reference a transfer was created under, in order
  (``transfer_count(ref)``: how many times one reference was paid — never more than once).
* ``GET /transaction``, ``GET /refund``, ``GET /transfer`` (reconciliation): newest first,
  ``from``/``to`` on the creation time, ``perPage``/``page`` with ``meta`` {total, skipped,
  perPage, page, pageCount}; ``add_transaction`` plants a paid transaction at a given time,
  ``add_transfer`` a transfer made outside the project. A transfer carries ``fee_charged``
  (``transfer_fee``: the fee taken from the balance on top of its amount).
* Bearer auth with the fake's secret key, else 401.

Test hooks, in process or over HTTP for subprocesses (``POST /_fake/transactions/{ref}`` with
``{"status", "amount", "currency", "gateway_response"}``, ``POST /_fake/transfers/{ref}``,
``POST /_fake/refunds/{id}`` with ``{"status"}``): ``settle``, ``set_transfer_status``,
``set_refund_status``; ``fail_next`` queues error answers, ``delay_seconds`` slows answers
before they are handled, ``delay_after_seconds`` after (the request landed, the caller times
out: an unknown outcome); ``POST /_fake/otp`` ``{"required": bool}`` toggles transfer OTP.
Every request is recorded in ``fake.requests`` (method, path, JSON body, never headers).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.fakes.http import serve_json

CURRENCIES = ("NGN", "GHS", "ZAR", "KES", "USD")
TRANSACTION_STATUSES = (
    "abandoned",
    "failed",
    "ongoing",
    "pending",
    "processing",
    "queued",
    "reversed",
    "success",
)
TRANSFER_STATUSES = (
    "pending",
    "success",
    "failed",
    "otp",
    "abandoned",
    "reversed",
    "blocked",
    "rejected",
    "received",
)
_TRANSACTION_REF = re.compile(r"[A-Za-z0-9.=-]+")
_TRANSFER_REF = re.compile(r"[a-z0-9_-]+")
BANKS = {
    "011": (7, "First Bank of Nigeria"),
    "044": (1, "Access Bank"),
    "057": (21, "Zenith Bank"),
    "058": (9, "Guaranty Trust Bank"),
}

Answer = tuple[int, dict[str, Any]]
#: The list endpoints (reconciliation) and their success messages.
_LISTS = {
    "/transaction": "Transactions retrieved",
    "/refund": "Refunds retrieved",
    "/transfer": "Transfers retrieved",
}


def transfer_fee(amount: int, currency: str) -> int:
    """The fee Paystack charges to the balance on top of a transfer (``fee_charged``): the
    published Nigerian tiers, NGN 10 up to NGN 5,000, NGN 25 up to NGN 50,000, NGN 50 above."""
    if currency != "NGN":
        return 0
    return 1000 if amount <= 500_000 else 2500 if amount <= 5_000_000 else 5000


def _iso(value: str) -> str:
    """An ISO time comparable as text: UTC, milliseconds, ``Z`` (what the fake writes)."""
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any


def _ok(data: Any, message: str = "OK", status: int = 200) -> Answer:
    return status, {"status": True, "message": message, "data": data}


def _error(
    status: int, message: str, *, code: str | None = None, type: str = "validation_error"
) -> Answer:
    body: dict[str, Any] = {"status": False, "message": message, "type": type}
    if code:
        body["code"] = code
    return status, body


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class FakePaystack:
    """One fake Paystack integration: its transactions, refunds, recipients and transfers."""

    def __init__(
        self,
        secret_key: str = "sk_test_fakepaystack",
        *,
        initial_status: str = "abandoned",
        transfer_status: str = "pending",
    ) -> None:
        self.secret_key = secret_key
        self.initial_status = initial_status
        self.transfer_status = transfer_status
        self.otp_required = False
        self.otp_code = "123456"
        self.delay_seconds = 0.0
        self.delay_after_seconds = 0.0
        self.transfers_made: list[str] = []
        self.transactions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[int, dict[str, Any]] = {}
        self.recipients: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.bank_accounts: dict[tuple[str, str], str] = {}
        self.requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, str]] = []
        self._ids = itertools.count(1_000_001)
        self._lock = threading.RLock()

    # -- test hooks -----------------------------------------------------------------------------

    def fail_next(
        self, status: int = 503, times: int = 1, message: str = "Service unavailable"
    ) -> None:
        """Answer the next ``times`` API calls with ``status`` (after recording them)."""
        with self._lock:
            self._failures.extend([(status, message)] * times)

    def add_bank_account(self, bank_code: str, account_number: str, account_name: str) -> None:
        """An account ``GET /bank/resolve`` knows (by bank code and NUBAN number)."""
        with self._lock:
            self.bank_accounts[(bank_code, account_number)] = account_name

    def transaction(self, reference: str) -> dict[str, Any]:
        """By Paystack reference, or by the project's reference kept in ``metadata.reference``."""
        with self._lock:
            if reference in self.transactions:
                return self.transactions[reference]
            for txn in self.transactions.values():
                if (txn.get("metadata") or {}).get("reference") == reference:
                    return txn
        raise KeyError(f"no fake Paystack transaction {reference!r}")

    def settle(
        self,
        reference: str,
        status: str = "success",
        *,
        amount: int | None = None,
        currency: str | None = None,
        gateway_response: str | None = None,
    ) -> dict[str, Any]:
        """What the payer did at checkout: ``success`` (optionally paying another amount or
        currency), ``failed``, ``abandoned``, …"""
        if status not in TRANSACTION_STATUSES:
            raise ValueError(f"not a Paystack transaction status: {status}")
        with self._lock:
            txn = self.transaction(reference)
            txn["status"] = status
            if amount is not None:
                txn["amount"] = amount
            if currency is not None:
                txn["currency"] = currency
            txn["gateway_response"] = gateway_response or {
                "success": "Successful",
                "failed": "Declined",
                "abandoned": "The transaction was not completed",
            }.get(status, status.capitalize())
            if status == "success":
                txn["paid_at"] = _now()
                txn["channel"] = "card"
                txn["fees"] = min(txn["amount"] * 15 // 1000 + 10000, 200000)
            return dict(txn)

    def set_transfer_status(self, reference: str, status: str) -> dict[str, Any]:
        if status not in TRANSFER_STATUSES:
            raise ValueError(f"not a Paystack transfer status: {status}")
        with self._lock:
            transfer = self.transfers[reference]
            transfer["status"] = status
            transfer["updatedAt"] = _now()
            return dict(transfer)

    def set_refund_status(self, refund_id: int, status: str) -> dict[str, Any]:
        with self._lock:
            refund = self.refunds[int(refund_id)]
            was_failed, now_failed = refund["status"] == "failed", status == "failed"
            if was_failed != now_failed:  # a failed refund leaves its amount refundable again
                txn = self.transactions[refund["transaction"]["reference"]]
                txn["refunded"] += refund["amount"] if was_failed else -refund["amount"]
            refund["status"] = status
            return dict(refund)

    def transfer_count(self, reference: str) -> int:
        """How many transfers were created under ``reference`` (single and bulk)."""
        with self._lock:
            return self.transfers_made.count(reference)

    def count(self, method: str, path: str) -> int:
        """How many requests came in for ``method`` on ``path`` (a prefix if it ends in ``/``)."""
        return sum(
            1
            for r in self.requests
            if r.method == method
            and (r.path == path or (path.endswith("/") and r.path.startswith(path)))
        )

    # -- webhook payloads -----------------------------------------------------------------------

    def charge_event(self, reference: str) -> dict[str, Any]:
        """The ``charge.success`` body Paystack would send for a transaction as it stands."""
        return {
            "event": "charge.success",
            "data": self._transaction_view(self.transaction(reference)),
        }

    def transfer_event(self, reference: str) -> dict[str, Any]:
        """``transfer.success`` / ``transfer.failed`` / ``transfer.reversed`` for a transfer."""
        data = self._transfer_view(self.transfers[reference])
        return {"event": f"transfer.{data['status']}", "data": data}

    def refund_event(self, refund_id: int) -> dict[str, Any]:
        """``refund.<status>`` as Paystack's refund webhooks carry it: no refund ``id``; the
        transaction's reference, the amount as a string, and a ``refund_reference`` (the
        processor's) only once the refund is processed, ``null`` before."""
        refund = self.refunds[int(refund_id)]
        processed = refund["status"] in ("processed", "failed")
        data = {
            "status": refund["status"],
            "transaction_reference": refund["transaction"]["reference"],
            "refund_reference": f"{refund['id']}{refund['amount']}" if processed else None,
            "amount": str(refund["amount"]),
            "currency": refund["currency"],
            "processor": "fake_processor",
            "customer": {"first_name": None, "last_name": None, "email": refund["email"]},
            "integration": 100001,
            "domain": "test",
        }
        return {"event": f"refund.{refund['status']}", "data": data}

    # -- the API --------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request: (HTTP status, JSON body)."""
        path = unquote(urlsplit(target).path)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(RecordedRequest(method, path, payload))
            if path.startswith("/_fake/"):
                return self._hook(method, path, payload if isinstance(payload, dict) else {})
            if headers.get("authorization") != f"Bearer {self.secret_key}":
                return _error(401, "Invalid key", type="api_error")
            if self._failures:
                status, message = self._failures.pop(0)
                return _error(status, message, type="api_error")
            if payload is not None and not isinstance(payload, dict):
                return _error(400, "Invalid JSON body")
            data = payload or {}
            routes = {
                ("POST", "/transaction/initialize"): self._initialize,
                ("POST", "/refund"): self._refund,
                ("POST", "/transferrecipient"): self._recipient,
                ("POST", "/transfer"): self._transfer,
                ("POST", "/transfer/finalize_transfer"): self._finalize,
                ("POST", "/transfer/bulk"): self._bulk,
            }
            if (method, path) in routes:
                return routes[(method, path)](data)
            if method == "GET" and path == "/refund":
                return self._list_refunds(parse_qs(urlsplit(target).query))
            if method == "GET" and path == "/bank/resolve":
                return self._resolve(parse_qs(urlsplit(target).query))
            if method == "GET" and path.startswith("/transaction/verify/"):
                return self._verify(path.removeprefix("/transaction/verify/"))
            if method == "GET" and path.startswith("/transfer/verify/"):
                return self._verify_transfer(path.removeprefix("/transfer/verify/"))
            if method == "GET" and path in _LISTS:
                return self._list(path, parse_qs(urlsplit(target).query))
            return _error(404, f"Route not found: {method} {path}", type="api_error")

    def _initialize(self, data: dict[str, Any]) -> Answer:
        email, amount = data.get("email"), data.get("amount")
        if not email or "@" not in str(email):
            return _error(400, "Invalid Email Address Passed")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return _error(400, "Invalid Amount Sent")
        currency = data.get("currency") or "NGN"
        if currency not in CURRENCIES:
            return _error(400, "Currency not supported by merchant", code="unsupported_currency")
        reference = data.get("reference") or f"T{secrets.token_hex(7)}"
        if not _TRANSACTION_REF.fullmatch(reference):
            return _error(400, "Invalid transaction reference", code="invalid_reference")
        if reference in self.transactions:
            return _error(400, "Duplicate Transaction Reference", code="duplicate_reference")
        access_code = secrets.token_hex(8)
        self.transactions[reference] = {
            "id": next(self._ids),
            "reference": reference,
            "status": self.initial_status,
            "amount": amount,
            "requested_amount": amount,
            "currency": currency,
            "email": email,
            "metadata": data.get("metadata") or {},
            "gateway_response": "The transaction was not completed"
            if self.initial_status == "abandoned"
            else "Pending",
            "paid_at": None,
            "channel": None,
            "fees": None,
            "refunded": 0,
            "access_code": access_code,
            "created_at": _now(),
        }
        return _ok(
            {
                "authorization_url": f"https://checkout.paystack.test/{access_code}",
                "access_code": access_code,
                "reference": reference,
            },
            "Authorization URL created",
        )

    def _transaction_view(self, txn: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": txn["id"],
            "domain": "test",
            "status": txn["status"],
            "reference": txn["reference"],
            "amount": txn["amount"],
            "currency": txn["currency"],
            "gateway_response": txn["gateway_response"],
            "paid_at": txn["paid_at"],
            "created_at": txn["created_at"],
            "channel": txn["channel"],
            "fees": txn["fees"],
            "customer": {"email": txn["email"], "customer_code": f"CUS_{txn['id']}"},
            "metadata": txn["metadata"],
            "requested_amount": txn["requested_amount"],
        }

    def _verify(self, reference: str) -> Answer:
        txn = self.transactions.get(reference)
        if txn is None:
            return _error(400, "Transaction reference not found", code="transaction_not_found")
        return _ok(self._transaction_view(txn), "Verification successful")

    def _refund(self, data: dict[str, Any]) -> Answer:
        key = str(data.get("transaction", ""))
        txn = self.transactions.get(key) or next(
            (t for t in self.transactions.values() if str(t["id"]) == key), None
        )
        if txn is None:
            return _error(404, "Transaction not found", code="transaction_not_found")
        if txn["status"] != "success":
            return _error(400, "Cannot refund a transaction that was not successful")
        left = txn["amount"] - txn["refunded"]
        amount = data.get("amount", left)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return _error(400, "Invalid amount")
        if amount > left:
            return _error(400, "Refund amount cannot be greater than the amount left to refund")
        if data.get("currency") not in (None, txn["currency"]):
            return _error(400, "Currency does not match the transaction's")
        txn["refunded"] += amount
        refund = {
            "id": next(self._ids),
            "transaction": {
                "id": txn["id"],
                "reference": txn["reference"],
                "amount": txn["amount"],
            },
            "amount": amount,
            "deducted_amount": 0,
            "currency": txn["currency"],
            "channel": txn["channel"],
            "merchant_note": data.get("merchant_note"),
            "email": txn["email"],
            "customer_note": data.get("customer_note"),
            "status": "pending",
            "createdAt": _now(),
        }
        self.refunds[refund["id"]] = refund
        return _ok(dict(refund), "Refund has been queued for processing")

    def _list_refunds(self, query: Mapping[str, list[str]]) -> Answer:
        """``GET /refund?transaction=`` (the transaction's id or reference), oldest first."""
        key = (query.get("transaction") or [""])[0]
        found = [
            dict(refund)
            for refund in self.refunds.values()
            if not key
            or key in (str(refund["transaction"]["id"]), refund["transaction"]["reference"])
        ]
        return _ok(found, "Refunds retrieved")

    def _resolve(self, query: Mapping[str, list[str]]) -> Answer:
        number = (query.get("account_number") or [""])[0]
        bank_code = (query.get("bank_code") or [""])[0]
        if not number:
            return _error(400, "Account number is required")
        if not bank_code:
            return _error(400, "Bank code is required")
        name = self.bank_accounts.get((bank_code, number))
        if name is None:
            return _error(422, "Could not resolve account name. Check parameters or try again.")
        bank_id = BANKS.get(bank_code, (0, ""))[0]
        data = {"account_number": number, "account_name": name, "bank_id": bank_id}
        return _ok(data, "Account number resolved")

    def _recipient(self, data: dict[str, Any]) -> Answer:
        for field in ("type", "name", "account_number", "bank_code"):
            if not data.get(field):
                return _error(400, f"{field} is required")
        if not str(data["account_number"]).isdigit():
            return _error(400, "Cannot resolve account", code="invalid_account")
        key = f"{data['type']}:{data['bank_code']}:{data['account_number']}"
        if key not in self.recipients:
            number = next(self._ids)
            resolved = self.bank_accounts.get((data["bank_code"], data["account_number"]))
            name = resolved if data["type"] == "nuban" and resolved else data["name"]
            self.recipients[key] = {
                "active": True,
                "createdAt": _now(),
                "currency": data.get("currency") or "NGN",
                "domain": "test",
                "id": number,
                "integration": 100001,
                "name": name,
                "recipient_code": f"RCP_{secrets.token_hex(8)}",
                "type": data["type"],
                "updatedAt": _now(),
                "is_deleted": False,
                "details": {
                    "authorization_code": None,
                    "account_number": data["account_number"],
                    "account_name": name,
                    "bank_code": data["bank_code"],
                    "bank_name": BANKS.get(data["bank_code"], (0, ""))[1] or None,
                },
            }
        return _ok(dict(self.recipients[key]), "Transfer recipient created successfully", 201)

    def _recipient_by_code(self, code: str) -> dict[str, Any] | None:
        return next((r for r in self.recipients.values() if r["recipient_code"] == code), None)

    def _check_transfer(self, data: dict[str, Any]) -> Answer | None:
        amount, reference = data.get("amount"), data.get("reference")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return _error(400, "Invalid amount")
        if self._recipient_by_code(str(data.get("recipient"))) is None:
            return _error(400, "Recipient specified is invalid", code="invalid_recipient")
        if not reference or not _TRANSFER_REF.fullmatch(reference):
            return _error(400, "Invalid transfer reference", code="invalid_reference")
        if reference in self.transfers:
            return _error(400, "Duplicate Transfer Reference", code="duplicate_reference")
        return None

    def _transfer(self, data: dict[str, Any]) -> Answer:
        if data.get("source") != "balance":
            return _error(400, "Invalid source")
        refused = self._check_transfer(data)
        if refused is not None:
            return refused
        status = "otp" if self.otp_required else self.transfer_status
        transfer = self._create_transfer(data, status)
        message = (
            "Transfer requires OTP to continue" if status == "otp" else "Transfer has been queued"
        )
        return _ok(dict(transfer), message)

    def _bulk(self, data: dict[str, Any]) -> Answer:
        if data.get("source") != "balance":
            return _error(400, "Invalid source")
        if self.otp_required:
            return _error(400, "Bulk transfers are not available while transfer OTP is enabled")
        items = data.get("transfers")
        if not isinstance(items, list) or not items or len(items) > 100:
            return _error(400, "transfers must be a list of 1 to 100 transfers")
        references = [item.get("reference") for item in items if isinstance(item, dict)]
        if len(references) != len(items) or len(set(references)) != len(references):
            return _error(400, "Each transfer needs its own reference", code="invalid_reference")
        for item in items:
            refused = self._check_transfer(item)
            if refused is not None:
                return refused
        currency = data.get("currency") or "NGN"
        made = [self._create_transfer(item | {"currency": currency}, "received") for item in items]
        answer = [
            {
                "reference": t["reference"],
                "recipient": self._recipient_code(t["recipient"]),
                "amount": t["amount"],
                "transfer_code": t["transfer_code"],
                "currency": t["currency"],
                "status": t["status"],
            }
            for t in made
        ]
        return _ok(answer, f"{len(made)} transfers queued.")

    def _recipient_code(self, recipient_id: int) -> str:
        return str(
            next(r for r in self.recipients.values() if r["id"] == recipient_id)["recipient_code"]
        )

    def _create_transfer(self, data: dict[str, Any], status: str) -> dict[str, Any]:
        recipient = self._recipient_by_code(str(data.get("recipient")))
        assert recipient is not None
        reference = str(data["reference"])
        transfer = {
            "id": next(self._ids),
            "transfer_code": f"TRF_{secrets.token_hex(8)}",
            "reference": reference,
            "amount": data["amount"],
            "currency": data.get("currency") or "NGN",
            "source": "balance",
            "reason": data.get("reason"),
            "recipient": recipient["id"],
            "status": status,
            "failures": None,
            "fee_charged": transfer_fee(int(data["amount"]), str(data.get("currency") or "NGN")),
            "createdAt": _now(),
            "updatedAt": _now(),
        }
        self.transfers[reference] = transfer
        self.transfers_made.append(reference)
        return transfer

    def _finalize(self, data: dict[str, Any]) -> Answer:
        code = data.get("transfer_code")
        transfer = next((t for t in self.transfers.values() if t["transfer_code"] == code), None)
        if transfer is None:
            return _error(400, "Transfer code is invalid", code="transfer_not_found")
        if transfer["status"] != "otp":
            return _error(400, "Transfer is not currently awaiting OTP")
        if str(data.get("otp")) != self.otp_code:
            return _error(400, "Invalid OTP", code="invalid_otp")
        transfer["status"] = "success"
        transfer["updatedAt"] = _now()
        return _ok(dict(transfer), "Transfer has been queued")

    def _transfer_view(self, transfer: Mapping[str, Any]) -> dict[str, Any]:
        recipient = next(r for r in self.recipients.values() if r["id"] == transfer["recipient"])
        return {**transfer, "recipient": dict(recipient)}

    def _verify_transfer(self, reference: str) -> Answer:
        transfer = self.transfers.get(reference)
        if transfer is None:
            return _error(400, "Transfer not found", code="transfer_not_found")
        return _ok(self._transfer_view(transfer), "Transfer retrieved")

    def _hook(self, method: str, path: str, data: dict[str, Any]) -> Answer:
        kind, _, key = path.removeprefix("/_fake/").partition("/")
        try:
            if method == "POST" and kind == "transactions":
                return _ok(
                    self.settle(
                        key,
                        data.get("status", "success"),
                        amount=data.get("amount"),
                        currency=data.get("currency"),
                        gateway_response=data.get("gateway_response"),
                    )
                )
            if method == "POST" and kind == "transfers":
                return _ok(self.set_transfer_status(key, data.get("status", "success")))
            if method == "POST" and kind == "otp":
                self.otp_required = bool(data.get("required", True))
                return _ok({"otp_required": self.otp_required})
            if method == "POST" and kind == "refunds":
                return _ok(self.set_refund_status(int(key), data.get("status", "processed")))
        except (KeyError, ValueError) as exc:
            return _error(404, str(exc))
        return _error(404, f"no fake hook {method} {path}")

    # -- lists (reconciliation): GET /transaction, /refund, /transfer --------------------------
    # Paystack's list answers: newest first, ``from``/``to`` (ISO times, on the creation time)
    # and ``perPage`` (default 50) / ``page`` (from 1), with ``meta: {total, skipped, perPage,
    # page, pageCount}`` beside ``data``.

    def add_transaction(
        self,
        reference: str,
        amount: int,
        currency: str = "NGN",
        *,
        status: str = "success",
        at: str | None = None,
        metadata: dict[str, Any] | None = None,
        fees: int | None = None,
    ) -> dict[str, Any]:
        """A transaction as if a customer had paid through another checkout (test set-up)."""
        when = at or _now()
        with self._lock:
            number = next(self._ids)
            self.transactions[reference] = {
                "id": number,
                "reference": reference,
                "status": status,
                "amount": amount,
                "requested_amount": amount,
                "currency": currency,
                "email": "payer@example.com",
                "metadata": metadata or {},
                "gateway_response": "Successful" if status == "success" else status.capitalize(),
                "paid_at": when if status in ("success", "reversed") else None,
                "channel": "card",
                "fees": fees if fees is not None else min(amount * 15 // 1000 + 10000, 200000),
                "refunded": 0,
                "access_code": secrets.token_hex(8),
                "created_at": when,
            }
            return dict(self.transactions[reference])

    def add_transfer(
        self, reference: str, amount: int, currency: str = "NGN", *, status: str = "success"
    ) -> dict[str, Any]:
        """A transfer as if made from Paystack's dashboard, not through the project (test set-up)."""
        with self._lock:
            transfer = {
                "id": next(self._ids),
                "transfer_code": f"TRF_{secrets.token_hex(8)}",
                "reference": reference,
                "amount": amount,
                "currency": currency,
                "source": "balance",
                "reason": "dashboard transfer",
                "recipient": None,
                "status": status,
                "failures": None,
                "fee_charged": transfer_fee(amount, currency),
                "createdAt": _now(),
                "updatedAt": _now(),
            }
            self.transfers[reference] = transfer
            return dict(transfer)

    def _listed(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        """(creation time, item as the list shows it) for one list."""
        if path == "/transaction":
            return [
                (t["created_at"], self._transaction_view(t)) for t in self.transactions.values()
            ]
        if path == "/refund":
            return [(r["createdAt"], dict(r)) for r in self.refunds.values()]
        return [(t["createdAt"], dict(t)) for t in self.transfers.values()]

    def _list(self, path: str, query: Mapping[str, list[str]]) -> Answer:
        def first(name: str) -> str | None:
            return (query.get(name) or [None])[0]

        try:
            per_page = int(first("perPage") or 50)
            page = int(first("page") or 1)
        except ValueError:
            return _error(400, "perPage and page must be numbers")
        if per_page < 1 or page < 1:
            return _error(400, "perPage and page must be positive")
        since, until = first("from"), first("to")
        rows = [
            item
            for created, item in sorted(self._listed(path), key=lambda r: r[0], reverse=True)
            if (since is None or _iso(created) >= _iso(since))
            and (until is None or _iso(created) <= _iso(until))
        ]
        total = len(rows)
        body = {
            "status": True,
            "message": _LISTS[path],
            "data": rows[(page - 1) * per_page : page * per_page],
            "meta": {
                "total": total,
                "skipped": (page - 1) * per_page,
                "perPage": per_page,
                "page": page,
                "pageCount": max(1, -(-total // per_page)),
            },
        }
        return 200, body

    # -- serving --------------------------------------------------------------------------------

    def _answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        answer = self.handle(method, target, headers, body)
        if self.delay_after_seconds and not target.startswith("/_fake/"):
            time.sleep(self.delay_after_seconds)
        return answer

    def transport(self) -> httpx.MockTransport:
        """In-process: an httpx transport answering from this fake (wrap it to inject faults)."""

        def respond(request: httpx.Request) -> httpx.Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            status, body = self._answer(
                request.method, request.url.raw_path.decode(), headers, request.read()
            )
            return httpx.Response(status, json=body)

        return httpx.MockTransport(respond)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve over HTTP on a free local port in a thread; yields the base URL."""
        with serve_json(self._answer, "fake-paystack") as url:
            yield url


def sign_paystack_webhook(
    event: Mapping[str, Any] | bytes, secret_key: str
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Paystack sends: ``x-paystack-signature`` is the hex
    HMAC-SHA512 of the raw body keyed with the secret API key."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    signature = hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()
    return body, {"content-type": "application/json", "x-paystack-signature": signature}


def post_paystack_webhook(
    url: str,
    event: Mapping[str, Any] | bytes,
    secret_key: str,
    *,
    client: Any | None = None,
    timeout: float = 10,
) -> httpx.Response:
    """Sign ``event`` and POST it to ``url`` (with ``client``, e.g. a Starlette TestClient,
    or a fresh httpx client)."""
    body, headers = sign_paystack_webhook(event, secret_key)
    if client is not None:
        return client.post(url, content=body, headers=headers)  # type: ignore[no-any-return]
    with httpx.Client(timeout=timeout) as http:
        return http.post(url, content=body, headers=headers)
