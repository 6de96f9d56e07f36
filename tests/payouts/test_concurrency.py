"""Eight ``legato-pay payouts request`` processes for one writer, released together (forked
after their imports by ``tests/ledger_worker.py fork``, held on a pipe until every one is
ready), on SQLite and PostgreSQL: never more reserved than the writer's available earnings, and
racing retries with one key reserve once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import ROOT
from tests.payouts.helpers import available, counts, in_flight_pending, writer_with_money
from tests.readers.at_once import run_at_once as run_together

WORKER = ROOT / "tests" / "ledger_worker.py"
WORKERS = 8

pytestmark = pytest.mark.slow


def test_eight_requests_never_reserve_more_than_available(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    writer_with_money(app, posted=25_000_00, held=90_000_00)  # NGN 25,000 released
    request = ["payouts", "request", "--writer", "wendy", "--currency", "NGN"]

    results = run_together(database_url, tmp_path, [[*request, "--amount", "6000.00"]] * WORKERS)

    assert Counter(r["status"] for r in results) == {0: 4, 4: WORKERS - 4}
    for result in results:
        if result["status"] == 4:
            assert json.loads(result["stderr"])["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert available(app, "wendy") == 1_000_00
    assert in_flight_pending(app) == 24_000_00
    assert counts(app)["payouts"] == 4


def test_racing_all_requests_reserve_once(database_url: str, app: Any, tmp_path: Path) -> None:
    writer_with_money(app, posted=25_000_00)
    request = ["payouts", "request", "--writer", "wendy", "--currency", "NGN", "--all"]

    results = run_together(database_url, tmp_path, [request] * WORKERS)

    statuses = Counter(r["status"] for r in results)
    assert statuses[0] == 1 and sum(statuses.values()) == WORKERS
    assert set(statuses) <= {0, 3, 4}  # the rest find nothing (or less than the minimum) left
    assert in_flight_pending(app) == 25_000_00 and available(app, "wendy") == 0


def test_racing_retries_with_one_key_reserve_once(
    database_url: str, app: Any, tmp_path: Path
) -> None:
    writer_with_money(app, posted=25_000_00)
    request = ["payouts", "request", "--writer", "wendy", "--currency", "NGN"]
    request += ["--amount", "6000.00", "--key", "pay-7"]

    results = run_together(database_url, tmp_path, [request] * WORKERS)

    assert [r["status"] for r in results] == [0] * WORKERS
    ids = {json.loads(r["stdout"])["id"] for r in results}
    assert len(ids) == 1
    assert in_flight_pending(app) == 6_000_00 and counts(app)["payouts"] == 1
