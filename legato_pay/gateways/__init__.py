"""Payment gateways behind one protocol: ``sandbox`` (offline default), ``stripe``, ``paystack``.

Each implementation is imported only when asked for (``stripe`` is a heavy import). Stripe and
Paystack read their keys from the environment (``STRIPE_SECRET_KEY``, ``PAYSTACK_SECRET_KEY``,
…) and refuse keys of the other mode (``PAYMENT_GATEWAY_MODE`` / ``gateways.mode``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from legato_pay.errors import GatewayUnavailable, InvalidInput, NotFound

if TYPE_CHECKING:
    from legato_pay.context import AppContext
    from legato_pay.gateways.base import Gateway, PaymentStatus, TransferGateway

GATEWAY_NAMES = ("sandbox", "stripe", "paystack")
#: The gateways that implement ``TransferGateway`` (payouts).
TRANSFER_GATEWAY_NAMES = ("stripe", "paystack")


def choose_gateway_name(app: AppContext, currency: str, requested: str | None = None) -> str:
    """``--gateway`` if given, else the configured default; ``auto`` picks by currency."""
    name = requested or app.settings.gateways.default
    if name == "auto":
        name = app.settings.gateways.by_currency.get(currency, "sandbox")
    if name not in GATEWAY_NAMES:
        raise InvalidInput(
            f"unknown gateway {name!r}", details={"gateway": name, "known": list(GATEWAY_NAMES)}
        )
    return name


def get_gateway(app: AppContext, name: str) -> Gateway:
    """Build the named gateway; a missing or wrong-mode key is a ``ConfigError`` naming the
    environment variable (never its value). Stripe/Paystack gateways hold an HTTP connection
    pool: ``close()`` them when done (they also close themselves when garbage-collected)."""
    if name == "sandbox":
        from legato_pay.gateways.sandbox import SandboxGateway

        return SandboxGateway(app.engine)
    if name == "stripe":
        from legato_pay.gateways.stripe.gateway import StripeGateway

        return StripeGateway.from_env(app.settings.gateways)
    if name == "paystack":
        from legato_pay.gateways.paystack.gateway import PaystackGateway

        return PaystackGateway.from_env(app.settings.gateways)
    raise InvalidInput(
        f"unknown gateway {name!r}", details={"gateway": name, "known": list(GATEWAY_NAMES)}
    )


def close_gateway(client: object) -> None:
    """Release a gateway's HTTP pool (Stripe/Paystack; the sandbox holds none)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


def ask_payment(client: Gateway, reference: str, payment_id: str | None) -> PaymentStatus | None:
    """The gateway's word on the payment under ``reference``, None when it holds none; the
    client is closed either way (for callers deciding whether a stale payment can be closed)."""
    try:
        return client.verify_payment(reference, payment_id)
    except NotFound:
        return None
    finally:
        close_gateway(client)


def get_transfer_gateway(app: AppContext, name: str) -> TransferGateway:
    """A gateway that can pay out; the sandbox cannot (yet), so asking it is refused."""
    if name not in TRANSFER_GATEWAY_NAMES:
        raise GatewayUnavailable(
            f"the {name} gateway cannot make transfers; use " + " or ".join(TRANSFER_GATEWAY_NAMES),
            details={"gateway": name, "known": list(TRANSFER_GATEWAY_NAMES)},
        )
    return cast("TransferGateway", get_gateway(app, name))  # the names above implement it
