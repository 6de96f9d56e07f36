"""Provider webhook bodies read into the project's own event types (``gateways.events``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from legato_pay.errors import InvalidInput
from legato_pay.gateways.base import (
    NotOurs,
    PaymentStatus,
    RefundNotice,
    optional_token,
    token,
    whole_units,
)
from legato_pay.gateways.events import (
    is_refund_event,
    parse_event,
    parse_stored,
    payment_status,
    read_event,
    refund_notices,
    stored_payload,
)
from legato_pay.gateways.paystack.references import (
    conformed_reference_pattern,
    transaction_reference,
)


def test_stripe_payment_intent_becomes_a_payment_status() -> None:
    body = {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_1",
                "amount": 999,
                "amount_received": 999,
                "currency": "usd",
                "status": "succeeded",
                "metadata": {"reference": "pur_a"},
            }
        },
    }
    event = parse_event("stripe", body)
    assert (event.key, event.type, event.object_ref) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_1",
    )
    assert payment_status(event) == PaymentStatus(
        "stripe", "pur_a", "pi_1", "succeeded", 999, "USD", raw_status="succeeded"
    )
    assert not is_refund_event(event)


def test_a_payment_without_our_reference_is_not_ours() -> None:
    body = {"id": "evt_2", "type": "payment_intent.payment_failed", "data": {"object": {}}}
    assert payment_status(parse_event("stripe", body)) == NotOurs(
        "PaymentIntent without a legato reference"
    )
    charge = {"event": "charge.success", "data": {"id": 7, "status": "success"}}
    assert isinstance(payment_status(parse_event("paystack", charge)), NotOurs)


def test_paystack_key_is_event_object_and_status_and_amounts_may_be_strings() -> None:
    body = {
        "event": "charge.success",
        "data": {
            "id": 42,
            "reference": "pur-a-0123456789ab",
            "status": "success",
            "amount": "150000",
            "currency": "NGN",
            "metadata": '{"reference": "pur_a"}',
        },
    }
    event = parse_stored("paystack", json.dumps(body))
    assert (event.key, event.object_ref) == ("charge.success:42:success", "pur-a-0123456789ab")
    status = payment_status(event)
    assert isinstance(status, PaymentStatus)
    assert (status.reference, status.amount, status.currency) == ("pur_a", 150000, "NGN")


def test_stripe_charge_refunded_gives_one_notice_per_refund() -> None:
    body = {
        "id": "evt_3",
        "type": "charge.refunded",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "refunds": {
                    "data": [
                        {"id": "re_1", "status": "succeeded", "amount": 400},
                        {"id": "re_2", "status": "canceled", "amount": "x", "metadata": {}},
                    ]
                },
            }
        },
    }
    assert is_refund_event(parse_event("stripe", body))
    assert refund_notices("stripe", body) == [
        RefundNotice("stripe", "re_1", "succeeded", "succeeded", 400, None),
        RefundNotice("stripe", "re_2", "failed", "canceled", None, None),
    ]


def test_paystack_refund_status_falls_back_to_the_event_name() -> None:
    body = {
        "event": "refund.needs-attention",
        "data": {"id": 9, "amount": "3000", "transaction_reference": "T1"},
    }
    assert is_refund_event(parse_event("paystack", body))
    assert refund_notices("paystack", body) == [
        RefundNotice("paystack", "9", "attention", "needs-attention", 3000, "T1")
    ]


def test_unknown_providers_and_malformed_bodies_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        parse_event("paypal", {})
    with pytest.raises(InvalidInput):
        parse_event("stripe", {"id": 1})
    with pytest.raises(InvalidInput):
        parse_event("paystack", {"event": "charge.success", "data": {}})


def test_conformed_reference_pattern_finds_the_original() -> None:
    conformed = transaction_reference("pur_abc")
    pattern = conformed_reference_pattern(conformed)
    assert pattern == "pur_abc"  # each "-" may have been a refused character: LIKE's "_"
    assert conformed_reference_pattern("pur-abc") is None  # never conformed


def test_paystack_refund_events_are_keyed_by_the_refund() -> None:
    def refund(amount: str, refund_reference: str | None, status: str = "processed") -> Any:
        return {
            "event": f"refund.{status}",
            "data": {
                "status": status,
                "transaction_reference": "T1",
                "refund_reference": refund_reference,
                "amount": amount,
                "currency": "NGN",
            },
        }

    keys = {
        parse_event("paystack", refund("3000", "R1")).key,
        parse_event("paystack", refund("2000", "R2")).key,
        parse_event("paystack", refund("3000", None, "pending")).key,
        parse_event("paystack", refund("2000", None, "pending")).key,
    }
    assert len(keys) == 4
    assert (
        parse_event("paystack", refund("3000", "R1")).key
        == "refund.processed::T1:R1:3000:processed"
    )
    assert parse_event("paystack", refund("3000", "R1")).object_ref == "T1"
    with pytest.raises(InvalidInput):
        parse_event("paystack", {"event": "refund.processed", "data": {"amount": "1"}})


@pytest.mark.parametrize(
    "amount", ["١٥٠", "1e3", "150.0", "-150", " ", True, 1.5, {"v": 1}, None, "9" * 40]
)
def test_amounts_are_ascii_whole_units_only(amount: Any) -> None:
    with pytest.raises(InvalidInput):
        whole_units(amount)


def test_whole_units_reads_what_providers_send() -> None:
    assert whole_units(150) == whole_units("150") == whole_units(" 150 ") == 150
    assert whole_units(0) == 0


@pytest.mark.parametrize(
    "value", ["a\x00b", "x" * 256, "with space", "é", {"id": 1}, ["a"], True, 1.5]
)
def test_ids_are_bounded_printable_ascii(value: Any) -> None:
    with pytest.raises(InvalidInput):
        token(value, "id", limit=255)
    assert optional_token(None, "id") is None and token(42, "id") == "42"


def test_read_event_never_raises_for_a_signed_body() -> None:
    for body in (b"", b"[]", b"\xff", b"[" * 50_000, b'{"id": 1}', b'{"id": "e", "type": "t"}'):
        event = read_event("stripe", body)
        assert event.problem and event.type == "malformed"
        assert event.key.startswith("malformed:") and len(event.key) == len("malformed:") + 64
    good = read_event("stripe", b'{"id": "e", "type": "t", "data": {"object": {"id": "o"}}}')
    assert good.problem is None and (good.key, good.object_ref) == ("e", "o")
    assert stored_payload(b"a\x00\xffb") == "a\ufffd\ufffdb"
