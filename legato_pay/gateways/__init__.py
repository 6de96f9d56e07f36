"""Payment gateways behind one protocol: ``sandbox`` (offline default), ``stripe``, ``paystack``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from legato_pay.errors import GatewayUnavailable, InvalidInput

if TYPE_CHECKING:
    from legato_pay.context import AppContext
    from legato_pay.gateways.base import Gateway

GATEWAY_NAMES = ("sandbox", "stripe", "paystack")


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
    if name == "sandbox":
        from legato_pay.gateways.sandbox import SandboxGateway

        return SandboxGateway(app.engine)
    raise GatewayUnavailable(
        f"the {name} gateway is not available in this build yet; use --gateway sandbox",
        details={"gateway": name},
    )
