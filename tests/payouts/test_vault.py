"""Payout details at rest: Fernet tokens, key rotation, refusals that name no secret."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from legato_pay.errors import ConfigError
from legato_pay.payouts.vault import KEY_ENV, Vault, mask


def test_round_trip_and_the_token_hides_the_number() -> None:
    vault = Vault([Fernet.generate_key().decode()])
    token = vault.encrypt("0123456789")
    assert "0123456789" not in token
    assert vault.decrypt(token) == "0123456789"


def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault([old]).encrypt("0123456789")
    both = Vault.from_env({KEY_ENV: f"{new}, {old}"})
    assert both.decrypt(token) == "0123456789"
    rotated = both.rotate(token)
    assert Vault([new]).decrypt(rotated) == "0123456789"
    with pytest.raises(ConfigError) as refused:
        Vault([new]).decrypt(token)  # the old key dropped too early
    assert old not in refused.value.message and new not in refused.value.message


@pytest.mark.parametrize("raw", ["", " , ", "not-a-fernet-key"])
def test_missing_or_bad_key_is_config_error_without_the_key(raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Vault.from_env({KEY_ENV: raw})
    assert refused.value.exit_status == 10
    if raw.strip(" ,"):
        assert raw not in refused.value.message
        assert raw not in str(refused.value.details)


def test_mask_shows_the_last_four_only() -> None:
    assert mask("6789") == "****6789"
