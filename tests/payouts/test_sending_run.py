"""``payouts run`` on the sandbox and against the Paystack fake: what is sent, in what order
of commits, dry runs, approvals re-checked, one run at a time, and the money exactly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from legato_pay.errors import Busy, InvalidInput
from legato_pay.payouts.sending import run_payouts
from legato_pay.payouts.sending_gateways import SandboxSender
from legato_pay.payouts.status import mark_unapproved
from legato_pay.store.locks import PAYOUT_RUN, job_claim
from legato_pay.store.tables import PAYOUTS
from tests.fakes.paystack import FakePaystack
from tests.payouts.helpers import VAULT, counts
from tests.payouts.sending_support import (
    NGN_10K,
    earnings,
    in_flight,
    payout,
    paystack_senders,
    request,
    settled,
    writer_paid_through,
)


def test_sandbox_run_pays_approved_payouts_and_posts_the_reservation(app: Any) -> None:
    method = writer_paid_through(app, "sandbox", "wendy", posted=3 * NGN_10K)
    first = request(app, "wendy", "NGN", NGN_10K, method.id)
    second = request(app, "wendy", "NGN", NGN_10K, method.id)
    assert first.status == second.status == "approved"
    report = run_payouts(app)
    assert [(line.payout_id, line.status, line.outcome) for line in report.lines] == [
        (first.id, "paid", "applied"),
        (second.id, "paid", "applied"),
    ]
    assert report.totals() == {"paid": {"NGN": {"count": 2, "net_minor": first.net * 2}}}
    done = payout(app, first.id)
    assert [step.to_status for step in done.timeline][-2:] == ["sending", "paid"]
    assert done.resolution_entry_id is not None
    sent = done.as_json()["sending"]
    assert (sent["gateway"], sent["reference"], sent["transfer_id"]) == (
        "sandbox",
        f"payout-{first.id}",
        f"sbx_payout-{first.id}",
    )
    assert sent["sent_at"] is not None and sent["settled_at"] is not None
    assert payout(app, first.id).as_json()["sending"]["failure_reason"] is None
    assert earnings(app, "wendy", "NGN") == (NGN_10K, NGN_10K)
    assert settled(app, "sandbox", "NGN", 2 * NGN_10K)
    assert run_payouts(app).lines == ()  # nothing approved is left: nothing sent twice


def test_dry_run_writes_and_sends_nothing(app: Any) -> None:
    method = writer_paid_through(app, "sandbox", "wendy", posted=NGN_10K)
    made = request(app, "wendy", "NGN", NGN_10K, method.id)
    before = counts(app)

    class Refusing(SandboxSender):
        def send(self, currency: str, items: Any) -> Any:
            raise AssertionError("a dry run sent")

    report = run_payouts(app, dry_run=True, senders={"sandbox": Refusing()})
    assert [(line.payout_id, line.outcome) for line in report.lines] == [(made.id, "would_send")]
    assert report.as_json()["dry_run"] is True
    assert payout(app, made.id).as_json()["sending"] is None
    assert counts(app) == before
    assert payout(app, made.id).status == "approved"


def test_a_payout_awaiting_approval_is_not_sent(app: Any) -> None:
    method = writer_paid_through(app, "sandbox", "wendy", posted=2 * NGN_10K)
    waiting = request(app, "wendy", "NGN", NGN_10K, method.id)
    app.run(lambda s: mark_unapproved(s, waiting.id, actor="t", reason="test"))
    assert payout(app, waiting.id).status == "requested"
    assert run_payouts(app).lines == ()
    assert payout(app, waiting.id).status == "requested"


def test_gateway_filter_and_limit(app: Any) -> None:
    fake = FakePaystack()
    sandbox = writer_paid_through(app, "sandbox", "wendy", posted=NGN_10K)
    bank = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    on_sandbox = request(app, "wendy", "NGN", NGN_10K, sandbox.id)
    on_paystack = request(app, "bola", "NGN", NGN_10K, bank.id)
    report = run_payouts(app, gateway="sandbox", limit=5, senders=paystack_senders(fake))
    assert [line.payout_id for line in report.lines] == [on_sandbox.id]
    assert payout(app, on_paystack.id).status == "approved"
    with pytest.raises(InvalidInput):
        run_payouts(app, gateway="paypal")
    with pytest.raises(InvalidInput):
        run_payouts(app, limit=0)


def test_paystack_bulk_marks_sending_before_the_call_and_keeps_the_reference(app: Any) -> None:
    fake = FakePaystack()
    methods = [writer_paid_through(app, "bank", w, fake=fake, posted=NGN_10K) for w in "abc"]
    made = [request(app, w, "NGN", NGN_10K, m.id) for w, m in zip("abc", methods, strict=True)]
    seen: list[str] = []
    senders = paystack_senders(fake)
    real = senders["paystack"].send

    def spy(currency: str, items: Any) -> Any:
        # Committed before the gateway is called: another connection sees `sending`.
        seen.extend(payout(app, item.payout_id).status for item in items)
        return real(currency, items)

    senders["paystack"].send = spy  # type: ignore[method-assign]
    report = run_payouts(app, senders=senders, vault=VAULT)
    assert seen == ["sending"] * 3
    assert fake.count("POST", "/transfer/bulk") == 1 and fake.count("POST", "/transfer") == 0
    assert [line.status for line in report.lines] == ["sending"] * 3  # received, not paid yet
    for view in made:
        reference = f"payout-{view.id}"
        assert fake.transfer_count(reference) == 1
        sent = fake.transfers[reference]
        assert sent["amount"] == view.net and sent["status"] == "received"
        row = payout(app, view.id)
        assert row.status == "sending"
    rows = app.run(
        lambda s: s.execute(select(PAYOUTS.c.reference, PAYOUTS.c.transfer_id)).all(), write=False
    )
    assert all(r.transfer_id.startswith("TRF_") for r in rows)
    assert run_payouts(app, senders=senders, vault=VAULT).lines == ()  # `sending` is not resent
    assert sum(fake.transfer_count(f"payout-{v.id}") for v in made) == 3


def test_a_definite_refusal_fails_and_returns_the_money(app: Any) -> None:
    fake = FakePaystack()
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    fake.fail_next(400, message="Your balance is not enough to fulfil this request")
    [line] = run_payouts(app, senders=paystack_senders(fake), vault=VAULT).lines
    assert (line.status, line.outcome) == ("failed", "applied")
    assert "balance is not enough" in payout(app, made.id).timeline[-1].reason
    assert earnings(app, "bola", "NGN") == (NGN_10K, NGN_10K)
    assert settled(app, "paystack", "NGN", 0)


def test_a_second_run_at_once_is_busy(app: Any) -> None:
    method = writer_paid_through(app, "sandbox", "wendy", posted=NGN_10K)
    made = request(app, "wendy", "NGN", NGN_10K, method.id)

    def busy() -> Exception:
        return Busy("held")

    with job_claim(app.engine, PAYOUT_RUN, "payouts", busy):
        with pytest.raises(Busy) as refused:
            run_payouts(app)
        assert refused.value.code == "RUN_IN_PROGRESS" and refused.value.exit_status == 9
    assert payout(app, made.id).status == "approved"
    assert len(run_payouts(app).lines) == 1  # released: the next run goes ahead


def test_approvals_are_checked_again_just_before_sending(app: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import update

    from legato_pay.approvals import add_approver
    from legato_pay.approvals.keys import public_key_hex
    from legato_pay.payouts.approvals import approve_payout

    big = 60_000_000  # NGN 600,000: above the approval threshold
    method = writer_paid_through(app, "sandbox", "wendy", posted=3 * big)
    key = Ed25519PrivateKey.generate()
    public = public_key_hex(key.public_key())
    app.run(lambda s: add_approver(s, scope="payouts", name="carol", public_key=public, actor="a"))
    signed, tampered, broken = (request(app, "wendy", "NGN", big, method.id) for _ in range(3))
    for view in (signed, tampered, broken):
        assert view.status == "requested"
        app.run(
            lambda s, v=view: approve_payout(
                s, app.settings, v.id, key=key, name="carol", actor="checker"
            )
        )

    def change(payout_id: int, **values: Any) -> None:  # in SQL, after it was signed
        app.run(
            lambda s: s.execute(update(PAYOUTS).where(PAYOUTS.c.id == payout_id).values(**values))
        )

    change(tampered.id, gross=PAYOUTS.c.gross - 100)  # what was signed no longer matches
    change(broken.id, net=PAYOUTS.c.net + 100)  # not signed, but no longer adds up
    report = run_payouts(app)
    outcomes = {line.payout_id: (line.status, line.outcome) for line in report.lines}
    assert outcomes == {
        signed.id: ("paid", "applied"),
        tampered.id: ("requested", "requeued"),
        broken.id: ("approved", "flagged"),
    }
    assert payout(app, tampered.id).timeline[-1].action == "approval_voided"
    assert in_flight(app, "NGN") == (0, 2 * big)  # the two unsent are still reserved
    assert earnings(app, "wendy", "NGN") == (2 * big, 0)
