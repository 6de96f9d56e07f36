"""The start gate of the concurrency tests holds every process until all are ready, then
releases them together (``tests/cli_runner.py`` ``GatedRun``, ``tests/start_gate.py``)."""

from __future__ import annotations

import time

from legato_pay.context import AppContext
from legato_pay.readers.users import list_users
from tests.cli_runner import GatedRun


def test_processes_wait_at_the_gate_until_it_opens(sqlite_url: str) -> None:
    app = AppContext.create(database_url=sqlite_url, actor="test")
    _ = app.engine  # the schema exists before the processes look at it
    run = GatedRun(sqlite_url, [["users", "add", f"gated-{n}"] for n in range(3)])
    run.wait_ready()
    assert run.ready() == 3
    time.sleep(0.5)  # held: nothing runs while the gate is shut, however long
    assert all(process.poll() is None for process in run.processes)
    assert app.run(lambda s: list_users(s), write=False) == []
    results = run.release()
    assert [status for status, _, _ in results] == [0, 0, 0], results
    users = app.run(lambda s: list_users(s), write=False)
    assert sorted(user.id for user in users) == ["gated-0", "gated-1", "gated-2"]
