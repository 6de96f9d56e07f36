"""``reconcile``: read both sides for a period, match them, keep the run.

The period is ``--from``/``--to``, both inclusive, in UTC: a date alone for ``--to`` means the
whole of that day (up to 23:59:59.999999). Bad input (a reversed range, an unknown gateway, a
file for the sandbox, an unreadable or malformed CSV) is refused before anything is read from
the gateway or stored.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato_pay.errors import InvalidInput, InvalidTime
from legato_pay.gateways import GATEWAY_NAMES
from legato_pay.reconcile import csv_exports, paystack_api, stripe_api
from legato_pay.reconcile.ledger_side import ledger_items
from legato_pay.reconcile.matcher import match
from legato_pay.reconcile.records import Finding, GatewayRecord, LedgerItem, Matching, Period
from legato_pay.reconcile.sources import Source, sandbox_records
from legato_pay.reconcile.storage import RunView, new_run, save_run

if TYPE_CHECKING:
    from legato_pay.context import AppContext

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    gateway: str
    period: Period
    file: Path | None = None
    dry_run: bool = False


def check_request(
    gateway: str,
    start: datetime,
    end: datetime,
    *,
    to_text: str | None = None,
    file: Path | None = None,
    dry_run: bool = False,
) -> ReconcileRequest:
    """A valid request, or the documented refusal. ``to_text`` (what was typed for ``--to``):
    a date alone there is the end of that day."""
    if gateway not in GATEWAY_NAMES:
        raise InvalidInput(
            f"unknown gateway {gateway!r}",
            details={"gateway": gateway[:40], "known": list(GATEWAY_NAMES)},
        )
    if to_text is not None and _DATE_ONLY.fullmatch(to_text.strip()):
        end = end + timedelta(days=1) - timedelta(microseconds=1)
    if end < start:
        raise InvalidTime(
            "--to is before --from", details={"from": start.isoformat(), "to": end.isoformat()}
        )
    if file is not None and gateway == "sandbox":
        raise InvalidInput(
            "the sandbox is reconciled against its own book: no --file",
            details={"gateway": gateway},
        )
    return ReconcileRequest(gateway, Period(start, end), file, dry_run)


def open_source(app: AppContext, request: ReconcileRequest) -> Source:
    """Where the gateway's records come from: the export file, the sandbox book or the API
    (keys from the environment, as for payments)."""
    if request.file is not None:
        file = request.file
        records = csv_exports.read_export(request.gateway, file)  # refused before any work
        forms = paystack_api.reference_forms if request.gateway == "paystack" else _as_is
        return Source("csv", lambda _period: records, forms, file_name=file.name)
    if request.gateway == "sandbox":
        return Source(
            "book", lambda period: app.run(lambda s: sandbox_records(s, period), write=False)
        )
    from legato_pay import gateways

    gateway: Any = gateways.get_gateway(app, request.gateway)
    if request.gateway == "paystack":
        return Source(
            "api",
            lambda period: paystack_api.paystack_records(gateway.client, period),
            paystack_api.reference_forms,
        )
    return Source("api", lambda period: stripe_api.stripe_records(gateway, period))


def _as_is(reference: str) -> set[str]:
    return {reference}


def _with_forms(item: LedgerItem, source: Source) -> LedgerItem:
    """The item's references in every form the gateway may hold them."""

    def expand(values: frozenset[str]) -> frozenset[str]:
        return frozenset(form for value in values for form in source.reference_forms(value))

    return replace(item, refs=expand(item.refs), related=expand(item.related))


def _totals(matching: Matching, findings: Sequence[Finding]) -> dict[str, Any]:
    ledger: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
    gateway: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
    for finding in findings:
        if finding.ledger is not None:
            ledger[finding.ledger.currency][finding.ledger.direction] += finding.ledger.amount
        if finding.record is not None:
            gateway[finding.record.currency][finding.record.direction] += finding.record.amount
    return {
        "ledger": dict(sorted(ledger.items())),
        "gateway": dict(sorted(gateway.items())),
        "fees": dict(sorted(matching.fees.items())),
        "skipped_records": matching.skipped,
    }


def reconcile(app: AppContext, request: ReconcileRequest, source: Source) -> RunView:
    """Match the ledger's clearing items against ``source`` for the period; store the run
    unless ``dry_run``."""
    period = request.period
    records: list[GatewayRecord] = [
        r
        for r in source.fetch(period)
        if r.occurred_at is None or period.read_from <= r.occurred_at <= period.read_to
    ]
    items = app.run(lambda s: ledger_items(s, request.gateway, period), write=False)
    matching = match([_with_forms(i, source) for i in items], records, period)
    run = new_run(
        gateway=request.gateway,
        source=source.name,
        file_name=source.file_name,
        period=period,
        findings=matching.findings,
        totals=_totals(matching, matching.findings),
        actor=app.actor,
    )
    if request.dry_run:
        return run
    return app.run(lambda s: save_run(s, run))
