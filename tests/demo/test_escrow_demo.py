"""The escrow demo tells its story with exact balances, and can run twice on one database."""

from __future__ import annotations

from typing import Any

from legato_pay.demo.escrow import run_escrow_demo
from legato_pay.ledger import verify_ledger


def test_escrow_demo(app: Any) -> None:
    story = run_escrow_demo(app)
    assert story["small_release"] == {"id": 1, "status": "posted", "amount": "1,500.00 USD"}
    assert story["large_release"]["status"] == "posted"
    assert story["large_release"]["amount"] == "12,000.00 USD"
    assert sorted(story["large_release"]["approvers"]) == ["carol", "dave"]
    assert story["dispute"]["status"] == "resolved"
    ada, ben = story["deposits"]["ada"], story["deposits"]["ben"]
    # ada: 5,000 in, 1,500 released for MVP, the 3,500 left split 50/50 by the dispute
    assert (ada["released"], ada["held"], ada["available"]) == (150_000 + 175_000, 175_000, 0)
    assert (ben["released"], ben["available"]) == (1_200_000, 2_800_000)
    again = run_escrow_demo(app)
    assert again["app"] != story["app"]
    assert app.run(lambda s: verify_ledger(s), write=False).ok
