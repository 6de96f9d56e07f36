"""The demo's payouts (``legato_pay.demo.payouts``): four requests to sandbox methods, the big
one approved by a signature, a converted one; the demo's own encryption key when none is set
(0600, reused, never printed), and a skip instead of mixing keys with real methods."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from legato_pay.demo.payouts import DEMO_KEY_FILE, pay_demo_writers
from legato_pay.payouts.vault import KEY_ENV
from legato_pay.readers import fx
from legato_pay.readers.users import add_user
from tests.factories import add_users, assert_ledger_ok
from tests.payouts.helpers import KEY, sandbox_method

WRITERS = [f"demo-writer-{n}" for n in range(1, 6)]


def _pay(app: Any, run: str) -> dict[str, Any]:
    settings = app.settings
    app.run(lambda s: [add_user(s, w, kind="writer", exist_ok=True) for w in WRITERS])
    app.run(lambda s: fx.set_rate(s, settings, "USD", "NGN", "1550.00", source="demo"))
    return pay_demo_writers(
        app,
        writers=WRITERS,
        key=lambda *parts: ":".join(["demo", run, *map(str, parts)]),
        run_id=run,
        now=datetime.now(UTC),
    )


def test_demo_payouts_with_the_demos_own_key(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("LEGATO_HOME", str(tmp_path))
    first = _pay(app, "r1")
    assert first["skipped"] is None and first["encryption_key"] == str(tmp_path / DEMO_KEY_FILE)
    key_file = tmp_path / DEMO_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    secret = key_file.read_text()
    assert secret not in capsys.readouterr().out + str(first)
    shown = [
        (p["writer"], p["status"], p["gross"]["display"], p["net"]["display"])
        for p in first["payouts"]
    ]
    assert shown == [
        ("demo-writer-1", "paid", "600,000.00 NGN", "570,000.00 NGN"),  # signed
        ("demo-writer-2", "paid", "20,000.00 NGN", "18,000.00 NGN"),  # no TIN: 10 %
        ("demo-writer-3", "paid", "150.00 USD", "150.00 USD"),
        ("demo-writer-4", "paid", "310,000.00 NGN", "279,000.00 NGN"),  # 200 USD x 1550
    ]
    assert first["run"]["sent"] == 4 and first["run"]["by_status"] == {"paid": 4}
    assert first["payouts"][3]["conversion"]["source_gross_minor"] == 20_000
    assert first["approver"] == "demo-approver-r1"

    second = _pay(app, "r2")  # a new day: the same methods found on file, the same key
    assert second["skipped"] is None and key_file.read_text() == secret
    assert [p["method"]["id"] for p in second["payouts"]] == [
        p["method"]["id"] for p in first["payouts"]
    ]
    assert_ledger_ok(app)


def test_no_key_and_real_methods_skips_the_payouts(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_users(app, wendy="writer")
    sandbox_method(app, "wendy")  # encrypted under a real key
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("LEGATO_HOME", str(tmp_path))
    result = _pay(app, "r1")
    assert result["payouts"] == [] and KEY_ENV in result["skipped"]
    assert not (tmp_path / DEMO_KEY_FILE).exists()

    monkeypatch.setenv(KEY_ENV, KEY)
    with_key = _pay(app, "r2")
    assert with_key["encryption_key"] == KEY_ENV and len(with_key["payouts"]) == 4
