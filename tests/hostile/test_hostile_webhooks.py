"""The webhook endpoints, sent correctly signed hostile bodies (Stripe and Paystack).

A signature proves who sent a body, not that it is well formed: a provider's bug, a new API
version or a leaked secret sends what ``strategies.stripe_body`` / ``paystack_body`` generate
(events of the handled types with hostile fields, the wrong shapes, bodies that are not JSON).
The listener must never answer 5xx (the provider would retry it forever) nor show SQL, a
traceback or a secret, and the ledger must still verify after each batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from legato_pay.webhooks.signatures import sign_paystack
from tests.hostile.conftest import Seeded
from tests.hostile.contract import LEAKS, SECRETS
from tests.hostile.strategies import paystack_body, raw_body, stripe_body

pytestmark = pytest.mark.hostile

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "6")) * 5
SURVEY = os.environ.get("HOSTILE_SURVEY")
BATTERY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("HOSTILE_RANDOM") != "1",
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


class Causes(logging.Handler):
    """The exceptions the listener logged while answering (its answer says only "internal
    error"): a finding names its cause."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.seen.append(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")


@pytest.fixture
def causes() -> Iterator[Causes]:
    handler = Causes()
    logger = logging.getLogger("legato_pay.webhooks")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def client(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The listener in this process, on the seeded database, with the battery's secrets."""
    from legato_pay.context import AppContext
    from legato_pay.webhooks.app import create_app

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    context = AppContext.create(database_url=seeded.url, actor="hostile-webhooks")
    with TestClient(create_app(context), raise_server_exceptions=False) as test_client:
        yield test_client


def _encode(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def stripe_signature(body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header as Stripe makes it (``stripe.WebhookSignature``), but
    over bytes, so that a body that is not UTF-8 is signed too."""
    secret = SECRETS["STRIPE_WEBHOOK_SECRET"].encode()
    digest = hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_stripe(client: TestClient, body: bytes) -> Any:
    header = stripe_signature(body, int(time.time()))
    return client.post("/webhooks/stripe", content=body, headers={"stripe-signature": header})


def post_paystack(client: TestClient, body: bytes) -> Any:
    signature = sign_paystack(body, SECRETS["PAYSTACK_SECRET_KEY"])
    return client.post(
        "/webhooks/paystack", content=body, headers={"x-paystack-signature": signature}
    )


def judge(seeded: Seeded, provider: str, body: bytes, response: Any, causes: Causes) -> None:
    cause = causes.seen[-1] if causes.seen else None
    causes.seen.clear()
    found = []
    if response.status_code >= 500:
        found.append(f"answered {response.status_code}")
    found += [f"answer shows {leak!r}" for leak in LEAKS if leak in response.text]
    found += [f"answer shows {name}" for name, v in SECRETS.items() if v in response.text]
    found += ["answer shows the database password" for s in seeded.secrets if s in response.text]
    if not found:
        return
    case = {
        "backend": seeded.url.split(":", 1)[0].split("+", 1)[0],
        "what": f"webhook {provider}",
        "body": body[:300].decode("utf-8", "backslashreplace"),
        "problems": found,
        "answer": f"{response.status_code}: {response.text[:300]}",
        "cause": cause,
    }
    if SURVEY:
        with open(SURVEY, "a", encoding="utf-8") as out:
            out.write(json.dumps(case) + "\n")
        return
    pytest.fail(
        f"signed {provider} body {case['body']!r} broke the contract: {found}; {case['answer']}"
    )


def assert_ledger_verifies(seeded: Seeded) -> None:
    verify = seeded.run("ledger", "verify")
    assert verify.status == 0, verify.stderr
    assert verify.json["ok"] is True, verify.stdout


@pytest.mark.parametrize("provider", ["stripe", "paystack"])
def test_signed_hostile_bodies_never_get_a_5xx(
    seeded: Seeded, client: TestClient, causes: Causes, provider: str
) -> None:
    events = (stripe_body if provider == "stripe" else paystack_body)(seeded.references)
    post = post_stripe if provider == "stripe" else post_paystack

    @BATTERY
    @given(body=st.one_of(events.map(_encode), raw_body()))
    def examples(body: bytes) -> None:
        judge(seeded, provider, body, post(client, body), causes)

    examples()
    assert_ledger_verifies(seeded)


def test_a_well_formed_event_still_applies(seeded: Seeded, client: TestClient) -> None:
    """The battery's signing is the providers': a plain event it signs is accepted (so the
    hostile bodies above are refused for what they hold, not for their signature)."""
    event = {
        "event": "transfer.success",
        "data": {"id": 7001, "reference": "tr_hostile", "status": "success"},
    }
    response = post_paystack(client, _encode(event))
    assert response.status_code == 200, response.text
    made_by_stripe = stripe.WebhookSignature.generate_signature_header(
        "{}", SECRETS["STRIPE_WEBHOOK_SECRET"], timestamp=1_700_000_000
    )
    assert stripe_signature(b"{}", 1_700_000_000) == made_by_stripe
    stripe_event = {"id": "evt_plain", "type": "payout.paid", "data": {"object": {"id": "po_1"}}}
    response = post_stripe(client, _encode(stripe_event))
    assert response.status_code == 200, response.text
