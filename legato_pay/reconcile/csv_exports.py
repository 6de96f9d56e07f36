"""The providers' CSV exports as gateway records (``reconcile --file EXPORT.csv``).

Headers are matched case-insensitively, spaces and underscores alike; other columns are
ignored. Amounts are decimals in major units, as the dashboards export them (``1500.00``,
``-0.30``), never with thousands separators or a decimal comma; times are UTC
(``2026-11-03 10:15`` or ISO 8601). A line that cannot be read is ``INVALID_CSV`` naming it.

Stripe, the Balance history export (``id, Type, Source, Amount, Fee, Net, Currency,
Created (UTC), …``) or the itemized balance report (``balance_transaction_id, created_utc,
currency, gross, fee, net, reporting_category, source_id``): needs an id, a type, an amount, a
currency and a created time. Matching Stripe charges needs the ``PaymentIntent ID`` (or
``payment_intent``) column or the ``reference (metadata)`` column in the export: the ledger
knows a purchase by its PaymentIntent, the export by its charge.

Paystack, the Transactions export: ``reference, amount, currency, status`` and a time
(``paid_at``, ``transaction_date``, ``created_at`` or ``date``); optional ``fees``, ``id``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from legato_pay.errors import InvalidInput, LegatoError
from legato_pay.money import parse_amount
from legato_pay.readers.engagement_csv import _bounded_lines, _checked_lines
from legato_pay.reconcile.paystack_api import transaction_record
from legato_pay.reconcile.records import GatewayRecord
from legato_pay.reconcile.sources import parse_time
from legato_pay.reconcile.stripe_api import balance_transaction_record

Row = dict[str, str]

#: Each field the readers use, and the header names it may have (normalised).
STRIPE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "balance transaction id"),
    "type": ("type", "reporting category"),
    "source": ("source", "source id"),
    "amount": ("amount", "gross"),
    "fee": ("fee",),
    "currency": ("currency",),
    "created": ("created (utc)", "created utc", "created"),
    "status": ("status",),
    "payment_intent": ("paymentintent id", "payment intent id", "payment intent"),
    "reference": ("reference (metadata)", "reference"),
}
STRIPE_REQUIRED = ("id", "type", "amount", "currency", "created")
PAYSTACK_COLUMNS: dict[str, tuple[str, ...]] = {
    "reference": ("reference",),
    "amount": ("amount",),
    "currency": ("currency",),
    "status": ("status",),
    "time": ("paid at", "paidat", "transaction date", "created at", "createdat", "date"),
    "fees": ("fees", "fee"),
    "id": ("id", "transaction id"),
}
PAYSTACK_REQUIRED = ("reference", "amount", "currency", "status", "time")


def _invalid(message: str, line: int, **details: object) -> InvalidInput:
    return InvalidInput(
        f"line {line}: {message}", details={"line": line, **details}, code="INVALID_CSV"
    )


def _normal(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").split())


def _columns(
    header: list[str], names: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, int]:
    positions = {_normal(name): index for index, name in reversed(list(enumerate(header)))}
    found = {
        field: next(positions[alias] for alias in aliases if alias in positions)
        for field, aliases in names.items()
        if any(alias in positions for alias in aliases)
    }
    missing = [field for field in required if field not in found]
    if missing:
        raise InvalidInput(
            "line 1: the header lacks " + ", ".join(missing),
            details={"line": 1, "missing": missing, "header": header[:20]},
            code="INVALID_CSV",
        )
    return found


def _rows(
    lines: Iterator[str], names: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> Iterator[tuple[int, Row]]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the CSV file is empty", code="INVALID_CSV")
        columns = _columns(header, names, required)
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                raise _invalid(
                    f"expected {len(header)} fields, found {len(values)}", reader.line_num
                )
            yield reader.line_num, {f: values[i].strip() for f, i in columns.items()}
    except csv.Error as exc:
        raise _invalid(f"not valid CSV ({exc})", reader.line_num) from None


def _amount(text: str, currency: str, field: str) -> int:
    if not text:
        raise InvalidInput(f"{field} is empty")
    return parse_amount(text, currency, positive=False)


def _stripe_record(row: Row) -> GatewayRecord:
    currency = row["currency"].upper()
    created = parse_time(row["created"])
    if created is None:
        raise InvalidInput(f"created time {row['created'][:40]!r} is not a date and time")
    source: dict[str, Any] = {"id": row.get("source") or None}
    if row.get("payment_intent"):
        source["payment_intent"] = row["payment_intent"]
    if row.get("reference"):
        source["metadata"] = {"reference": row["reference"]}
    return balance_transaction_record(
        {
            "id": row["id"],
            "type": row["type"].lower(),
            "amount": _amount(row["amount"], currency, "amount"),
            "fee": _amount(row.get("fee") or "0", currency, "fee"),
            "currency": currency,
            "created": created,
            "status": row.get("status", ""),
            "source": source,
        }
    )


def _paystack_record(row: Row) -> GatewayRecord:
    currency = row["currency"].upper()
    paid_at = parse_time(row["time"])
    if paid_at is None:
        raise InvalidInput(f"time {row['time'][:40]!r} is not a date and time")
    return transaction_record(
        {
            "id": row.get("id") or row["reference"],
            "reference": row["reference"],
            "status": row["status"].lower(),
            "amount": _amount(row["amount"], currency, "amount"),
            "currency": currency,
            "paid_at": paid_at.isoformat(),
            "fees": _amount(row.get("fees") or "0", currency, "fees"),
        }
    )


_READERS: dict[str, tuple[dict[str, tuple[str, ...]], tuple[str, ...], Callable[[Row], Any]]] = {
    "stripe": (STRIPE_COLUMNS, STRIPE_REQUIRED, _stripe_record),
    "paystack": (PAYSTACK_COLUMNS, PAYSTACK_REQUIRED, _paystack_record),
}


def read_export(gateway: str, path: Path) -> list[GatewayRecord]:
    """Every record of ``gateway``'s CSV export at ``path`` (the whole file is checked first:
    one bad line refuses it all)."""
    if gateway not in _READERS:
        raise InvalidInput(
            f"the {gateway} gateway has no CSV export: reconcile it without --file",
            details={"gateway": gateway, "known": list(_READERS)},
        )
    names, required, convert = _READERS[gateway]
    try:
        with path.open("rb") as stream:
            rows = list(_rows(_checked_lines(_bounded_lines(stream)), names, required))
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror or exc}", details={"file": str(path)}
        ) from None
    if not rows:
        raise InvalidInput("the CSV file holds no rows", code="INVALID_CSV")
    records = []
    for line, row in rows:
        try:
            records.append(convert(row))
        except LegatoError as error:
            raise _invalid(error.message, line, problem=error.code) from None
    return records
