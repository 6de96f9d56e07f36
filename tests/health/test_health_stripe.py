"""The Stripe health probe against localstripe: ``balance.retrieve`` with the secret key."""

from __future__ import annotations

from typing import Any

import pytest

from legato_pay.errors import ConfigError
from legato_pay.health.gateways import stripe_probe
from tests.fakes.localstripe import (
    TEST_SECRET_KEY,
    localstripe_fixture,  # noqa: F401  (the module-scoped ``localstripe`` fixture)
)


def test_stripe_probe_reads_the_balance(
    sqlite_url: str, localstripe: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from legato_pay.context import AppContext

    app: Any = AppContext.create(database_url=sqlite_url, actor="test")
    monkeypatch.setenv("STRIPE_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    facts = stripe_probe(app)
    assert facts == {"balances": []}  # localstripe's balance lists no currency
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_wrong_mode")
    with pytest.raises(ConfigError):
        stripe_probe(app)
