"""A transfer's state as the payouts work reads it, whichever provider answered.

``TransferNotice`` is what a send, a verify, a finalize or a webhook says about one transfer,
in the project's words: ``status`` is one of ``NOTICE_STATUSES``:

* ``paid``      the money left (Paystack ``success``; a Stripe transfer that exists unreversed);
* ``pending``   accepted, not settled yet (Paystack ``pending``/``received``/``queued``);
* ``otp``       Paystack waits for the OTP (``payouts finalize``);
* ``failed``    it did not and will not happen (Paystack ``failed``/``abandoned``/``blocked``/
                ``rejected``, or a definite refusal of the request);
* ``reversed``  it happened and was undone (Paystack ``reversed``; Stripe ``reversed: true``);
* ``unknown``   the request may have left but no answer came (timeout, connection lost,
                the provider's 5xx): only a verify by reference can tell;
* ``missing``   the provider has no transfer under this reference (verify): it never left.

Gateways only read their payloads into this; what a notice does to a payout is decided by
``legato_pay.payouts.sending_outcomes``.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTICE_STATUSES = ("paid", "pending", "otp", "failed", "reversed", "unknown", "missing")


@dataclass(frozen=True, slots=True)
class TransferNotice:
    provider: str
    reference: str
    status: str
    transfer_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    raw_status: str | None = None
    reason: str | None = None
    #: Amount reversed so far (Stripe partial reversals), when the provider says.
    amount_reversed: int | None = None
