"""Stripe's records: balance transactions (``GET /v1/balance_transactions?created[gte]=…``),
the money that moved through the Stripe balance, each with ``amount`` (negative when money
left), ``fee``, ``net``, ``type`` and ``source`` (expanded: the charge, refund or transfer).

Types the ledger books on its clearing account: ``charge``/``payment`` (money in),
``refund``/``payment_refund`` (out, ``related`` to the charge and its PaymentIntent) and
``transfer`` (out). Anything else (``payout`` to the platform's bank, ``stripe_fee``,
``adjustment`` …) is counted as skipped. A charge whose expanded source says ``refunded`` is
``reversed``. Zero-decimal currencies come without ×100, as our minor units are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from legato_pay.reconcile.records import (
    FAILED,
    IGNORED,
    REVERSED,
    SETTLED,
    Direction,
    GatewayRecord,
    Period,
)

_IN_TYPES = ("charge", "payment")
_OUT_TYPES = ("refund", "payment_refund", "transfer")


def _ids(*values: Any) -> frozenset[str]:
    return frozenset(str(v) for v in values if isinstance(v, str) and v)


def _source(txn: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    source = txn.get("source")
    if isinstance(source, Mapping):
        return (str(source["id"]) if source.get("id") else None), source
    return (str(source) if source else None), {}


def _state(txn: Mapping[str, Any], source: Mapping[str, Any], kind: str) -> str:
    if kind not in _IN_TYPES + _OUT_TYPES:
        return IGNORED
    if source.get("refunded") is True or source.get("reversed") is True:
        return REVERSED
    if source.get("status") in ("failed", "canceled"):
        return FAILED
    return SETTLED  # available or pending: the money is in (or out of) the balance


def balance_transaction_record(txn: Mapping[str, Any]) -> GatewayRecord:
    """One balance transaction (a dict as the API, the SDK or the CSV reader hands it over)."""
    kind = str(txn.get("type") or "")
    source_id, source = _source(txn)
    amount = int(txn.get("amount") or 0)
    direction: Direction = "in" if amount >= 0 else "out"
    intent, charge = source.get("payment_intent"), source.get("charge")
    metadata = source.get("metadata") if isinstance(source.get("metadata"), Mapping) else {}
    reference = (metadata or {}).get("reference")
    own = _ids(source_id, txn.get("id"))
    return GatewayRecord(
        gateway_id=str(txn.get("id")),
        kind=kind,
        direction=direction,
        amount=abs(amount),
        currency=str(txn.get("currency") or "").upper(),
        state=_state(txn, source, kind),
        raw_status=str(txn.get("status") or ""),
        occurred_at=_created(txn.get("created")),
        fee=int(txn.get("fee") or 0),
        ids=own | (_ids(intent) if kind in _IN_TYPES else frozenset()),
        refs=_ids(reference),
        related=_ids(intent, charge) if kind not in _IN_TYPES else frozenset(),
        reference=str(reference) if reference else None,
    )


def _created(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def stripe_records(gateway: Any, period: Period) -> list[GatewayRecord]:
    """Balance transactions over the period and its slack (``StripeGateway``)."""
    gte, lte = int(period.read_from.timestamp()), int(period.read_to.timestamp())
    return [balance_transaction_record(t) for t in gateway.balance_transactions(gte, lte)]
