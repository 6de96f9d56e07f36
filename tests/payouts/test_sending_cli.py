"""``payouts run|verify|finalize`` from the command line, in real processes: JSON output and
exit statuses, a second run at once (9), ``kill -9`` mid-run then a rerun (one transfer per
payout at the fake), a real ``serve-webhooks`` racing a verify, and no secret in any output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from legato_pay.payouts.sending import run_payouts
from legato_pay.payouts.sending_verify import verify_payouts
from legato_pay.webhooks.signatures import sign_paystack
from tests.cli_runner import ROOT, cli_env, run_cli
from tests.fakes.listener import Listener
from tests.fakes.paystack import FakePaystack
from tests.fakes.stripe_transfers import FakeStripeTransfers
from tests.payouts.helpers import KEY, VAULT
from tests.payouts.sending_support import (
    NGN_10K,
    USD_50,
    earnings,
    payout,
    paystack_senders,
    request,
    settled,
    writer_paid_through,
)

STRIPE_KEY = "sk_test_cli_transfers"


def test_cli_run_dry_run_verify_and_errors(app: Any, database_url: str) -> None:
    method = writer_paid_through(app, "sandbox", "wendy", posted=2 * NGN_10K)
    made = request(app, "wendy", "NGN", NGN_10K, method.id)
    dry = run_cli(database_url, "payouts", "run", "--dry-run")
    assert dry.status == 0, dry.stderr
    assert dry.json["dry_run"] is True and dry.json["payouts"][0]["outcome"] == "would_send"
    assert payout(app, made.id).status == "approved"
    sent = run_cli(database_url, "payouts", "run", "--gateway", "sandbox")
    assert sent.status == 0, sent.stderr
    [line] = sent.json["payouts"]
    assert (line["payout"], line["status"], line["reference"]) == (
        made.id,
        "paid",
        f"payout-{made.id}",
    )
    assert sent.json["totals"] == {"paid": {"NGN": {"count": 1, "net_minor": made.net}}}
    table = run_cli(database_url, "payouts", "run", output="table")
    assert table.status == 0 and "no approved payouts to send" in table.stdout
    for args, status, code in (
        (["payouts", "run", "--gateway", "paypal"], 3, "VALIDATION_ERROR"),
        (["payouts", "verify", "999"], 5, "PAYOUT_NOT_FOUND"),
        (["payouts", "finalize", str(made.id), "--otp", "12"], 3, "VALIDATION_ERROR"),
        (["payouts", "finalize", str(made.id), "--otp", "123456"], 6, "INVALID_STATE"),
    ):
        failed = run_cli(database_url, *args)
        assert (failed.status, failed.error["code"]) == (status, code), failed.stderr
    assert earnings(app, "wendy", "NGN") == (NGN_10K, NGN_10K)


def _cli_run(database_url: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "commands.main", "--output", "json", "payouts", "run"],
        cwd=ROOT,
        env=cli_env(database_url, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def _wait(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_second_run_exits_9_and_kill_9_then_rerun_pays_each_once(
    app: Any, database_url: str
) -> None:
    fake = FakeStripeTransfers()
    writers = [f"w{n}" for n in range(4)]
    made = []
    for writer in writers:
        method = writer_paid_through(app, "stripe", writer, posted=USD_50)
        fake.add_account(f"acct_{writer}0001")
        made.append(request(app, writer, "USD", USD_50, method.id))
    fake.close_gate()
    with fake.serve() as url:
        env = {
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_API_BASE": url,
            "LEGATO_ENCRYPTION_KEY": KEY,
        }
        first = _cli_run(database_url, **env)
        _wait(lambda: fake.waiting == 1)  # the run holds its claim; its first transfer waits
        second = run_cli(database_url, "payouts", "run", **env)
        assert second.status == 9 and second.error["code"] == "RUN_IN_PROGRESS", second.stderr
        fake.let_through(2)  # two transfers are made; the third request has left, and waits
        _wait(lambda: len(fake.transfers) == 2 and fake.waiting == 1)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        # Each answer was applied as it came: two paid; the third and fourth left `sending`.
        assert [payout(app, v.id).status for v in made] == ["paid", "paid", "sending", "sending"]
        fake.open_gate()  # the dead run's request lands now; the fourth was never sent
        rerun = run_cli(database_url, "payouts", "run", **env)
        assert rerun.status == 0, rerun.stderr
        verified = run_cli(database_url, "payouts", "verify", "--older-than", "0", **env)
        assert verified.status == 0, verified.stderr
    for view in made:
        assert fake.transfer_count(f"payout-{view.id}") == 1
        assert payout(app, view.id).status == "paid"
    assert len(fake.transfers) == len(made)
    assert settled(app, "stripe", "USD", len(made) * USD_50)


def test_real_listener_webhooks_racing_verify_apply_once(
    app: Any, database_url: str, tmp_path: Path
) -> None:
    fake = FakePaystack()
    method = writer_paid_through(app, "bank", "bola", fake=fake, posted=NGN_10K)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    reference = f"payout-{made.id}"
    run_payouts(app, senders=paystack_senders(fake), vault=VAULT)
    fake.set_transfer_status(reference, "success")
    body = json.dumps(fake.transfer_event(reference)).encode()
    headers = {"x-paystack-signature": sign_paystack(body, fake.secret_key)}
    with Listener(database_url, tmp_path, PAYSTACK_SECRET_KEY=fake.secret_key) as listener:
        barrier = threading.Barrier(4)
        answers: list[Any] = []

        def deliver() -> None:
            barrier.wait()
            answers.append(
                httpx.post(
                    listener.url("/webhooks/paystack"), content=body, headers=headers, timeout=30
                ).status_code
            )

        def verify() -> None:
            barrier.wait()
            answers.extend(
                line.outcome
                for line in verify_payouts(app, made.id, senders=paystack_senders(fake))
            )

        threads = [threading.Thread(target=deliver) for _ in range(3)]
        threads.append(threading.Thread(target=verify))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        log = listener.log()
    assert sorted(map(str, answers)) == ["200", "200", "200", "applied"] or sorted(
        map(str, answers)
    ) == ["200", "200", "200", "ignored"], answers
    assert payout(app, made.id).status == "paid"
    assert earnings(app, "bola", "NGN") == (0, 0)
    assert settled(app, "paystack", "NGN", NGN_10K)
    assert fake.secret_key not in log


def test_no_secret_or_account_number_in_any_output(app: Any, database_url: str) -> None:
    fake = FakePaystack()
    number = "0123456789"
    from tests.factories import add_users
    from tests.payouts.helpers import earn
    from tests.payouts.sending_support import bank_method

    add_users(app, bola="writer")
    earn(app, "bola", "NGN", NGN_10K)
    method = bank_method(app, fake, "bola", number)
    made = request(app, "bola", "NGN", NGN_10K, method.id)
    recipient = next(iter(fake.recipients.values()))["recipient_code"]
    with fake.serve() as url:
        env = {
            "PAYSTACK_SECRET_KEY": fake.secret_key,
            "PAYSTACK_BASE_URL": url,
            "LEGATO_ENCRYPTION_KEY": KEY,
        }
        outputs = [
            run_cli(database_url, "--debug", "payouts", "run", output=kind, **env)
            for kind in ("json", "table")
        ]
        fake.set_transfer_status(f"payout-{made.id}", "success")
        outputs.append(run_cli(database_url, "payouts", "verify", str(made.id), **env))
    assert outputs[0].status == 0, outputs[0].stderr
    assert payout(app, made.id).status == "paid"
    for result in outputs:
        text = result.stdout + result.stderr
        for secret in (fake.secret_key, number, recipient, KEY):
            assert secret not in text
