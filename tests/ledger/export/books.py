"""Shared by the export tests: a scripted ledger, the export to a file, and each account's
balance as the ledger, beancount, hledger and the CSV legs see it (signed, debits positive,
in minor units)."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from legato_pay import chart, ledger
from legato_pay.demo.day import run_demo_day
from legato_pay.earnings.holds import release_held_earnings
from legato_pay.ledger.export import export_ledger
from legato_pay.ledger.export.names import book_account
from legato_pay.ledger.types import utcnow
from legato_pay.money import currency_exponent
from legato_pay.payouts.requests import request_payout
from legato_pay.store.tables import ACCOUNTS, PENDING
from tests.payouts.helpers import writer_with_money

Balances = dict[str, int]

#: beancount's checker, installed beside this interpreter by the ``dev`` extras.
BEAN_CHECK = str(Path(sys.executable).parent / "bean-check")


def build_ledger(app: Any) -> dict[str, int]:
    """A day of the demo (purchases in three currencies, unlocks, tips, gifts, subscriptions,
    a refund, a pool run), its holds released, a payout requested (pending), and an operator's
    account with a partly posted, a voided and a reversed entry. Returns entry ids by role."""
    run_demo_day(app, readers=4, seed=5)
    released = app.run(
        lambda s: release_held_earnings(s, actor="test", now=utcnow() + timedelta(days=8))
    )
    writer_with_money(app, "wendy", "NGN", posted=2_000_000)
    payout = app.run(
        lambda s: request_payout(
            s, app.settings, actor="ops", writer="wendy", currency="NGN", amount="6000.00"
        )
    )

    def operator(session: Any) -> dict[str, int]:
        chart.open_operator_account(session, "ops:float", "USD", normal_side="debit")
        moved, held, dropped = ledger.post_entries(
            session,
            [
                ledger.transfer("world:USD", "ops:float", 12_345, "USD", reason="float in"),
                ledger.transfer("world:USD", "ops:float", 1_000, "USD", pending=True),
                ledger.transfer("world:USD", "ops:float", 700, "USD", pending=True),
            ],
            actor="test",
        )
        part = ledger.resolve_pending(session, held.id, post=True, amount=400, actor="test")
        ledger.resolve_pending(session, dropped.id, post=False, actor="test")
        back = ledger.reverse_entry(session, moved.id, reason="wrong float", actor="test")
        return {"held": held.id, "part": part.id, "dropped": dropped.id, "reversal": back.id}

    ids = app.run(operator)
    hold = released[0]
    posting = app.run(
        lambda s: s.execute(
            select(PENDING.c.resolved_entry_id).where(PENDING.c.entry_id == hold)
        ).scalar_one(),
        write=False,
    )
    return {**ids, "hold": hold, "released": posting, "payout": payout.entry_id}


def export_to(app: Any, path: Path, book_format: str, **period: datetime | None) -> Any:
    def work(session: Any) -> Any:
        with path.open("w", encoding="utf-8", newline="") as stream:
            return export_ledger(session, stream, format=book_format, **period)  # type: ignore[arg-type]

    return app.run(work, write=False)


def ledger_balances(app: Any, *, as_of: datetime | None = None) -> dict[str, tuple[str, int]]:
    """Every account's posted balance from ``ledger.get_balance``, signed as the books sign
    it: ``code -> (name in the books, balance)``."""

    def work(session: Any) -> dict[str, tuple[str, int]]:
        found = {}
        for code, side in session.execute(select(ACCOUNTS.c.code, ACCOUNTS.c.normal_side)):
            posted = ledger.get_balance(session, code, as_of=as_of).posted
            found[code] = (book_account(code, side).name, posted if side == "debit" else -posted)
        return found

    return app.run(work, write=False)  # type: ignore[no-any-return]


def by_name(balances: dict[str, tuple[str, int]]) -> Balances:
    return dict(balances.values())


def by_code(balances: dict[str, tuple[str, int]]) -> Balances:
    return {code: amount for code, (_, amount) in balances.items()}


def _minor(number: Decimal, currency: str) -> int:
    scaled = number.scaleb(currency_exponent(currency))
    assert scaled == scaled.to_integral_value(), (number, currency)
    return int(scaled)


def check_beancount(path: Path) -> Balances:
    """``bean-check`` passes, and beancount's loader's sums of the postings per account."""
    from beancount import loader
    from beancount.core.data import Transaction

    checked = subprocess.run([BEAN_CHECK, str(path)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr[:2000]
    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    sums: Balances = {}
    for entry in entries:
        if isinstance(entry, Transaction):
            for posting in entry.postings:
                amount = _minor(posting.units.number, posting.units.currency)
                sums[posting.account] = sums.get(posting.account, 0) + amount
    return sums


def check_hledger(path: Path) -> Balances:
    """``hledger check`` passes, and ``hledger bal`` per account."""
    checked = subprocess.run(["hledger", "-f", str(path), "check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr[:2000]
    report = subprocess.run(
        ["hledger", "-f", str(path), "bal", "-E", "-N", "-O", "csv"],
        capture_output=True,
        text=True,
        check=True,
    )
    sums: Balances = {}
    for row in list(csv.reader(report.stdout.splitlines()))[1:]:
        name, amount = row
        number, _, currency = amount.partition(" ")
        sums[name] = _minor(Decimal(number), currency) if currency else int(number)
    return sums


def csv_balances(path: Path) -> Balances:
    """Debits minus credits per account code from the CSV legs."""
    sums: Balances = {}
    with path.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            sums[row["account"]] = (
                sums.get(row["account"], 0) + int(row["debit_minor"]) - int(row["credit_minor"])
            )
    return sums


def nonzero(balances: Balances) -> Balances:
    return {name: amount for name, amount in balances.items() if amount}
