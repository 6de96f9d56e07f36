"""Reconciliation: the ledger's gateway clearing accounts against the gateways' own records.

``reconcile --gateway G --from D --to D`` reads two sides and matches them:

* the ledger side (``ledger_side``): every posted leg on ``gateway:<G>:<CUR>`` (debit = money
  in at the gateway, credit = money out), one item per entry and account, with the keys the
  entry carries. Nothing here knows purchases or payouts: an entry is matched by what its
  metadata (and, for the sources that predate this, the domain row pointing at it) records:

  ==========================  ===========================================================
  ``gateway_ref``             the gateway's own id of the object (``pi_…``/``ch_…``/``re_…``/
                              ``tr_…`` at Stripe, the transaction/refund id or
                              ``TRF_…`` transfer code at Paystack, ``sbx_…`` in the sandbox)
  ``reference``               the project's reference the gateway also carries (Paystack
                              ``metadata.reference`` or its conformed ``reference``, the sandbox
                              book's ``reference``, Stripe ``metadata.reference``)
  ``refund_of``               on a refund or reversal: the reference or gateway id of what it
                              gives back (so a gateway "refunded" status is seen as booked)
  ==========================  ===========================================================

  (``gateway_payment_id``, ``gateway_refund_id``, ``gateway_transfer_id`` count as
  ``gateway_ref``; ``purchase`` as ``reference`` on money in and as ``refund_of`` on money out.)
* the gateway side (``sources``): records fetched through the API (Paystack transactions,
  refunds and transfers with ``meta`` paging; Stripe balance transactions), read from the
  provider's CSV export (``csv_exports``), or the sandbox gateway's own book.

``matcher`` pairs them (pure functions) and ``storage`` keeps each run with its items.
"""
