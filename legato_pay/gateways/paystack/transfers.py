"""Paystack transfers for payouts: single and bulk sends, verify and finalize, read as
``TransferNotice`` (see ``legato_pay.gateways.transfers``).

The reference is the payout's own (``payout-<id>``: lowercase, digits and ``-``, which
Paystack's transfer references allow), the same on every attempt. Paystack refuses a reused
reference (``duplicate_reference``), so sending again under it can never pay twice: a refusal
is answered by looking the transfer up (``verify``).

* ``send_one``: ``POST /transfer``; ``otp`` means ``finalize`` with the OTP Paystack sent the
  account owner (when the integration has transfer OTP enabled).
* ``send_bulk``: ``POST /transfer/bulk`` (at most ``BULK_LIMIT`` a call; only with transfer
  OTP disabled); each transfer then reports by its own webhook.
* ``verify``: ``GET /transfer/verify/{reference}``; not found → ``missing``.

A timeout or 5xx after the request may have left is ``unknown`` (the payout stays
``sending``); any other refusal is ``failed`` with Paystack's message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from legato_pay.errors import AlreadyExists, GatewayError, GatewayUnavailable, NotFound
from legato_pay.gateways.base import optional_token, whole_units
from legato_pay.gateways.paystack.client import PROVIDER, PaystackClient
from legato_pay.gateways.transfers import TransferNotice

BULK_LIMIT = 100
TRANSFER_EVENT_TYPES = ("transfer.success", "transfer.failed", "transfer.reversed")
_STATUS = {
    "success": "paid",
    "pending": "pending",
    "received": "pending",
    "queued": "pending",
    "processing": "pending",
    "otp": "otp",
    "failed": "failed",
    "abandoned": "failed",
    "blocked": "failed",
    "rejected": "failed",
    "reversed": "reversed",
}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One transfer to make: the reference, the net amount, and the ``RCP_…`` recipient."""

    reference: str
    amount: int
    currency: str
    recipient: str = field(repr=False)
    reason: str = ""


def notice_from(data: Mapping[str, Any], reference: str | None = None) -> TransferNotice:
    """A Paystack transfer object (a send, verify or ``transfer.*`` webhook's ``data``)."""
    raw = optional_token(data.get("status"), "data.status", limit=50) or ""
    status = _STATUS.get(raw, "pending")
    failures = data.get("failures")
    amount = data.get("amount")
    return TransferNotice(
        provider=PROVIDER,
        reference=reference or str(optional_token(data.get("reference"), "data.reference")),
        status=status,
        transfer_id=optional_token(data.get("transfer_code"), "data.transfer_code"),
        amount=whole_units(amount) if amount is not None else None,
        currency=(optional_token(data.get("currency"), "data.currency") or "").upper() or None,
        raw_status=raw or None,
        reason=(str(failures)[:200] if failures else raw) if status == "failed" else None,
    )


def _refused(reference: str, error: GatewayError) -> TransferNotice:
    if isinstance(error, GatewayUnavailable):
        return TransferNotice(PROVIDER, reference, "unknown", reason=error.message[:200])
    return TransferNotice(PROVIDER, reference, "failed", reason=error.message[:200])


def verify(client: PaystackClient, reference: str) -> TransferNotice:
    try:
        return notice_from(client.verify_transfer(reference), reference)
    except NotFound:
        return TransferNotice(PROVIDER, reference, "missing", reason="Paystack has no transfer")
    except GatewayError as error:
        return TransferNotice(PROVIDER, reference, "unknown", reason=error.message[:200])


def send_one(client: PaystackClient, item: Outgoing) -> TransferNotice:
    """``POST /transfer``; a reference Paystack already has is looked up instead."""
    try:
        data = client.initiate_transfer(
            amount=item.amount,
            recipient=item.recipient,
            reference=item.reference,
            reason=item.reason,
            currency=item.currency,
        )
    except AlreadyExists:
        return verify(client, item.reference)
    except GatewayError as error:
        return _refused(item.reference, error)
    return notice_from(data, item.reference)


def send_bulk(
    client: PaystackClient, currency: str, items: Sequence[Outgoing]
) -> list[TransferNotice]:
    """``POST /transfer/bulk`` in chunks of ``BULK_LIMIT``; one notice per item, in order. A
    transfer the answer does not list is ``unknown`` (verify tells)."""
    notices: list[TransferNotice] = []
    for start in range(0, len(items), BULK_LIMIT):
        chunk = items[start : start + BULK_LIMIT]
        try:
            answered = client.initiate_bulk_transfer(
                currency=currency,
                transfers=[
                    {
                        "amount": item.amount,
                        "reference": item.reference,
                        "reason": item.reason,
                        "recipient": item.recipient,
                    }
                    for item in chunk
                ],
            )
        except AlreadyExists as error:  # some reference is known: each is looked up later
            notices += [
                TransferNotice(PROVIDER, i.reference, "unknown", reason=error.message[:200])
                for i in chunk
            ]
            continue
        except GatewayError as error:
            notices += [_refused(item.reference, error) for item in chunk]
            continue
        by_reference = {
            str(entry.get("reference")): entry for entry in answered if isinstance(entry, dict)
        }
        for item in chunk:
            entry = by_reference.get(item.reference)
            notices.append(
                notice_from(entry | {"currency": entry.get("currency") or currency}, item.reference)
                if entry is not None
                else TransferNotice(PROVIDER, item.reference, "unknown", reason="not in the answer")
            )
    return notices


def finalize(
    client: PaystackClient, reference: str, transfer_code: str, otp: str
) -> TransferNotice:
    """``POST /transfer/finalize_transfer`` with the OTP; a refused OTP is an error (the
    transfer still waits), anything unclear is looked up by reference."""
    try:
        data = client.finalize_transfer(transfer_code=transfer_code, otp=otp)
    except GatewayUnavailable:
        return verify(client, reference)
    return notice_from(data, reference)
