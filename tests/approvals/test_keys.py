"""Approver keys and signatures without a database: key files, canonical payloads, sign/verify."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legato_pay.approvals.keys import (
    canonical_payload,
    keygen,
    read_public_key,
    sign,
    signature_valid,
)
from legato_pay.errors import AlreadyExists, InvalidInput


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    old = os.umask(0)  # even a permissive umask must not open the private key up
    try:
        made = keygen(tmp_path / "carol.key")
    finally:
        os.umask(old)
    private_mode = stat.S_IMODE((tmp_path / "carol.key").stat().st_mode)
    public_mode = stat.S_IMODE((tmp_path / "carol.key.pub").stat().st_mode)
    assert private_mode == 0o600
    assert public_mode == 0o644
    assert b"PRIVATE KEY" in (tmp_path / "carol.key").read_bytes()
    assert b"PUBLIC KEY" in (tmp_path / "carol.key.pub").read_bytes()
    assert read_public_key(tmp_path / "carol.key.pub") == made["public_key"]
    assert made["fingerprint"].startswith("SHA256:")


@pytest.mark.parametrize("existing", ["carol.key", "carol.key.pub"])
def test_keygen_never_overwrites(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("precious")
    with pytest.raises(AlreadyExists):
        keygen(tmp_path / "carol.key")
    assert (tmp_path / existing).read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_sign_and_verify(tmp_path: Path) -> None:
    made = keygen(tmp_path / "k")
    payload = canonical_payload("payout", {"id": 7, "amount_minor": 150000, "currency": "NGN"})
    signature = sign(tmp_path / "k", payload)
    assert len(signature) == 128
    assert signature_valid(made["public_key"], payload, signature)
    tampered = canonical_payload("payout", {"id": 7, "amount_minor": 150001, "currency": "NGN"})
    assert not signature_valid(made["public_key"], tampered, signature)
    other = keygen(tmp_path / "other")
    assert not signature_valid(other["public_key"], payload, signature)
    assert not signature_valid(made["public_key"], payload, "zz" * 64)


def test_sign_refuses_a_private_key_others_can_read(tmp_path: Path) -> None:
    keygen(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(InvalidInput) as caught:
        sign(tmp_path / "k", canonical_payload("payout", {"id": 1}))
    assert caught.value.code == "INVALID_KEY"


def test_public_key_file_must_be_a_public_key(tmp_path: Path) -> None:
    keygen(tmp_path / "k")
    with pytest.raises(InvalidInput, match="PRIVATE"):
        read_public_key(tmp_path / "k")
    (tmp_path / "junk.pub").write_bytes(b"\x00" * 10)
    with pytest.raises(InvalidInput):
        read_public_key(tmp_path / "junk.pub")
    (tmp_path / "big.pub").write_bytes(b"a" * 10_000)
    with pytest.raises(InvalidInput, match="larger"):
        read_public_key(tmp_path / "big.pub")


def test_canonical_payload_is_sorted_compact_and_versioned() -> None:
    payload = canonical_payload("payout", {"id": 7, "amount_minor": 1250, "currency": "USD"})
    assert payload == b'{"amount_minor":1250,"currency":"USD","id":7,"kind":"payout","version":1}'
    assert canonical_payload("payout", {"b": 1, "a": "\u00e9"}) == (
        b'{"a":"\\u00e9","b":1,"kind":"payout","version":1}'
    )


@pytest.mark.parametrize(
    "fields",
    [{"amount": 9.99}, {"kind": "x"}, {"version": 2}, {"Bad-Key": 1}, {"a": {"b": object()}}],
)
def test_canonical_payload_refuses_what_has_no_single_form(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        canonical_payload("payout", fields)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), st.integers()))
def test_canonical_payload_ignores_insertion_order(fields: dict[str, int]) -> None:
    fields.pop("kind", None)
    fields.pop("version", None)
    reordered = dict(reversed(list(fields.items())))
    assert canonical_payload("payout", fields) == canonical_payload("payout", reordered)
