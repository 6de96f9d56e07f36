"""The fake Paystack the escrow tests share, over HTTP so CLI processes and a listener can
use it too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.paystack import FakePaystack

PAYSTACK_SECRET = "sk_test_fakepaystack_escrow"


@pytest.fixture
def paystack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePaystack]:
    fake = FakePaystack(PAYSTACK_SECRET)
    with fake.serve() as base_url:
        monkeypatch.setenv("PAYSTACK_SECRET_KEY", PAYSTACK_SECRET)
        monkeypatch.setenv("PAYSTACK_BASE_URL", base_url)
        monkeypatch.setenv("PAYMENT_GATEWAY_MODE", "test")
        yield fake
