"""PostgreSQL array literals built in Python, for ``CAST(:param AS type[])`` parameters.

psycopg adapts a Python list element by element, which costs more than the statement it feeds
when a batch sends thousands of values; one string per column is parsed by the server at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def ints(values: Iterable[int | None]) -> str:
    """An array literal of integers (NULL for None), for ``%s::bigint[]``."""
    return "{" + ",".join(map(str, values)).replace("None", "NULL") + "}"


def bools(values: Iterable[bool]) -> str:
    return "{" + ",".join(["t" if value else "f" for value in values]) + "}"


def texts(values: Iterable[str | None]) -> str:
    """An array literal of strings: each quoted, backslash and double quote escaped."""
    return (
        "{"
        + ",".join(
            [
                "NULL"
                if value is None
                else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                for value in values
            ]
        )
        + "}"
    )


def literal(values: Iterable[Any]) -> str:
    """An array literal of mixed plain values: None, bool, int, str or an aware datetime."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif isinstance(value, bool):
            items.append("t" if value else "f")
        elif isinstance(value, int):
            items.append(str(value))
        elif isinstance(value, datetime):
            items.append('"' + value.isoformat() + '"')
        elif isinstance(value, str):
            items.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            raise TypeError(f"no array literal for {type(value).__name__}")
    return "{" + ",".join(items) + "}"
