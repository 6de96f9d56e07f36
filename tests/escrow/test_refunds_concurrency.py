"""Refunds racing each other in real processes never take more than the deposit holds, and a
refund killed (SIGKILL) between the gateway's refund and our books is completed by a rerun
under the same key without a second refund at the gateway."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from legato_pay.context import AppContext
from legato_pay.escrow.deposits import create_deposit
from legato_pay.escrow.deposits_confirm import confirm_deposit
from legato_pay.escrow.refunds import list_refunds
from legato_pay.gateways.paystack.references import transaction_reference
from tests.cli_runner import ROOT, cli_env, run_cli
from tests.escrow.deposit_factory import (
    APP,
    INVESTOR,
    app_with_investor,
    confirmed_deposit,
    escrow_balance,
    units_held,
)
from tests.factories import assert_ledger_ok
from tests.fakes.paystack import FakePaystack
from tests.readers.at_once import run_at_once


def test_concurrent_refunds_never_exceed_what_is_in_escrow(
    database_url: str, tmp_path: Path
) -> None:
    app = AppContext.create(database_url=database_url, actor="test")
    app_with_investor(app)
    dep = confirmed_deposit(app, amount="500.00", units=10)
    commands = [
        [
            "escrow",
            "refund",
            str(dep.id),
            "--amount",
            "150.00",
            "--reason",
            "race",
            "--key",
            f"k{i}",
        ]
        for i in range(6)
    ]
    results = run_at_once(database_url, tmp_path, commands)
    statuses = sorted(result["status"] for result in results)
    assert statuses == [0, 0, 0, 4, 4, 4], results
    refunds = app.run(lambda s: list_refunds(s, dep.id), write=False)
    assert [r.status for r in refunds] == ["succeeded"] * 3
    assert escrow_balance(app, dep.id) == (5000, 5000)
    assert units_held(app) == 1  # floor(10 × 450 / 500) = 9 cancelled
    assert_ledger_ok(app)


#: Refunds as ``escrow refund`` does, SIGKILLed right after the gateway answered.
KILLED_REFUND = textwrap.dedent(
    """
    import os, signal, sys
    from legato_pay.context import AppContext
    from legato_pay.escrow import refunds

    real = refunds._ask_gateway

    def ask_then_die(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    refunds._ask_gateway = ask_then_die
    app = AppContext.create(database_url=sys.argv[1], actor="test")
    refunds.refund_deposit(app, sys.argv[2], amount="4000.00", reason="killed", key="kill")
    """
)


def test_a_refund_killed_after_the_gateway_is_completed_by_a_rerun_never_sent_twice(
    database_url: str, paystack: FakePaystack
) -> None:
    app = AppContext.create(database_url=database_url, actor="test")
    app_with_investor(app)
    view = create_deposit(
        app,
        app_id=APP,
        investor=INVESTOR,
        amount="10000.00",
        currency="NGN",
        gateway="paystack",
        units=5,
        key="k",
    )
    paystack.settle(transaction_reference(view.reference), "success")
    assert confirm_deposit(app, view.reference).credited

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_REFUND, database_url, str(view.id)],
        env=cli_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr
    assert paystack.count("POST", "/refund") == 1
    [pending] = app.run(lambda s: list_refunds(s, view.id), write=False)
    assert pending.status == "pending" and pending.provider_refund_id is None  # books behind

    rerun = run_cli(
        database_url,
        *("escrow", "refund", str(view.id), "--amount", "4000.00", "--reason", "killed"),
        *("--key", "kill"),
    )
    assert rerun.status == 0, rerun.stderr
    assert paystack.count("POST", "/refund") == 1  # found at the gateway, not sent again
    assert rerun.json["provider_refund_id"] and rerun.json["status"] == "pending"

    paystack.set_refund_status(int(rerun.json["provider_refund_id"]), "processed")
    settled = run_cli(database_url, "escrow", "refund-status", str(pending.id))
    assert settled.status == 0, settled.stderr
    assert (settled.json["status"], settled.json["units_cancelled"]) == ("succeeded", 2)
    assert escrow_balance(app, view.id, "NGN") == (600_000, 600_000)
    assert paystack.count("POST", "/refund") == 1
    assert_ledger_ok(app)
