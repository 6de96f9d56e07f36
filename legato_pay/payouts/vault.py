"""Payout details at rest: Fernet tokens under keys from ``LEGATO_ENCRYPTION_KEY``.

The variable holds one or more Fernet keys separated by commas. The first encrypts; every one
decrypts (``MultiFernet``), so a key is rotated by putting the new key first, running
``payouts methods rotate-keys`` (each token re-encrypted under the first key), then dropping
the old key. A missing or malformed key is ``CONFIG_ERROR`` (exit 10); no message ever carries
a key, a token or what it protects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from legato_pay.errors import ConfigError

KEY_ENV = "LEGATO_ENCRYPTION_KEY"


class Vault:
    """Encrypts and decrypts payout details with the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernets = [Fernet(key.encode("ascii")) for key in keys]
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                f"{KEY_ENV} must hold Fernet keys (32 url-safe base64 bytes each), "
                "comma-separated; see README 'Payouts'",
                details={"variable": KEY_ENV},
            ) from None
        self._multi = MultiFernet(self._fernets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Vault:
        raw = (os.environ if environ is None else environ).get(KEY_ENV, "")
        keys = [key.strip() for key in raw.split(",") if key.strip()]
        if not keys:
            raise ConfigError(
                f"{KEY_ENV} is not set: payout account details are encrypted at rest; "
                "see README 'Payouts' to generate one",
                details={"variable": KEY_ENV},
            )
        return cls(keys)

    def encrypt(self, value: str) -> str:
        return self._multi.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise ConfigError(
                f"a stored payout detail cannot be decrypted with the keys in {KEY_ENV}: "
                "keep the old key in the list until `payouts methods rotate-keys` has run",
                details={"variable": KEY_ENV},
            ) from None

    def rotate(self, token: str) -> str:
        """The token re-encrypted under the first key (the same token if it already is)."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            self.decrypt(token)  # raises the explanatory ConfigError
            raise


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def mask(last4: str) -> str:
    """What output shows of an account: its last four characters only."""
    return f"****{last4}"
