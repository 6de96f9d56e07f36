"""Payout methods: Paystack resolves and registers bank accounts (against the fake), accounts
are encrypted at rest and masked everywhere, and the method-change lock."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from legato_pay.errors import (
    ConfigError,
    GatewayError,
    InvalidCurrency,
    InvalidInput,
    InvalidState,
    NotFound,
)
from legato_pay.gateways.paystack.client import PaystackClient
from legato_pay.ledger.types import utcnow
from legato_pay.payouts.methods import (
    add_payout_method,
    check_new_method,
    list_methods,
    method_recently_changed,
    recipient_of,
    remove_method,
    rotate_keys,
)
from legato_pay.payouts.vault import Vault
from legato_pay.store.tables import PAYOUT_METHODS
from tests.factories import add_users
from tests.fakes.paystack import FakePaystack
from tests.payouts.helpers import VAULT, counts, sandbox_method

NUBAN = "0123456789"


@pytest.fixture
def paystack() -> tuple[FakePaystack, PaystackClient]:
    fake = FakePaystack()
    fake.add_bank_account("058", NUBAN, "WENDY WRITER")
    return fake, PaystackClient(fake.secret_key, transport=fake.transport(), backoff_seconds=0)


def _bank(app: Any, client: PaystackClient, number: str = NUBAN, **kw: Any) -> Any:
    request = check_new_method(
        app.settings,
        writer="wendy",
        type="bank",
        currency="NGN",
        bank_code="058",
        account_number=number,
    )
    return add_payout_method(app, request, paystack=client, vault=VAULT, **kw)


def test_bank_method_resolves_registers_and_stores_only_tokens(
    app: Any, paystack: tuple[FakePaystack, PaystackClient], caplog: pytest.LogCaptureFixture
) -> None:
    fake, client = paystack
    add_users(app, wendy="writer")
    caplog.set_level(logging.DEBUG)

    view = _bank(app, client)

    assert view.account_name == "WENDY WRITER"
    assert view.as_json()["account"] == "****6789"
    assert view.provider == "paystack" and view.recently_changed
    assert fake.count("GET", "/bank/resolve") == 1
    assert fake.count("POST", "/transferrecipient") == 1
    recipient = next(iter(fake.recipients.values()))
    assert recipient["details"]["bank_name"] == "Guaranty Trust Bank"
    row = app.run(lambda s: s.execute(select(PAYOUT_METHODS)).one(), write=False)
    assert NUBAN not in str(tuple(row)) and recipient["recipient_code"] not in str(tuple(row))
    assert (
        app.run(lambda s: recipient_of(s, view.id, VAULT), write=False)
        == (recipient["recipient_code"])
    )
    assert NUBAN not in str(view.as_json()) and NUBAN not in caplog.text


def test_the_same_account_again_returns_the_method_on_file(
    app: Any, paystack: tuple[FakePaystack, PaystackClient]
) -> None:
    _, client = paystack
    add_users(app, wendy="writer")
    first = _bank(app, client, now=utcnow() - timedelta(days=10))
    again = _bank(app, client)
    assert again.id == first.id and again.replayed
    assert not again.recently_changed  # a retry does not restart the lock
    assert counts(app)["payout_methods"] == 1


def test_an_unresolvable_account_stores_nothing_and_names_no_number(
    app: Any, paystack: tuple[FakePaystack, PaystackClient]
) -> None:
    fake, client = paystack
    add_users(app, wendy="writer")
    with pytest.raises(GatewayError) as refused:
        _bank(app, client, number="9999999999")
    assert "9999999999" not in refused.value.message
    assert "9999999999" not in str(refused.value.details)
    assert fake.count("POST", "/transferrecipient") == 0
    assert counts(app)["payout_methods"] == 0


def test_unknown_writer_costs_no_provider_call(
    app: Any, paystack: tuple[FakePaystack, PaystackClient]
) -> None:
    fake, client = paystack
    with pytest.raises(NotFound) as refused:
        _bank(app, client)
    assert refused.value.code == "USER_NOT_FOUND"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"type": "paypal", "currency": "NGN"}, InvalidInput),
        (
            {"type": "bank", "currency": "USD", "bank_code": "058", "account_number": NUBAN},
            InvalidCurrency,
        ),
        (
            {"type": "bank", "currency": "NGN", "bank_code": "058", "account_number": "12345"},
            InvalidInput,
        ),
        (
            {"type": "bank", "currency": "NGN", "bank_code": "05８", "account_number": NUBAN},
            InvalidInput,
        ),
        (
            {
                "type": "bank",
                "currency": "NGN",
                "bank_code": "058",
                "account_number": "012345678９",
            },
            InvalidInput,
        ),
        ({"type": "stripe", "currency": "USD", "account": "bogus"}, InvalidInput),
        ({"type": "stripe", "currency": "NGN", "account": "acct_1234abcd"}, InvalidCurrency),
        ({"type": "sandbox", "currency": "XXX"}, InvalidCurrency),
    ],
)
def test_bad_method_requests_are_refused_before_anything(
    app: Any, fields: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error) as refused:
        check_new_method(app.settings, writer="wendy", **fields)
    assert refused.value.exit_status == 3  # type: ignore[attr-defined]
    assert NUBAN not in str(refused.value)


def test_stripe_method_keeps_the_account_encrypted(app: Any) -> None:
    add_users(app, sam="writer")
    request = check_new_method(
        app.settings, writer="sam", type="stripe", currency="USD", account="acct_1AbCdEfGh"
    )
    view = add_payout_method(app, request, vault=VAULT)
    assert view.as_json()["account"] == "****EfGh" and view.provider == "stripe"
    assert app.run(lambda s: recipient_of(s, view.id, VAULT), write=False) == "acct_1AbCdEfGh"


def test_missing_key_is_config_error(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEGATO_ENCRYPTION_KEY", raising=False)
    add_users(app, wendy="writer")
    request = check_new_method(app.settings, writer="wendy", type="sandbox", currency="NGN")
    with pytest.raises(ConfigError):
        add_payout_method(app, request)
    assert counts(app)["payout_methods"] == 0


def test_method_change_lock(app: Any) -> None:
    add_users(app, wendy="writer")
    fresh = sandbox_method(app, "wendy", recent=True)
    assert app.run(lambda s: method_recently_changed(s, app.settings, fresh.id), write=False)
    later = utcnow() + timedelta(days=5, minutes=1)
    assert not app.run(
        lambda s: method_recently_changed(s, app.settings, fresh.id, now=later), write=False
    )


def test_list_and_remove(app: Any) -> None:
    add_users(app, wendy="writer", walt="writer", rita="reader")
    one = sandbox_method(app, "wendy", number="11112222")
    sandbox_method(app, "walt")
    listed = app.run(lambda s: list_methods(s, app.settings, writer="wendy"), write=False)
    assert [m.id for m in listed] == [one.id]
    assert listed[0].as_json()["account"] == "****2222"
    with pytest.raises(NotFound):
        app.run(lambda s: list_methods(s, app.settings, writer="nobody"), write=False)

    removed = app.run(lambda s: remove_method(s, app.settings, one.id, actor="ops"))
    assert removed.status == "removed"
    assert app.run(lambda s: list_methods(s, app.settings, writer="wendy"), write=False) == []
    with pytest.raises(InvalidState):
        app.run(lambda s: remove_method(s, app.settings, one.id, actor="ops"))
    with pytest.raises(NotFound) as missing:
        app.run(lambda s: remove_method(s, app.settings, 999, actor="ops"))
    assert missing.value.code == "PAYOUT_METHOD_NOT_FOUND"


def test_rotate_keys_reencrypts_under_the_new_first_key(app: Any) -> None:
    from cryptography.fernet import Fernet

    add_users(app, wendy="writer")
    method = sandbox_method(app, "wendy", number="55556666")
    new_key = Fernet.generate_key().decode()
    from tests.payouts.helpers import KEY

    both = Vault([new_key, KEY])
    assert app.run(lambda s: rotate_keys(s, both)) == 1
    only_new = Vault([new_key])
    assert app.run(lambda s: recipient_of(s, method.id, only_new), write=False).startswith("SBX_")
    with pytest.raises(ConfigError):
        app.run(lambda s: recipient_of(s, method.id, VAULT), write=False)
