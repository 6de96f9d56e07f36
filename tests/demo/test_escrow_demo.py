"""The escrow demo tells its story with exact balances, and can run twice on one database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from legato_pay.demo.escrow import run_escrow_demo
from legato_pay.ledger import verify_ledger
from legato_pay.store.tables import BOOK


def minor(balances: dict[str, Any]) -> tuple[int, ...]:
    names = ("deposited", "released", "refunded", "held", "available")
    return tuple(balances[name]["amount"] for name in names)


def test_escrow_demo(app: Any) -> None:
    story = run_escrow_demo(app)
    assert story["small_release"]["status"] == "posted"
    assert story["small_release"]["amount"]["display"] == "1,500.00 USD"
    assert story["large_release"]["status"] == "posted"
    assert story["large_release"]["amount"]["display"] == "12,000.00 USD"
    assert sorted(story["large_release"]["approvers"]) == ["carol", "dave"]
    assert (story["refund"]["status"], story["refund"]["amount"]["amount"]) == (
        "succeeded",
        250_000,
    )
    assert (story["dispute"]["status"], story["dispute"]["refund_status"]) == (
        "resolved",
        "succeeded",
    )
    ada, ben = story["deposits"]["ada"], story["deposits"]["ben"]
    # ada: 5,000 in, 1,500 released for MVP, the 3,500 left split 50/50 by the dispute
    assert minor(ada) == (500_000, 150_000 + 175_000, 175_000, 0, 0)
    # ben: 40,000 in, 12,000 released with two approvals, 2,500 refunded
    assert minor(ben) == (4_000_000, 1_200_000, 250_000, 0, 2_550_000)
    refunds_at_the_sandbox = app.run(
        lambda s: s.execute(
            select(func.count()).select_from(BOOK).where(BOOK.c.kind == "refund")
        ).scalar_one(),
        write=False,
    )
    assert refunds_at_the_sandbox == 2  # ben's partial refund and ada's dispute share
    again = run_escrow_demo(app)
    assert again["app"] != story["app"] and minor(again["deposits"]["ben"]) == minor(ben)
    assert app.run(lambda s: verify_ledger(s), write=False).ok
