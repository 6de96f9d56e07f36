"""Shared set-up for the payout-sending tests: writers with released earnings and a method
through each gateway (Paystack bank accounts registered at the fake, Stripe connected
accounts), approved payouts, and the balances the tests check exactly."""

from __future__ import annotations

from typing import Any

from legato_pay import chart
from legato_pay.errors import AccountNotFound
from legato_pay.gateways.paystack.client import PaystackClient
from legato_pay.ledger import get_balance
from legato_pay.ledger.types import utcnow
from legato_pay.payouts.methods import add_payout_method, check_new_method
from legato_pay.payouts.requests import request_payout
from legato_pay.payouts.sending_gateways import PaystackSender, SandboxSender, Sender
from legato_pay.payouts.views import get_payout
from tests.factories import add_users
from tests.fakes.paystack import FakePaystack
from tests.payouts.helpers import SETTLED, VAULT, earn, sandbox_method

NGN_10K = 1_000_000  # NGN 10,000.00 in kobo: above the minimum, below the approval threshold
USD_50 = 5_000


def bank_method(app: Any, fake: FakePaystack, writer: str, number: str) -> Any:
    fake.add_bank_account("058", number, f"{writer.upper()} WRITER")
    client = PaystackClient(fake.secret_key, transport=fake.transport(), backoff_seconds=0)
    request = check_new_method(
        app.settings,
        writer=writer,
        type="bank",
        currency="NGN",
        bank_code="058",
        account_number=number,
    )
    return add_payout_method(app, request, paystack=client, vault=VAULT, now=utcnow() - SETTLED)


def stripe_method(app: Any, writer: str, account: str) -> Any:
    request = check_new_method(
        app.settings, writer=writer, type="stripe", currency="USD", account=account
    )
    return add_payout_method(app, request, vault=VAULT, now=utcnow() - SETTLED)


def request(app: Any, writer: str, currency: str, amount_minor: int, method: int) -> Any:
    from legato_pay.money import format_amount

    text = format_amount(amount_minor, currency).split()[0].replace(",", "")
    return app.run(
        lambda s: request_payout(
            s,
            app.settings,
            actor="ops",
            writer=writer,
            currency=currency,
            amount=text,
            method=str(method),
        )
    )


def writer_paid_through(
    app: Any, kind: str, writer: str, *, fake: FakePaystack | None = None, posted: int
) -> Any:
    """A writer with ``posted`` released earnings and one method of ``kind``."""
    add_users(app, **{writer: "writer"})
    currency = {"sandbox": "NGN", "bank": "NGN", "stripe": "USD"}[kind]
    earn(app, writer, currency, posted)
    if kind == "sandbox":
        return sandbox_method(app, writer, currency)
    if kind == "bank":
        assert fake is not None
        number = f"{abs(hash(writer)) % 10**10:010d}"
        return bank_method(app, fake, writer, number)
    return stripe_method(app, writer, f"acct_{writer}0001")


def earnings(app: Any, writer: str, currency: str) -> tuple[int, int]:
    """(posted balance, available) of the writer's earnings."""

    def work(session: Any) -> tuple[int, int]:
        balance = get_balance(session, chart.writer_earnings(writer, currency))
        return balance.posted, balance.available

    return app.run(work, write=False)  # type: ignore[no-any-return]


def in_flight(app: Any, currency: str) -> tuple[int, int]:
    """(posted balance, pending) of ``payouts:in_flight:<CUR>``."""

    def work(session: Any) -> tuple[int, int]:
        balance = get_balance(session, chart.payouts_in_flight(currency))
        return balance.posted, balance.pending

    try:
        return app.run(work, write=False)  # type: ignore[no-any-return]
    except AccountNotFound:
        return 0, 0


def payout(app: Any, payout_id: int) -> Any:
    return app.run(lambda s: get_payout(s, payout_id), write=False)


def paystack_senders(fake: FakePaystack, *, otp: bool = False, **client: Any) -> dict[str, Sender]:
    http = PaystackClient(fake.secret_key, transport=fake.transport(), backoff_seconds=0, **client)
    return {"paystack": PaystackSender(http, otp=otp), "sandbox": SandboxSender()}


def cash(app: Any, gateway: str, currency: str) -> int:
    """Posted balance of ``gateway:<g>:<CUR>`` (a debit-normal asset: payouts make it fall)."""
    try:
        return app.run(  # type: ignore[no-any-return]
            lambda s: get_balance(s, chart.gateway_cash(gateway, currency)).posted, write=False
        )
    except AccountNotFound:
        return 0


def settled(app: Any, gateway: str, currency: str, paid_out: int) -> bool:
    """``paid_out`` (net + fee of the paid payouts) left the gateway's cash and nothing is
    left in flight, neither posted nor pending."""
    return in_flight(app, currency) == (0, 0) and cash(app, gateway, currency) == -paid_out
