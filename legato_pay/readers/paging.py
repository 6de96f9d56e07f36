"""Page sizes, counts and cursors typed by operators on the reader side's lists: ASCII digits
only, bounded, so a huge or non-ASCII number is a validation error and never reaches SQL."""

from __future__ import annotations

import re

from legato_pay.errors import InvalidInput

_DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)


def parse_whole(value: str | int, *, field: str, minimum: int = 1, maximum: int) -> int:
    """A whole number from the edge, ``minimum`` to ``maximum`` (VALIDATION_ERROR otherwise)."""
    raw = str(value).strip()
    if isinstance(value, bool) or not _DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise InvalidInput(
            f"{field} must be a whole number from {minimum} to {maximum}",
            details={field: raw[:40]},
        )
    return int(raw)


def parse_id_cursor(cursor: str | None) -> int:
    """The row id a page continues after (0 for the first page)."""
    if cursor is None:
        return 0
    if not _DIGITS.fullmatch(cursor):
        raise InvalidInput(
            "--cursor must be the next_cursor of a previous page",
            details={"cursor": cursor[:40]},
            code="INVALID_CURSOR",
        )
    return int(cursor)
