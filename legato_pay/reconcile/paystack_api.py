"""Paystack's records through its API: ``GET /transaction``, ``GET /refund`` and
``GET /transfer``, each with ``from``/``to`` and ``perPage``/``page``, read page by page until
``meta.pageCount`` (every list answer carries ``meta: {total, perPage, page, pageCount}``).

Amounts are integers in the subunit; a refund's ``amount`` may come as a string. The project's
reference of a transaction is ``metadata.reference`` (``project_reference``); transfers carry
the conformed reference only, so ledger references are compared in every form Paystack could
have made of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from legato_pay.errors import GatewayError, LegatoError
from legato_pay.gateways.paystack.client import PaystackClient
from legato_pay.gateways.paystack.references import (
    project_reference,
    transaction_reference,
    transfer_reference,
)
from legato_pay.money import parse_minor_units
from legato_pay.reconcile.records import (
    FAILED,
    IN_FLIGHT,
    REVERSED,
    SETTLED,
    GatewayRecord,
    Period,
)
from legato_pay.reconcile.sources import parse_time

PER_PAGE = 100
MAX_PAGES = 10_000

_TRANSACTION_STATES = {"success": SETTLED, "reversed": REVERSED, "failed": FAILED}
_TRANSACTION_STATES["abandoned"] = FAILED
_REFUND_STATES = {"processed": SETTLED, "failed": FAILED}
_TRANSFER_STATES = {"success": SETTLED, "reversed": REVERSED}
_TRANSFER_STATES.update(dict.fromkeys(("failed", "abandoned", "blocked", "rejected"), FAILED))


def reference_forms(reference: str) -> set[str]:
    """The forms a project reference may take at Paystack."""
    forms = {reference}
    for conform in (transaction_reference, transfer_reference):
        try:
            forms.add(conform(reference))
        except ValueError:
            continue
    return forms


def _stamp(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def pages(
    client: PaystackClient, path: str, period: Period, per_page: int = PER_PAGE
) -> Iterator[dict[str, Any]]:
    """Every item of a Paystack list over the period and its slack, page after page."""
    page = 1
    while True:
        params = {
            "from": _stamp(period.read_from),
            "to": _stamp(period.read_to),
            "perPage": str(per_page),
            "page": str(page),
        }
        data, meta = client.list_page(path, params)
        yield from (item for item in data if isinstance(item, Mapping))
        count = _int(meta.get("pageCount"), 0)
        if not data or page >= count or page >= MAX_PAGES:
            return
        page += 1


def _int(value: Any, default: int) -> int:
    try:
        return parse_minor_units(value, positive=False)
    except LegatoError:  # a provider's odd field (a fee, a page count) is not fatal
        return default


def _amount(value: Any, what: str, item: Mapping[str, Any]) -> int:
    try:
        return parse_minor_units(value, positive=False)
    except LegatoError as exc:
        raise GatewayError(
            f"Paystack sent {what} {item.get('id')} with an amount that is not a whole number",
            details={"provider": "paystack", "object": what, "id": str(item.get("id"))},
        ) from exc


def transaction_record(item: Mapping[str, Any]) -> GatewayRecord:
    raw = str(item.get("status"))
    reference = str(item.get("reference") or "")
    refs = {r for r in (reference, project_reference(item)) if r}
    return GatewayRecord(
        gateway_id=str(item.get("id")),
        kind="charge",
        direction="in",
        amount=_amount(item.get("amount"), "transaction", item),
        currency=str(item.get("currency") or "").upper(),
        state=_TRANSACTION_STATES.get(raw, IN_FLIGHT),
        raw_status=raw,
        occurred_at=parse_time(item.get("paid_at") or item.get("paidAt"))
        or parse_time(item.get("created_at") or item.get("createdAt")),
        fee=_int(item.get("fees"), 0),
        ids=frozenset({reference} - {""}),
        refs=frozenset(refs),
        reference=project_reference(item),
    )


def refund_record(item: Mapping[str, Any]) -> GatewayRecord:
    raw = str(item.get("status"))
    transaction = item.get("transaction")
    related: set[str] = set()
    if isinstance(transaction, Mapping):
        related = {str(v) for v in (transaction.get("id"), transaction.get("reference")) if v}
    elif transaction:
        related = {str(transaction)}
    return GatewayRecord(
        gateway_id=str(item.get("id")),
        kind="refund",
        direction="out",
        amount=_amount(item.get("amount"), "refund", item),
        currency=str(item.get("currency") or "").upper(),
        state=_REFUND_STATES.get(raw, IN_FLIGHT),
        raw_status=raw,
        occurred_at=parse_time(item.get("createdAt") or item.get("created_at")),
        related=frozenset(related),
    )


def transfer_record(item: Mapping[str, Any]) -> GatewayRecord:
    raw = str(item.get("status"))
    ids = {str(v) for v in (item.get("transfer_code"), item.get("reference")) if v}
    return GatewayRecord(
        gateway_id=str(item.get("transfer_code") or item.get("id")),
        kind="transfer",
        direction="out",
        amount=_amount(item.get("amount"), "transfer", item),
        currency=str(item.get("currency") or "").upper(),
        state=_TRANSFER_STATES.get(raw, IN_FLIGHT),
        raw_status=raw,
        occurred_at=parse_time(item.get("createdAt") or item.get("created_at")),
        fee=_int(item.get("fee_charged"), 0),
        fee_on_top=True,
        ids=frozenset(ids | {str(item.get("id"))}),
        refs=frozenset({str(item["reference"])} if item.get("reference") else set()),
        reference=str(item["reference"]) if item.get("reference") else None,
    )


def paystack_records(
    client: PaystackClient, period: Period, per_page: int = PER_PAGE
) -> list[GatewayRecord]:
    """Transactions, refunds and transfers over the period and its slack."""
    records = [transaction_record(i) for i in pages(client, "/transaction", period, per_page)]
    records += [refund_record(i) for i in pages(client, "/refund", period, per_page)]
    records += [transfer_record(i) for i in pages(client, "/transfer", period, per_page)]
    return records
