"""``ledger post-batch`` files: JSON lines read with a bound and checked field by field.

Each line is one transfer, ``{"from", "to", "amount", "currency", "key"?, "reason"?,
"pending"?}``. ``amount`` is in major units as people write it: a decimal string (``"12.50"``)
or a JSON integer (``12`` is 12.00); a JSON number with a fraction or an exponent (``12.5``,
``1e3``) is ``INVALID_AMOUNT`` (binary floats are never money). ``pending`` is a JSON boolean.
Anything else wrong is ``VALIDATION_ERROR`` naming the line, never an internal error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from legato_pay.errors import InvalidAmount, InvalidInput, LegatoError
from legato_pay.ledger.shaping import check_reason
from legato_pay.ledger.types import EntrySpec, transfer
from legato_pay.money import normalize_currency, parse_amount

#: The largest batch file read (bytes); a bigger one (or ``/dev/zero``) is refused unread.
MAX_BATCH_BYTES = 16 * 1024 * 1024
#: Fields a line may carry.
FIELDS = frozenset({"from", "to", "amount", "currency", "key", "reason", "pending"})


class _FloatInJson(ValueError):
    """A JSON number with a fraction or exponent."""


def _refuse_float(text: str) -> Any:
    raise _FloatInJson(text)


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def read_batch_file(path: Path, *, max_bytes: int = MAX_BATCH_BYTES) -> str:
    """The file's text: at most ``max_bytes`` read, UTF-8 only."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror or 'unreadable'}", details={"file": str(path)}
        ) from None
    if len(data) > max_bytes:
        raise InvalidInput(
            f"{path} is larger than {max_bytes} bytes: split it into smaller batches",
            details={"file": str(path), "max_bytes": max_bytes},
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path} is not UTF-8 text (byte {exc.start})",
            details={"file": str(path), "byte": exc.start},
        ) from None


def parse_batch(text: str) -> list[EntrySpec]:
    """One transfer per non-blank line; the first bad line raises, naming its number."""
    specs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            specs.append(_parse_line(line))
        except LegatoError as exc:
            raise type(exc)(
                f"line {number}: {exc.message}",
                details={"line": number, **exc.details},
                code=exc.code,
            ) from None
    if not specs:
        raise InvalidInput("the batch file holds no entries")
    return specs


def _parse_line(line: str) -> EntrySpec:
    try:
        item = json.loads(line, parse_float=_refuse_float, parse_constant=_refuse_constant)
    except _FloatInJson as exc:
        raise InvalidAmount(
            f"{exc} is a JSON number with a fraction or exponent: write amounts as decimal "
            'strings, e.g. "12.50"',
            details={"value": str(exc)[:100]},
        ) from None
    except (ValueError, RecursionError):
        raise InvalidInput("not valid JSON") from None
    if not isinstance(item, dict):
        raise InvalidInput("not a JSON object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(FIELDS))})",
            details={"field": unknown[0][:100]},
        )
    currency = normalize_currency(_text(item, "currency"))
    amount = item.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, str | int):
        raise InvalidAmount(
            'amount must be a decimal string such as "12.50" (or a whole number)',
            details={"field": "amount"},
        )
    pending = item.get("pending", False)
    if not isinstance(pending, bool):
        raise InvalidInput("pending must be true or false", details={"field": "pending"})
    return transfer(
        _text(item, "from"),
        _text(item, "to"),
        parse_amount(amount, currency),
        currency,
        pending=pending,
        idempotency_key=_text(item, "key", required=False),
        reason=check_reason(_text(item, "reason", required=False)),
    )


def _text(item: dict[str, Any], field: str, *, required: bool = True) -> Any:
    value = item.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be a string" + ("" if required else " when given"),
            details={"field": field},
        )
    return value
