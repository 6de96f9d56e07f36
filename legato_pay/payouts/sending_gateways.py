"""The gateways a payout is sent through, behind one small ``Sender`` shape.

Each sender turns the payouts work's requests into its provider's calls and answers with
``TransferNotice`` (``legato_pay.gateways.transfers``): ``send`` a batch of one currency,
``verify`` one reference, each answer as it comes (the run applies it before the next call), ``resend`` one that the
provider never saw (under the *same*
reference, which the provider deduplicates), ``finalize`` a Paystack OTP.

* ``sandbox``: pays at once, deterministically (transfer id ``sbx_<reference>``); nobody real.
  Built with the database engine (as ``SenderPool`` does), it writes each transfer into the
  sandbox's own book (``sandbox_payments``, kind ``payout``), which ``reconcile`` reads.
* ``paystack``: bulk transfers, or one ``POST /transfer`` each when the integration requires
  an OTP for transfers (``payouts.paystack_transfer_otp``): those wait for ``payouts finalize``.
* ``stripe``: one Connect transfer each to the writer's ``acct_…``.

``SenderPool`` builds each sender on first use from the environment (keys, base URLs) and
closes them all at the end; tests pass senders of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Engine

from legato_pay.config import Settings
from legato_pay.errors import InvalidInput, InvalidState
from legato_pay.gateways.paystack import transfers as paystack_transfers
from legato_pay.gateways.stripe import transfers as stripe_transfers
from legato_pay.gateways.transfers import TransferNotice

GATEWAYS = ("paystack", "stripe", "sandbox")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One payout to send: its reference, net amount, currency and the provider's recipient
    (``RCP_…``, ``acct_…``; decrypted only for the call, never shown)."""

    payout_id: int
    reference: str
    amount: int
    currency: str
    recipient: str = field(repr=False)  # never in a repr, a log or a traceback's message
    reason: str = ""


class Sender(Protocol):
    name: str

    def send(self, currency: str, items: Sequence[Outgoing]) -> Iterator[TransferNotice]: ...

    def verify(self, reference: str, transfer_id: str | None) -> TransferNotice: ...

    def resend(self, item: Outgoing) -> TransferNotice: ...

    def finalize(self, reference: str, transfer_id: str, otp: str) -> TransferNotice: ...

    def close(self) -> None: ...


class SandboxSender:
    """Pays every transfer at once; a verify finds it paid (the sandbox keeps no state)."""

    name = "sandbox"

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine

    def send(self, currency: str, items: Sequence[Outgoing]) -> Iterator[TransferNotice]:
        return (self.resend(item) for item in items)

    def resend(self, item: Outgoing) -> TransferNotice:
        if self._engine is not None:
            from legato_pay.gateways.sandbox import record_transfer

            record_transfer(
                self._engine, f"sbx_{item.reference}", item.reference, item.amount, item.currency
            )
        return TransferNotice(
            "sandbox",
            item.reference,
            "paid",
            transfer_id=f"sbx_{item.reference}",
            amount=item.amount,
            currency=item.currency,
            raw_status="paid",
        )

    def verify(self, reference: str, transfer_id: str | None) -> TransferNotice:
        return TransferNotice(
            "sandbox", reference, "paid", transfer_id=f"sbx_{reference}", raw_status="paid"
        )

    def finalize(self, reference: str, transfer_id: str, otp: str) -> TransferNotice:
        raise InvalidState("sandbox transfers need no OTP", details={"reference": reference})

    def close(self) -> None:
        pass


class PaystackSender:
    name = "paystack"

    def __init__(self, client: Any, *, otp: bool) -> None:
        self.client, self.otp = client, otp

    @staticmethod
    def _item(item: Outgoing) -> paystack_transfers.Outgoing:
        return paystack_transfers.Outgoing(
            item.reference, item.amount, item.currency, item.recipient, item.reason
        )

    def send(self, currency: str, items: Sequence[Outgoing]) -> Iterator[TransferNotice]:
        if self.otp:  # bulk transfers need transfer OTP disabled
            return (self.resend(item) for item in items)
        return iter(
            paystack_transfers.send_bulk(self.client, currency, [self._item(i) for i in items])
        )

    def resend(self, item: Outgoing) -> TransferNotice:
        return paystack_transfers.send_one(self.client, self._item(item))

    def verify(self, reference: str, transfer_id: str | None) -> TransferNotice:
        return paystack_transfers.verify(self.client, reference)

    def finalize(self, reference: str, transfer_id: str, otp: str) -> TransferNotice:
        return paystack_transfers.finalize(self.client, reference, transfer_id, otp)

    def close(self) -> None:
        self.client.close()


class StripeSender:
    name = "stripe"

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def send(self, currency: str, items: Sequence[Outgoing]) -> Iterator[TransferNotice]:
        return (self.resend(item) for item in items)

    def resend(self, item: Outgoing) -> TransferNotice:
        return stripe_transfers.send(
            self.gateway,
            reference=item.reference,
            amount=item.amount,
            currency=item.currency,
            destination=item.recipient,
        )

    def verify(self, reference: str, transfer_id: str | None) -> TransferNotice:
        return stripe_transfers.find(self.gateway, reference, transfer_id)

    def finalize(self, reference: str, transfer_id: str, otp: str) -> TransferNotice:
        raise InvalidState("Stripe transfers need no OTP", details={"reference": reference})

    def close(self) -> None:
        self.gateway.close()


def build_sender(name: str, settings: Settings, engine: Engine | None = None) -> Sender:
    """A sender from the environment (``PAYSTACK_SECRET_KEY``/``PAYSTACK_BASE_URL``,
    ``STRIPE_SECRET_KEY``/``STRIPE_API_BASE``, ``PAYMENT_GATEWAY_MODE``); the sandbox's books
    its transfers through ``engine``."""
    if name == "sandbox":
        return SandboxSender(engine)
    if name == "paystack":
        from legato_pay.gateways.paystack.gateway import PaystackGateway

        client = PaystackGateway.from_env(settings.gateways).client
        return PaystackSender(client, otp=settings.payouts.paystack_transfer_otp)
    if name == "stripe":
        from legato_pay.gateways.stripe.gateway import StripeGateway

        return StripeSender(StripeGateway.from_env(settings.gateways))
    raise InvalidInput(f"--gateway must be one of {', '.join(GATEWAYS)}", details={"gateway": name})


class SenderPool:
    """Senders by gateway name, built on first use; ``close`` closes those built here."""

    def __init__(
        self,
        settings: Settings,
        given: Mapping[str, Sender] | None = None,
        build: Callable[[str, Settings], Sender] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings, self._given = settings, dict(given or {})
        self._build = build or partial(build_sender, engine=engine)
        self._built: dict[str, Sender] = {}

    def get(self, name: str) -> Sender:
        if name in self._given:
            return self._given[name]
        if name not in self._built:
            self._built[name] = self._build(name, self.settings)
        return self._built[name]

    def close(self) -> None:
        for sender in self._built.values():
            sender.close()
        self._built.clear()

    def __enter__(self) -> SenderPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def check_gateway(name: str | None) -> str | None:
    if name is not None and name not in GATEWAYS:
        raise InvalidInput(
            f"--gateway must be one of {', '.join(GATEWAYS)}",
            details={"gateway": str(name)[:40]},
        )
    return name
