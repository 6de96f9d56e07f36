"""Stripe Connect transfers for payouts, through the official SDK (``client.v1.transfers``),
read as ``TransferNotice`` (see ``legato_pay.gateways.transfers``).

A transfer moves the net from the platform's balance to the writer's connected account
(``acct_…``) at once: it exists (``paid``), or the request was refused (``failed``). Each
carries the payout's reference three ways: the idempotency key (Stripe answers a repeat with
the same object, so a retry never pays twice), ``transfer_group`` (how ``find`` lists it when
the ``tr_…`` id was lost to a timeout) and ``metadata.reference``. ``reversed: true`` (after
``POST /v1/transfers/{id}/reversals`` of the whole amount) is ``reversed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from legato_pay.errors import GatewayError, GatewayUnavailable, IdempotencyConflict, NotFound
from legato_pay.gateways.stripe.gateway import PROVIDER, stripe_amount
from legato_pay.gateways.transfers import TransferNotice

if TYPE_CHECKING:
    from legato_pay.gateways.stripe.gateway import StripeGateway

TRANSFER_EVENT_TYPES = ("transfer.created", "transfer.updated", "transfer.reversed")


def _data(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def notice_from(obj: Mapping[str, Any], reference: str | None = None) -> TransferNotice:
    """A Stripe Transfer object (an API answer or a ``transfer.*`` event's ``data.object``)."""
    metadata = obj.get("metadata") or {}
    ours = reference or metadata.get("reference") or obj.get("transfer_group") or ""
    amount, reversed_amount = int(obj["amount"]), int(obj.get("amount_reversed") or 0)
    return TransferNotice(
        provider=PROVIDER,
        reference=str(ours),
        status="reversed" if obj.get("reversed") else "paid",
        transfer_id=str(obj["id"]),
        amount=amount,
        currency=str(obj["currency"]).upper(),
        raw_status="reversed" if obj.get("reversed") else "created",
        amount_reversed=reversed_amount,
    )


def _refused(reference: str, error: GatewayError) -> TransferNotice:
    unknown = isinstance(error, GatewayUnavailable | IdempotencyConflict)
    return TransferNotice(
        PROVIDER, reference, "unknown" if unknown else "failed", reason=error.message[:200]
    )


def send(
    gateway: StripeGateway, *, reference: str, amount: int, currency: str, destination: str
) -> TransferNotice:
    """``POST /v1/transfers`` with idempotency key = ``reference``."""
    params = {
        "amount": stripe_amount(amount, currency),
        "currency": currency.lower(),
        "destination": destination,
        "transfer_group": reference,
        "metadata": {"reference": reference},
    }
    try:
        created = gateway._call(
            "create_transfer",
            lambda: gateway._client.v1.transfers.create(
                params=params, options={"idempotency_key": reference}
            ),
            reference=reference,
        )
    except GatewayError as error:
        return _refused(reference, error)
    return notice_from(_data(created), reference)


def find(gateway: StripeGateway, reference: str, transfer_id: str | None) -> TransferNotice:
    """The transfer by its ``tr_…`` id, else by ``transfer_group``; ``missing`` if none."""
    try:
        if transfer_id:
            found = gateway._call(
                "retrieve_transfer",
                lambda: gateway._client.v1.transfers.retrieve(transfer_id),
                reference=reference,
            )
            return notice_from(_data(found), reference)
        listed = _data(
            gateway._call(
                "list_transfers",
                lambda: gateway._client.v1.transfers.list(
                    params={"transfer_group": reference, "limit": 10}
                ),
                reference=reference,
            )
        )
    except NotFound:
        return TransferNotice(PROVIDER, reference, "missing", reason="Stripe has no transfer")
    except GatewayError as error:
        return TransferNotice(PROVIDER, reference, "unknown", reason=error.message[:200])
    transfers = [t for t in listed.get("data") or [] if isinstance(t, Mapping)]
    if not transfers:
        return TransferNotice(PROVIDER, reference, "missing", reason="Stripe has no transfer")
    return notice_from(transfers[0], reference)
