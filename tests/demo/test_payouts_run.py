"""The demo's payouts step: approved sandbox payouts are paid once; a rerun sends nothing."""

from __future__ import annotations

from typing import Any

from legato_pay.demo.payouts_run import send_sandbox_payouts
from tests.payouts.sending_support import NGN_10K, payout, request, writer_paid_through


def test_demo_sends_sandbox_payouts_once(app: Any) -> None:
    method = writer_paid_through(app, "sandbox", "wendy", posted=NGN_10K)
    made = request(app, "wendy", "NGN", NGN_10K, method.id)
    first = send_sandbox_payouts(app)
    assert first["sent"] == 1 and first["by_status"] == {"paid": 1}
    assert first["paid"]["NGN"]["count"] == 1
    assert payout(app, made.id).status == "paid"
    assert send_sandbox_payouts(app) == {"sent": 0, "by_status": {}, "paid": {}}
