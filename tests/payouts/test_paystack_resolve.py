"""The Paystack client's Resolve Account call against the fake, as Paystack documents it:
``GET /bank/resolve`` with the number as a query parameter, ``data.account_name``; an unknown
account is 422 and the error names no account number."""

from __future__ import annotations

import pytest

from legato_pay import chart
from legato_pay.errors import GatewayError
from legato_pay.gateways.paystack.client import PaystackClient
from tests.fakes.paystack import FakePaystack


def _client(fake: FakePaystack) -> PaystackClient:
    return PaystackClient(fake.secret_key, transport=fake.transport(), backoff_seconds=0)


def test_resolve_answers_the_banks_name() -> None:
    fake = FakePaystack()
    fake.add_bank_account("044", "0987654321", "ADA OBI")
    resolved = _client(fake).resolve_account(account_number="0987654321", bank_code="044")
    assert resolved == {"account_name": "ADA OBI", "bank_id": 1}
    assert [(r.method, r.path, r.body) for r in fake.requests] == [("GET", "/bank/resolve", None)]


def test_unknown_account_is_a_gateway_error_without_the_number() -> None:
    fake = FakePaystack()
    with pytest.raises(GatewayError) as refused:
        _client(fake).resolve_account(account_number="1111111111", bank_code="044")
    assert refused.value.details["http_status"] == 422
    assert "1111111111" not in refused.value.message + str(refused.value.details)


def test_recipient_answer_has_paystacks_documented_fields() -> None:
    fake = FakePaystack()
    fake.add_bank_account("058", "0123456789", "WENDY WRITER")
    data = _client(fake).create_transfer_recipient(
        type="nuban", name="anything", account_number="0123456789", bank_code="058", currency="NGN"
    )
    assert data["recipient_code"].startswith("RCP_") and data["active"] is True
    assert data["name"] == "WENDY WRITER"  # a nuban takes the bank's name for the account
    assert {"domain", "integration", "is_deleted", "createdAt", "updatedAt"} <= set(data)
    assert data["details"]["bank_name"] == "Guaranty Trust Bank"


def test_in_flight_is_a_reserved_chart_account() -> None:
    code = chart.payouts_in_flight("NGN")
    assert chart.reserved_namespace(code) == "payouts:"
    shape = chart.expected_account(code)
    assert shape is not None and shape.hot and shape.currency == "NGN"
