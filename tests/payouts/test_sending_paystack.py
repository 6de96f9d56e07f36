"""Paystack transfer outcomes settle payouts exactly once: webhooks (repeated, out of order),
verify after a timeout, a send the run never made, and OTP finalize; balances exact."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from legato_pay.errors import GatewayError, InvalidState
from legato_pay.payouts.sending import run_payouts
from legato_pay.payouts.sending_gateways import PaystackSender
from legato_pay.payouts.sending_verify import finalize_payout, verify_payouts
from legato_pay.webhooks.app import create_app
from legato_pay.webhooks.signatures import sign_paystack
from tests.fakes.paystack import FakePaystack
from tests.payouts.helpers import VAULT
from tests.payouts.sending_support import (
    NGN_10K,
    earnings,
    payout,
    paystack_senders,
    request,
    settled,
    writer_paid_through,
)


@pytest.fixture
def fake() -> FakePaystack:
    return FakePaystack()


@pytest.fixture
def client(app: Any, fake: FakePaystack, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("PAYSTACK_SECRET_KEY", fake.secret_key)
    return TestClient(create_app(app))


def post(client: TestClient, fake: FakePaystack, event: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(event).encode()
    answer = client.post(
        "/webhooks/paystack",
        content=body,
        headers={"x-paystack-signature": sign_paystack(body, fake.secret_key)},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def sent_payout(app: Any, fake: FakePaystack, writer: str = "bola") -> Any:
    method = writer_paid_through(app, "bank", writer, fake=fake, posted=2 * NGN_10K)
    made = request(app, writer, "NGN", NGN_10K, method.id)
    [line] = run_payouts(app, senders=paystack_senders(fake), vault=VAULT).lines
    assert line.status == "sending"
    return made


def test_success_webhook_three_times_pays_once(app: Any, fake: FakePaystack, client: Any) -> None:
    made = sent_payout(app, fake)
    reference = f"payout-{made.id}"
    fake.set_transfer_status(reference, "success")
    answers = [post(client, fake, fake.transfer_event(reference)) for _ in range(3)]
    assert answers[0]["status"] == "applied"
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert payout(app, made.id).status == "paid"
    assert earnings(app, "bola", "NGN") == (NGN_10K, NGN_10K)
    assert settled(app, "paystack", "NGN", NGN_10K)
    # A verify afterwards finds it done and changes nothing.
    [line] = verify_payouts(app, made.id, senders=paystack_senders(fake))
    assert (line.status, line.outcome) == ("paid", "ignored")
    assert settled(app, "paystack", "NGN", NGN_10K)


def test_failed_returns_the_money_once_and_a_late_success_is_flagged(
    app: Any, fake: FakePaystack, client: Any
) -> None:
    made = sent_payout(app, fake)
    reference = f"payout-{made.id}"
    fake.set_transfer_status(reference, "failed")
    assert post(client, fake, fake.transfer_event(reference))["status"] == "applied"
    assert post(client, fake, fake.transfer_event(reference))["duplicate"] is True
    assert payout(app, made.id).status == "failed"
    assert earnings(app, "bola", "NGN") == (2 * NGN_10K, 2 * NGN_10K)
    assert settled(app, "paystack", "NGN", 0)
    fake.set_transfer_status(reference, "success")
    assert post(client, fake, fake.transfer_event(reference))["status"] == "flagged"
    assert payout(app, made.id).status == "failed"
    assert earnings(app, "bola", "NGN") == (2 * NGN_10K, 2 * NGN_10K)


def test_reversal_after_paid_returns_the_money_once(
    app: Any, fake: FakePaystack, client: Any
) -> None:
    made = sent_payout(app, fake)
    reference = f"payout-{made.id}"
    fake.set_transfer_status(reference, "success")
    post(client, fake, fake.transfer_event(reference))
    fake.set_transfer_status(reference, "reversed")
    assert post(client, fake, fake.transfer_event(reference))["status"] == "applied"
    [again] = verify_payouts(app, made.id, senders=paystack_senders(fake))
    assert again.outcome == "ignored"
    view = payout(app, made.id)
    assert view.status == "reversed"
    assert earnings(app, "bola", "NGN") == (2 * NGN_10K, 2 * NGN_10K)
    assert settled(app, "paystack", "NGN", 0)
    fake.set_transfer_status(reference, "failed")  # contradicts what happened: flagged
    assert post(client, fake, fake.transfer_event(reference))["status"] == "flagged"
    assert earnings(app, "bola", "NGN") == (2 * NGN_10K, 2 * NGN_10K)


def test_failed_after_success_is_flagged_not_applied(
    app: Any, fake: FakePaystack, client: Any
) -> None:
    made = sent_payout(app, fake)
    reference = f"payout-{made.id}"
    fake.set_transfer_status(reference, "success")
    post(client, fake, fake.transfer_event(reference))
    fake.set_transfer_status(reference, "failed")
    assert post(client, fake, fake.transfer_event(reference))["status"] == "flagged"
    assert payout(app, made.id).status == "paid"
    assert settled(app, "paystack", "NGN", NGN_10K)


def test_a_webhook_for_another_amount_is_flagged(app: Any, fake: FakePaystack, client: Any) -> None:
    made = sent_payout(app, fake)
    reference = f"payout-{made.id}"
    fake.set_transfer_status(reference, "success")
    event = fake.transfer_event(reference)
    event["data"]["amount"] += 1
    assert post(client, fake, event)["status"] == "flagged"
    assert payout(app, made.id).status == "sending"


def test_timeout_leaves_it_sending_and_verify_settles_it(app: Any, fake: FakePaystack) -> None:
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    reference = f"payout-{made.id}"
    fake.delay_after_seconds = 1.0  # the transfer is made; the answer comes too late
    with fake.serve() as url:
        from legato_pay.gateways.paystack.client import PaystackClient

        http = PaystackClient(fake.secret_key, url, timeout=0.3, max_retries=1, backoff_seconds=0)
        senders = {"paystack": PaystackSender(http, otp=False)}
        [line] = run_payouts(app, senders=senders, vault=VAULT).lines
        assert (line.status, line.outcome) == ("sending", "pending")
        assert run_payouts(app, senders=senders, vault=VAULT).lines == ()  # never sent again
        fake.delay_after_seconds = 0
        fake.set_transfer_status(reference, "success")
        [verified] = verify_payouts(app, older_than_minutes=0, senders=senders, vault=VAULT)
        http.close()
    assert (verified.status, verified.outcome) == ("paid", "applied")
    assert fake.transfer_count(reference) == 1
    assert earnings(app, "bola", "NGN") == (0, 0)
    assert settled(app, "paystack", "NGN", NGN_10K)


def test_a_send_that_never_left_is_sent_once_by_verify_under_its_reference(
    app: Any, fake: FakePaystack
) -> None:
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    senders = paystack_senders(fake)

    class Crash(Exception):
        pass

    def die(currency: str, items: Any) -> Any:
        raise Crash  # the process died after the commit, before the request left

    real = senders["paystack"].send
    senders["paystack"].send = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        run_payouts(app, senders=senders, vault=VAULT)
    senders["paystack"].send = real  # type: ignore[method-assign]
    assert payout(app, made.id).status == "sending"
    assert run_payouts(app, senders=senders, vault=VAULT).lines == ()
    assert verify_payouts(app, senders=senders) == []  # not stale yet (30 minutes)
    [line] = verify_payouts(app, older_than_minutes=0, senders=senders, vault=VAULT)
    assert "sent once, same reference" in line.message
    [again] = verify_payouts(app, older_than_minutes=0, senders=senders, vault=VAULT)
    assert again.outcome == "pending"
    assert list(fake.transfers) == [f"payout-{made.id}"]
    assert fake.transfer_count(f"payout-{made.id}") == 1


def test_otp_transfers_wait_for_finalize(app: Any, fake: FakePaystack) -> None:
    fake.otp_required = True
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    senders = paystack_senders(fake, otp=True)
    [line] = run_payouts(app, senders=senders, vault=VAULT).lines
    assert (line.status, line.outcome) == ("sending", "pending")
    assert "OTP" in line.message
    assert fake.count("POST", "/transfer/bulk") == 0
    with pytest.raises(GatewayError):
        finalize_payout(app, made.id, "000000", senders=senders)
    assert payout(app, made.id).status == "sending"
    done = finalize_payout(app, made.id, fake.otp_code, senders=senders)
    assert (done.status, done.outcome) == ("paid", "applied")
    with pytest.raises(InvalidState):
        finalize_payout(app, made.id, fake.otp_code, senders=senders)
    assert settled(app, "paystack", "NGN", NGN_10K)


def test_verify_refuses_a_payout_never_sent(app: Any, fake: FakePaystack) -> None:
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    with pytest.raises(InvalidState):
        verify_payouts(app, made.id, senders=paystack_senders(fake))


def test_settlement_splits_fee_and_tax_and_a_reversal_undoes_it(
    app: Any, fake: FakePaystack, client: Any
) -> None:
    from legato_pay import chart
    from legato_pay.ledger import get_balance, verify_ledger
    from legato_pay.payouts.tax import set_tax_profile

    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    app.run(
        lambda s: set_tax_profile(
            s,
            app.settings,
            writer="bola",
            country="NG",
            payee_type="individual",
            tin="12345678-0001",
            actor="ops",
        )
    )
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    assert (made.fee, made.tax, made.net) == (2_500, 50_000, NGN_10K - 52_500)
    run_payouts(app, senders=paystack_senders(fake), vault=VAULT)
    reference = f"payout-{made.id}"
    assert fake.transfers[reference]["amount"] == made.net  # the writer receives the net

    def withheld() -> int:
        code = chart.tax_withholding("NG", "NGN")
        return app.run(lambda s: get_balance(s, code).posted, write=False)  # type: ignore[no-any-return]

    fake.set_transfer_status(reference, "success")
    post(client, fake, fake.transfer_event(reference))
    assert settled(app, "paystack", "NGN", made.net + made.fee)
    assert withheld() == made.tax
    assert earnings(app, "bola", "NGN") == (0, 0)
    fake.set_transfer_status(reference, "reversed")
    post(client, fake, fake.transfer_event(reference))
    assert settled(app, "paystack", "NGN", 0) and withheld() == 0
    assert earnings(app, "bola", "NGN") == (NGN_10K, NGN_10K)
    report = app.run(lambda s: verify_ledger(s), write=False)
    assert report.ok, report
