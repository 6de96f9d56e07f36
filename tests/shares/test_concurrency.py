"""Share transfers raced: eight ``legato-pay shares transfer`` processes from one holder,
released together (forked after their imports by ``tests/ledger_worker.py fork``, which holds
them on a pipe until every one is ready), on SQLite and PostgreSQL. Never more units leave
than the holder has; a key shared by racing retries moves the units once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from legato_pay.shares.register import share_register
from tests.cli_runner import ROOT
from tests.readers.at_once import run_at_once as run_together
from tests.shares.helpers import counts, holdings, issue, make_app, posted

WORKER = ROOT / "tests" / "ledger_worker.py"
WORKERS = 8
BUYERS = [f"buyer{index}" for index in range(WORKERS)]

pytestmark = pytest.mark.slow


def test_eight_transfers_from_one_holder_never_oversell(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    make_app(app, "quill", "alice", *BUYERS)
    issue(app, "alice", 10)  # room for exactly three transfers of 3 units
    transfers = [
        ["shares", "transfer", "--app", "quill", "--from", "alice", "--to", buyer, "--units", "3"]
        for buyer in BUYERS
    ]

    results = run_together(database_url, tmp_path, transfers)

    assert Counter(r["status"] for r in results) == {0: 3, 4: WORKERS - 3}
    for result in results:
        if result["status"] == 4:
            assert result["stdout"] == ""
            error = json.loads(result["stderr"])["error"]
            assert error["code"] == "INSUFFICIENT_UNITS"
            assert error["details"]["held"] < 3
    winners = {json.loads(r["stdout"])["to"] for r in results if r["status"] == 0}
    assert holdings(app) == {"alice": 1, **dict.fromkeys(winners, 3)}
    assert counts(app)["share_movements"] == 1 + 3
    assert counts(app)["units"] == 10


def test_racing_retries_with_one_key_move_the_units_once(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 10)
    retry = ["shares", "transfer", "--app", "quill", "--from", "alice", "--to", "bob"]
    retry += ["--units", "4", "--key", "sale-7"]

    results = run_together(database_url, tmp_path, [retry] * WORKERS)

    assert [r["status"] for r in results] == [0] * WORKERS, results
    views = [json.loads(r["stdout"]) for r in results]
    assert len({view["id"] for view in views}) == 1
    assert sorted(view["replayed"] for view in views) == [False] + [True] * (WORKERS - 1)
    assert holdings(app) == {"alice": 6, "bob": 4}


def test_a_distribution_racing_transfers_pays_the_register_at_its_record_date(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    """Seven transfers and a distribution "now" released together: whatever order they commit
    in, the distribution paid exactly the holders the register shows at its record date."""
    make_app(app, "quill", "alice", *BUYERS)
    issue(app, "alice", 100)
    commands = [
        ["shares", "transfer", "--app", "quill", "--from", "alice", "--to", buyer, "--units", "7"]
        for buyer in BUYERS[:7]
    ]
    commands.append(
        [
            *["revenue", "distribute", "--app", "quill", "--amount", "10.00", "--currency", "USD"],
            *["--record-date", "now", "--key", "race", "--yes"],
        ]
    )

    results = run_together(database_url, tmp_path, commands)

    assert [r["status"] for r in results] == [0] * WORKERS, results
    paid = json.loads(results[-1]["stdout"])
    at_record = app.run(
        lambda s: share_register(s, "quill", as_of=datetime.fromisoformat(paid["record_date"])),
        write=False,
    )
    assert [(line["investor"], line["units"]) for line in paid["lines"]] == [
        (holder.investor, holder.units) for holder in at_record.holders
    ]
    assert sum(line["amount_minor"] for line in paid["lines"]) == 1000


def test_racing_distributions_with_one_key_pay_once(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    make_app(app, "quill", "alice", "bob")
    issue(app, "alice", 2)
    issue(app, "bob", 1)
    command = ["revenue", "distribute", "--app", "quill", "--amount", "1.00", "--currency", "USD"]
    command += ["--record-date", "now", "--key", "once", "--yes"]

    results = run_together(database_url, tmp_path, [command] * WORKERS)

    assert [r["status"] for r in results] == [0] * WORKERS, results
    views = [json.loads(r["stdout"]) for r in results]
    assert len({view["id"] for view in views}) == 1
    assert sorted(view["replayed"] for view in views) == [False] + [True] * (WORKERS - 1)
    assert counts(app)["app_distributions"] == 1
    assert posted(app, "investor:alice:earnings:USD") == 67
    assert posted(app, "investor:bob:earnings:USD") == 33
