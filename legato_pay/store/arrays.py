"""PostgreSQL array literals built in Python, for ``CAST(:param AS type[])`` parameters.

psycopg adapts a Python list element by element, which costs more than the statement it feeds
when a batch sends thousands of values; one string per column is parsed by the server at once.
A column of one plain type (the usual case) is written by one ``join``: no Python call per value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast


def ints(values: Iterable[int | None]) -> str:
    """An array literal of integers (NULL for None), for ``%s::bigint[]``."""
    return "{" + ",".join(map(str, values)).replace("None", "NULL") + "}"


def bools(values: Iterable[bool]) -> str:
    return "{" + ",".join(["t" if value else "f" for value in values]) + "}"


def texts(values: Iterable[str | None]) -> str:
    """An array literal of strings: each quoted, backslash and double quote escaped."""
    items = values if isinstance(values, list | tuple) else list(values)
    if not items:
        return "{}"
    nulls = None in items
    strings = cast("list[str]", [value for value in items if value is not None] if nulls else items)
    whole = "".join(strings)  # nothing to escape in any of them: quoted as they are
    if '"' in whole or "\\" in whole:
        return (
            "{" + ",".join(["NULL" if value is None else _quoted(value) for value in items]) + "}"
        )
    if not nulls:
        return '{"' + '","'.join(strings) + '"}'
    return "{" + ",".join(["NULL" if value is None else '"' + value + '"' for value in items]) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LITERAL_OF: dict[type, Callable[[Any], str]] = {
    type(None): lambda value: "NULL",
    bool: lambda value: "t" if value else "f",
    int: str,
    str: _quoted,
    datetime: lambda value: '"' + value.isoformat() + '"',
}


_INTS = frozenset({int, type(None)})
_TEXTS = frozenset({str, type(None)})


def literal(values: Iterable[Any]) -> str:
    """An array literal of mixed plain values: None, bool, int, str or an aware datetime.
    (Dispatch on the exact type: this runs for every value of every batched insert; a column
    of ints or of strings, NULLs allowed, is written whole.)"""
    values = values if isinstance(values, list | tuple) else list(values)
    kinds = set(map(type, values))
    if kinds <= _INTS:
        return ints(values)
    if kinds <= _TEXTS:
        return texts(values)
    items = []
    for value in values:
        render = _LITERAL_OF.get(type(value))
        if render is None:
            render = _subclass_literal(value)
        items.append(render(value))
    return "{" + ",".join(items) + "}"


def _subclass_literal(value: Any) -> Callable[[Any], str]:
    for kind in (bool, int, datetime, str):  # bool before int: it is one
        if isinstance(value, kind):
            return _LITERAL_OF[kind]
    raise TypeError(f"no array literal for {type(value).__name__}")
