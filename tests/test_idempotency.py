"""The one idempotency-key validator: what a key may hold, checked before any statement."""

from __future__ import annotations

import pytest

from legato_pay.errors import InvalidInput
from legato_pay.idempotency import check_key, request_hash


@pytest.mark.parametrize("key", ["buy-1", "order:2026-11:7", "ключ", "a" * 200])
def test_printable_keys_are_kept_as_typed(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key", ["", "   ", "k\nx", "k\x00", "tab\tkey", " padded", "padded ", "a" * 201]
)
def test_empty_control_padded_or_long_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_key(key)
    assert raised.value.code == "INVALID_IDEMPOTENCY_KEY"


def test_a_derived_key_keeps_room_for_its_prefix() -> None:
    with pytest.raises(InvalidInput):
        check_key("a" * 181, max_length=180)


def test_the_request_hash_ignores_field_order_only() -> None:
    assert request_hash({"a": 1, "b": "x"}) == request_hash({"b": "x", "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
