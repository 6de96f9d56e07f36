"""A worker process for the concurrency and crash tests (not a test module).

``cli``: run the real command line (``commands.main.run``, the console script's entry point)
several times in this process, all released at one moment. The worker imports everything and
runs a read-only command first, says it is ready by creating ``--ready``, then blocks opening
the FIFO ``--go`` for reading until the test opens it for writing: every worker starts at once.
It prints one JSON list, ``[{"status", "stdout", "stderr"}, …]``, one item per attempt.

``fork``: the same in N processes forked from this one after the imports (so the machine does
not pay for N interpreters starting), one per command in ``--commands`` (a JSON list of argument
lists). Each child warms up, then blocks reading a pipe whose write end the parent closes once
every child is ready, so they all start at once. Prints one JSON list of those lists.

``session``: run the command lines in ``--commands`` one after another in this process (each with
fresh global state, as a new process would have) and print one JSON list of their results. For
the end-to-end tests: one interpreter start for many commands.

``hold``: post every line of a ``ledger post-batch`` file through the library in one
transaction, then, with every row written and the transaction still open, write ``inside`` to
the file descriptor ``--signal-fd`` and block until killed.

``cli-hold``: run the command line in this process; when a transaction that holds more than
``--entries-before`` ledger entries is about to commit (every row of the command written, the
commit not yet sent), write ``inside`` to ``--signal-fd`` and block until killed. The crash tests
kill at that moment, which they choose, instead of after some time.

The database comes from ``LEGATO_DATABASE_URL``, as for the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _build_cli_once() -> None:
    """Typer rebuilds the whole click command tree on every call (a sizeable share of a call's
    CPU); build it once per process. The tree is stateless, so every call behaves the same."""
    import typer.main

    import commands.main

    build = typer.main.get_command
    built = build(commands.main.app)

    def get_command(typer_instance: Any) -> Any:
        return built if typer_instance is commands.main.app else build(typer_instance)

    typer.main.get_command = get_command


def _run_cli(args: list[str]) -> dict[str, Any]:
    from commands.main import run
    from commands.output import CliState, set_state

    set_state(CliState())  # what a fresh process starts with
    out, err = io.StringIO(), io.StringIO()
    status: Any = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run(args)
        except SystemExit as exit_:
            status = exit_.code
    return {
        "status": 0 if status is None else status,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
    }


def cli(options: argparse.Namespace) -> None:
    _build_cli_once()
    warm = _run_cli(["--output", "json", "ledger", "accounts", "--limit", "1"])
    if warm["status"] != 0:
        sys.stderr.write(f"warm-up failed: {warm}\n")
        sys.exit(99)
    Path(options.ready).touch()
    with open(options.go, encoding="utf-8"):  # blocks until the test opens the FIFO to write
        pass
    results = [_run_cli(list(options.args)) for _ in range(options.attempts)]
    sys.__stdout__.write(json.dumps(results) + "\n")  # type: ignore[union-attr]


def fork(options: argparse.Namespace) -> None:
    import importlib

    shared = ["commands.main", "commands.ledger", "legato_pay.ledger", "legato_pay.context"]
    if os.environ.get("LEGATO_DATABASE_URL", "").startswith("postgres"):
        shared += ["psycopg", "sqlalchemy.dialects.postgresql.psycopg"]
    for module in shared:  # imported once here, shared by every child
        importlib.import_module(module)
    _build_cli_once()
    commands = json.loads(options.commands)
    go_read, go_write = os.pipe()
    ready_read, ready_write = os.pipe()
    results_dir = Path(options.results)
    children = []
    for index, args in enumerate(commands):
        pid = os.fork()
        if pid == 0:  # the child: warm up, wait for the start, run, report, exit
            status = 1
            try:
                os.close(go_write)
                os.close(ready_read)
                warm = _run_cli(["--output", "json", "ledger", "accounts", "--limit", "1"])
                os.write(ready_write, b"1" if warm["status"] == 0 else b"0")
                os.close(ready_write)
                os.read(go_read, 1)  # EOF once the parent closes the write end
                results = [_run_cli(list(args)) for _ in range(options.attempts)]
                (results_dir / f"{index}.json").write_text(json.dumps(results))
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    os.close(go_read)
    os.close(ready_write)
    ready = b""
    while len(ready) < len(commands):
        chunk = os.read(ready_read, len(commands))
        if not chunk:
            break
        ready += chunk
    os.close(go_write)  # every child starts now
    failed = [os.waitpid(pid, 0)[1] for pid in children]
    if ready != b"1" * len(commands) or any(failed):
        sys.stderr.write(f"fork: warm-up {ready!r}, exit statuses {failed}\n")
        sys.exit(97)
    output = [json.loads((results_dir / f"{i}.json").read_text()) for i in range(len(commands))]
    sys.__stdout__.write(json.dumps(output) + "\n")  # type: ignore[union-attr]


def session(options: argparse.Namespace) -> None:
    _build_cli_once()
    results = [_run_cli(args) for args in json.loads(options.commands)]
    sys.__stdout__.write(json.dumps(results) + "\n")  # type: ignore[union-attr]


def _signal_and_block(fd: int) -> None:
    """Tell the test we are inside the transaction, then wait for its SIGKILL."""
    os.write(fd, b"inside\n")
    os.close(fd)
    while True:
        signal.pause()


def hold(options: argparse.Namespace) -> None:
    from legato_pay import ledger
    from legato_pay.context import AppContext
    from legato_pay.money import normalize_currency, parse_amount

    specs = []
    for line in Path(options.batch).read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        currency = normalize_currency(item["currency"])
        specs.append(
            ledger.transfer(
                item["from"],
                item["to"],
                parse_amount(item["amount"], currency),
                currency,
                pending=bool(item.get("pending", False)),
                idempotency_key=item.get("key"),
            )
        )
    context = AppContext.create(actor="crash-worker")

    def work(unit: Any) -> None:
        ledger.post_entries(unit, specs, actor=context.actor)
        unit.flush()
        _signal_and_block(options.signal_fd)

    context.run(work)
    sys.stderr.write("hold: the transaction committed, which it never should\n")
    sys.exit(98)


def cli_hold(options: argparse.Namespace) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    from legato_pay.store.tables import ENTRIES

    count_entries = f"SELECT count(*) FROM {ENTRIES.name}"

    def before_commit(connection: Connection) -> None:
        # The raw connection: the transaction's own view, without SQLAlchemy's bookkeeping.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(count_entries)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is not None and row[0] > options.entries_before:
            _signal_and_block(options.signal_fd)

    event.listen(Engine, "commit", before_commit)
    result = _run_cli(list(options.args))
    sys.stderr.write(f"cli-hold: the command ended without the commit we wait for: {result}\n")
    sys.exit(98)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p_cli = sub.add_parser("cli")
    p_cli.add_argument("--ready", required=True)
    p_cli.add_argument("--go", required=True)
    p_cli.add_argument("--attempts", type=int, default=1)
    p_cli.add_argument("args", nargs=argparse.REMAINDER)
    p_fork = sub.add_parser("fork")
    p_fork.add_argument("--attempts", type=int, default=1)
    p_fork.add_argument("--commands", required=True)
    p_fork.add_argument("--results", required=True)
    p_session = sub.add_parser("session")
    p_session.add_argument("--commands", required=True)
    p_hold = sub.add_parser("hold")
    p_hold.add_argument("--batch", required=True)
    p_hold.add_argument("--signal-fd", type=int, required=True)
    p_cli_hold = sub.add_parser("cli-hold")
    p_cli_hold.add_argument("--signal-fd", type=int, required=True)
    p_cli_hold.add_argument("--entries-before", type=int, required=True)
    p_cli_hold.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if options.mode in ("cli", "cli-hold") and options.args[:1] == ["--"]:
        options.args = options.args[1:]
    if options.mode == "cli":
        cli(options)
    elif options.mode == "cli-hold":
        cli_hold(options)
    elif options.mode == "fork":
        fork(options)
    elif options.mode == "session":
        session(options)
    else:
        hold(options)


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
