"""Gateway keys from the environment, checked against the mode the toolkit runs in.

A live key in a test run (or a test key in production) is the kind of mistake that costs real
money or silently takes none, so a mismatch refuses to start (``ConfigError``, exit 10). Error
messages name the environment variable and the mode, never the key's value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from legato_pay.errors import ConfigError

if TYPE_CHECKING:
    from legato_pay.config import GatewaySettings

MODE_ENV = "PAYMENT_GATEWAY_MODE"
MODES = ("test", "live")
_KEY_SHAPE = re.compile(r"\b(?:(?:sk|rk|pk)_(?:test|live)_|whsec_)[A-Za-z0-9*]+")


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def gateway_mode(settings: GatewaySettings, environ: Mapping[str, str] | None = None) -> str:
    """``PAYMENT_GATEWAY_MODE`` if set, else ``gateways.mode`` from the settings."""
    raw = environment(environ).get(MODE_ENV, "").strip().lower()
    mode = raw or settings.mode
    if mode not in MODES:
        raise ConfigError(
            f"{MODE_ENV} must be 'test' or 'live', not {raw!r}",
            details={"env": MODE_ENV, "value": raw, "allowed": list(MODES)},
        )
    return mode


def require_key(env_var: str, environ: Mapping[str, str] | None = None, *, provider: str) -> str:
    value = environment(environ).get(env_var, "").strip()
    if not value:
        raise ConfigError(
            f"{env_var} is not set: the {provider} gateway needs it "
            f"(or use --gateway sandbox to run without keys)",
            details={"env": env_var, "provider": provider},
        )
    return value


def check_key_mode(
    key: str,
    *,
    env_var: str,
    mode: str,
    test_prefixes: tuple[str, ...],
    live_prefixes: tuple[str, ...],
) -> None:
    """Refuse a key whose prefix belongs to the other mode, or that has no known prefix."""
    if key.startswith(test_prefixes):
        key_mode = "test"
    elif key.startswith(live_prefixes):
        key_mode = "live"
    else:
        expected = "/".join(test_prefixes if mode == "test" else live_prefixes)
        raise ConfigError(
            f"{env_var} does not look like a {mode} key (expected it to start with {expected}); "
            f"running in {mode} mode",
            details={"env": env_var, "mode": mode},
        )
    if key_mode != mode:
        raise ConfigError(
            f"running in {mode} mode ({MODE_ENV}) but {env_var} holds a {key_mode} key: "
            f"refusing to start; set a {mode} key or {MODE_ENV}={key_mode}",
            details={"env": env_var, "mode": mode, "key_mode": key_mode},
        )


def redact(text: str, *secrets: str) -> str:
    """``text`` with every given secret (and anything shaped like an API key) blanked out."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPE.sub("[redacted]", text)
