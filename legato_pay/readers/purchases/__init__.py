"""Coin purchases: create at a gateway, verify and credit exactly once, refund with clawback.

One module per step, each with the rules of that step in its docstring:

- ``create``: record the pending purchase, open a payment at the gateway (no transaction held
  across the call), store what the payer needs.
- ``settle``: apply a gateway's answer (``purchases verify`` or a webhook), crediting ONE
  ledger entry keyed ``purchase:<reference>`` at most once; mismatches are ``flagged``.
- ``cancel``: cancel a stale pending purchase, after asking the gateway that it holds no
  payment for it.
- ``refunds``: reserve, refund at the gateway, then claw back the coins the refund pays for
  (what was already spent is recorded as lost, never as a negative wallet).
- ``refund_events``: the gateway's later word on a refund completes, confirms, releases or
  undoes it.
- ``views``: what the services hand back, and ``show``/``list``.

Import from here (``from legato_pay.readers import purchases``); the names below are the
package's public surface.
"""

from __future__ import annotations

from legato_pay.gateways.base import RefundNotice
from legato_pay.gateways.events import refund_notices
from legato_pay.readers.purchases.cancel import CancelResult, cancel_purchase
from legato_pay.readers.purchases.create import create_purchase, new_reference, parse_channels
from legato_pay.readers.purchases.refund_events import (
    RefundEventResult,
    apply_refund_event,
    update_refunds_from_event,
)
from legato_pay.readers.purchases.refunds import clawback_due, refund_purchase
from legato_pay.readers.purchases.settle import (
    apply_payment_status,
    purchase_accounts,
    purchase_entry,
    settle_payment,
    settle_payments,
    verify_purchase,
)
from legato_pay.readers.purchases.views import (
    CREDITABLE,
    CREDITED,
    MAX_KEY_LENGTH,
    PURCHASE_STATUSES,
    REFUNDABLE,
    CreateResult,
    PurchasePage,
    PurchaseView,
    RefundOutcome,
    RefundView,
    SettleResult,
    get_purchase,
    list_purchases,
    page_purchases,
)

__all__ = [
    "CREDITABLE",
    "CREDITED",
    "MAX_KEY_LENGTH",
    "PURCHASE_STATUSES",
    "REFUNDABLE",
    "CancelResult",
    "CreateResult",
    "PurchasePage",
    "PurchaseView",
    "RefundEventResult",
    "RefundNotice",
    "RefundOutcome",
    "RefundView",
    "SettleResult",
    "apply_payment_status",
    "apply_refund_event",
    "cancel_purchase",
    "clawback_due",
    "create_purchase",
    "get_purchase",
    "list_purchases",
    "new_reference",
    "page_purchases",
    "parse_channels",
    "purchase_accounts",
    "purchase_entry",
    "refund_notices",
    "refund_purchase",
    "settle_payment",
    "settle_payments",
    "update_refunds_from_event",
    "verify_purchase",
]
