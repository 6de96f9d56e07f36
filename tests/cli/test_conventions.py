"""The conventions every command renders through (``commands/output.py``): quiet tables,
totals and cursors outside CSV data rows, money cells, time ranges, confirmations, and tables
that fit an 80-column terminal without colour when ``NO_COLOR`` is set."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from commands import output
from commands.output import CliState, emit, parse_range, parse_time, set_state
from legato_pay.errors import Aborted, InvalidTime, UsageError

BIN = Path(sys.executable).parent / "legato-pay"
ROWS = [
    {"id": "a", "amount": "12.50 USD", "amount_minor": 1250},
    {"id": "b", "amount": "0.05 USD", "amount_minor": 5},
]


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    set_state(CliState())


def test_quiet_tables_print_the_rows_without_title_or_notes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_state(CliState(quiet=True))
    emit(ROWS, title="the title", message="a note", table_columns=["id", "amount"])
    out = capsys.readouterr().out
    assert "12.50 USD" in out and "0.05 USD" in out
    assert "the title" not in out and "a note" not in out
    assert "1250" not in out, "a table never shows minor units beside formatted amounts"


def test_csv_keeps_totals_and_cursor_out_of_the_data_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_state(CliState(output="csv"))
    emit(
        ROWS,
        columns=["id", "amount_minor"],
        totals={"amount": "12.55 USD"},
        next_cursor="c2",
    )
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert rows == [{"id": "a", "amount_minor": "1250"}, {"id": "b", "amount_minor": "5"}]
    assert captured.err.splitlines() == ["# total: amount 12.55 USD", "# next_cursor=c2"]


def test_tables_print_totals_and_the_cursor_under_the_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit(ROWS, columns=["id", "amount"], totals={"amount": "12.55 USD"}, next_cursor="c2")
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["total: amount 12.55 USD", "next_cursor=c2"]


def test_money_objects_show_their_display_in_tables_and_their_decimal_in_csv(
    capsys: pytest.CaptureFixture[str],
) -> None:
    row = {"id": "a", "balance": {"amount": 150000, "currency": "NGN", "display": "1,500.00 NGN"}}
    emit([row], columns=["id", "balance"])
    assert "1,500.00 NGN" in capsys.readouterr().out
    set_state(CliState(output="csv"))
    emit([row], columns=["id", "balance"])
    assert capsys.readouterr().out.splitlines()[1] == "a,1500.00"


def test_times_and_ranges() -> None:
    start, end = parse_range("2026-11-01", "2026-11-30T23:59:59Z")
    assert start is not None and end is not None and start < end
    with pytest.raises(InvalidTime):
        parse_range("2026-12-01", "2026-11-01")
    for bad in ("yesterday", "0001-01-01T00:00:00+14:00", "２０２６-01-01", "2026-13-01"):
        with pytest.raises(InvalidTime) as raised:
            parse_time(bad, "--from")
        assert raised.value.code == "INVALID_TIME"


def test_confirm_needs_yes_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    output.confirm("Reverse entry 7?", yes=True)  # --yes never asks
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(UsageError) as raised:
        output.confirm("Reverse entry 7?", yes=False)
    assert "--yes" in raised.value.message
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(output.typer, "confirm", lambda *args, **kwargs: False)
    with pytest.raises(Aborted) as declined:
        output.confirm("Reverse entry 7?", yes=False)
    assert declined.value.exit_status == 130


def _on_a_terminal(args: list[str], tmp_path: Path, **env: str) -> str:
    """What the console script shows on an 80-column pseudo-terminal."""
    pid, fd = pty.fork()
    if pid == 0:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
        environment.update(COLUMNS="80", LINES="40", TERM="xterm-256color", **env)
        environment["LEGATO_HOME"] = str(tmp_path)
        database = ["--db", f"sqlite:///{tmp_path / 'tty.db'}"]
        os.execve(str(BIN), [str(BIN), *database, *args], environment)
    shown = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return shown.decode(errors="replace")


def test_an_80_column_terminal_wraps_never_truncates_and_no_color_means_no_style(
    tmp_path: Path,
) -> None:
    long_id = "reader-with-a-rather-long-identifier-0123456789@example.com"
    database = ["--db", f"sqlite:///{tmp_path / 'tty.db'}"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    environment["LEGATO_HOME"] = str(tmp_path)
    added = subprocess.run(
        [
            str(BIN),
            *database,
            "users",
            "add",
            long_id,
            "--email",
            "long@example.com",
            "--name",
            "A reader whose name is long enough to need wrapping on a narrow screen",
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert added.returncode == 0, added.stderr
    shown = _on_a_terminal(["users", "list"], tmp_path, NO_COLOR="1")
    assert "\x1b[" not in shown, "NO_COLOR: no colour and no bold"
    assert "…" not in shown
    assert all(len(line) <= 80 for line in shown.splitlines())
    first_column = [
        line.split("│")[1].strip() for line in shown.splitlines() if line.startswith("│")
    ]
    assert "".join(first_column) == long_id, "the id is folded over lines, whole"
    styled = _on_a_terminal(["users", "list"], tmp_path)
    assert "\x1b[" in styled, "without NO_COLOR the header is styled"
