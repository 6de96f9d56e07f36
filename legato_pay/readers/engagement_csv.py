"""Reading an engagement CSV, bounded: ``user,content,minutes[,recorded_at][,key]`` with a
header row, lines named as a text editor counts them (the header is line 1).

Whatever the file holds, reading it costs at most ``MAX_FILE_BYTES`` of input, lines of at most
``MAX_LINE_BYTES`` and ``MAX_ROWS`` rows: ``/dev/zero`` or a binary file fails on its first
line, a huge file fails at the bound, each with ``INVALID_CSV`` naming the line. A NUL, bytes
that are not UTF-8 and CSV syntax errors are refused the same way, before anything reaches the
database (PostgreSQL cannot even store a NUL).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from legato_pay.errors import InvalidInput
from legato_pay.readers.engagement import EngagementInput, at_line, engagement_input

CSV_REQUIRED = ("user", "content", "minutes")
CSV_OPTIONAL = ("recorded_at", "key")
#: An import is loaded whole (it is all-or-nothing): these bound the memory it may take.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_BYTES = 4096
MAX_ROWS = 1_000_000


def _invalid(message: str, line: int, **details: object) -> InvalidInput:
    return InvalidInput(
        f"line {line}: {message}", details={"line": line, **details}, code="INVALID_CSV"
    )


def _checked_lines(raw_lines: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines, each checked for length, NUL and encoding; the whole input for size."""
    total = 0
    for number, raw in enumerate(raw_lines, start=1):
        total += len(raw)
        if total > MAX_FILE_BYTES:
            raise _invalid(
                f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it",
                number,
                max_bytes=MAX_FILE_BYTES,
            )
        if b"\x00" in raw:
            raise _invalid("the line contains a NUL byte (is this a CSV file?)", number)
        if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            raise _invalid(
                f"the line is longer than {MAX_LINE_BYTES} bytes", number, max_bytes=MAX_LINE_BYTES
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("the line is not UTF-8 text", number) from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield text


def _bounded_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines of a binary stream, never reading more than one bound past a line's end."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 3)  # room for "\r\n" after a full line
        if not raw:
            return
        yield raw


def read_engagement_file(path: Path, *, now: datetime | None = None) -> list[EngagementInput]:
    """The records of a CSV file, read within the bounds above."""
    try:
        with path.open("rb") as stream:
            return _records(_checked_lines(_bounded_lines(stream)), now=now)
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror or exc}", details={"file": str(path)}
        ) from None


def read_engagement_csv(text: str, *, now: datetime | None = None) -> list[EngagementInput]:
    """The records of CSV text (the same checks as a file)."""
    raw = text.encode("utf-8", errors="surrogateescape")
    return _records(_checked_lines(raw.splitlines(keepends=True)), now=now)


def _records(lines: Iterator[str], *, now: datetime | None) -> list[EngagementInput]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the CSV file is empty", code="INVALID_CSV")
        columns = _columns(header)
        rows: list[EngagementInput] = []
        for values in reader:
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise _invalid(f"more than {MAX_ROWS:,} rows: split the file", line)
            rows.append(_record(columns, values, line, now))
    except csv.Error as exc:
        raise _invalid(f"not valid CSV ({exc})", reader.line_num) from None
    if not rows:
        raise InvalidInput("the CSV file holds no rows", code="INVALID_CSV")
    return rows


def _columns(header: list[str]) -> list[str]:
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in CSV_REQUIRED + CSV_OPTIONAL]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        raise InvalidInput(
            "line 1: the header must name user,content,minutes and optionally recorded_at,key",
            details={"line": 1, "header": header[:10], "unknown": unknown[:10], "missing": missing},
            code="INVALID_CSV",
        )
    return columns


def _record(
    columns: list[str], values: list[str], line: int, now: datetime | None
) -> EngagementInput:
    try:
        if len(values) != len(columns):
            raise InvalidInput(f"expected {len(columns)} fields, found {len(values)}")
        row = dict(zip(columns, values, strict=True))
        for name in CSV_REQUIRED:
            if not row[name].strip():
                raise InvalidInput(f"{name} is empty")
        return engagement_input(
            row["user"].strip(),
            row["content"].strip(),
            row["minutes"],
            recorded_at=row.get("recorded_at", "").strip() or None,
            key=row.get("key", "").strip() or None,
            line=line,
            now=now,
        )
    except InvalidInput as error:
        raise at_line(error, line) from None
