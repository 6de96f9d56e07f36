"""The demo day's payouts: its writers are paid to sandbox methods, one payout approved by a
real Ed25519 signature.

Each run (a new day) gives four demo writers released earnings from before the day (an opening
balance from ``world:<CUR>``: the day's own earnings are still on their refund hold), sets their
tax profiles and sandbox payout methods (dated past the method-change lock, as methods on file
for weeks are), and requests a payout for each through the services the CLI uses:

- demo-writer-1: NGN 600,000.00, above the approval threshold: it waits for approval, and an
  approver key generated for this run in a temporary directory (``approvers keygen``, put on
  ``approvers list --scope payouts`` as ``demo-approver-<run>``) signs it; the private key is
  deleted with the directory, so that approver can never sign anything again;
- demo-writer-2: NGN 20,000.00 with no TIN (twice the withholding rate), approved at once;
- demo-writer-3: USD 150.00 without a tax profile (no withholding);
- demo-writer-4: USD 200.00 paid in NGN (``--convert-to NGN`` at the day's USD→NGN rate), as a
  company (10 %).

Sending them is ``payouts run``'s job (marked below): until then they stay ``approved``.

Encryption key: methods are stored encrypted (``LEGATO_ENCRYPTION_KEY``). Without that variable
the demo uses its own key, generated once into ``<data dir>/demo-encryption.key`` (mode 0600,
never printed; ``export LEGATO_ENCRYPTION_KEY=$(cat FILE)`` to work with these methods later),
so reruns and later commands can still read what it stored. It refuses to (and skips the
payouts, saying why) when the database already holds payout methods of anyone but the demo
writers: those were encrypted under a real key, and mixing keys would leave tokens no single
key list can read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from legato_pay import chart
from legato_pay.context import AppContext
from legato_pay.demo.payouts_run import send_sandbox_payouts
from legato_pay.errors import ConfigError, LegatoError
from legato_pay.ledger import post_entries, transfer
from legato_pay.payouts.vault import KEY_ENV, Vault, new_key
from legato_pay.store.tables import PAYOUT_METHODS

REQUESTER = "demo:payouts-desk"
DEMO_KEY_FILE = "demo-encryption.key"
#: writer number -> (earnings currency, opening balance, payout amount, method currency,
#: tax profile (type, TIN) or None)
PLAN: dict[int, tuple[str, int, str, str, tuple[str, str | None] | None]] = {
    1: ("NGN", 70_000_000, "600000.00", "NGN", ("individual", "12345678-0001")),
    2: ("NGN", 3_000_000, "20000.00", "NGN", ("individual", None)),
    3: ("USD", 25_000, "150.00", "USD", None),
    4: ("USD", 30_000, "200.00", "NGN", ("corporate", "1234567890")),
}


def demo_vault(app: AppContext, writers: list[str]) -> tuple[Vault, str]:
    """The vault the demo stores methods with, and where its key came from (never the key)."""
    if os.environ.get(KEY_ENV, "").strip():
        return Vault.from_env(), KEY_ENV
    foreign = app.run(
        lambda s: s.execute(
            select(func.count())
            .select_from(PAYOUT_METHODS)
            .where(PAYOUT_METHODS.c.writer_id.not_in(writers))
        ).scalar_one(),
        write=False,
    )
    if foreign:
        raise ConfigError(
            f"{KEY_ENV} is not set and this database holds other writers' payout methods: "
            "set the key to run the demo's payouts",
            details={"variable": KEY_ENV},
        )
    from legato_pay.config import default_data_dir

    path = default_data_dir() / DEMO_KEY_FILE
    return Vault([_demo_key(path)]), str(path)


def _demo_key(path: Path) -> str:
    """The demo's key, created (0600, exclusively) on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    try:
        os.write(descriptor, new_key().encode("ascii"))
    finally:
        os.close(descriptor)
    return path.read_text(encoding="ascii").strip()


def pay_demo_writers(
    app: AppContext,
    *,
    writers: list[str],
    key: Callable[..., str],
    run_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Fund, set up and request the demo writers' payouts, approve the big one; a summary.
    A missing key or a refusal is reported as ``skipped`` with its reason, never a crash."""
    try:
        vault, key_source = demo_vault(app, writers)
        chosen = {number: writers[number - 1] for number in PLAN if number <= len(writers)}
        _fund_and_profile(app, chosen, key)
        methods = _methods(app, chosen, vault, now)
        ids = {
            number: _request(app, writer, methods[number], number, key)
            for number, writer in chosen.items()
        }
        approver = _approve(app, ids[1], run_id)
        sent = send_sandbox_payouts(app)  # `payouts run --gateway sandbox`, on the real clock
    except LegatoError as refused:
        return {"skipped": refused.message, "payouts": []}
    return {**_describe(app, list(ids.values()), approver, key_source), "run": sent}


def _fund_and_profile(app: AppContext, chosen: dict[int, str], key: Callable[..., str]) -> None:
    from legato_pay.payouts.tax import set_tax_profile

    settings = app.settings

    def work(session: Any) -> None:
        specs = []
        for number, writer in chosen.items():
            currency, opening = PLAN[number][0], PLAN[number][1]
            world = f"world:{currency}"
            chart.open_accounts(
                session,
                [
                    chart.writer_earnings_account(writer, currency),
                    chart.system_account(world, currency),
                ],
            )
            specs.append(
                transfer(
                    world,
                    chart.writer_earnings(writer, currency),
                    opening,
                    currency,
                    idempotency_key=key("opening", writer),
                    reason="demo: earnings released before the demo day",
                )
            )
            profile = PLAN[number][4]
            if profile is not None:
                set_tax_profile(
                    session,
                    settings,
                    writer=writer,
                    country="NG",
                    payee_type=profile[0],
                    tin=profile[1],
                    actor=REQUESTER,
                )
        post_entries(session, specs, actor=REQUESTER)

    app.run(work)


def _methods(
    app: AppContext, chosen: dict[int, str], vault: Vault, now: datetime
) -> dict[int, int]:
    """A sandbox method per writer in the payout's currency (the same account each run, so a
    rerun finds it on file), dated past the method-change lock."""
    from legato_pay.payouts.methods import add_payout_method, check_new_method

    on_file_since = now - timedelta(days=app.settings.payouts.method_change_lock_days + 1)
    found = {}
    for number, writer in chosen.items():
        request = check_new_method(
            app.settings,
            writer=writer,
            type="sandbox",
            currency=PLAN[number][3],
            account_number=f"{9_000_000_000 + number}",
        )
        found[number] = add_payout_method(app, request, vault=vault, now=on_file_since).id
    return found


def _request(
    app: AppContext, writer: str, method: int, number: int, key: Callable[..., str]
) -> int:
    from legato_pay.payouts.requests import request_payout

    currency, _, amount, paid_in, _ = PLAN[number]
    settings = app.settings
    view = app.run(
        lambda s: request_payout(
            s,
            settings,
            actor=REQUESTER,
            writer=writer,
            currency=currency,
            amount=amount,
            method=str(method),
            key=key("payout", writer),
            convert_to=paid_in if paid_in != currency else None,
        )
    )
    return int(view.id)


def _approve(app: AppContext, payout_id: int, run_id: str) -> str:
    """Approve with a key made for this run in a temporary directory, then gone."""
    from legato_pay.approvals import add_approver, keygen, read_public_key
    from legato_pay.approvals.keys import load_private_key
    from legato_pay.payouts.approvals import approve_payout

    name = f"demo-approver-{run_id}"
    settings = app.settings
    with tempfile.TemporaryDirectory(prefix="legato-demo-") as directory:
        key_file = Path(directory) / "approver.key"
        keygen(key_file)
        public = read_public_key(f"{key_file}.pub")
        app.run(
            lambda s: add_approver(
                s, scope="payouts", name=name, public_key=public, actor=REQUESTER
            )
        )
        private = load_private_key(key_file)
        app.run(
            lambda s: approve_payout(s, settings, payout_id, key=private, name=name, actor=name)
        )
    return name


def _describe(app: AppContext, ids: list[int], approver: str, key_source: str) -> dict[str, Any]:
    from legato_pay.payouts.views import get_payout

    views = app.run(lambda s: [get_payout(s, number) for number in ids], write=False)
    return {
        "skipped": None,
        "approver": approver,
        "encryption_key": key_source,
        "payouts": [
            {
                key: value
                for key, value in view.as_json().items()
                if key not in ("timeline", "replayed", "entry_id", "resolution_entry_id")
            }
            for view in views
        ],
    }
